import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import { tensor } from "./tensor.ts";
import { batch1, centreCrop, randomFloats, startTestEngine, TINY_SPEC, tempDir } from "./testing.ts";
import { TorchEngine } from "./torch-engine.ts";

type Spec = {
  inChannels?: number;
  fmaps: number;
  fmapIncrease: number;
  downsample: number[][];
  kernels: number[][][];
  headKernel: number[];
  upsampling: "nearest" | "transposed";
  outChannels: number;
};

/** Output size along one axis of a valid-padding U-Net, independently of src/learn/shapes.ts. */
function expectedOutput(s: Spec, input: Coordinate): number[] {
  return [0, 1, 2].map((a) => {
    let n = input[a]!;
    const L = s.downsample.length;
    for (let i = 0; i < L; i++) {
      for (const k of s.kernels[i]!) n -= k[a]! - 1;
      n /= s.downsample[i]![a]!;
    }
    for (const k of s.kernels[L]!) n -= k[a]! - 1;
    for (let i = L - 1; i >= 0; i--) {
      n *= s.downsample[i]![a]!;
      for (const k of s.kernels[i]!) n -= k[a]! - 1;
    }
    return n - (s.headKernel[a]! - 1);
  });
}

/** Weights + biases: convs per level down and up, transposed convs keep channels, the head conv. */
function expectedParameters(s: Spec): number {
  const vol = (k: number[]) => k[0]! * k[1]! * k[2]!;
  const f = (i: number) => Math.round(s.fmaps * s.fmapIncrease ** i);
  const L = s.downsample.length;
  let n = 0;
  let cin = s.inChannels ?? 1;
  for (let i = 0; i <= L; i++) {
    for (const k of s.kernels[i]!) {
      n += cin * f(i) * vol(k) + f(i);
      cin = f(i);
    }
  }
  for (let i = L - 1; i >= 0; i--) {
    if (s.upsampling === "transposed") n += f(i + 1) * f(i + 1) * vol(s.downsample[i]!) + f(i + 1);
    cin = f(i) + f(i + 1);
    for (const k of s.kernels[i]!) {
      n += cin * f(i) * vol(k) + f(i);
      cin = f(i);
    }
  }
  return n + f(0) * s.outChannels * vol(s.headKernel) + s.outChannels;
}

const K3 = [3, 3, 3];
const K133 = [1, 3, 3];

