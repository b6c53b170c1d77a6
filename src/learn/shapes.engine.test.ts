import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../core/coordinate.ts";
import type { TorchEngine } from "../engine/index.ts";
import { tensor } from "../engine/tensor.ts";
import { batch1, randomFloats, startTestEngine } from "../engine/testing.ts";
import { inputStep, isValidInput, networkShape, smallestValidInput } from "./shapes.ts";
import { MODEL_PRESETS, parameterCount, specFromJson, specToJson, type UNetSpec } from "./unet-spec.ts";

/*
 * The shape arithmetic against the networks the engine actually builds (PyTorch, CPU). Shapes do not
 * depend on feature-map counts, so the two large presets are built 1 feature map wide for speed; their
 * parameter counts are checked at full width where that stays cheap. No engine, no pass: a machine
 * without PyTorch fails here with the engine's message on how to install it.
 */

let engine: TorchEngine;
beforeAll(async () => {
  engine = await startTestEngine();
});
afterAll(async () => {
  await engine?.close();
});

function narrow(spec: UNetSpec): Record<string, unknown> {
  return { ...specToJson(spec), fmaps: 1, fmapIncrease: 1 };
}

async function engineOutput(spec: Record<string, unknown>, input: Coordinate): Promise<Coordinate | string> {
  try {
    return (await engine.createModel(spec, input)).outputShape;
  } catch (e) {
    return (e as Error).message;
  }
}

describe("shape arithmetic == the engine's networks", () => {
  for (const p of MODEL_PRESETS) {
    it(`preset ${p.name}: output shapes at the smallest, the training and a larger input, and invalid sizes`, async () => {
      const big = p.name === "asem" || p.name === "cosem-few";
      const spec = big ? narrow(p.spec) : specToJson(p.spec);
      const step = inputStep(p.spec);
      const n0 = smallestValidInput(p.spec);
      const inputs = big
        ? [n0, p.inputSize]
        : [n0, p.inputSize, coord(n0[0] + step[0], n0[1], n0[2] + 2 * step[2])];
      for (const input of inputs) {
        expect(await engineOutput(spec, input)).toEqual(networkShape(p.spec, input).output);
      }
      // one voxel more than a valid size is invalid for both
      const bad = coord(n0[0], n0[1] + 1, n0[2]);
      expect(isValidInput(p.spec, bad)).toBe(false);
      expect(await engineOutput(spec, bad)).toMatch(/not valid for this network|not divisible/);
      if (!big) expect((await engine.createModel(spec, n0)).parameters).toBe(parameterCount(p.spec));
    });
  }

  it("asem at full width: 5.84 M parameters, as counted here", async () => {
    const asem = MODEL_PRESETS.find((p) => p.name === "asem")!.spec;
    const m = await engine.createModel(specToJson(asem), smallestValidInput(asem));
    expect(m.parameters).toBe(parameterCount(asem));
  });

  it("anisotropic downsampling, transposed upsampling and a 3x3x3 head", async () => {
    const spec = specFromJson({
      fmaps: 2,
      fmapIncrease: 3,
      downsample: [
        [1, 2, 2],
        [2, 3, 3],
      ],
      kernels: [
        [[1, 3, 3]],
        [[3, 3, 3]],
        [
          [3, 3, 3],
          [1, 3, 3],
        ],
      ],
      headKernel: [3, 3, 3],
      upsampling: "transposed",
      head: "sigmoid",
    });
    const n0 = smallestValidInput(spec);
    for (const input of [n0, coord(n0[0] + 2, n0[1] + 6, n0[2] + 12)]) {
      const m = await engine.createModel(specToJson(spec), input);
      expect(m.outputShape).toEqual(networkShape(spec, input).output);
      expect(m.parameters).toBe(parameterCount(spec));
    }
  });

  it("batch normalisation: parameters as counted; after training, a tile predicts what a larger tile predicts there", async () => {
    const spec = specFromJson({ fmaps: 4, downsample: [[2, 2, 2]], norm: "batch" });
    const small = smallestValidInput(spec);
    const large = coord(small[0] + 8, small[1] + 8, small[2] + 8);
    const m = await engine.createModel(specToJson(spec), large, { seed: 2 });
    expect(m.parameters).toBe(parameterCount(spec));
    // Six normalised convolutions (4, 4, 8, 8, 4, 4 channels): a scale and a shift instead of a bias each.
    expect(parameterCount(spec)).toBe(parameterCount({ ...spec, norm: "none" }) + 32);
    // Training moves the running statistics away from their start (mean 0, variance 1).
    await engine.configureOptimizer({ lr: 1e-2 });
    const n = large[0] * large[1] * large[2];
    const out = networkShape(spec, large).output;
    const labels = tensor(new Uint8Array(out[0] * out[1] * out[2]).fill(1), [1, ...out]);
    const raw = batch1(
      randomFloats(n, 5).map((v) => 3 * v + 2),
      large,
    );
    for (let i = 0; i < 3; i++) await engine.trainStep({ raw, labels });
    // Eval mode uses the running statistics: the small tile cut from the corner of the large one predicts
    // the same voxels (batch statistics would differ between the tiles).
    const whole = await engine.forward(raw);
    const tile = new Float32Array(small[0] * small[1] * small[2]);
    for (let z = 0; z < small[0]; z++)
      for (let y = 0; y < small[1]; y++)
        for (let x = 0; x < small[2]; x++)
          tile[(z * small[1] + y) * small[2] + x] = raw.data[(z * large[1] + y) * large[2] + x]!;
    const part = await engine.forward(batch1(tile, small));
    const po = networkShape(spec, small).output;
    let maxDiff = 0;
    for (let c = 0; c < 2; c++)
      for (let z = 0; z < po[0]; z++)
        for (let y = 0; y < po[1]; y++)
          for (let x = 0; x < po[2]; x++) {
            const a = part.data[((c * po[0] + z) * po[1] + y) * po[2] + x]!;
            const b = whole.data[((c * out[0] + z) * out[1] + y) * out[2] + x]!;
            maxDiff = Math.max(maxDiff, Math.abs(a - b));
          }
    expect(maxDiff).toBeLessThan(1e-5);
  });
});
