import { describe, expect, it } from "vitest";
import { coord } from "../core/coordinate.ts";
import {
  inferenceShape,
  inputForOutput,
  inputShapeProblem,
  inputStep,
  isValidInput,
  nearestValidInput,
  networkShape,
  smallestValidInput,
} from "./shapes.ts";
import { getModelPreset, MODEL_PRESETS, parameterCount, specFromJson } from "./unet-spec.ts";

const asem = getModelPreset("asem").spec;

describe("U-Net shape arithmetic", () => {
  it("gives ASEM's 204^3 -> 114^3 with 45 voxels of context per side (the reference code's arithmetic)", () => {
    const s = networkShape(asem, coord(204, 204, 204));
    expect(s.output).toEqual([114, 114, 114]);
    expect(s.contextBefore).toEqual([45, 45, 45]);
    expect(s.contextAfter).toEqual([45, 45, 45]);
    // ~6 M parameters (SPEC §4)
    expect(parameterCount(asem)).toBeGreaterThan(5.5e6);
    expect(parameterCount(asem)).toBeLessThan(6.5e6);
  });

  it("gives COSEM's few-class network 216^3 -> 72^3 (factors 2, 3, 3: step 18)", () => {
    const spec = getModelPreset("cosem-few").spec;
    expect(inputStep(spec)).toEqual([18, 18, 18]);
    expect(networkShape(spec, coord(216, 216, 216)).output).toEqual([72, 72, 72]);
    expect(isValidInput(spec, coord(217, 216, 216))).toBe(false);
  });

  it("valid inputs are one residue class modulo the product of the factors, with constant context", () => {
    const n0 = smallestValidInput(asem);
    expect(n0).toEqual([92, 92, 92]);
    for (let n = 1; n <= 240; n++) {
      const valid = isValidInput(asem, coord(n, n, n));
      expect(valid).toBe(n >= 92 && (n - 92) % 8 === 0);
      if (valid) {
        const s = networkShape(asem, coord(n, n, n));
        expect(s.input[0] - s.output[0]).toBe(90);
      }
    }
  });

  it("names the axis and the level of an invalid input and offers the nearest valid sizes", () => {
    expect(inputShapeProblem(asem, coord(204, 205, 204))).toMatch(
      /axis y: level 0 has 201 voxels, not divisible/,
    );
    expect(() => networkShape(asem, coord(204, 205, 204))).toThrow(/nearest valid sizes along y: 204 or 212/);
    expect(() => networkShape(asem, coord(60, 204, 204))).toThrow(/axis z/);
  });

  it("snaps requested sizes up and down, and finds the input for a wanted output", () => {
    expect(nearestValidInput(asem, coord(200, 204, 205), "up")).toEqual([204, 204, 212]);
    expect(nearestValidInput(asem, coord(200, 204, 205), "down")).toEqual([196, 204, 204]);
    expect(nearestValidInput(asem, coord(10, 10, 10), "up")).toEqual([92, 92, 92]);
    expect(() => nearestValidInput(asem, coord(10, 100, 100), "down")).toThrow(/smallest is 92/);
    const s = inputForOutput(asem, coord(100, 114, 1));
    expect(s.output).toEqual([106, 114, 2]);
    expect(s.input).toEqual([196, 204, 92]);
    expect(inferenceShape(asem, coord(256, 256, 256)).input).toEqual([252, 252, 252]);
  });

  it("handles anisotropic downsampling and kernels", () => {
    const spec = specFromJson({
      fmaps: 4,
      downsample: [
        [1, 2, 2],
        [1, 2, 2],
      ],
      kernels: [
        [
          [1, 3, 3],
          [1, 3, 3],
        ],
        [
          [3, 3, 3],
          [3, 3, 3],
        ],
        [
          [3, 3, 3],
          [3, 3, 3],
        ],
      ],
    });
    expect(inputStep(spec)).toEqual([1, 4, 4]);
    const n0 = smallestValidInput(spec);
    // z: no downsampling; 1-kernels cost nothing, the six 3-kernels of levels 1 and 2 (down, bottom, up) cost 12.
    expect(n0[0]).toBe(13);
    const s = networkShape(spec, coord(20, n0[1] + 8, n0[2] + 8));
    expect(s.output[0]).toBe(20 - 12);
    expect(s.input[1] - s.output[1]).toBe(n0[1] - networkShape(spec, n0).output[1]);
  });

  it("has a valid training input for every preset", () => {
    for (const p of MODEL_PRESETS) {
      const input = nearestValidInput(p.spec, p.inputSize, "up");
      expect(input).toEqual(p.inputSize);
      expect(networkShape(p.spec, input).output.every((v) => v > 0)).toBe(true);
    }
  });
});