describe("torch engine", () => {
  let engine: TorchEngine;
  const tmp = tempDir();

  beforeAll(async () => {
    engine = await startTestEngine();
  });
  afterAll(async () => {
    await engine?.close();
    tmp.cleanup();
  });

  it("answers hello with versions, device and threads", async () => {
    const info = await engine.hello({ device: "cpu", deterministic: true });
    expect(info.protocol).toBe(1);
    expect(info.engine).toMatch(/^\d+\.\d+\.\d+$/);
    expect(info.torch).toMatch(/^\d+\.\d+/);
    expect(info.python).toMatch(/^3\.\d+/);
    expect(info.device).toBe("cpu");
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(info.deterministic).toBe(true);
    expect(info.autocast).toBe("off");
  });

  const shapeCases: [string, Spec, Coordinate][] = [
    [
      "isotropic, nearest upsampling, 3 levels",
      {
        fmaps: 2,
        fmapIncrease: 2,
        downsample: [
          [2, 2, 2],
          [2, 2, 2],
        ],
        kernels: [
          [K3, K3],
          [K3, K3],
          [K3, K3],
        ],
        headKernel: [1, 1, 1],
        upsampling: "nearest",
        outChannels: 2,
      },
      coord(44, 52, 60),
    ],
    [
      "anisotropic (1,2,2) downsampling with (1,3,3) kernels",
      {
        fmaps: 2,
        fmapIncrease: 3,
        downsample: [
          [1, 2, 2],
          [2, 2, 2],
        ],
        kernels: [
          [K133, K133],
          [K3, K3],
          [K3, K3],
        ],
        headKernel: [1, 1, 1],
        upsampling: "nearest",
        outChannels: 2,
      },
      coord(28, 44, 44),
    ],
    [
      "transposed upsampling, 3x3x3 head, 3 output channels",
      {
        fmaps: 3,
        fmapIncrease: 2,
        downsample: [[2, 2, 2]],
        kernels: [[K3, K3], [K3]],
        headKernel: [3, 3, 3],
        upsampling: "transposed",
        outChannels: 3,
      },
      coord(22, 22, 26),
    ],
  ];
  for (const [name, spec, input] of shapeCases) {
    it(`create_model measures the output shape: ${name}`, async () => {
      const head = spec.outChannels === 2 ? "softmax2" : "tanh-distance";
      const m = await engine.createModel({ ...spec, head }, input, { seed: 1 });
      expect(m.outputShape).toEqual(expectedOutput(spec, input));
      expect(m.inputShape).toEqual([...input]);
      expect(m.outChannels).toBe(spec.outChannels);
      expect(m.parameters).toBe(expectedParameters(spec));
    });
  }

  it("rejects an input the network cannot pool, and a bad spec, naming the problem", async () => {
    await expect(engine.createModel(TINY_SPEC, coord(21, 20, 20))).rejects.toThrow(
      /not divisible by its downsampling factor/,
    );
    const err = await engine.createModel({ ...TINY_SPEC, fmapz: 3 }, coord(20, 20, 20)).catch((e) => e);
    expect(isOrganelleError(err, "InvalidArgument")).toBe(true);
    expect(err.message).toMatch(/unknown field\(s\) fmapz/);
    await expect(engine.createModel({ ...TINY_SPEC, head: "sigmoid" }, coord(20, 20, 20))).rejects.toThrow(
      /outChannels 1/,
    );
  });

  it("a train step lowers the loss on a learnable batch; prediction = forward of the same weights", async () => {
    await engine.createModel(TINY_SPEC, coord(20, 20, 20), { seed: 3 });
    await engine.configureOptimizer({ lr: 3e-3 });
    // left half bright, right half dark; the label is "bright" in the output crop
    const vol = Float32Array.from({ length: 8000 }, (_, i) => (i % 20 < 10 ? 1 : 0));
    const raw = batch1(
      vol.map((v) => v * 2 - 1),
      coord(20, 20, 20),
    );
    const labels = tensor(Uint8Array.from(centreCrop(vol, coord(20, 20, 20), coord(4, 4, 4))), [1, 4, 4, 4]);
    expect(labels.data.filter((v) => v === 1)).toHaveLength(32);

    const before = await engine.forward(raw);
    const first = await engine.trainStep({ raw, labels }, { prediction: "float32" });
    expect(first.step).toBe(1);
    expect(first.prediction!.shape).toEqual([1, 2, 4, 4, 4]);
    expect(Array.from(first.prediction!.data)).toEqual(Array.from(before.data));

    // several steps in flight at once: answered in order
    const steps = await Promise.all(Array.from({ length: 20 }, () => engine.trainStep({ raw, labels })));
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    expect(steps.at(-1)!.loss).toBeLessThan(0.5 * first.loss);

    const p = await engine.forward(raw, { output: "uint8", channels: [1] });
    expect(p.dtype).toBe("uint8");
    expect(p.shape).toEqual([1, 1, 4, 4, 4]);
    const f = await engine.forward(raw, { channels: [1] });
    for (let i = 0; i < p.data.length; i++) expect(p.data[i]).toBe(Math.round((f.data[i] as number) * 255));
  });

  it("voxels of zero weight do not affect the loss or the update", async () => {
    await engine.createModel(TINY_SPEC, coord(20, 20, 20), { seed: 4 });
    await engine.configureOptimizer({ lr: 1e-3 });
    const start = path.join(tmp.dir, "start.pt");
    await engine.saveCheckpoint(start);
    const raw = batch1(randomFloats(8000, 9), coord(20, 20, 20));
    const weights = new Float32Array(64);
    const labelsA = new Uint8Array(64);
    const labelsB = new Uint8Array(64);
    for (let i = 0; i < 64; i++) {
      const inside = i < 32; // the first two z slices count
      weights[i] = inside ? 1 + (i % 3) : 0;
      labelsA[i] = i % 2;
      labelsB[i] = inside ? i % 2 : 1 - (i % 2);
    }
    const w = tensor(weights, [1, 4, 4, 4]);
    const a = await engine.trainStep({ raw, labels: tensor(labelsA, [1, 4, 4, 4]), weights: w });
    const after = path.join(tmp.dir, "a.pt");
    const da = await engine.saveCheckpoint(after);
    await engine.loadCheckpoint(start);
    const b = await engine.trainStep({ raw, labels: tensor(labelsB, [1, 4, 4, 4]), weights: w });
    const db = await engine.saveCheckpoint(after);
    expect(b.loss).toBe(a.loss);
    expect(db.digest).toBe(da.digest);

    await engine.loadCheckpoint(start);
    const zero = await engine.trainStep({
      raw,
      labels: tensor(labelsA, [1, 4, 4, 4]),
      weights: tensor(new Float32Array(64), [1, 4, 4, 4]),
    });
    expect(zero.loss).toBe(0);
  });

  it("a train step's lr sets the rate from that step on: lr 0 leaves the weights, the next step without lr too", async () => {
    await engine.createModel(TINY_SPEC, coord(20, 20, 20), { seed: 5 });
    await engine.configureOptimizer({ lr: 1e-2 });
    const raw = batch1(randomFloats(8000, 11), coord(20, 20, 20));
    const labels = tensor(
      Uint8Array.from({ length: 64 }, (_, i) => i % 2),
      [1, 4, 4, 4],
    );
    const start = await engine.saveCheckpoint(path.join(tmp.dir, "lr-start.pt"));
    await engine.trainStep({ raw, labels }, { lr: 0 });
    await engine.trainStep({ raw, labels });
    const frozen = await engine.saveCheckpoint(path.join(tmp.dir, "lr-frozen.pt"));
    expect(frozen.digest).toBe(start.digest);
    await engine.trainStep({ raw, labels }, { lr: 1e-2 });
    const moved = await engine.saveCheckpoint(path.join(tmp.dir, "lr-moved.pt"));
    expect(moved.digest).not.toBe(start.digest);
    await expect(engine.trainStep({ raw, labels }, { lr: -1 })).rejects.toThrow(/lr must be a number >= 0/);
  });

  it("sigmoid and tanh-distance heads train with their losses", async () => {
    const raw = batch1(randomFloats(8000, 11), coord(20, 20, 20));
    await engine.createModel({ ...TINY_SPEC, head: "sigmoid", outChannels: 1 }, coord(20, 20, 20), {
      seed: 5,
    });
    await engine.configureOptimizer();
    const s = await engine.trainStep(
      { raw, labels: tensor(new Float32Array(64).fill(1), [1, 4, 4, 4]) },
      { prediction: "float32" },
    );
    // BCE of sigmoid(logit) against 1 is -log(p): the loss is the mean of that over the prediction
    const p = s.prediction!.data as Float32Array;
    const bce = p.reduce((acc, v) => acc - Math.log(v), 0) / p.length;
    expect(s.loss).toBeCloseTo(bce, 5);

    await engine.createModel({ ...TINY_SPEC, head: "tanh-distance", outChannels: 3 }, coord(20, 20, 20), {
      seed: 5,
    });
    await engine.configureOptimizer();
    const target = tensor(new Float32Array(3 * 64).fill(0.5), [1, 3, 4, 4, 4]);
    const t = await engine.trainStep({ raw, labels: target }, { prediction: "float32" });
    expect(t.channelLosses).toHaveLength(3);
    expect(t.loss).toBeCloseTo(
      t.channelLosses!.reduce((a, b) => a + b, 0),
      6,
    );
    const d = t.prediction!.data as Float32Array;
    const mse0 = d.slice(0, 64).reduce((acc, v) => acc + (v - 0.5) ** 2, 0) / 64;
    expect(t.channelLosses![0]).toBeCloseTo(mse0, 5);
  });

  it("save/load round trip: identical weights, forward, step, optimizer and meta", async () => {
    await engine.createModel(TINY_SPEC, coord(20, 20, 20), { seed: 6 });
    await engine.configureOptimizer({ lr: 1e-4, weightDecay: 1e-5 });
    const raw = batch1(randomFloats(8000, 12), coord(20, 20, 20));
    const labels = tensor(new Uint8Array(64).fill(1), [1, 4, 4, 4]);
    await engine.trainStep({ raw, labels });
    await engine.trainStep({ raw, labels });
    const before = await engine.forward(raw);
    const file = path.join(tmp.dir, "sub", "ckpt.pt");
    const meta = { rng: [1, 2, 3], note: "resume here" };
    const saved = await engine.saveCheckpoint(file, meta);
    expect(saved.step).toBe(2);
    expect(fs.readdirSync(path.dirname(file))).toEqual(["ckpt.pt"]); // no temporary left behind

    await engine.createModel(TINY_SPEC, coord(20, 20, 20), { seed: 7 });
    const loaded = await engine.loadCheckpoint(file);
    expect(loaded.digest).toBe(saved.digest);
    expect(loaded.step).toBe(2);
    expect(loaded.meta).toEqual(meta);
    expect(loaded.optimizer).toMatchObject({ lr: 1e-4, weightDecay: 1e-5 });
    expect(Array.from((await engine.forward(raw)).data)).toEqual(Array.from(before.data));
    expect((await engine.trainStep({ raw, labels })).step).toBe(3);
  });

  it("reports errors inside a request as messages and keeps serving", async () => {
    await engine.createModel(TINY_SPEC, coord(20, 20, 20), { seed: 8 });
    const raw = batch1(randomFloats(8000, 13), coord(20, 20, 20));
    await expect(engine.trainStep({ raw, labels: tensor(new Uint8Array(64), [1, 4, 4, 4]) })).rejects.toThrow(
      /no optimizer/,
    );
    await engine.configureOptimizer();
    const wrong = await engine
      .trainStep({ raw, labels: tensor(new Uint8Array(27), [1, 3, 3, 3]) })
      .catch((e) => e);
    expect(isOrganelleError(wrong, "InvalidArgument")).toBe(true);
    expect(wrong.message).toMatch(/does not fit the network output/);

    const bad = path.join(tmp.dir, "garbage.pt");
    fs.writeFileSync(bad, "this is not a checkpoint");
    const err = await engine.loadCheckpoint(bad).catch((e) => e);
    expect(isOrganelleError(err, "Engine")).toBe(true);
    expect(err.message).toMatch(/torch engine load_checkpoint: \w+/);
    expect(err.engineTraceback).toMatch(/Traceback/);

    await expect(engine.call("no_such_message")).rejects.toThrow(/unknown message type 'no_such_message'/);
    await expect(engine.hello({ autocast: "bf16" })).rejects.toThrow(/autocast is for CUDA/);
    const ok = await engine.trainStep({ raw, labels: tensor(new Uint8Array(64), [1, 4, 4, 4]) });
    expect(Number.isFinite(ok.loss)).toBe(true);
  });

  it("exports ONNX (opset >= 13) and TorchScript files", async () => {
    await engine.createModel(TINY_SPEC, coord(20, 20, 20), { seed: 9 });
    const onnx = path.join(tmp.dir, "model.onnx");
    const r = await engine.exportOnnx(onnx, { inputShape: coord(20, 20, 20), channels: [1] });
    expect(r.opset).toBe(13);
    expect(r.outputShape).toEqual([1, 1, 4, 4, 4]);
    expect(fs.statSync(onnx).size).toBe(r.bytes);
    // an ONNX file is a protobuf ModelProto whose first field is ir_version (tag 0x08)
    expect(fs.readFileSync(onnx)[0]).toBe(0x08);
    await expect(engine.exportOnnx(onnx, { inputShape: coord(20, 20, 20), opset: 11 })).rejects.toThrow(
      /opset/,
    );
    const ts = await engine.exportTorchScript(path.join(tmp.dir, "model.ts.pt"), {
      inputShape: coord(20, 20, 20),
    });
    expect(ts.outputShape).toEqual([1, 2, 4, 4, 4]);
    expect(fs.existsSync(ts.path)).toBe(true);
  });
});

