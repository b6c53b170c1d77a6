import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord } from "../src/core/coordinate.ts";
import { tensor } from "../src/engine/tensor.ts";
import { startTestEngine } from "../src/engine/testing.ts";
import { checkpointPath } from "../src/learn/run-dir.ts";
import { inputForOutput } from "../src/learn/shapes.ts";
import { makeTinyCell } from "../src/learn/testing/datasets.ts";
import { specFromJson } from "../src/learn/unet-spec.ts";
import { makeTinyRun } from "../src/predict/testing.ts";
import { Volume } from "../src/store/volume.ts";
import { BIN, expectOneLineError, organelle, tempDir } from "./helpers/cli.ts";

/*
 * `organelle predict`, `threshold`, `fuse` and `export` of predictions through the bundled CLI, with
 * tiny U-Nets of seeded random weights (no training needed): block-wise prediction with several tiles
 * per block equals one forward pass over the whole volume (no seams), a ROI equals the same voxels of a
 * whole-volume prediction, the ONNX and torch engines agree within 1/255, a run killed with SIGKILL and
 * started again ends with the bytes of an uninterrupted run, several models in one pass equal separate
 * runs, and every bad input is one line.
 */

const tmp = tempDir("organelle-predict-e2e-");
const SHAPE = coord(24, 30, 28);
const ds = path.join(tmp.dir, "cell.zarr");
const run = path.join(tmp.dir, "run-a");
const runEr = path.join(tmp.dir, "run-er");
const ball = (z: number, y: number, x: number) =>
  (z - 12) ** 2 + (y - 14) ** 2 + (x - 13) ** 2 < 49 || (z - 6) ** 2 + (y - 24) ** 2 + (x - 20) ** 2 < 16
    ? 1
    : 0;
const rawAt = (z: number, y: number, x: number) =>
  (ball(z, y, x) ? 175 : 85) + ((z * 7 + y * 13 + x * 17) % 23);
const inMask = (_z: number, y: number, x: number) => (x + y < 50 ? 1 : 0);
// Small blocks with several tiles each, so seams would show.
const TILING = ["--block", "8", "--chunk", "8", "--max-tile", "20"];

async function read(dataset: string, array: string, scale = 0): Promise<Uint8Array> {
  const v = await Volume.open(dataset, array, { scale });
  return (await v.readBox({ begin: coord(0, 0, 0), shape: v.meta.shape })) as Uint8Array;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function ok(args: string[]): string {
  const r = organelle(args);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  await makeTinyCell(ds, SHAPE, { raw: rawAt, labels: ball, mask: inMask });
  await makeTinyCell(path.join(tmp.dir, "nomask.zarr"), SHAPE, { raw: rawAt, labels: ball });
  await makeTinyRun(run, { seed: 3 });
  await makeTinyRun(runEr, { seed: 8, organelle: "er" });
  await makeTinyRun(path.join(tmp.dir, "run-8nm"), { seed: 3, voxelSize: coord(8, 8, 8) });
  await makeTinyRun(path.join(tmp.dir, "run-b"), { seed: 5 });
});
afterAll(() => tmp.cleanup());

/** The whole volume in one forward pass of the torch engine: float probabilities rounded to uint8. */
async function singlePass(): Promise<Uint8Array> {
  const engine = await startTestEngine();
  try {
    const loaded = await engine.loadCheckpoint(checkpointPath(run, 1), { optimizer: false });
    const net = inputForOutput(specFromJson(loaded.spec), SHAPE);
    const [nz, ny, nx] = net.input;
    const c = net.contextBefore;
    const x = new Float32Array(nz * ny * nx); // 0 = padding 0.5 in [0, 1] units, rescaled to [-1, 1]
    for (let z = 0; z < nz; z++)
      for (let y = 0; y < ny; y++)
        for (let k = 0; k < nx; k++) {
          const [vz, vy, vx] = [z - c[0], y - c[1], k - c[2]];
          if (vz < 0 || vy < 0 || vx < 0 || vz >= SHAPE[0] || vy >= SHAPE[1] || vx >= SHAPE[2]) continue;
          x[(z * ny + y) * nx + k] = (rawAt(vz, vy, vx) / 255) * 2 - 1;
        }
    const p = (await engine.forward(tensor(x, [1, 1, nz, ny, nx]), { channels: [1] })).data as Float32Array;
    const [, oy, ox] = net.output;
    const out = new Uint8Array(SHAPE[0] * SHAPE[1] * SHAPE[2]);
    for (let z = 0; z < SHAPE[0]; z++)
      for (let y = 0; y < SHAPE[1]; y++)
        for (let k = 0; k < SHAPE[2]; k++)
          out[(z * SHAPE[1] + y) * SHAPE[2] + k] = Math.round(p[(z * oy + y) * ox + k]! * 255);
    return out;
  } finally {
    await engine.close();
  }
}

