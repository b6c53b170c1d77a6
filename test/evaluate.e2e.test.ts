import * as fs from "node:fs";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../src/core/coordinate.ts";
import { makeTinyCell } from "../src/learn/testing/datasets.ts";
import { makeTinyRun } from "../src/predict/testing.ts";
import type { DType } from "../src/store/dtype.ts";
import { Volume } from "../src/store/volume.ts";
import { expectOneLineError, organelle, REPO, tempDir } from "./helpers/cli.ts";

/*
 * `organelle evaluate` and `compare` through the bundled CLI. The numbers must equal a direct numpy
 * computation (scripts/fixtures/make_eval_fixture.py -> test/fixtures/evaluate) on an anisotropic volume
 * with a non-zero origin, instance-id labels, a mask and an exclusion zone; then a model is evaluated
 * (its ROIs predicted first) and compared with its prediction.
 */

const FIX = path.join(REPO, "test", "fixtures", "evaluate");
interface Counts {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  precision: number;
  recall: number;
  f1: number;
  iou: number;
}
interface Fixture {
  voxelSize: Coordinate;
  offset: Coordinate;
  rois: unknown[];
  arrays: Record<string, { file: string; dtype: string; shape: number[] }>;
  cases: {
    name: string;
    args: string[];
    threshold: number;
    rois: (Counts & { name: string; voxels: number })[];
    overall: Counts & { voxels: number };
    meanF1: number;
    sweep: (Counts & { threshold: number })[];
    best: Counts & { threshold: number };
  }[];
}
const fx = JSON.parse(fs.readFileSync(path.join(FIX, "index.json"), "utf8")) as Fixture;

function load(name: string): Uint8Array | Uint16Array {
  const a = fx.arrays[name]!;
  const buf = gunzipSync(fs.readFileSync(path.join(FIX, a.file)));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return a.dtype === "uint16" ? new Uint16Array(ab) : new Uint8Array(ab);
}

const tmp = tempDir("organelle-evaluate-e2e-");
const ds = path.join(tmp.dir, "fixture.zarr");
const shape = coord(...(fx.arrays.prob!.shape as [number, number, number]));

async function put(
  array: string,
  data: Uint8Array | Uint16Array,
  kind: "intensity" | "label" | "mask",
  attrs: Record<string, unknown> = {},
) {
  const v = await Volume.create(ds, array, {
    shape,
    dtype: (data instanceof Uint16Array ? "uint16" : "uint8") as DType,
    voxelSize: coord(...fx.voxelSize),
    offset: coord(...fx.offset),
    chunks: coord(8, 16, 16),
    kind,
    attrs,
  });
  await v.writeBox({ begin: coord(0, 0, 0), shape }, data);
  await v.markComplete();
}

beforeAll(async () => {
  const prob = load("prob") as Uint8Array;
  await put("predictions/fixture/mito/prob", prob, "intensity", { prediction: { predicted: "all" } });
  await put(
    "predictions/fixture/mito/seg",
    prob.map((v) => (v >= 128 ? 1 : 0)),
    "mask",
    { prediction: { predicted: "all", threshold: 0.5 } },
  );
  // a worse prediction to compare with: the probabilities shifted by one voxel along x
  const shifted = new Uint8Array(prob.length);
  for (let i = 0; i < prob.length; i++) shifted[i] = i % shape[2] === 0 ? prob[i]! : prob[i - 1]!;
  await put("predictions/shifted/mito/prob", shifted, "intensity", { prediction: { predicted: "all" } });
  await put("labels/mito", load("labels"), "label", { rois: fx.rois });
  await put("masks/cell", load("mask"), "mask");
  await put("labels/mito_exclusion", load("exclusion"), "mask");
});
afterAll(() => tmp.cleanup());

