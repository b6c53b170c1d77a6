/**
 * Benchmark of inference: output voxels per second of U-Net presets with ONNX Runtime (the `onnx`
 * engine, in this process) against PyTorch's CPU forward of the same network with the same weights (the
 * torch engine subprocess), in the same run, at two valid tile sizes each (a smaller one and the one
 * `organelle predict` picks here), and both against the machine's FLOP limit; then `predict()` end to end
 * (store reads, tiling, writes, pyramids) on a synthetic volume against the bare forward rate.
 *
 *   npx tsx bench/predict.ts [--presets small,asem] [--threads 2] [--reps 2] [--e2e 128]
 *
 * FLOP limit: the float32 matrix product of numpy (OpenBLAS sgemm, 4096^2, `--threads` threads, best of
 * 3) run by /usr/bin/python3 in the same run — the rate dense BLAS reaches on these cores, which a
 * convolution lowered to GEMM can at best approach. Network FLOPs are 2 x the multiply-adds of every
 * convolution (src/predict/cost.ts; the same count as bench/engine-peer.py).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type Coordinate, coord } from "../src/core/coordinate.ts";
import { OnnxEngine } from "../src/engine/onnx-engine.ts";
import { tensor } from "../src/engine/tensor.ts";
import { TorchEngine } from "../src/engine/torch-engine.ts";
import { inputStep, networkShape, smallestValidInput } from "../src/learn/shapes.ts";
import { getModelPreset, specToJson, type UNetSpec } from "../src/learn/unet-spec.ts";
import { forwardFlops } from "../src/predict/cost.ts";
import { openOnnxEngine } from "../src/predict/model-ref.ts";
import { predict } from "../src/predict/predict.ts";
import { makeTinyRun } from "../src/predict/testing.ts";
import { largestInputWithin } from "../src/predict/tiling.ts";
import { Volume } from "../src/store/volume.ts";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

const presets = arg("presets", "small,asem").split(",");
const threads = Number(arg("threads", "2"));
const reps = Number(arg("reps", "2"));
const e2eEdge = Number(arg("e2e", "128"));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-bench-predict-"));

function peakGflops(): { gflops: number; blas: string } {
  const script = `
import time, numpy as np
n = 4096
a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
a @ b
best = 1e9
for _ in range(3):
    t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)
print(2 * n ** 3 / best / 1e9)
`;
  const env = {
    ...process.env,
    OPENBLAS_NUM_THREADS: String(threads),
    OMP_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
  };
  const r = spawnSync("/usr/bin/python3", ["-c", script], { encoding: "utf8", env });
  if (r.status !== 0) throw new Error(`numpy matmul failed: ${r.stderr}`);
  return { gflops: Number(r.stdout.trim().split("\n").at(-1)), blas: "numpy sgemm 4096^2" };
}

function cpuName(): string {
  return os.cpus()[0]?.model.trim() ?? "unknown CPU";
}

async function time(f: () => Promise<unknown>, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f();
  return (performance.now() - t0) / 1000 / n;
}

interface Row {
  preset: string;
  input: Coordinate;
  output: Coordinate;
  gflop: number;
  ort: number;
  torch: number;
  chosen: boolean;
}

/** A valid input about `frac` of the chosen one (at least the smallest). */
function smallerInput(spec: UNetSpec, chosen: Coordinate, frac: number): Coordinate {
  const n0 = smallestValidInput(spec);
  const p = inputStep(spec);
  const k = (d: number) => Math.max(0, Math.round((chosen[d]! * frac - n0[d]!) / p[d]!));
  return coord(n0[0] + k(0) * p[0], n0[1] + k(1) * p[1], n0[2] + k(2) * p[2]);
}

const peak = peakGflops();
const load = () => os.loadavg()[0]!.toFixed(1);
process.stderr.write(
  `peak ${peak.gflops.toFixed(1)} GFLOP/s (${peak.blas}, ${threads} threads), load ${load()}\n`,
);
const torch = await TorchEngine.start({ engine: { device: "cpu", threads } });
const info = torch.info!;
const rows: Row[] = [];
// organelle predict's default tile memory on the CPU (src/predict/predict.ts)
const tileBytes = Math.min(2 * 2 ** 30, os.totalmem() / 8);
for (const name of presets) {
  const spec = getModelPreset(name).spec;
  const chosen = largestInputWithin(spec, tileBytes);
  for (const input of [smallerInput(spec, chosen, 0.75), chosen]) {
    const shape = networkShape(spec, input);
    await torch.createModel(specToJson(spec), input, { seed: 0 });
    const file = path.join(tmp, `${name}-${input.join("x")}.onnx`);
    await torch.exportOnnx(file, { inputShape: input, channels: [1] });
    const ort = await OnnxEngine.open(file, { threads, exportedChannels: [1] });
    const n = input[0] * input[1] * input[2];
    const x = tensor(
      Float32Array.from({ length: n }, () => Math.random() * 2 - 1),
      [1, 1, ...input],
    );
    const big = n > 150 ** 3;
    const r = big ? 1 : reps;
    if (!big) {
      await ort.forward(x, { output: "uint8", channels: [1] });
      await torch.forward(x, { output: "uint8", channels: [1] });
    }
    // alternate the engines so load changes on the shared machine hit both alike
    let tOrt = 0;
    let tTorch = 0;
    for (let i = 0; i < r; i++) {
      tOrt += await time(() => ort.forward(x, { output: "uint8", channels: [1] }), 1);
      tTorch += await time(() => torch.forward(x, { output: "uint8", channels: [1] }), 1);
    }
    await ort.close();
    rows.push({
      preset: name,
      input,
      output: shape.output,
      gflop: forwardFlops(spec, input) / 1e9,
      ort: tOrt / r,
      torch: tTorch / r,
      chosen: input === chosen,
    });
    process.stderr.write(
      `${name} ${input.join("x")}: ort ${(tOrt / r).toFixed(2)} s, torch ${(tTorch / r).toFixed(2)} s, load ${load()}\n`,
    );
  }
}
await torch.close();

