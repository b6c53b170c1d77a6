import { describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { Rng } from "../core/random.ts";
import {
  type AugmentParams,
  applyIntensity,
  applyTransform,
  drawAugment,
  linearPart,
  noAugment,
  sourceBox,
  sourcePosition,
  sourcePositionFn,
  transformFor,
} from "./augment.ts";
import { parseTrainConfig } from "./config.ts";

const cfg = parseTrainConfig("organelle: mito\nsources: [{dataset: a.zarr}]\n", "/c.yaml").augment;
const ISO = coord(10, 10, 10);

/** Index ramps: linear sampling of a ramp returns the sampled position exactly. */
function ramps(shape: Coordinate): Float32Array[] {
  const n = shape[0] * shape[1] * shape[2];
  const r = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  let k = 0;
  for (let z = 0; z < shape[0]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[2]; x++, k++) {
        r[0]![k] = z;
        r[1]![k] = y;
        r[2]![k] = x;
      }
  return r;
}

function positions(
  p: AugmentParams,
  shape: Coordinate,
  region: { begin: Coordinate; shape: Coordinate },
  subsample = cfg.elastic.subsample,
) {
  const box = sourceBox(p, shape, subsample);
  const tr = transformFor(p, shape, region, box.begin, subsample);
  const out = ramps(box.shape).map((r) => applyTransform(tr, r, box.shape, "linear", Number.NaN));
  return { box, tr, q: out.map((a, d) => a.map((v) => v + box.begin[d]!)) };
}

describe("augmentation parameters", () => {
  it("are deterministic for a seed and differ between seeds", () => {
    const a = drawAugment(Rng.seeded(4, "augment"), cfg, coord(36, 36, 36), ISO);
    const b = drawAugment(Rng.seeded(4, "augment"), cfg, coord(36, 36, 36), ISO);
    const c = drawAugment(Rng.seeded(5, "augment"), cfg, coord(36, 36, 36), ISO);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(a.intensity!.scale).toBeGreaterThanOrEqual(0.85);
    expect(a.intensity!.scale).toBeLessThan(1.15);
    expect(Math.abs(a.intensity!.shift)).toBeLessThanOrEqual(0.15);
    expect(a.elastic!.rotation).toBeGreaterThanOrEqual(0);
    expect(a.elastic!.rotation).toBeLessThan(Math.PI / 2);
    // 36 voxels with spacing 32: ceil(36/32) + 1 = 3 control points per axis, jitter sd 2
    expect(a.elastic!.controlShape).toEqual([3, 3, 3]);
  });

  it("never transposes axes of different size or voxel size, and does not rotate anisotropic yx", () => {
    const r = Rng.seeded(1, "t");
    for (let i = 0; i < 200; i++) {
      const p = drawAugment(r, cfg, coord(20, 36, 36), coord(30, 10, 10));
      expect(p.first.perm[0]).toBe(0);
      expect(p.second.perm[0]).toBe(0);
      const q = drawAugment(r, cfg, coord(36, 36, 36), coord(10, 10, 12));
      expect(q.elastic!.rotation).toBe(0);
      expect(q.first.perm[2]).toBe(2);
    }
  });

  it("mirror and transpose are exact permutations of the data (and of labels alike)", () => {
    const shape = coord(4, 5, 5);
    const p: AugmentParams = {
      ...noAugment(),
      first: { mirror: [true, false, false], perm: [0, 2, 1] },
      second: { mirror: [false, false, true], perm: [0, 1, 2] },
    };
    const box = sourceBox(p, shape, 4);
    // integer positions need no interpolation margin
    expect(box).toEqual({ begin: [0, 0, 0], shape: [4, 5, 5] });
    const src = new Float32Array(4 * 5 * 5).map((_, i) => i);
    const tr = transformFor(p, shape, { begin: coord(0, 0, 0), shape }, box.begin, 4);
    expect(tr.displacement).toBeNull();
    const lin = applyTransform(tr, src, box.shape, "linear", -1);
    const near = applyTransform(tr, src, box.shape, "nearest", -1);
    expect(Array.from(lin)).toEqual(Array.from(near));
    // out(z,y,x) = src(3 - z, 4 - x', y') with the second mirror on x: x' = 4 - x
    const at = (z: number, y: number, x: number) => src[(z * 5 + y) * 5 + x]!;
    for (let z = 0; z < 4; z++)
      for (let y = 0; y < 5; y++)
        for (let x = 0; x < 5; x++) expect(lin[(z * 5 + y) * 5 + x]).toBe(at(3 - z, 4 - x, y));
  });

  it("the engine transform follows the exact map (exactly at subsample 1, within 0.5 voxel at 4), reading only inside its source box", () => {
    const shape = coord(36, 36, 36);
    const rng = Rng.seeded(9, "augment");
    for (const [sub, tol] of [
      [1, 1e-4],
      [4, 0.5],
      [4, 0.5],
    ] as const) {
      const p = drawAugment(rng, cfg, shape, ISO);
      const { q } = positions(p, shape, { begin: coord(0, 0, 0), shape }, sub);
      let worst = 0;
      let outside = 0;
      const exact = [0, 0, 0];
      const position = sourcePositionFn(p, shape);
      let k = 0;
      for (let z = 0; z < 36; z++)
        for (let y = 0; y < 36; y++)
          for (let x = 0; x < 36; x++, k++) {
            position([z, y, x], exact);
            for (let d = 0; d < 3; d++) {
              const v = q[d]![k]!;
              if (Number.isNaN(v)) outside++; // NaN = read outside the source box
              worst = Math.max(worst, Math.abs(v - exact[d]!));
            }
          }
      expect(outside).toBe(0);
      expect(worst).toBeLessThan(tol);
    }
  });

  it("labels warped over the output crop agree with raw warped over the whole input", () => {
    const shape = coord(36, 36, 36);
    const crop = { begin: coord(8, 8, 8), shape: coord(20, 20, 20) };
    const p = drawAugment(Rng.seeded(2, "augment"), cfg, shape, ISO);
    const full = positions(p, shape, { begin: coord(0, 0, 0), shape });
    const part = positions(p, shape, crop);
    let worst = 0;
    let k = 0;
    for (let z = 0; z < 20; z++)
      for (let y = 0; y < 20; y++)
        for (let x = 0; x < 20; x++, k++) {
          const f = ((z + 8) * 36 + (y + 8)) * 36 + (x + 8);
          for (let d = 0; d < 3; d++) worst = Math.max(worst, Math.abs(part.q[d]![k]! - full.q[d]![f]!));
        }
    // both approximate the same exact map from different control grids
    expect(worst).toBeLessThan(0.5);
  });

  it("a quarter turn maps voxels onto voxels", () => {
    const p: AugmentParams = {
      ...noAugment(),
      elastic: { rotation: Math.PI / 2, controlShape: coord(2, 2, 2), displacement: new Float32Array(24) },
    };
    const a = linearPart(p);
    expect(a.map((v) => Math.round(v * 1e9) / 1e9 + 0)).toEqual([1, 0, 0, 0, 0, -1, 0, 1, 0]);
    const q = [0, 0, 0];
    sourcePosition(p, coord(4, 4, 4), [1, 0, 3], q);
    expect(q.map((v) => Math.round(v * 1e9) / 1e9)).toEqual([1, 0, 0]);
  });

  it("intensity: mean + (a - mean) * scale + shift, clipped to [0, 1], then to [-1, 1]", () => {
    const a = Float32Array.from([0, 0.5, 1]);
    applyIntensity(a, { scale: 1.1, shift: 0.1 });
    // mean 0.5: 0 -> 0.05, 0.5 -> 0.6, 1 -> 1.15 -> 1; then *2-1
    expect(a[0]).toBeCloseTo(-0.9, 6);
    expect(a[1]).toBeCloseTo(0.2, 6);
    expect(a[2]).toBeCloseTo(1, 6);
    const b = Float32Array.from([0, 1]);
    applyIntensity(b, null);
    expect(Array.from(b)).toEqual([-1, 1]);
  });
});
