import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Coordinate, coord, uniform } from "../src/core/coordinate.ts";
import { claheVolume } from "../src/ops/clahe.ts";
import { fillHoles } from "../src/ops/fill-holes.ts";
import { binaryDilation, binaryErosion } from "../src/ops/morphology.ts";
import { removeSmallObjects } from "../src/ops/remove-small.ts";
import { importProvenance } from "../src/store/import.ts";
import { Volume } from "../src/store/volume.ts";
import { BIN, expectOneLineError, organelle, tempDir } from "./helpers/cli.ts";
import { countDiff, readArray, synthCell } from "./helpers/synth.ts";

/**
 * End to end through the bundled CLI on a small synthetic cell: `organelle clahe`, `mask` and `crop`
 * run, their outputs open in `organelle info` and equal whole-volume computations; bad input gives one
 * line and a non-zero exit; an interrupted run resumes to the same bytes.
 */

const { dir, cleanup } = tempDir("organelle-preprocess-");
afterAll(cleanup);
const ds = path.join(dir, "cell.zarr");
let shape: Coordinate;
let raw: Uint8Array;

beforeAll(async () => {
  synthCell(ds);
  const { v, data } = await readArray(ds, "raw");
  shape = v.meta.shape;
  raw = data as Uint8Array;
}, 120_000);

