import { describe, expect, it } from "vitest";
import { histogramFloat32, scanFloat32, scanKernelKind, thresholdAtLeastU8 } from "./scan-kernel.ts";
import { floatHistogramEdges, otsuThreshold, thresholdFixed } from "./threshold.ts";

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** numpy's rule by search: bin i holds e[i] <= v < e[i+1], the last bin also its right edge. */
function naiveHistogram(v: Float32Array, e: Float64Array): Float64Array {
  const nb = e.length - 1;
  const h = new Float64Array(nb);
  for (const x of v) {
    if (!(x >= e[0]! && x <= e[nb]!)) continue;
    let b = nb - 1;
    for (let i = 0; i < nb; i++) {
      if (x < e[i + 1]!) {
        b = i;
        break;
      }
    }
    h[b]!++;
  }
  return h;
}

/** Values on, just below and just above every edge, plus random ones, in a long odd-length array. */
function adversarial(e: Float32Array, n: number, seed: number): Float32Array {
  const rand = rng(seed);
  const lo = e[0]!;
  const hi = e[e.length - 1]!;
  const out = new Float32Array(n);
  const bits = new Float32Array(1);
  const word = new Int32Array(bits.buffer);
  for (let i = 0; i < n; i++) {
    const k = i % 4;
    if (k === 3) {
      out[i] = lo + (hi - lo) * rand();
      continue;
    }
    bits[0] = e[Math.floor(rand() * e.length)]!;
    // one float32 ulp below (k = 0), on (1) or above (2) the edge
    if (bits[0] !== 0) word[0] = word[0]! + (k - 1) * Math.sign(bits[0]!);
    out[i] = bits[0]!;
  }
  return out;
}

describe("scan kernels", () => {
  it("run as WebAssembly SIMD on Node for long arrays, JS for short ones or on request", () => {
    expect(scanKernelKind()).toBe("wasm-simd");
    expect(scanKernelKind("auto", 100)).toBe("js");
    expect(scanKernelKind("js")).toBe("js");
  });

  it("threshold uint8: both kernels give v >= t for every t, odd lengths and unaligned views", () => {
    const rand = rng(1);
    const base = new Uint8Array(70_001 + 3);
    for (let i = 0; i < base.length; i++) base[i] = Math.floor(rand() * 256);
    const input = base.subarray(3);
    const wrong = (out: Uint8Array, t: number) => {
      let n = 0;
      for (let i = 0; i < input.length; i++) if (out[i] !== (input[i]! >= t ? 1 : 0)) n++;
      return n;
    };
    for (let t = 1; t <= 255; t += 7) {
      for (const k of ["auto", "js"] as const) {
        const out = new Uint8Array(input.length + 1).subarray(1);
        thresholdAtLeastU8(input, t, out, k);
        expect(wrong(out, t)).toBe(0);
      }
    }
    // in place
    const copy = input.slice();
    thresholdAtLeastU8(copy, 128, copy);
    expect(wrong(copy, 128)).toBe(0);
  });

  it("float32 min/max/NaN: both kernels agree with each other and with a plain scan", () => {
    const rand = rng(2);
    for (const n of [4096, 4097, 70_003, 131_072]) {
      const v = new Float32Array(n);
      for (let i = 0; i < n; i++) v[i] = (rand() - 0.5) * 1e4;
      v[17] = Number.NaN;
      v[n - 1] = Number.NaN;
      v[n - 2] = -1e6;
      v[5] = 2e6;
      const a = scanFloat32(v);
      const b = scanFloat32(v, "js");
      expect(a).toEqual(b);
      expect(a).toEqual({ min: -1e6, max: 2e6, nanCount: 2 });
    }
    const zeros = new Float32Array(8192);
    zeros[4001] = -0;
    expect(Object.is(scanFloat32(zeros).min, scanFloat32(zeros, "js").min)).toBe(true);
    const allNan = new Float32Array(5000).fill(Number.NaN);
    expect(scanFloat32(allNan)).toEqual({ min: Infinity, max: -Infinity, nanCount: 5000 });
  });

  for (const [lo, hi, nb] of [
    [0, 255, 256],
    [-3.5, 7.25, 256],
    [1000, 1000.5, 256],
    [1e-6, 3e-6, 100],
    [-2e9, 3e9, 1000],
    [0.1, 0.9, 1],
    [5, 6, 2],
  ] as const) {
    it(`float32 histogram on [${lo}, ${hi}], ${nb} bins: numpy's bins at and around every edge, both kernels`, () => {
      const edges32 = floatHistogramEdges(lo, hi, nb);
      const edges = Float64Array.from(edges32);
      const v = adversarial(edges32, 50_001, nb);
      v[7] = Number.NaN;
      v[8] = edges32[0]! - 1;
      v[9] = Number.POSITIVE_INFINITY;
      const want = naiveHistogram(v, edges);
      for (const k of ["auto", "js"] as const) {
        const h = new Float64Array(nb);
        histogramFloat32(v, edges, h, k);
        expect(h).toEqual(want);
      }
      // accumulates into the counts it is given
      const twice = new Float64Array(nb);
      histogramFloat32(v, edges, twice);
      histogramFloat32(v, edges, twice);
      expect(twice).toEqual(want.map((c) => 2 * c));
    });
  }
});

describe("thresholds through the scan kernels", () => {
  it("otsuThreshold and thresholdFixed give the same answers with the JS kernels", () => {
    const rand = rng(3);
    const v = new Float32Array(100_003);
    for (let i = 0; i < v.length; i++) v[i] = (i % 3 === 0 ? 40 : 120) + 30 * rand();
    expect(otsuThreshold(v)).toBe(otsuThreshold(v, 256, { kernel: "js" }));
    const u = Uint8Array.from(v, (x) => x);
    expect(thresholdFixed(u, 99.5)).toEqual(thresholdFixed(u, 99.5, { kernel: "js" }));
    expect(() => otsuThreshold(new Float32Array(5000).fill(Number.NaN))).toThrow(/NaN/);
  });
});
