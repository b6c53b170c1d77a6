import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../core/coordinate.ts";
import type { Matrix3 } from "./engine.ts";
import { type Tensor, tensor } from "./tensor.ts";
import { blobs, randomFloats, startTestEngine } from "./testing.ts";
import type { TorchEngine } from "./torch-engine.ts";

const S = coord(6, 7, 8);
const N = S[0] * S[1] * S[2];
const idx = (s: Coordinate, z: number, y: number, x: number) => (z * s[1] + y) * s[2] + x;

const mat = (m: number[][]): Matrix3 => [
  coord(m[0]![0]!, m[0]![1]!, m[0]![2]!),
  coord(m[1]![0]!, m[1]![1]!, m[1]![2]!),
  coord(m[2]![0]!, m[2]![1]!, m[2]![2]!),
];

/** out[p] = in[M p + t] for a signed permutation M, computed voxel by voxel in TypeScript. */
function permuted<T extends Float32Array | Uint8Array | Uint32Array>(
  src: T,
  s: Coordinate,
  m: number[][],
  t: number[],
  out: Coordinate,
): T {
  const res = new (src.constructor as new (n: number) => T)(out[0] * out[1] * out[2]);
  let i = 0;
  for (let z = 0; z < out[0]; z++)
    for (let y = 0; y < out[1]; y++)
      for (let x = 0; x < out[2]; x++, i++) {
        const q = m.map((row, k) => row[0]! * z + row[1]! * y + row[2]! * x + t[k]!);
        res[i] = src[idx(s, q[0]!, q[1]!, q[2]!)]!;
      }
  return res;
}

