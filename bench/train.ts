/**
 * Benchmark of the training loop: steps/s and how long the engine waits for data, per model preset,
 * against the limit — the engine's bare train-step rate on the same network with tensors made up front
 * (no sampling, reading, augmentation or logging).
 *
 *   npx tsx bench/train.ts [--presets small,asem] [--steps small=30,asem=3] [--input small=100]
 *                          [--data cell.zarr] [--device cpu|cuda]
 *
 * Data: a synthetic 3 um cell at 10 nm (300^3 voxels, built once into $TMPDIR/organelle-bench-train)
 * unless --data names a dataset with raw, labels/mito and masks/cell; all of it is the training ROI.
 * For each preset: the bare rate (a warm-up step, then N steps) and the loop (`train` without
 * validation, N steps after one warm-up run of 1 step, prefetch 2). Prints a table:
 *   loop/bare   the loop's rate over the bare rate (1 = the loop costs nothing)
 *   engine idle share of the loop's wall time the engine had no request: it waited for data
 *   batch wait  share of the loop's time spent waiting for a batch (reading, or the engine augmenting it)
 *   step        share of the loop's time inside train steps (requests queued before them included)
 *   CPU s/step  CPU seconds of this process and the engine per loop step (on a shared machine wall time
 *               depends on the other load; CPU time does much less)
 * --input gives a preset another valid training input edge (e.g. small=100, bench/train-synth.sh's).
 * The load average before and after is printed: the machine may be shared.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type Coordinate, coord } from "../src/core/coordinate.ts";
import { TorchEngine } from "../src/engine/index.ts";
import { tensor } from "../src/engine/tensor.ts";
import { configFromObject } from "../src/learn/config.ts";
import { cpuSeconds } from "../src/learn/engine-clock.ts";
import { networkShape } from "../src/learn/shapes.ts";
import { train } from "../src/learn/train.ts";
import { getModelPreset, specToJson } from "../src/learn/unet-spec.ts";
import { synthesize } from "../src/synth/synth.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const presets = arg("presets", "small,asem").split(",");
const stepsArg = Object.fromEntries(
  arg("steps", "tiny=40,small=30,asem=3,cosem-few=2")
    .split(",")
    .map((kv) => kv.split("=") as [string, string]),
);
const inputs = Object.fromEntries(
  arg("input", "")
    .split(",")
    .filter(Boolean)
    .map((kv) => kv.split("=") as [string, string]),
);
const device = arg("device", "cpu") as "cpu" | "cuda";
const work = path.join(os.tmpdir(), "organelle-bench-train");

async function data(): Promise<string> {
  const given = arg("data", "");
  if (given) return path.resolve(given);
  const ds = path.join(work, "cell.zarr");
  if (!fs.existsSync(ds)) {
    console.error(`synthesising ${ds} (3 um at 10 nm, seed 11) ...`);
    await synthesize(ds, {
      sizeUm: coord(3, 3, 3),
      voxelSize: coord(10, 10, 10),
      seed: 11,
      classes: ["mito", "er", "nucleus", "nuclear_envelope", "golgi", "vesicle"],
      pyramid: false,
      progress: false,
    });
  }
  return ds;
}

interface Row {
  preset: string;
  shape: string;
  params: number;
  bare: number;
  loop: number;
  wait: number;
  batchWait: number;
  stepShare: number;
  cpuPerStep: number | null;
  readMs: number;
  augmentMs: number;
  stepMs: number;
}

function inputOf(name: string): Coordinate {
  const p = getModelPreset(name);
  const edge = inputs[name];
  return edge ? coord(Number(edge), Number(edge), Number(edge)) : p.inputSize;
}

async function bare(engine: TorchEngine, name: string, steps: number): Promise<number> {
  const p = getModelPreset(name);
  const m = await engine.createModel(specToJson(p.spec), inputOf(name), { seed: 1 });
  await engine.configureOptimizer();
  const [si, so] = [inputOf(name), m.outputShape];
  const n = si[0] * si[1] * si[2];
  const k = so[0] * so[1] * so[2];
  const raw = tensor(
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37)),
    [1, 1, ...si],
  );
  const labels = tensor(
    Uint8Array.from({ length: k }, (_, i) => (i % 7 === 0 ? 1 : 0)),
    [1, ...so],
  );
  const weights = tensor(new Float32Array(k).fill(1), [1, ...so]);
  await engine.trainStep({ raw, labels, weights });
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await engine.trainStep({ raw, labels, weights });
  return steps / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const ds = await data();
  const engine = await TorchEngine.start({ engine: { device } });
  const info = await engine.hello({ device });
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ");
  console.log(
    `${new Date().toISOString()}: engine ${info.device} (${info.deviceName}), ${info.threads} threads, torch ${info.torch}; ${os.cpus().length} cores, load average ${load()}; data ${ds}`,
  );
  const rows: Row[] = [];
  for (const name of presets) {
    const steps = Number(stepsArg[name] ?? 10);
    const p = getModelPreset(name);
    const input = inputOf(name);
    const shape = networkShape(p.spec, input);
    const bareRate = await bare(engine, name, steps);
    const runDir = fs.mkdtempSync(path.join(work, `run-${name}-`));
    const cfg = (n: number) =>
      configFromObject(
        {
          organelle: "mito",
          model: { preset: name, input_shape: [...input] },
          run_dir: runDir,
          training: { steps: n, checkpoint_every: 1_000_000, validate_every: 1_000_000 },
          sources: [{ dataset: ds, rois: "all" }],
          engine: { device },
        },
        path.join(work, "bench.yaml"),
      );
    // One step first: model creation, first reads and JIT warm-up stay out of the timed run.
    await train({ config: cfg(1), configText: "", engine: { engine, info }, out: null, noValidation: true });
    const cpu0 = cpuSeconds(engine.pid);
    const r = await train({
      config: cfg(1 + steps),
      configText: "",
      engine: { engine, info },
      out: null,
      noValidation: true,
    });
    const cpu1 = cpuSeconds(engine.pid);
    const loopSeconds = r.timing.steps / r.timing.stepsPerSecond;
    rows.push({
      preset: name,
      shape: `${shape.input.join("x")} -> ${shape.output.join("x")}`,
      params: r.parameters,
      bare: bareRate,
      loop: r.timing.stepsPerSecond,
      wait: r.timing.engineIdleShare,
      batchWait: r.timing.batchWaitShare,
      stepShare: (r.timing.meanTrainStepMs * r.timing.steps) / 1000 / loopSeconds,
      cpuPerStep: cpu0 === null || cpu1 === null ? null : (cpu1 - cpu0) / r.timing.steps,
      readMs: r.timing.meanReadMs,
      augmentMs: r.timing.meanAugmentMs,
      stepMs: r.timing.meanTrainStepMs,
    });
    fs.rmSync(runDir, { recursive: true, force: true });
  }
  await engine.close();
  const head = [
    "preset",
    "input -> output",
    "params",
    "bare steps/s",
    "loop steps/s",
    "loop/bare",
    "engine idle",
    "batch wait",
    "step",
    "CPU s/step",
    "read ms",
    "augment ms",
    "train step ms",
  ];
  const body = rows.map((r) => [
    r.preset,
    r.shape,
    r.params.toLocaleString("en"),
    r.bare.toFixed(3),
    r.loop.toFixed(3),
    (r.loop / r.bare).toFixed(2),
    `${(r.wait * 100).toFixed(1)} %`,
    `${(r.batchWait * 100).toFixed(1)} %`,
    `${(r.stepShare * 100).toFixed(1)} %`,
    r.cpuPerStep === null ? "-" : r.cpuPerStep.toFixed(2),
    r.readMs.toFixed(0),
    r.augmentMs.toFixed(0),
    r.stepMs.toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join("  ");
  console.log(line(head));
  for (const b of body) console.log(line(b));
  console.log(`load average at the end: ${load()}`);
}

await main();
