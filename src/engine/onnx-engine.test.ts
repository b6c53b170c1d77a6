import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import { OnnxEngine } from "./onnx-engine.ts";
import { tensor } from "./tensor.ts";
import { randomFloats, startTestEngine, TINY_SPEC, tempDir } from "./testing.ts";
import type { TorchEngine } from "./torch-engine.ts";

/*
 * The ONNX Runtime engine against the torch engine on the same weights: a tiny U-Net with seeded random
 * weights, exported by the torch engine, run by both on the same input.
 */

const tmp = tempDir("organelle-onnx-");
const INPUT = coord(28, 28, 28);
let torch: TorchEngine;
let file: string;
let both: string;

beforeAll(async () => {
  torch = await startTestEngine();
  await torch.createModel(TINY_SPEC, INPUT, { seed: 7 });
  file = path.join(tmp.dir, "fg.onnx");
  await torch.exportOnnx(file, { inputShape: INPUT, channels: [1] });
  both = path.join(tmp.dir, "both.onnx");
  await torch.exportOnnx(both, { inputShape: INPUT });
});
afterAll(async () => {
  await torch.close();
  tmp.cleanup();
});

const raw = () =>
  tensor(
    randomFloats(28 ** 3, 11).map((v) => v * 2 - 1),
    [1, 1, 28, 28, 28],
  );

describe("OnnxEngine", () => {
  it("gives the torch engine's probabilities (float32 within 1e-5, uint8 within 1)", async () => {
    const ort = await OnnxEngine.open(file, { threads: 1, exportedChannels: [1] });
    expect(ort.inputShape).toEqual([28, 28, 28]);
    const x = raw();
    const before = x.data.slice();
    const [a, b, a8, b8] = await Promise.all([
      ort.forward(x, { output: "float32", channels: [1] }),
      torch.forward(x, { output: "float32", channels: [1] }),
      ort.forward(x, { output: "uint8", channels: [1] }),
      torch.forward(x, { output: "uint8", channels: [1] }),
    ]);
    expect(x.data).toEqual(before); // the caller's tensor is not moved away
    expect(a.shape).toEqual([1, 1, 12, 12, 12]);
    expect(a.shape).toEqual(b.shape);
    let maxF = 0;
    let maxU = 0;
    for (let i = 0; i < a.data.length; i++) {
      maxF = Math.max(maxF, Math.abs(Number(a.data[i]) - Number(b.data[i])));
      maxU = Math.max(maxU, Math.abs(Number(a8.data[i]) - Number(b8.data[i])));
    }
    expect(maxF).toBeLessThan(1e-5);
    expect(maxU).toBeLessThanOrEqual(1);
    // the run is deterministic
    const again = await ort.forward(x, { output: "uint8", channels: [1] });
    expect(again.data).toEqual(a8.data);
    await ort.close();
  });

  it("maps model channels onto the exported ones", async () => {
    const ort = await OnnxEngine.open(both, { threads: 2 });
    const x = raw();
    const all = await ort.forward(x);
    expect(all.shape).toEqual([1, 2, 12, 12, 12]);
    const fg = await ort.forward(x, { channels: [1] });
    expect(Array.from(fg.data)).toEqual(Array.from(all.data.subarray(12 ** 3)));
    await ort.close();
    const one = await OnnxEngine.open(file, { exportedChannels: [1] });
    await expect(one.forward(x, { channels: [0] })).rejects.toThrow(
      /channel 0 is not among the exported channels \(1\)/,
    );
    await expect(one.forward(tensor(new Float32Array(20 ** 3), [1, 1, 20, 20, 20]))).rejects.toThrow(
      /does not fit the exported \[batch, 1, 28, 28, 28\]/,
    );
    await one.close();
  });

  it("refuses a corrupt file with one line naming it", async () => {
    const bad = path.join(tmp.dir, "bad.onnx");
    fs.writeFileSync(bad, "this is not a protobuf");
    const e = await OnnxEngine.open(bad).catch((err: unknown) => err);
    expect(isOrganelleError(e, "InvalidData")).toBe(true);
    expect((e as Error).message).toMatch(/bad\.onnx: not a readable ONNX model \(.*\); export it again$/);
    expect((e as Error).message).not.toContain("\n");
    await expect(OnnxEngine.open(path.join(tmp.dir, "missing.onnx"))).rejects.toThrow(
      /no such ONNX model file/,
    );
  });
});