describe("engine augment", () => {
  let engine: TorchEngine;
  const raw = randomFloats(N, 1);
  const labels = Uint8Array.from(randomFloats(N, 2), (v) => (v > 0.5 ? 1 : 0));
  const arrays = { raw: tensor(raw, [1, ...S]), labels: tensor(labels, [...S]) };

  beforeAll(async () => {
    engine = await startTestEngine();
  });
  afterAll(async () => {
    await engine?.close();
  });

  const cases: [string, number[][], number[], Coordinate][] = [
    [
      "identity",
      [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ],
      [0, 0, 0],
      S,
    ],
    [
      "mirror z and x",
      [
        [-1, 0, 0],
        [0, 1, 0],
        [0, 0, -1],
      ],
      [S[0] - 1, 0, S[2] - 1],
      S,
    ],
    [
      "transpose y and x",
      [
        [1, 0, 0],
        [0, 0, 1],
        [0, 1, 0],
      ],
      [0, 0, 0],
      coord(S[0], S[2], S[1]),
    ],
    [
      "mirror y, transpose z and x, cropped",
      [
        [0, 0, 1],
        [0, -1, 0],
        [1, 0, 0],
      ],
      [1, S[1] - 2, 2],
      coord(5, 4, 3),
    ],
  ];
  for (const [name, m, t, out] of cases) {
    it(`${name} is an exact permutation of raw and labels`, async () => {
      const r = await engine.augment({
        arrays,
        outputShape: out,
        matrix: mat(m),
        translation: coord(t[0]!, t[1]!, t[2]!),
      });
      expect(r.raw!.shape).toEqual([1, ...out]);
      expect(r.labels!.shape).toEqual([...out]);
      expect(r.labels!.dtype).toBe("uint8");
      expect(Array.from(r.raw!.data)).toEqual(Array.from(permuted(raw, S, m, t, out)));
      expect(Array.from(r.labels!.data)).toEqual(Array.from(permuted(labels, S, m, t, out)));
    });
  }

  it("an identity elastic field returns the input exactly; an integer one shifts exactly", async () => {
    const zero = tensor(new Float32Array(3 * 3 * 3 * 3), [3, 3, 3, 3]);
    const same = await engine.augment({ arrays, outputShape: S, displacement: zero });
    expect(Array.from(same.raw!.data)).toEqual(Array.from(raw));
    expect(Array.from(same.labels!.data)).toEqual(Array.from(labels));

    // d = (+1, 0, -2) everywhere: out[z, y, x] = in[z + 1, y, x - 2], fill outside
    const d = new Float32Array(3 * 8);
    d.fill(1, 0, 8);
    d.fill(-2, 16, 24);
    const shifted = await engine.augment({
      arrays,
      outputShape: S,
      displacement: tensor(d, [3, 2, 2, 2]),
      sampling: { labels: { mode: "nearest", fill: 7 }, raw: { fill: -5 } },
    });
    for (let z = 0; z < S[0]; z++)
      for (let y = 0; y < S[1]; y++)
        for (let x = 0; x < S[2]; x++) {
          const inside = z + 1 < S[0] && x - 2 >= 0;
          const i = idx(S, z, y, x);
          expect(shifted.raw!.data[i]).toBe(inside ? raw[idx(S, z + 1, y, x - 2)] : -5);
          expect(shifted.labels!.data[i]).toBe(inside ? labels[idx(S, z + 1, y, x - 2)] : 7);
        }
  });

  it("under rotation + elastic deformation labels stay binary and move with the raw data", async () => {
    const big = coord(24, 24, 24);
    const out = coord(16, 16, 16);
    const vol = blobs(big, 3, 6, 3.5);
    const lab = Uint8Array.from(vol, (v) => (v > 0.5 ? 1 : 0));
    const th = 0.6;
    const c = Math.cos(th);
    const s = Math.sin(th);
    const m = [
      [1, 0, 0],
      [0, c, -s],
      [0, s, c],
    ];
    // centre the output in the source: t = c_in - M c_out
    const cin = big.map((n) => (n - 1) / 2);
    const cout = out.map((n) => (n - 1) / 2);
    const t = m.map((row, k) => cin[k]! - (row[0]! * cout[0]! + row[1]! * cout[1]! + row[2]! * cout[2]!));
    const disp = Float32Array.from(randomFloats(3 * 27, 5), (v) => (v - 0.5) * 3);
    const r = await engine.augment({
      arrays: { raw: tensor(vol, [...big]), labels: tensor(lab, [...big]) },
      outputShape: out,
      matrix: mat(m),
      translation: coord(t[0]!, t[1]!, t[2]!),
      displacement: tensor(disp, [3, 3, 3, 3]),
    });
    const wr = r.raw!.data as Float32Array;
    const wl = r.labels!.data as Uint8Array;
    expect(new Set(wl)).toEqual(new Set([0, 1]));
    let agree = 0;
    for (let i = 0; i < wr.length; i++) if ((wr[i]! > 0.5 ? 1 : 0) === wl[i]) agree++;
    expect(agree / wr.length).toBeGreaterThan(0.97);
    // and the deformation did move things: the warped labels differ from the unwarped centre crop
    const crop = (z: number, y: number, x: number) => lab[idx(big, z + 4, y + 4, x + 4)]!;
    let same = 0;
    for (let z = 0, i = 0; z < 16; z++)
      for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++, i++) if (crop(z, y, x) === wl[i]) same++;
    expect(same / wl.length).toBeLessThan(0.97);
  });

  it("applies gunpowder's intensity change and a final rescale to floating-point arrays only, sampled either way", async () => {
    for (const mode of ["linear", "nearest"] as const) {
      const r = await engine.augment({
        arrays,
        outputShape: S,
        sampling: { raw: { mode } },
        intensity: { scale: 1.1, shift: -0.1, clip: [0, 1] },
        rescale: { scale: 2, shift: -1 },
      });
      const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
      for (let i = 0; i < N; i += 37) {
        const v = Math.min(1, Math.max(0, mean + (raw[i]! - mean) * 1.1 - 0.1));
        expect(r.raw!.data[i]).toBeCloseTo(v * 2 - 1, 5);
      }
      expect(Array.from(r.labels!.data)).toEqual(Array.from(labels));
    }
  });

  it("keeps every bit of uint32 and uint16 labels through nearest sampling", async () => {
    const ids = Uint32Array.from({ length: N }, (_, i) => 0xfffffff0 - i);
    const small = Uint16Array.from({ length: N }, (_, i) => 65535 - i);
    const r: Record<string, Tensor> = await engine.augment({
      arrays: { ids: tensor(ids, [...S]), small: tensor(small, [...S]) },
      outputShape: S,
      matrix: [
        [-1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ],
      translation: coord(S[0] - 1, 0, 0),
      displacement: tensor(new Float32Array(24), [3, 2, 2, 2]),
    });
    expect(r.ids!.dtype).toBe("uint32");
    expect(r.small!.dtype).toBe("uint16");
    const m = [
      [-1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ];
    const expectIds = permuted(ids, S, m, [S[0] - 1, 0, 0], S);
    expect(Array.from(r.ids!.data)).toEqual(Array.from(expectIds));
    expect(r.small!.data[0]).toBe(small[idx(S, S[0] - 1, 0, 0)]);
  });

  it("rejects malformed parameters with a clear message", async () => {
    await expect(
      engine.augment({ arrays, outputShape: S, matrix: [[1, 0, 0]] as unknown as Matrix3 }),
    ).rejects.toThrow(/matrix must be 3 rows of 3 numbers/);
    await expect(
      engine.augment({ arrays, outputShape: S, displacement: tensor(new Float32Array(6), [3, 2, 1, 1]) }),
    ).rejects.toThrow(/at least 2 control points per axis/);
    await expect(
      engine.augment({ arrays, outputShape: S, sampling: { labels: { mode: "linear" } } }),
    ).rejects.toThrow(/needs float32/);
  });
});
