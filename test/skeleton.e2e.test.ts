import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectOneLineError, organelle, tempDir } from "./helpers/cli.ts";
import { readArray, synthCell } from "./helpers/synth.ts";

/**
 * End to end through the bundled CLI on a small synthetic cell (mito and ER labels, 20 nm voxels):
 * `organelle skeleton --organelle mito` measures the mitochondria's axis lengths against synth.json,
 * `--organelle er` finds the tubule networks non-planar, and both arrays hold exactly the voxels the
 * tables count, inside their objects.
 */

const { dir, cleanup } = tempDir("organelle-skeleton-");
afterAll(cleanup);
const ds = path.join(dir, "cell.zarr");

beforeAll(() => synthCell(ds, { organelles: "mito,er" }), 120_000);

function readCsv(file: string) {
  const [head, ...lines] = fs.readFileSync(file, "utf8").trim().split("\n");
  const cols = head!.split(",");
  return lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [cols[i]!, Number(v)])));
}

interface Mito {
  id: number;
  points: number[][];
  radius: number;
}

describe("organelle skeleton", () => {
  it("mito: lengths of the axes and radii of the synthetic mitochondria; the skeleton array matches the table", async () => {
    const r = organelle(["skeleton", ds, "--organelle", "mito", "--input", "labels/mito", "--workers", "2"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/labels\/mito: \d+ skeletons \(measured first\), total length/);
    const rows = readCsv(path.join(ds, "tables", "mito_skeleton.csv"));
    const model = JSON.parse(fs.readFileSync(path.join(ds, "synth.json"), "utf8")).model.mitos as Mito[];
    const { data: labels } = await readArray(ds, "labels/mito");
    const present = new Set(Array.from(labels as Uint32Array).filter((v) => v > 0));
    expect(rows.map((x) => x.id)).toEqual([...present].sort((a, b) => a - b));
    let checked = 0;
    for (const m of model) {
      const row = rows.find((x) => x.id === m.id);
      if (!row) continue;
      const axis = m.points
        .slice(1)
        .reduce((s, p, k) => s + Math.hypot(...p.map((v, d) => v - m.points[k]![d]!)), 0);
      // the skeleton's length is the medial axis: the polyline between the centres of the rounded ends
      if (axis >= 200) {
        expect(Math.abs(row.length_nm! / axis - 1)).toBeLessThan(0.05);
        checked++;
      }
      expect(Math.abs(row.radius_mean_nm! - m.radius)).toBeLessThan(20);
      expect(row.branches).toBeGreaterThanOrEqual(1);
    }
    expect(checked).toBeGreaterThan(0);
    const { v, data: raw } = await readArray(ds, "analysis/mito_skeleton");
    expect(v.meta.dtype).toBe("uint32");
    const data = raw as Uint32Array;
    const counts = new Map<number, number>();
    for (let i = 0; i < data.length; i++) {
      const id = data[i]!;
      if (!id) continue;
      expect(labels[i]).toBe(id);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const row of rows) expect(counts.get(row.id!)).toBe(row.skeleton_voxels);
  }, 120_000);

  it("er: tubule networks are mostly not planar; planarity array on the medial surfaces the table counts", async () => {
    const r = organelle(["skeleton", ds, "--organelle", "er", "--input", "labels/er", "--workers", "2"]);
    expect(r.code, r.stderr).toBe(0);
    const m = /(\d+) objects \(measured first\), ([\d.]+) % planar \(of (\d+) medial-surface voxels/.exec(
      r.stdout,
    );
    expect(m, r.stdout).not.toBeNull();
    const rows = readCsv(path.join(ds, "tables", "er_planarity.csv"));
    expect(rows.length).toBe(Number(m![1]));
    // synth.json at this seed has only tubule networks (tubes 50-60 nm wide)
    const er = JSON.parse(fs.readFileSync(path.join(ds, "synth.json"), "utf8")).model.er as {
      kind: string;
    }[];
    expect(er.every((e) => e.kind === "network")).toBe(true);
    expect(Number(m![2])).toBeLessThan(30);
    const { data: labels } = await readArray(ds, "labels/er");
    const { v, data: raw } = await readArray(ds, "analysis/er_planarity");
    expect(v.meta.dtype).toBe("uint8");
    const data = raw as Uint8Array;
    let medial = 0;
    let planar = 0;
    for (let i = 0; i < data.length; i++) {
      if (!data[i]) continue;
      expect(labels[i]).toBeGreaterThan(0);
      medial++;
      if ((data[i]! - 1) / 254 >= 0.6 - 1 / 508) planar++;
    }
    expect(medial).toBe(Number(m![3]));
    expect(medial).toBe(rows.reduce((s, x) => s + x.medial_voxels!, 0));
    expect(Math.abs(planar / medial - Number(m![2]) / 100)).toBeLessThan(0.01);
  }, 120_000);

  it("refuses an unknown organelle and an existing output with one line each", () => {
    const bad = expectOneLineError(organelle(["skeleton", ds, "--organelle", "golgi"]));
    expect(bad).toMatch(/--organelle golgi: expected mito/);
    const again = expectOneLineError(
      organelle(["skeleton", ds, "--organelle", "mito", "--input", "labels/mito", "--workers", "1"]),
    );
    expect(again).toMatch(/analysis\/mito_skeleton already exists; pass --overwrite/);
  }, 60_000);
});
