import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../core/coordinate.ts";
import type { TorchEngine } from "../engine/index.ts";
import { startTestEngine } from "../engine/testing.ts";
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
});