describe("organelle predict (CLI)", () => {
  it("block-wise (8^3 blocks, several tiles each) equals one forward pass over the volume", async () => {
    const out = ok(["predict", run, ds, "--no-mask", "--name", "blocks", ...TILING]);
    expect(out).toMatch(/in 48 blocks \(0 outside the cell mask\), 336 tiles/);
    const blocks = await read(ds, "predictions/blocks/mito/prob");
    const whole = await singlePass();
    expect(maxDiff(blocks, whole)).toBeLessThanOrEqual(1);
    // the default tiling (one large tile) gives the same
    ok(["predict", run, ds, "--no-mask", "--name", "default"]);
    expect(maxDiff(await read(ds, "predictions/default/mito/prob"), whole)).toBeLessThanOrEqual(1);
    // seg is prob >= 128 (threshold 0.5), and the pyramid exists
    const seg = await read(ds, "predictions/blocks/mito/seg");
    expect(seg.every((s, i) => s === (blocks[i]! >= 128 ? 1 : 0))).toBe(true);
    expect((await Volume.open(ds, "predictions/blocks/mito/prob")).levels.length).toBeGreaterThan(1);
  });

  it("restricts to the cell mask, and a ROI equals the same voxels of the whole volume", async () => {
    ok(["predict", run, ds, "--name", "masked", ...TILING]);
    const all = await read(ds, "predictions/blocks/mito/prob");
    const masked = await read(ds, "predictions/masked/mito/prob");
    let i = 0;
    for (let z = 0; z < SHAPE[0]; z++)
      for (let y = 0; y < SHAPE[1]; y++)
        for (let x = 0; x < SHAPE[2]; x++, i++) expect(masked[i]).toBe(inMask(z, y, x) ? all[i] : 0);
    // a ROI not aligned to chunks or to the network's pooling grid, with default tiling
    const out = ok(["predict", run, ds, "--no-mask", "--name", "roi", "--roi", "30,50,70:110,130,150"]);
    expect(out).toContain("predictions/roi/mito: prob + seg");
    const roi = await read(ds, "predictions/roi/mito/prob");
    i = 0;
    for (let z = 0; z < SHAPE[0]; z++)
      for (let y = 0; y < SHAPE[1]; y++)
        for (let x = 0; x < SHAPE[2]; x++, i++) {
          const inside = z >= 3 && z < 14 && y >= 5 && y < 18 && x >= 7 && x < 22;
          if (!inside) expect(roi[i]).toBe(0);
          else expect(Math.abs(roi[i]! - all[i]!)).toBeLessThanOrEqual(1);
        }
    expect((await Volume.open(ds, "predictions/roi/mito/prob")).attrs.prediction).toMatchObject({
      predicted: [{ offset: [30, 50, 70], shape: [110, 130, 150] }],
    });
    // predicted again: nothing to do
    expect(ok(["predict", run, ds, "--no-mask", "--name", "roi", "--roi", "30,50,70:110,130,150"])).toContain(
      "already predicted",
    );
  });

  it("onnx and torch engines agree within 1/255", async () => {
    ok(["predict", run, ds, "--engine", "torch", "--device", "cpu", "--name", "torch", ...TILING]);
    const torch = await read(ds, "predictions/torch/mito/prob");
    const onnx = await read(ds, "predictions/masked/mito/prob");
    expect(maxDiff(torch, onnx)).toBeLessThanOrEqual(1);
    expect(onnx.some((v) => v > 0)).toBe(true);
  });

  it("resumes after SIGKILL and ends with the bytes of an uninterrupted run", async () => {
    const args = ["predict", run, ds, "--name", "killed", "--block", "4", "--chunk", "4", "--max-tile", "20"];
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ORGANELLE_QUIET: "1" },
      stdio: "ignore",
    });
    const jobs = path.join(ds, ".organelle", "jobs");
    const done = () => {
      if (!fs.existsSync(jobs)) return 0;
      return fs
        .readdirSync(jobs)
        .map((f) => fs.readFileSync(path.join(jobs, f), "utf8").split('{"id"').length - 1)
        .reduce((a, b) => Math.max(a, b), 0);
    };
    const deadline = Date.now() + 60_000;
    while (done() < 30 && Date.now() < deadline && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 10));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(done()).toBeGreaterThanOrEqual(30);
    // half written: readers refuse it
    const refused = organelle([
      "export",
      ds,
      path.join(tmp.dir, "x.tif"),
      "--array",
      "predictions/killed/mito/prob",
    ]);
    expect(expectOneLineError(refused)).toMatch(/was not completely written/);
    const resumed = ok(args);
    expect(resumed).toMatch(/, [1-9]\d* done before the interruption\)/);
    ok(["predict", run, ds, "--name", "full", "--block", "4", "--chunk", "4", "--max-tile", "20"]);
    for (const a of ["prob", "seg"]) {
      const levels = (await Volume.open(ds, `predictions/full/mito/${a}`)).levels.length;
      for (let s = 0; s < levels; s++) {
        expect(await read(ds, `predictions/killed/mito/${a}`, s)).toEqual(
          await read(ds, `predictions/full/mito/${a}`, s),
        );
      }
    }
  });

  it("predicts several models in one pass like separately, re-thresholds and fuses", async () => {
    ok(["predict", run, runEr, ds, ...TILING]);
    const mito = await read(ds, "predictions/run-a-step1/mito/prob");
    const er = await read(ds, "predictions/run-er-step1/er/prob");
    expect(mito).toEqual(await read(ds, "predictions/masked/mito/prob"));
    ok(["predict", runEr, ds, "--name", "er-alone", ...TILING]);
    expect(er).toEqual(await read(ds, "predictions/er-alone/er/prob"));

    expect(ok(["threshold", ds, "predictions/run-a-step1/mito", "--threshold", "0.4"])).toContain(
      ">= 102/255",
    );
    const seg = await read(ds, "predictions/run-a-step1/mito/seg");
    expect(seg.every((s, i) => s === (mito[i]! >= 102 ? 1 : 0))).toBe(true);

    const r = JSON.parse(ok(["fuse", ds, "--preds", "run-a-step1/mito,run-er-step1/er", "--json"]));
    expect(
      r.ids.map((x: { id: number; organelle: string; threshold: number }) => [
        x.id,
        x.organelle,
        x.threshold,
      ]),
    ).toEqual([
      [1, "mito", 0.4],
      [2, "er", 0.5],
    ]);
    const fused = await read(ds, "predictions/fused");
    let contested = 0;
    for (let i = 0; i < fused.length; i++) {
      const a = mito[i]! >= 102;
      const b = er[i]! >= 128;
      if (a && b) contested++;
      expect(fused[i]).toBe(a && b ? (er[i]! > mito[i]! ? 2 : 1) : a ? 1 : b ? 2 : 0);
    }
    expect(r.contested).toBe(contested);
    expect(contested).toBeGreaterThan(0);
    const p = JSON.parse(
      ok([
        "fuse",
        ds,
        "--preds",
        "run-a-step1/mito,run-er-step1/er",
        "--priority",
        "er",
        "--output",
        "predictions/fused-er",
        "--json",
      ]),
    );
    expect(p.rule).toBe("priority");
    const byPriority = await read(ds, "predictions/fused-er");
    for (let i = 0; i < fused.length; i++)
      expect(byPriority[i]).toBe(er[i]! >= 128 ? 2 : mito[i]! >= 102 ? 1 : 0);
  });

  it("exports prob and seg to TIFF (read back with tifffile)", async () => {
    for (const a of ["prob", "seg"]) {
      const out = path.join(tmp.dir, `${a}.tif`);
      ok(["export", ds, out, "--array", `predictions/run-a-step1/mito/${a}`]);
      const py = spawnSync(
        "/usr/bin/python3",
        [
          "-c",
          "import sys, hashlib, tifffile; a = tifffile.imread(sys.argv[1]); print(a.shape, a.dtype, hashlib.sha256(a.tobytes()).hexdigest())",
          out,
        ],
        { encoding: "utf8" },
      );
      expect(py.status, py.stderr).toBe(0);
      const data = await read(ds, `predictions/run-a-step1/mito/${a}`);
      expect(py.stdout.trim()).toBe(
        `(${SHAPE.join(", ")}) uint8 ${createHash("sha256").update(data).digest("hex")}`,
      );
    }
  });

  it("bad inputs: one line and a non-zero exit each", () => {
    const at8 = expectOneLineError(organelle(["predict", path.join(tmp.dir, "run-8nm"), ds]));
    expect(at8).toMatch(
      /model .*run-8nm was trained at \(8, 8, 8\) nm but .*raw has \(10, 10, 10\) \(s0\).*pass --force to predict at s0 anyway$/,
    );
    const forced = organelle(["predict", path.join(tmp.dir, "run-8nm"), ds, "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/^warning: model .* was trained at \(8, 8, 8\) nm/m);

    expect(expectOneLineError(organelle(["predict", run, path.join(tmp.dir, "nomask.zarr")]))).toMatch(
      /nomask\.zarr\/masks\/cell: the dataset has no cell mask; make one with 'organelle mask .*nomask\.zarr', or pass --no-mask/,
    );
    expect(
      expectOneLineError(organelle(["predict", run, ds, "--roi", "5000,5000,5000:100,100,100"])),
    ).toMatch(
      /--roi \[\(5000, 5000, 5000\)\.\.\(5100, 5100, 5100\)\) nm lies outside .*raw, which covers \[\(0, 0, 0\)\.\.\(240, 300, 280\)\) nm/,
    );

    const broken = path.join(tmp.dir, "run-broken");
    fs.cpSync(run, broken, { recursive: true });
    fs.writeFileSync(checkpointPath(broken, 1), Buffer.from("PK\x03\x04 not really a zip archive"));
    expect(expectOneLineError(organelle(["predict", broken, ds]))).toMatch(
      /step-00000001\.pt: not a PyTorch checkpoint \(truncated; \d+ bytes\); the file is damaged, use another checkpoint$/,
    );
    const pkg = path.join(tmp.dir, "package");
    fs.mkdirSync(pkg);
    fs.writeFileSync(path.join(pkg, "model.onnx"), "garbage");
    const desc = {
      format: "organelle-model",
      version: 1,
      organelle: "mito",
      spec: JSON.parse(fs.readFileSync(path.join(run, "run.json"), "utf8")).model.spec,
      voxelSize: [10, 10, 10],
      onnx: { file: "model.onnx", inputShape: [20, 20, 20], channels: [1] },
    };
    fs.writeFileSync(path.join(pkg, "model.json"), JSON.stringify(desc));
    expect(expectOneLineError(organelle(["predict", pkg, ds]))).toMatch(
      /model\.onnx: not a readable ONNX model \(.*\); export it again$/,
    );
    expect(expectOneLineError(organelle(["predict", path.join(tmp.dir, "nothing"), ds]))).toMatch(
      /no such run directory, model package or file/,
    );
    expect(expectOneLineError(organelle(["predict", `${run}:7`, ds]))).toMatch(
      /has no checkpoint at step 7; it has 1$/,
    );
    expect(
      expectOneLineError(organelle(["predict", path.join(tmp.dir, "run-b"), ds, "--name", "blocks"])),
    ).toMatch(
      /predictions\/blocks\/mito already holds a prediction by another model or of another geometry; pass --overwrite/,
    );
  });
});