describe("organelle clahe", () => {
  it("writes raw_clahe equal to the whole-volume CLAHE, and info shows it", async () => {
    const r = organelle(["clahe", ds, "--kernel", "24", "--block", "32"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/raw_clahe: CLAHE of raw \(kernel 24 x 24 x 24, clip 0\.02, 256 bins\)/);
    const { v, data } = await readArray(ds, "raw_clahe");
    expect(v.levels.length).toBe((await Volume.open(ds, "raw")).levels.length);
    const want = claheVolume(raw, shape, { kernelSize: uniform(24), clipLimit: 0.02, nbins: 256 }, "uint8");
    expect(countDiff(data as Uint8Array, want)).toBe(0);
    const info = organelle(["info", path.join(ds, "raw_clahe")]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/uint8 intensity/);
    expect(info.stdout).not.toMatch(/INCOMPLETE/);
  });

  it("resumes after being killed and ends with the same bytes", async () => {
    // --block 8 is rounded up to whole chunks (32^3). Reference: an uninterrupted run with the same options into another array
    expect(
      organelle(["clahe", ds, "--kernel", "16", "--block", "8", "--output", "clahe_ref", "--workers", "1"])
        .code,
    ).toBe(0);
    const jobs = path.join(ds, ".organelle", "jobs");
    const child = spawn(
      process.execPath,
      [BIN, "clahe", ds, "--kernel", "16", "--block", "8", "--output", "clahe_kill", "--workers", "1"],
      {
        env: { ...process.env, ORGANELLE_QUIET: "1" },
        stdio: "ignore",
      },
    );
    const exited = new Promise((res) => child.on("exit", res));
    const journaled = () =>
      fs.existsSync(jobs)
        ? fs
            .readdirSync(jobs)
            .reduce((n, f) => n + fs.readFileSync(path.join(jobs, f), "utf8").split("\n").length, 0)
        : 0;
    const t0 = Date.now();
    // 27 blocks of 32^3 per phase: stop it about a third into the second phase (CLAHE proper)
    while (journaled() < 40 && Date.now() - t0 < 60_000) await new Promise((res) => setTimeout(res, 10));
    child.kill("SIGKILL");
    await exited;
    const half = await Volume.open(ds, "clahe_kill", { allowIncomplete: true });
    expect(half.attrs.complete).toBe(false);
    const again = organelle([
      "clahe",
      ds,
      "--kernel",
      "16",
      "--block",
      "8",
      "--output",
      "clahe_kill",
      "--workers",
      "1",
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/resumed: \d+ blocks were already done/);
    const a = (await readArray(ds, "clahe_ref")).data;
    const b = (await readArray(ds, "clahe_kill")).data;
    expect(countDiff(a as Uint8Array, b as Uint8Array)).toBe(0);
  });

  it("bad input: missing array, nonsense kernel, existing output", () => {
    expect(expectOneLineError(organelle(["clahe", ds, "--array", "nope"]))).toMatch(/nope: no such array/);
    expect(expectOneLineError(organelle(["clahe", ds, "--kernel", "0"]))).toMatch(/--kernel/);
    expect(expectOneLineError(organelle(["clahe", ds, "--kernel", "24"]))).toMatch(
      /raw_clahe already exists; pass --overwrite/,
    );
    expect(expectOneLineError(organelle(["clahe", path.join(dir, "missing.zarr")]))).toMatch(/missing\.zarr/);
  });
});

describe("organelle mask", () => {
  it("writes masks equal to the whole-volume window + skimage opening/closing + hole filling + small-object removal", async () => {
    const args = ["--window", "2,196", "--fill-holes", "300", "--remove-small", "300", "--block", "32"];
    const r = organelle(["mask", ds, "--output", "masks/auto", ...args]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/masks\/auto: [\d,]+ of 512,000 voxels in the cell/);
    const { v, data } = await readArray(ds, "masks/auto");
    expect(v.meta.kind).toBe("mask");
    // the same recipe on the whole volume with the exact ops (skimage: erosion border 1, dilation border 0)
    let m: Uint8Array = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) m[i] = raw[i]! > 2 && raw[i]! < 196 ? 1 : 0;
    const unit = coord(1, 1, 1);
    m = binaryErosion(m, shape, 3, { voxelSize: unit, borderValue: 1 });
    m = binaryDilation(m, shape, 3, { voxelSize: unit, borderValue: 0 });
    m = binaryDilation(m, shape, 2, { voxelSize: unit, borderValue: 0 });
    m = binaryErosion(m, shape, 2, { voxelSize: unit, borderValue: 1 });
    m = fillHoles(m, shape, { smallerThan: 300, includeBorder: true });
    m = removeSmallObjects(m, shape, 300);
    expect(countDiff(data as Uint8Array, m)).toBe(0);
    // and it finds the synthetic cell (its exact mask) nearly everywhere
    const truth = (await readArray(ds, "masks/cell")).data as Uint8Array;
    expect(1 - countDiff(truth, data as Uint8Array) / truth.length).toBeGreaterThan(0.95);
    const info = organelle(["info", ds]);
    expect(info.stdout).toMatch(/masks\/auto {2}uint8 mask/);
  });

  it("bad input: window, missing dataset", () => {
    expect(expectOneLineError(organelle(["mask", ds, "--window", "200,100"]))).toMatch(/--window '200,100'/);
    expect(expectOneLineError(organelle(["mask", ds, "--fill-holes", "many"]))).toMatch(/--fill-holes/);
    expect(expectOneLineError(organelle(["mask", path.join(dir, "none.zarr")]))).toMatch(/none\.zarr/);
  });
});

describe("organelle crop", () => {
  it("crops every array, records the crop, and export puts it back into the original frame", async () => {
    const out = path.join(dir, "crop.zarr");
    const r = organelle(["crop", ds, out, "--voxels", "10,12,14:40,36,32"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/raw {2}40 x 36 x 32 voxels/);
    const { v, data } = await readArray(out, "raw");
    expect(v.meta.offset).toEqual(coord(200, 240, 280));
    const rec = importProvenance(v.attrs)!;
    expect(rec.cropOffset).toEqual([10, 12, 14]);
    expect(rec.sourceShape).toEqual([...shape]);
    const [, ny, nx] = shape;
    for (let z = 0, i = 0; z < 40; z++)
      for (let y = 0; y < 36; y++)
        for (let x = 0; x < 32; x++, i++)
          if (data[i] !== raw[((z + 10) * ny + y + 12) * nx + x + 14]) throw new Error(`voxel ${i} differs`);
    const labels = (await readArray(out, "labels/er")).v;
    expect(labels.meta.kind).toBe("label");
    const info = organelle(["info", out]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/label arrays: .*er/);
    const tif = path.join(dir, "uncropped.tif");
    const ex = organelle(["export", out, tif]);
    expect(ex.code, ex.stderr).toBe(0);
    expect(ex.stdout).toMatch(
      new RegExp(`${shape.join(" x ")} voxels \\(z,y,x\\) uint8, in the original stack's frame`),
    );
  });

  it("bad input: ROI outside the volume, unknown array, no ROI", () => {
    expect(
      expectOneLineError(organelle(["crop", ds, path.join(dir, "c2.zarr"), "--roi", "0,0,0:5000,100,100"])),
    ).toMatch(/reaches outside raw/);
    expect(
      expectOneLineError(
        organelle([
          "crop",
          ds,
          path.join(dir, "c3.zarr"),
          "--voxels",
          "0,0,0:8,8,8",
          "--arrays",
          "labels/nope",
        ]),
      ),
    ).toMatch(/labels\/nope: .* has no such array/);
    expect(expectOneLineError(organelle(["crop", ds, path.join(dir, "c4.zarr")]))).toMatch(
      /--roi .* or --voxels/,
    );
    expect(fs.existsSync(path.join(dir, "c2.zarr"))).toBe(false);
  });
});
