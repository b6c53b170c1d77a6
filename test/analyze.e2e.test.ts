import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { measureVolume, STAT, STAT_COUNT } from "../src/analyze/region-stats.ts";
import { Catalog } from "../src/catalog/catalog.ts";
import { connectedComponents } from "../src/ops/connected-components.ts";
import { fillHoles } from "../src/ops/fill-holes.ts";
import { expectOneLineError, organelle, tempDir } from "./helpers/cli.ts";
import { readArray, refineExactArgs, synthCell } from "./helpers/synth.ts";

/**
 * End to end through the bundled CLI on a small synthetic cell: `organelle refine` turns the exact
 * mito labels (treated as a prediction) into instances equal to a whole-volume computation, and
 * `organelle measure` writes COSEM's table equal to the whole-volume measurement, block-wise.
 */

const { dir, cleanup } = tempDir("organelle-analyze-");
afterAll(cleanup);
const ds = path.join(dir, "cell.zarr");

beforeAll(() => synthCell(ds), 120_000);

describe("organelle refine + measure", () => {
  it("refines labels/mito into instances equal to fill-holes + scipy-numbered components of the whole volume", async () => {
    const r = organelle(refineExactArgs(ds, "labels/mito"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/segmentations\/mito: \d+ objects/);
    const { v, data: labels } = await readArray(ds, "labels/mito");
    const shape = v.meta.shape;
    const bin = new Uint8Array(labels.length);
    for (let i = 0; i < bin.length; i++) bin[i] = labels[i] ? 1 : 0;
    const expected = connectedComponents(fillHoles(bin, shape), shape);
    expect(expected.count).toBeGreaterThan(0);
    const { v: out, data } = await readArray(ds, "segmentations/mito");
    expect(out.meta.dtype).toBe("uint32");
    expect(out.levels.length).toBeGreaterThan(1);
    expect(Array.from(data as Uint32Array)).toEqual(Array.from(expected.labels));
  }, 120_000);

  it("measures block-wise (32^3 blocks) exactly as the whole volume, writing COSEM's columns", async () => {
    const r = organelle(["measure", ds, "segmentations/mito", "--block", "32", "--workers", "2"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/objects, total volume .* % of masks\/cell/);
    const csv = fs
      .readFileSync(path.join(ds, "tables", "mito.csv"), "utf8")
      .trim()
      .split("\n");
    expect(csv[0]).toBe(
      "Object ID,Volume (nm^3),Surface Area (nm^2),COM X (nm),COM Y (nm),COM Z (nm),MIN X (nm),MIN Y (nm),MIN Z (nm),MAX X (nm),MAX Y (nm),MAX Z (nm),Voxel Face Area (nm^2),Binary Mesh Area (nm^2),Voxels",
    );
    const { v, data } = await readArray(ds, "segmentations/mito");
    const whole = measureVolume(data as Uint32Array, v.meta.shape, v.meta.voxelSize);
    expect(csv.length - 1).toBe(whole.ids.length);
    for (let k = 0; k < whole.ids.length; k++) {
      const row = csv[k + 1]!.split(",").map(Number);
      const s = (j: number) => whole.stats[k * STAT_COUNT + j]!;
      const n = s(STAT.count);
      expect(row[0]).toBe(whole.ids[k]);
      expect(row[1]).toBe(n * 8000);
      expect(row[2]).toBeCloseTo(s(STAT.smoothArea), 2);
      expect(row[3]).toBeCloseTo(v.meta.offset[2] + (s(STAT.sumX) / n + 0.5) * 20, 2);
      expect(row[8]).toBe(v.meta.offset[0] + s(STAT.minZ) * 20);
      expect(row[11]).toBe(v.meta.offset[0] + (s(STAT.maxZ) + 1) * 20);
      expect(row[12]).toBeCloseTo(s(STAT.faceArea), 2);
      expect(row[13]).toBeCloseTo(s(STAT.binaryArea), 2);
    }
  }, 120_000);

  it("says in one line what is wrong with bad input", () => {
    expect(expectOneLineError(organelle(["measure", ds, "segmentations/nothing"]))).toMatch(/nothing/);
    expect(
      expectOneLineError(
        organelle(["refine", ds, "--input", "labels/mito", "--organelle", "mito", "--threshold", "1.5"]),
      ),
    ).toMatch(/--threshold/);
  });
});

describe("organelle contacts + mesh", () => {
  it("writes contact sites between labels/mito and labels/er as a table and an instance array", async () => {
    const r = organelle([
      "contacts",
      ds,
      "labels/mito",
      "labels/er",
      "--distance",
      "100",
      "--min-volume",
      "0",
      "--block",
      "32",
      "--workers",
      "2",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/labels\/mito - labels\/er within 100 nm: [1-9]\d* contacts/);
    const csv = fs
      .readFileSync(path.join(ds, "tables", "contacts_mito_er.csv"), "utf8")
      .trim()
      .split("\n");
    expect(csv[0]).toBe("Contact ID,mito ID,er ID,Area (nm^2),Volume (nm^3),Voxels");
    expect(csv.length).toBeGreaterThan(1);
    const { data } = await readArray(ds, "analysis/contacts_mito_er");
    const present = new Set(Array.from(data as Uint32Array).filter((v) => v !== 0));
    expect(new Set(csv.slice(1).map((l) => Number(l.split(",")[0])))).toEqual(present);
    // Recorded for the contacts array: the segment look-up of a contact id finds its row.
    const catalog = Catalog.forDir(path.dirname(ds));
    try {
      const name = path.basename(ds);
      expect(catalog.tableForArray(name, "analysis/contacts_mito_er")?.name).toBe("contacts_mito_er");
      const first = csv[1]!.split(",").map(Number);
      const row = catalog.findRow(name, "contacts_mito_er", first[0]!);
      expect([row?.["Contact ID"], row?.["mito ID"], row?.["er ID"]]).toEqual(first.slice(0, 3));
    } finally {
      catalog.close();
    }
    expect(
      expectOneLineError(organelle(["contacts", ds, "labels/mito", "labels/er", "--distance", "-3"])),
    ).toMatch(/--distance/);
  }, 120_000);

  it("meshes segmentations/mito for neuroglancer from the measure table", () => {
    const r = organelle(["mesh", ds, "segmentations/mito", "--workers", "2"]);
    expect(r.code, r.stderr).toBe(0);
    const rows =
      fs
        .readFileSync(path.join(ds, "tables", "mito.csv"), "utf8")
        .trim()
        .split("\n").length - 1;
    expect(r.stdout).toContain(`${rows} meshes`);
    const dir = path.join(ds, "meshes", "mito");
    expect(JSON.parse(fs.readFileSync(path.join(dir, "info"), "utf8"))["@type"]).toBe(
      "neuroglancer_legacy_mesh",
    );
    const ids = JSON.parse(fs.readFileSync(path.join(dir, "segment_properties", "info"), "utf8")).inline.ids;
    expect(ids).toHaveLength(rows);
    for (const id of ids) expect(fs.existsSync(path.join(dir, `${id}.frag`))).toBe(true);
  }, 120_000);
});
