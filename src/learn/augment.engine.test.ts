import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { Rng } from "../core/random.ts";
import type { TorchEngine } from "../engine/index.ts";
import { tensor } from "../engine/tensor.ts";
import { startTestEngine } from "../engine/testing.ts";
import {
  type AugmentParams,
  applyIntensity,
  applyTransform,
  drawAugment,
  engineTransform,
  noAugment,
  sourceBox,
  transformFor,
} from "./augment.ts";
import { parseTrainConfig } from "./config.ts";

/*
 * The augmentation TypeScript draws, applied by the engine: it follows the TypeScript reference of the
 * transform, keeps raw and labels in register (labels warped over the output crop match the warped raw),
 * and mirror/transpose undone by their inverse give back the data exactly.
 */

const cfg = parseTrainConfig("organelle: mito\nsources: [{dataset: a.zarr}]\n", "/c.yaml").augment;
const INPUT = coord(28, 28, 28);
const CROP = { begin: coord(6, 6, 6), shape: coord(16, 16, 16) };
let engine: TorchEngine;

beforeAll(async () => {
  engine = await startTestEngine();
});
afterAll(async () => {
  await engine?.close();
});

/** A smooth field in [0, 1] over `shape` whose 0.5 level set bounds a few blobs. */
function field(shape: Coordinate): Float32Array {
  const out = new Float32Array(shape[0] * shape[1] * shape[2]);
  let k = 0;
  for (let z = 0; z < shape[0]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[2]; x++, k++) {
        const v = Math.sin(z / 4.1) * Math.cos(y / 3.7) + Math.sin((x + y) / 5.3);
        out[k] = 1 / (1 + Math.exp(-3 * v));
      }
  return out;
}

async function warp(
  p: AugmentParams,
  region: { begin: Coordinate; shape: Coordinate },
  data: Float32Array | Uint8Array,
  box: { begin: Coordinate; shape: Coordinate },
) {
  const tr = transformFor(p, INPUT, region, box.begin, cfg.elastic.subsample);
  const out = await engine.augment({
    arrays: { a: tensor(data, [...box.shape]) },
    ...engineTransform(tr),
    sampling: { a: { mode: data instanceof Float32Array ? "linear" : "nearest", fill: 0 } },
  });
  return { tr, out: out.a!.data };
}

describe("augmentation on the engine", () => {
  it("follows the TypeScript reference of the transform (raw linear, labels nearest)", async () => {
    const rng = Rng.seeded(21, "augment");
    for (let trial = 0; trial < 3; trial++) {
      const p = drawAugment(rng, cfg, INPUT, coord(8, 8, 8));
      const box = sourceBox(p, INPUT, cfg.elastic.subsample);
      const raw = field(box.shape);
      const labels = Uint8Array.from(raw, (v) => (v > 0.5 ? 1 : 0));
      const r = await warp(p, { begin: coord(0, 0, 0), shape: INPUT }, raw, box);
      const ref = applyTransform(r.tr, raw, box.shape, "linear", 0);
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ref[i]! - (r.out[i] as number)));
      expect(worst).toBeLessThan(1e-4);
      const l = await warp(p, CROP, labels, box);
      const lref = applyTransform(l.tr, labels, box.shape, "nearest", 0);
      let differ = 0;
      for (let i = 0; i < lref.length; i++) if (lref[i] !== l.out[i]) differ++;
      // rounding ties at exactly .5 may go either way in float32
      expect(differ).toBeLessThanOrEqual(lref.length * 1e-3);
    }
  });

  it("keeps labels in register with raw", async () => {
    const rng = Rng.seeded(5, "augment");
    for (let trial = 0; trial < 3; trial++) {
      const p = drawAugment(rng, cfg, INPUT, coord(8, 8, 8));
      const box = sourceBox(p, INPUT, cfg.elastic.subsample);
      const raw = field(box.shape);
      const labels = Uint8Array.from(raw, (v) => (v > 0.5 ? 1 : 0));
      const wr = (await warp(p, { begin: coord(0, 0, 0), shape: INPUT }, raw, box)).out as Float32Array;
      const wl = (await warp(p, CROP, labels, box)).out as Uint8Array;
      let agree = 0;
      let k = 0;
      for (let z = 0; z < 16; z++)
        for (let y = 0; y < 16; y++)
          for (let x = 0; x < 16; x++, k++) {
            const v = wr[((z + 6) * 28 + y + 6) * 28 + x + 6]!;
            if ((v > 0.5 ? 1 : 0) === wl[k]) agree++;
          }
      // disagreement only where nearest and linear sampling round a boundary voxel differently
      expect(agree / 4096).toBeGreaterThan(0.97);
    }
  });

  it("applies the intensity change like the reference: mean + (a - mean) * scale + shift, clip, [-1, 1]", async () => {
    const shape = coord(6, 7, 8);
    const data = field(shape);
    const intensity = { scale: 1.12, shift: -0.09 };
    const out = await engine.augment({
      arrays: { a: tensor(data, [...shape]) },
      ...engineTransform(
        transformFor(noAugment(), shape, { begin: coord(0, 0, 0), shape }, coord(0, 0, 0), 4),
      ),
      intensity: { ...intensity, clip: [0, 1] },
      rescale: { scale: 2, shift: -1 },
    });
    const ref = Float32Array.from(data);
    applyIntensity(ref, intensity);
    let worst = 0;
    for (let i = 0; i < ref.length; i++)
      worst = Math.max(worst, Math.abs(ref[i]! - (out.a!.data[i] as number)));
    expect(worst).toBeLessThan(1e-5);
  });

  it("mirror and transpose followed by their inverse give the data back exactly", async () => {
    const shape = coord(8, 8, 8);
    const data = field(shape);
    const p: AugmentParams = { ...noAugment(), first: { mirror: [true, false, true], perm: [2, 0, 1] } };
    // the inverse of a[d] = s_d c[perm[d]] is c[perm[d]] = s_d a[d]
    const inv: AugmentParams = { ...noAugment(), first: { mirror: [false, true, true], perm: [1, 2, 0] } };
    const whole = { begin: coord(0, 0, 0), shape };
    const once = await engine.augment({
      arrays: { a: tensor(data, [...shape]) },
      ...engineTransform(transformFor(p, shape, whole, coord(0, 0, 0), 4)),
    });
    const back = await engine.augment({
      arrays: { a: once.a! },
      ...engineTransform(transformFor(inv, shape, whole, coord(0, 0, 0), 4)),
    });
    expect(Array.from(once.a!.data)).not.toEqual(Array.from(data));
    expect(Array.from(back.a!.data)).toEqual(Array.from(data));
  });
});