function expectCounts(got: Counts, want: Counts, what: string) {
  for (const k of ["tp", "fp", "fn", "tn"] as const) expect(got[k], `${what} ${k}`).toBe(want[k]);
  for (const k of ["precision", "recall", "f1", "iou"] as const)
    expect(got[k], `${what} ${k}`).toBeCloseTo(want[k], 12);
}

describe("organelle evaluate (CLI) against numpy", () => {
  for (const c of fx.cases) {
    it(c.name, () => {
      const r = organelle(["evaluate", ds, "--pred", "predictions/fixture/mito", "--json", ...c.args]);
      expect(r.code, r.stderr).toBe(0);
      const e = JSON.parse(r.stdout);
      expect(e.threshold).toBe(c.threshold);
      expect(e.rois.map((x: { name: string }) => x.name)).toEqual(c.rois.map((x) => x.name));
      c.rois.forEach((want, i) => {
        expect(e.rois[i].voxels).toBe(want.voxels);
        expectCounts(e.rois[i], want, want.name);
      });
      expectCounts(e.overall, c.overall, "overall");
      expect(e.overall.voxels).toBe(c.overall.voxels);
      expect(e.meanF1).toBeCloseTo(c.meanF1, 12);
      expect(e.sweep.map((p: { threshold: number }) => p.threshold)).toEqual(c.sweep.map((p) => p.threshold));
      for (const [i, want] of c.sweep.entries()) expectCounts(e.sweep[i], want, `sweep ${want.threshold}`);
      expect(e.best.threshold).toBe(c.best.threshold);
      expect(e.mask).toBe(c.args.includes("--no-mask") ? null : "masks/cell");
      expect(e.exclusion).toBe(c.args.includes("--no-exclusion") ? null : "labels/mito_exclusion");
    });
  }

  it("prints a table and writes CSV and a PNG plot", () => {
    const csv = path.join(tmp.dir, "e.csv");
    const png = path.join(tmp.dir, "e.png");
    const r = organelle(["evaluate", ds, "--pred", "fixture/mito", "--csv", csv, "--plot", png]);
    expect(r.code, r.stderr).toBe(0);
    const c = fx.cases[0]!;
    expect(r.stdout).toContain(
      "predictions/fixture/mito against labels/mito (inside masks/cell, outside labels/mito_exclusion), threshold 0.5",
    );
    expect(r.stdout).toMatch(
      new RegExp(
        `validation-1 +${c.rois[0]!.voxels.toLocaleString("en-US")} +${c.rois[0]!.precision.toFixed(3)}`,
      ),
    );
    expect(r.stdout).toContain(`best threshold ${c.best.threshold}: F1 ${c.best.f1.toFixed(3)}`);
    const rows = fs.readFileSync(csv, "utf8").trim().split("\n");
    expect(rows[0]).toBe("prediction,section,name,threshold,voxels,tp,fp,fn,tn,precision,recall,f1,iou");
    expect(rows).toHaveLength(1 + 2 + 1 + 19);
    expect(rows[3]).toBe(
      [
        "predictions/fixture/mito",
        "overall",
        "all",
        0.5,
        c.overall.voxels,
        c.overall.tp,
        c.overall.fp,
        c.overall.fn,
        c.overall.tn,
        c.overall.precision,
        c.overall.recall,
        c.overall.f1,
        c.overall.iou,
      ].join(","),
    );
    const head = fs.readFileSync(png).subarray(0, 8);
    expect([...head]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  it("compares predictions side by side on the same ROIs", () => {
    const r = organelle(["compare", ds, "fixture/mito", "predictions/shifted/mito", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const [a, b] = JSON.parse(r.stdout);
    expect(a.prediction).toBe("predictions/fixture/mito");
    expectCounts(a.overall, fx.cases[0]!.overall, "fixture");
    expect(b.rois.map((x: { roi: unknown }) => x.roi)).toEqual(a.rois.map((x: { roi: unknown }) => x.roi));
    expect(b.overall.f1).toBeLessThan(a.overall.f1);
    const t = organelle(["compare", ds, "fixture/mito", "shifted/mito"]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(
      /^prediction +F1 validation-1 +F1 validation-2 +precision +recall +F1 +IoU +best t +best F1$/m,
    );
    expect(t.stdout).toMatch(/^predictions\/shifted\/mito /m);
  });

  it("bad inputs: one line each", () => {
    expect(expectOneLineError(organelle(["evaluate", ds, "--pred", "predictions/none/mito"]))).toMatch(
      /predictions\/none\/mito: no such prediction \(the dataset has predictions\/fixture\/mito, predictions\/shifted\/mito\)/,
    );
    expect(
      expectOneLineError(organelle(["evaluate", ds, "--pred", "fixture/mito", "--roi", "100000,0,0:8,6,6"])),
    ).toMatch(/ROI 'roi' .* lies outside the labels and prediction/);
    expect(
      expectOneLineError(organelle(["evaluate", ds, "--pred", "fixture/mito", "--labels", "labels/er"])),
    ).toMatch(/labels\/er: no ground truth/);
    expect(expectOneLineError(organelle(["evaluate", ds]))).toMatch(
      /give the prediction to evaluate with --pred/,
    );
    expect(
      expectOneLineError(organelle(["evaluate", ds, "--pred", "fixture/mito", "--sweep", "0.9:0.1:0.1"])),
    ).toMatch(/--sweep '0.9:0.1:0.1'/);
  });
});

describe("organelle evaluate --model / compare of models (CLI)", () => {
  const cell = path.join(tmp.dir, "cell.zarr");
  const ball = (z: number, y: number, x: number) =>
    (z - 14) ** 2 + (y - 16) ** 2 + (x - 15) ** 2 < 64 ? 1 : 0;

  beforeAll(async () => {
    await makeTinyCell(cell, coord(28, 32, 30), {
      raw: (z, y, x) => (ball(z, y, x) ? 180 : 80) + ((z * 7 + y * 13 + x * 17) % 11),
      labels: ball,
      mask: (_z, _y, x) => (x < 27 ? 1 : 0),
      rois: [{ name: "v1", role: "validation", begin: coord(4, 4, 4), shape: coord(20, 20, 12) }],
    });
    await makeTinyRun(path.join(tmp.dir, "run-a"), { seed: 4 });
    await makeTinyRun(path.join(tmp.dir, "run-b"), { seed: 9 });
  });

  it("predicts the validation ROI of a model, then scores it like --pred", () => {
    const r = organelle(["evaluate", cell, "--model", path.join(tmp.dir, "run-a"), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const e = JSON.parse(r.stdout);
    expect(e.prediction).toBe("predictions/run-a-step1/mito");
    expect(e.rois[0].name).toBe("v1");
    expect(e.rois[0].voxels).toBe(20 * 20 * 12);
    const again = organelle(["evaluate", cell, "--pred", "run-a-step1/mito", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).overall).toEqual(e.overall);
    // only the ROI was predicted: another ROI is refused with a hint
    const other = organelle(["evaluate", cell, "--pred", "run-a-step1/mito", "--roi", "0,0,0:40,40,40"]);
    expect(expectOneLineError(other)).toMatch(
      /ROI 'roi' .* was not predicted in .*; predict it with organelle predict MODEL .* --roi 0,0,0:40,40,40, or evaluate with --model/,
    );
  });

  it("compares two models (predicting their ROIs) and a prediction", () => {
    const r = organelle([
      "compare",
      cell,
      path.join(tmp.dir, "run-a"),
      path.join(tmp.dir, "run-b"),
      "run-a-step1/mito",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout);
    expect(list.map((e: { prediction: string }) => e.prediction)).toEqual([
      "predictions/run-a-step1/mito",
      "predictions/run-b-step1/mito",
      "predictions/run-a-step1/mito",
    ]);
    expect(list[2].overall).toEqual(list[0].overall);
  });
});