// End to end: organelle predict on a synthetic volume (small preset, ONNX Runtime, no mask).
let e2e: {
  voxels: number;
  seconds: number;
  rate: number;
  block: string;
  tile: string;
  forwardRate: number;
} | null = null;
if (e2eEdge > 0) {
  const ds = path.join(tmp, "cell.zarr");
  const shape = coord(e2eEdge, e2eEdge, e2eEdge);
  const v = await Volume.create(ds, "raw", {
    shape,
    dtype: "uint8",
    voxelSize: coord(8, 8, 8),
    chunks: coord(64, 64, 64),
  });
  const data = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < data.length; i++)
    data[i] = (Math.sin(i * 0.001) * 60 + 120 + ((i * 2654435761) % 17)) & 255;
  await v.writeBox({ begin: coord(0, 0, 0), shape }, data);
  await v.markComplete();
  const run = path.join(tmp, "run-small");
  await makeTinyRun(run, { spec: specToJson(getModelPreset("small").spec), voxelSize: coord(8, 8, 8) });
  // export first so the timing below is prediction only
  await predict(ds, [run], {
    mask: false,
    threads,
    progress: false,
    name: "warm",
    roi: undefined,
    pyramid: false,
  });
  const t0 = performance.now();
  const r = await predict(ds, [run], { mask: false, threads, progress: false, name: "timed" });
  const seconds = (performance.now() - t0) / 1000;
  const tile = r.outputs[0]!.tile;
  // the bare forward at the same tile, through the same cached ONNX graph
  const { engine } = await openOnnxEngine(r.outputs[0]!.model, tile.input, { threads });
  const n = tile.input[0] * tile.input[1] * tile.input[2];
  const x = tensor(
    Float32Array.from({ length: n }, () => Math.random() * 2 - 1),
    [1, 1, ...tile.input],
  );
  const fwd = await time(() => engine.forward(x, { output: "uint8", channels: [1] }), 1);
  await engine.close();
  e2e = {
    voxels: r.voxels,
    seconds,
    rate: r.voxels / seconds,
    block: r.plan.block.join("x"),
    tile: `${tile.input.join("x")} -> ${tile.output.join("x")}`,
    forwardRate: (tile.output[0] * tile.output[1] * tile.output[2]) / fwd,
  };
}
fs.rmSync(tmp, { recursive: true, force: true });

const f = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : "-");
const lines = [
  `bench/predict: ${cpuName()} (${os.availableParallelism()} cores, ${threads} threads), torch ${info.torch}, onnxruntime-node 1.23, load ${load()}`,
  `FLOP limit: ${f(peak.gflops, 1)} GFLOP/s (${peak.blas}, float32, ${threads} threads, best of 3)`,
  "preset  input        output       GFLOP/fwd  ORT s  torch s  ORT Mvox/s  torch Mvox/s  ORT/torch  ORT GFLOP/s  % of limit",
  ...rows.map((r) => {
    const vox = r.output[0] * r.output[1] * r.output[2];
    const gfs = r.gflop / r.ort;
    return [
      r.preset.padEnd(6),
      `${r.input.join("x")}${r.chosen ? "*" : " "}`.padEnd(12),
      r.output.join("x").padEnd(12),
      f(r.gflop, 1).padStart(9),
      f(r.ort).padStart(6),
      f(r.torch).padStart(8),
      f(vox / r.ort / 1e6, 3).padStart(11),
      f(vox / r.torch / 1e6, 3).padStart(13),
      f(r.torch / r.ort).padStart(10),
      f(gfs, 1).padStart(12),
      f((100 * gfs) / peak.gflops, 0).padStart(11),
    ].join("  ");
  }),
  "* the tile organelle predict uses on this machine (largest valid input within its default tile memory)",
];
if (e2e) {
  lines.push(
    `organelle predict (small, onnx, ${e2eEdge}^3 voxels, no mask): ${f(e2e.rate / 1e6, 3)} Mvoxel/s in ${f(e2e.seconds, 1)} s (blocks ${e2e.block}, tiles ${e2e.tile}); bare forward at that tile ${f(e2e.forwardRate / 1e6, 3)} Mvoxel/s`,
  );
}
process.stdout.write(`${lines.join("\n")}\n`);
