import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Coordinate } from "../core/coordinate.ts";
import { type Tensor, tensor } from "./tensor.ts";
import { TorchEngine, type TorchEngineOptions } from "./torch-engine.ts";

/*
 * Helpers for tests that run the real engine on the CPU (tiny models, deterministic). No stand-ins: a
 * machine without PyTorch fails these tests with the engine's own message on how to install it.
 */

export function startTestEngine(options: TorchEngineOptions = {}): Promise<TorchEngine> {
  return TorchEngine.start({ ...options, engine: { device: "cpu", deterministic: true } });
}

/** A tiny two-level softmax2 U-Net: 20^3 -> 4^3. */
export const TINY_SPEC = {
  version: 1,
  fmaps: 4,
  fmapIncrease: 2,
  downsample: [[2, 2, 2]],
  head: "softmax2",
  outChannels: 2,
};

export function tempDir(prefix = "organelle-engine-"): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Deterministic pseudo-random numbers in [0, 1) (xorshift32), so tests need no seeded library. */
export function randomFloats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 4294967296;
  }
  return out;
}

/** A smooth volume in [0, 1]: a few Gaussian blobs; thresholding it at 0.5 gives compact objects. */
export function blobs(shape: Coordinate, seed: number, count = 4, sigma = 3): Float32Array {
  const [nz, ny, nx] = shape;
  const r = randomFloats(count * 3, seed);
  const out = new Float32Array(nz * ny * nx);
  for (let b = 0; b < count; b++) {
    const cz = r[b * 3]! * nz;
    const cy = r[b * 3 + 1]! * ny;
    const cx = r[b * 3 + 2]! * nx;
    let i = 0;
    for (let z = 0; z < nz; z++)
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++, i++) {
          const d2 = (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2;
          out[i] = Math.max(out[i]!, Math.exp(-d2 / (2 * sigma * sigma)));
        }
  }
  return out;
}

/** The centre crop of a [z, y, x] volume. */
export function centreCrop(data: Float32Array, shape: Coordinate, out: Coordinate): Float32Array {
  const o = [0, 1, 2].map((d) => Math.floor((shape[d]! - out[d]!) / 2));
  const res = new Float32Array(out[0] * out[1] * out[2]);
  let i = 0;
  for (let z = 0; z < out[0]; z++)
    for (let y = 0; y < out[1]; y++)
      for (let x = 0; x < out[2]; x++, i++)
        res[i] = data[((z + o[0]!) * shape[1] + y + o[1]!) * shape[2] + x + o[2]!]!;
  return res;
}

export function batch1(data: Float32Array, shape: Coordinate): Tensor<Float32Array> {
  return tensor(data, [1, 1, ...shape]);
}
