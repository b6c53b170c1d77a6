/**
 * Benchmark of the torch engine alone (no data pipeline): train steps per second and forward output
 * voxels per second of model presets at their training input size, through the protocol, against the
 * same network run by PyTorch directly in-process (bench/engine-peer.py) — the ratio is what the framing
 * and the pipe cost. Synthetic tensors, batch 1, CPU unless the engine finds a GPU.
 *
 *   npx tsx bench/engine.ts [--presets tiny,small,asem] [--steps 5] [--forwards 3]
 *
 * The ASEM preset (204^3) takes minutes per step on a small CPU: it runs one step and one forward
 * unless --steps/--forwards say otherwise.
 */
import { spawnSync } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { tensor } from "../src/engine/tensor.ts";
import { TorchEngine } from "../src/engine/torch-engine.ts";
import { getModelPreset, specToJson } from "../src/learn/unet-spec.ts";

const HERE = path.dirname(fileURLToPath(import.meta.url));

function arg(name: string, dflt: string | undefined): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const presets = (arg("presets", "tiny,small,asem") ?? "").split(",");
const stepsArg = arg("steps", undefined);
const forwardsArg = arg("forwards", undefined);

function seconds(): number {
  return performance.now() / 1000;
}

interface Row {
  name: string;
  input: string;
  output: string;
  params: number;
  engineStep: number;
  peerStep: number;
  engineFwd: number;
  peerFwd: number;
  outVoxels: number;
  gflop: number;
}

const engine = await TorchEngine.start();
const info = await engine.hello();
const rows: Row[] = [];
for (const name of presets) {
  const preset = getModelPreset(name);
  const big = preset.inputSize[0] * preset.inputSize[1] * preset.inputSize[2] > 150 ** 3;
  const steps = Number(stepsArg ?? (big ? 1 : 5));
  const forwards = Number(forwardsArg ?? (big ? 1 : 3));
  const spec = specToJson(preset.spec);
  const m = await engine.createModel(spec, preset.inputSize, { seed: 0 });
  await engine.configureOptimizer();
  const n = m.inputShape[0] * m.inputShape[1] * m.inputShape[2];
  const o = m.outputShape[0] * m.outputShape[1] * m.outputShape[2];
  const raw = tensor(
    Float32Array.from({ length: n }, () => Math.random() * 2 - 1),
    [1, 1, ...m.inputShape],
  );
  const labels = tensor(
    Uint8Array.from({ length: o }, () => (Math.random() > 0.5 ? 1 : 0)),
    [1, ...m.outputShape],
  );
  if (!big) await engine.trainStep({ raw, labels }); // warm-up: primitive selection, allocator
  // two requests in flight, as the training loop keeps them
  let t = seconds();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < steps; i++) pending.push(engine.trainStep({ raw, labels }));
  await Promise.all(pending);
  const engineStep = (seconds() - t) / steps;
  if (!big) await engine.forward(raw, { output: "uint8", channels: [1] });
  t = seconds();
  for (let i = 0; i < forwards; i++) await engine.forward(raw, { output: "uint8", channels: [1] });
  const engineFwd = (seconds() - t) / forwards;

  const peer = spawnSync(
    "/usr/bin/python3",
    [
      path.join(HERE, "engine-peer.py"),
      JSON.stringify(spec),
      ...m.inputShape.map(String),
      String(steps),
      String(forwards),
    ],
    { encoding: "utf8", env: { ...process.env } },
  );
  if (peer.status !== 0) throw new Error(`bench/engine-peer.py failed: ${peer.stderr}`);
  const p = JSON.parse(peer.stdout.trim().split("\n").at(-1)!);
  rows.push({
    name,
    input: m.inputShape.join("x"),
    output: m.outputShape.join("x"),
    params: m.parameters,
    engineStep,
    peerStep: p.train_s,
    engineFwd,
    peerFwd: p.forward_s,
    outVoxels: o,
    gflop: p.flops / 1e9,
  });
  process.stderr.write(`${name}: done\n`);
}
await engine.close();

const load = os.loadavg()[0]!.toFixed(1);
console.log(
  `bench/engine: torch ${info.torch} on ${info.device} (${info.deviceName}, ${info.threads} threads), ${os.cpus()[0]?.model ?? "?"}, load ${load}`,
);
const head = [
  "preset",
  "input",
  "output",
  "params",
  "steps/s",
  "peer steps/s",
  "fwd Mvox/s",
  "peer Mvox/s",
  "GFLOP/fwd",
  "fwd GFLOP/s",
  "engine/peer",
];
const table = rows.map((r) => [
  r.name,
  r.input,
  r.output,
  `${(r.params / 1e6).toFixed(2)} M`,
  (1 / r.engineStep).toFixed(3),
  (1 / r.peerStep).toFixed(3),
  (r.outVoxels / r.engineFwd / 1e6).toFixed(3),
  (r.outVoxels / r.peerFwd / 1e6).toFixed(3),
  r.gflop.toFixed(1),
  (r.gflop / r.engineFwd).toFixed(1),
  `${(r.peerStep / r.engineStep).toFixed(2)} / ${(r.peerFwd / r.engineFwd).toFixed(2)}`,
]);
const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
for (const row of [head, ...table]) console.log(row.map((c, i) => c.padStart(widths[i]!)).join("  "));
console.log(
  "engine/peer: speed through the protocol relative to PyTorch in-process (train / forward; 1.00 = no overhead)",
);