describe("torch engine determinism", () => {
  it("N steps == K steps + save + load in a new engine + (N - K) steps: identical weights", async () => {
    const tmp = tempDir();
    const raw = (i: number) => batch1(randomFloats(8000, 100 + i), coord(20, 20, 20));
    const labels = (i: number) =>
      tensor(
        Uint8Array.from(randomFloats(64, 200 + i), (v) => (v > 0.5 ? 1 : 0)),
        [1, 4, 4, 4],
      );
    const run = async (e: TorchEngine, from: number, to: number) => {
      for (let i = from; i < to; i++) await e.trainStep({ raw: raw(i), labels: labels(i) });
    };
    const a = await startTestEngine();
    const b = await startTestEngine();
    try {
      await a.createModel(TINY_SPEC, coord(20, 20, 20), { seed: 42 });
      await a.configureOptimizer({ lr: 1e-3 });
      await run(a, 0, 6);
      await a.saveCheckpoint(path.join(tmp.dir, "whole.pt"));

      await b.createModel(TINY_SPEC, coord(20, 20, 20), { seed: 42 });
      await b.configureOptimizer({ lr: 1e-3 });
      await run(b, 0, 3);
      await b.saveCheckpoint(path.join(tmp.dir, "half.pt"));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    const c = await startTestEngine();
    try {
      const loaded = await c.loadCheckpoint(path.join(tmp.dir, "half.pt"));
      expect(loaded.step).toBe(3);
      await run(c, 3, 6);
      const resumed = await c.saveCheckpoint(path.join(tmp.dir, "resumed.pt"));
      const whole = await c.loadCheckpoint(path.join(tmp.dir, "whole.pt"));
      expect(resumed.digest).toBe(whole.digest);
      expect(resumed.step).toBe(6);
    } finally {
      await c.close();
      tmp.cleanup();
    }
  });
});

describe("torch engine process failures", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  function script(name: string, body: string): string {
    const file = path.join(tmp.dir, name);
    fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return file;
  }

  it("a killed engine rejects every pending request with its stderr tail, and later ones at once", async () => {
    const e = await startTestEngine({ env: { ORGANELLE_ENGINE_LOG: "1" } });
    const pending = [e.createModel(TINY_SPEC, coord(20, 20, 20)), e.hello()];
    process.kill(e.pid!, "SIGKILL");
    for (const p of pending) {
      const err = await p.catch((x) => x);
      expect(isOrganelleError(err, "Engine")).toBe(true);
      expect(err.message).toMatch(/was killed by SIGKILL/);
      expect(err.message).toMatch(/hello #1 ok/); // from the engine's stderr log
    }
    await expect(e.hello()).rejects.toThrow(/was killed by SIGKILL/);
    await e.close();
  });

  it("close() lets pending requests finish, then refuses new ones", async () => {
    const e = await startTestEngine();
    const model = e.createModel(TINY_SPEC, coord(20, 20, 20));
    await e.close();
    expect((await model).outputShape).toEqual([4, 4, 4]);
    await expect(e.hello()).rejects.toThrow(/hello after close\(\)/);
  });

  it("an engine that dies at start-up is reported with its exit code and stderr", async () => {
    const python = script("crash.sh", 'echo "Fatal Python error: simulated crash" >&2; exit 3');
    await expect(TorchEngine.start({ python })).rejects.toThrow(
      /exited with code 3; its stderr ended with: Fatal Python error: simulated crash/,
    );
  });

  it("a missing interpreter and a Python without torch each give one line saying what to do", async () => {
    await expect(TorchEngine.start({ python: path.join(tmp.dir, "no-such-python") })).rejects.toThrow(
      /no-such-python: not found; set ORGANELLE_PYTHON/,
    );
    // -S leaves out site-packages, where Debian's python3-torch lives: a Python without torch
    const python = script("python-without-torch.sh", 'exec /usr/bin/python3 -S "$@"');
    const err = await TorchEngine.start({ python }).catch((x) => x);
    expect(isOrganelleError(err, "Engine")).toBe(true);
    expect(err.message).not.toMatch(/\n/);
    expect(err.message).toMatch(
      /^PyTorch cannot be imported by .*python3.*apt-get install python3-torch.*ORGANELLE_PYTHON/,
    );
  });
});
