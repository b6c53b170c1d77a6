import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord } from "../core/coordinate.ts";
import type { EngineInfo, TorchEngine } from "../engine/index.ts";
import { startTestEngine } from "../engine/testing.ts";
import { parseTrainConfig } from "./config.ts";
import { listCheckpoints, readMetrics } from "./run-dir.ts";
import { makeTinyCell, tempDir } from "./testing/datasets.ts";
import { train } from "./train.ts";

/*
 * The training loop on the real engine (CPU, deterministic) with a tiny network and a 28^3 cell:
 * run directory contents, validation records, and resume after an interruption giving the very
 * weights and losses of an uninterrupted run.
 */

const tmp = tempDir();
let torch: TorchEngine;
let engine: { engine: TorchEngine; info: EngineInfo };

const ball = (z: number, y: number, x: number) =>
  (z - 10) ** 2 + (y - 12) ** 2 + (x - 14) ** 2 < 36 || (z - 19) ** 2 + (y - 17) ** 2 + (x - 9) ** 2 < 25
    ? 1
    : 0;

beforeAll(async () => {
  torch = await startTestEngine();
  engine = { engine: torch, info: await torch.hello({ device: "cpu", deterministic: true }) };
  await makeTinyCell(path.join(tmp.dir, "cell.zarr"), coord(28, 28, 28), {
    raw: (z, y, x) => (ball(z, y, x) ? 170 : 90) + ((z * 7 + y * 13 + x * 17) % 9),
    labels: ball,
    mask: (z) => (z < 26 ? 1 : 0),
    exclusion: (z, y) => (z === 5 && y < 4 ? 1 : 0),
    rois: [
      { name: "t1", role: "training", begin: coord(0, 0, 0), shape: coord(28, 28, 18) },
      { name: "v1", role: "validation", begin: coord(2, 2, 18), shape: coord(24, 24, 10) },
    ],
  });
});
afterAll(async () => {
  await torch?.close();
  tmp.remove();
});

function config(runDir: string, steps = 6) {
  const text = `
organelle: mito
model: { preset: tiny, input_shape: [20, 20, 20] }
run_dir: ${runDir}
seed: 7
training: { steps: ${steps}, checkpoint_every: 2, validate_every: 3, learning_rate: 0.001 }
sources: [{ dataset: cell.zarr }]
validation: [{ dataset: cell.zarr }]
`;
  return { text, config: parseTrainConfig(text, path.join(tmp.dir, "train.yaml")) };
}

describe("organelle train (loop)", () => {
  let uninterrupted: Awaited<ReturnType<typeof train>>;

  it("trains, checkpoints, validates and writes the run directory", async () => {
    const c = config("run-a");
    uninterrupted = await train({ ...c, configText: c.text, engine, out: null });
    const dir = path.join(tmp.dir, "run-a");
    expect(uninterrupted.endStep).toBe(6);
    expect(uninterrupted.losses.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(uninterrupted.losses.every((l) => Number.isFinite(l.loss) && l.loss > 0)).toBe(true);
    expect(listCheckpoints(dir)).toEqual([2, 4, 6]);
    expect(uninterrupted.validations.map((v) => v.step)).toEqual([3, 6]);
    const v = uninterrupted.validations[1]!;
    expect(v.rois).toHaveLength(1);
    // the mask (z < 26) covers v1; the exclusion zone (z = 5, y < 4) takes 2 rows of 10 voxels from it
    expect(v.rois[0]!.counted).toBe(24 * 24 * 10 - 20);
    expect(v.f1).toBeGreaterThanOrEqual(0);
    for (const f of [
      "config.yaml",
      "config.resolved.json",
      "run.json",
      "metrics.jsonl",
      "summary.html",
      "plots/loss.png",
      "plots/f1.png",
    ]) {
      expect(fs.existsSync(path.join(dir, f))).toBe(true);
    }
    const run = JSON.parse(fs.readFileSync(path.join(dir, "run.json"), "utf8"));
    expect(run.model.outputShape).toEqual([4, 4, 4]);
    expect(run.git).toHaveProperty("commit");
    expect(uninterrupted.summary.choice.best).not.toBeNull();
    expect(uninterrupted.timing.engineIdleShare).toBeGreaterThanOrEqual(0);
    expect(uninterrupted.timing.engineIdleShare).toBeLessThan(1);
  });

  it("resumes after an interruption with the same batches: identical losses and weights", async () => {
    const c = config("run-b");
    // Killed after step 5: the last checkpoint is step 4, and step 5 was logged but must run again.
    const first = await train({
      ...c,
      configText: c.text,
      engine,
      out: null,
      stopAfter: 5,
      checkpointOnStop: false,
    });
    expect(first.stopped).toBe(true);
    expect(listCheckpoints(path.join(tmp.dir, "run-b"))).toEqual([2, 4]);
    const second = await train({ ...c, configText: c.text, engine, out: null });
    expect(second.resumed).toBe(true);
    expect(second.startStep).toBe(4);
    expect(second.losses).toEqual(uninterrupted.losses.slice(4));
    expect(first.losses).toEqual(uninterrupted.losses.slice(0, 5));
    expect(second.lastDigest).toBe(uninterrupted.lastDigest);
    const steps = readMetrics(path.join(tmp.dir, "run-b"))
      .filter((r) => r.type === "train")
      .map((r) => r.step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    // and continuing a finished run to more steps picks up at its last checkpoint
    const longer = config("run-b", 7);
    const third = await train({ ...longer, configText: longer.text, engine, out: null });
    expect(third.startStep).toBe(6);
    expect(third.endStep).toBe(7);
  });

  it("refuses to continue a run directory made by another configuration", async () => {
    const c = config("run-a");
    const other = parseTrainConfig(c.text.replace("seed: 7", "seed: 8"), path.join(tmp.dir, "train.yaml"));
    await expect(train({ config: other, configText: c.text, engine, out: null })).rejects.toThrow(
      /holds a run made with a different configuration \(seed differs\)/,
    );
  });
});
