import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { uniform } from "../src/core/coordinate.ts";
import { Volume } from "../src/store/volume.ts";
import { expectOneLineError, organelle, tempDir } from "./helpers/cli.ts";

const { dir, cleanup } = tempDir("organelle-synth-e2e-");
afterAll(cleanup);

async function bytes(ds: string, array: string): Promise<Buffer> {
  const v = await Volume.open(ds, array);
  const d = await v.readBox({ begin: uniform(0), shape: v.meta.shape });
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

// A small cell that still holds every class: 2.5 um at 30 nm (83^3 voxels) in 48^3 chunks (8 blocks).
const SMALL = ["--size-um", "2.5", "--voxel-size", "30", "--chunks", "48", "--seed", "2"];

describe("organelle synth", () => {
  it("synthesises a cell through the worker threads, with labels, mask, pyramids, model and preview", async () => {
    const out = path.join(dir, "cell.zarr");
    const png = path.join(dir, "slice.png");
    const r = organelle(["synth", out, ...SMALL, "--preview", png]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("83 x 83 x 83 voxels");
    expect(r.stdout).toMatch(/labels\/mito: \d+ instances/);
    expect(r.stdout).toMatch(/Mvoxel\/s/);

    const raw = await Volume.open(out, "raw");
    expect(raw.meta.dtype).toBe("uint8");
    expect(raw.levels.length).toBeGreaterThan(1);
    for (const c of [
      "plasma_membrane",
      "nucleus",
      "nuclear_envelope",
      "nuclear_pore",
      "mito",
      "er",
      "golgi",
      "vesicle",
    ]) {
      const l = await Volume.open(out, `labels/${c}`);
      expect(l.meta.dtype).toBe("uint32");
      const ids = new Uint32Array((await bytes(out, `labels/${c}`)).buffer.slice(0));
      expect(ids.some((v) => v > 0)).toBe(true);
    }
    const mask = await bytes(out, "masks/cell");
    const rawBytes = await bytes(out, "raw");
    expect(mask.some((v) => v === 1) && mask.some((v) => v === 0)).toBe(true);
    // Resin outside the cell is brighter than the cell on average.
    let inside = 0;
    let outside = 0;
    let nIn = 0;
    for (let i = 0; i < mask.length; i++) {
      if (mask[i]) {
        inside += rawBytes[i]!;
        nIn++;
      } else outside += rawBytes[i]!;
    }
    expect(outside / (mask.length - nIn)).toBeGreaterThan(inside / nIn + 20);

    const synth = JSON.parse(fs.readFileSync(path.join(out, "synth.json"), "utf8"));
    expect(synth.model.format).toBe("organelle-synth-cell");
    expect(synth.model.pores.length).toBeGreaterThan(0);
    expect(synth.model.pores[0].diameter).toBeGreaterThan(60);
    expect(synth.settings.voxelSize).toEqual([30, 30, 30]);
    expect(fs.readFileSync(png).subarray(1, 4).toString()).toBe("PNG");
    expect(fs.existsSync(`${out}.partial`)).toBe(false);

    // Same command with another decomposition (one worker, other chunks): same bytes.
    const again = path.join(dir, "again.zarr");
    const rerun = ["--size-um", "2.5", "--voxel-size", "30", "--chunks", "32,64,16", "--seed", "2"];
    expect(organelle(["synth", again, ...rerun, "--no-pyramid", "--workers", "1"]).code).toBe(0);
    expect((await bytes(again, "raw")).equals(rawBytes)).toBe(true);
    expect((await bytes(again, "labels/mito")).equals(await bytes(out, "labels/mito"))).toBe(true);

    // An existing output is kept unless --overwrite.
    const line = expectOneLineError(organelle(["synth", out, ...SMALL]));
    expect(line).toContain("already exists");
    expect(organelle(["synth", out, ...SMALL, "--overwrite", "--no-pyramid"]).code).toBe(0);
  });

  it("writes anisotropic voxels, OME-Zarr 0.5 and a subset of classes", async () => {
    const out = path.join(dir, "aniso.zarr");
    const r = organelle([
      "synth",
      out,
      "--voxel-size",
      "5.2,4,4",
      "--shape",
      "24,40,40",
      "--format",
      "0.5",
      "--organelles",
      "nucleus,mito,er",
      "--noise",
      "0",
      "--drift",
      "0",
      "--curtain",
      "0",
      "--blur",
      "0",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const raw = await Volume.open(out, "raw");
    expect(raw.meta.voxelSize).toEqual([5.2, 4, 4]);
    expect(raw.meta.shape).toEqual([24, 40, 40]);
    expect(raw.meta.format).toBe("0.5");
    const labels = fs.readdirSync(path.join(out, "labels")).filter((f) => !f.includes("."));
    expect(labels.sort()).toEqual(["er", "mito", "nucleus"]);
  });

  it("answers bad arguments with one clear line and a non-zero exit", () => {
    const out = path.join(dir, "bad.zarr");
    const cases: [string[], RegExp][] = [
      [["--voxel-size", "abc"], /--voxel-size/],
      [["--voxel-size", "0"], /--voxel-size/],
      [["--voxel-size", "-5"], /--voxel-size/],
      [["--voxel-size", "5,4"], /--voxel-size/],
      [["--shape", "-4,8,8"], /--shape/],
      [["--shape", "4,8.5,8"], /--shape/],
      [["--shape", "4,8,8", "--size-um", "1"], /either --shape/],
      [["--size-um", "0"], /--size-um/],
      [["--seed", "x"], /--seed/],
      [["--noise", "-1"], /--noise/],
      [["--organelles", "mito,bogus"], /bogus/],
      [["--organelles", "nuclear_pore"], /needs 'nucleus'/],
      [["--chunks", "0"], /--chunks/],
    ];
    for (const [args, re] of cases) {
      const line = expectOneLineError(organelle(["synth", out, ...args]));
      expect(line).toMatch(re);
    }
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(`${out}.partial`)).toBe(false);

    // Unwritable output: a path below a regular file.
    const file = path.join(dir, "a-file");
    fs.writeFileSync(file, "x");
    const line = expectOneLineError(organelle(["synth", path.join(file, "cell.zarr"), "--shape", "8,8,8"]));
    expect(line).toContain("a-file");
  });
});
