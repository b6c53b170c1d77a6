import { describe, expect, it } from "vitest";
import { createConvolveKernel } from "./convolve-kernel.ts";

/** scipy's symmetric correlation of one output, written out plainly. */
function reference(f: Float64Array, lo: number, tapStride: number, r: number, wOff: number): number {
  let s = f[lo + r * tapStride]! * f[wOff + r]!;
  for (let j = 0; j < r; j++) s += (f[lo + j * tapStride]! + f[lo + (2 * r - j) * tapStride]!) * f[wOff + j]!;
  return s;
}

describe("convolve kernel", () => {
  it("runs as WebAssembly SIMD on Node", () => {
    expect(createConvolveKernel().kind).toBe("wasm-simd");
    expect(createConvolveKernel("js").kind).toBe("js");
  });

  for (const kind of ["auto", "js"] as const) {
    it(`${kind}: rows and columns layouts give scipy's sums bit for bit, radius 0 included`, () => {
      for (const [r, inner, tapStride, nOuter] of [
        [0, 8, 1, 3],
        [1, 4, 1, 5],
        [5, 12, 1, 4],
        [3, 8, 8, 6],
        [12, 16, 16, 7],
      ] as const) {
        const k = createConvolveKernel(kind);
        const inStride = tapStride === 1 ? inner + 2 * r : tapStride;
        const wOff = 0;
        const inOff = 16;
        const inLen = (nOuter - 1) * inStride + 2 * r * tapStride + inner;
        const outOff = inOff + inLen + 4;
        k.reserve(outOff + nOuter * inner);
        const f = k.f64;
        let seed = 12345 + r;
        const rand = () => {
          seed = (seed * 1103515245 + 12345) >>> 0;
          return seed / 4294967296;
        };
        for (let j = 0; j <= r; j++) f[wOff + j] = rand();
        for (let i = 0; i < inLen; i++) f[inOff + i] = rand() * 255;
        k.convolve(inOff, inStride, outOff, inner, nOuter, inner, tapStride, r, wOff);
        for (let o = 0; o < nOuter; o++) {
          for (let i = 0; i < inner; i++) {
            const want = reference(f, inOff + o * inStride + i, tapStride, r, wOff);
            expect(f[outOff + o * inner + i]).toBe(want);
          }
        }
      }
    });
  }

  it("keeps its data when the buffer grows", () => {
    const k = createConvolveKernel();
    k.reserve(100);
    k.f64[99] = 7.5;
    k.reserve(1 << 20);
    expect(k.f64[99]).toBe(7.5);
    expect(k.f64.length).toBeGreaterThanOrEqual(1 << 20);
  });
});
