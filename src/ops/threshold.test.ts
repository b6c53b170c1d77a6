import { describe, expect, it } from "vitest";
import { fixtureArray, fixtureIndex } from "../../test/helpers/ops-filter-fixtures.ts";
import { isOrganelleError } from "../core/errors.ts";
import type { GreyArray } from "./gaussian.ts";
import {
  floatHistogram,
  floatHistogramEdges,
  integerHistogram,
  otsuFromFloatHistogram,
  otsuFromIntegerHistogram,
  otsuThreshold,
  thresholdFixed,
  valueRange,
} from "./threshold.ts";

describe("thresholdFixed", () => {
  it("marks values above the threshold, or at or above it when inclusive", () => {
    const v = new Float32Array([0.2, 0.5, 0.7, Number.NaN]);
    expect([...thresholdFixed(v, 0.5)]).toEqual([0, 0, 1, 0]);
    expect([...thresholdFixed(v, 0.5, { inclusive: true })]).toEqual([0, 1, 1, 0]);
    const u = new Uint8Array([0, 127, 128, 255]);
    const out = new Uint8Array(4);
    expect(thresholdFixed(u, 127, { out })).toBe(out);
    expect([...out]).toEqual([0, 0, 1, 1]);
    expect(() => thresholdFixed(u, Number.NaN)).toThrow(/NaN/);
  });
});

describe("otsuThreshold vs skimage.filters.threshold_otsu", () => {
  for (const c of fixtureIndex().otsu) {
    it(`${c.input}`, () => {
      const { data } = fixtureArray(c.input);
      const t = otsuThreshold(data as GreyArray);
      console.log(`otsu ${c.input}: ours ${t}, skimage ${c.threshold}`);
      expect(t).toBe(c.threshold);
    });
  }

  it("gives the same threshold from histograms accumulated over blocks", () => {
    const u8 = fixtureArray("vol_u8").data as Uint8Array;
    let h: Float64Array | undefined;
    for (let start = 0; start < u8.length; start += 10_000)
      h = integerHistogram(u8.subarray(start, start + 10_000), h);
    expect(otsuFromIntegerHistogram(h!)).toBe(otsuThreshold(u8));

    const f32 = fixtureArray("vol_f32").data as Float32Array;
    const parts = [f32.subarray(0, 3000), f32.subarray(3000, 7001), f32.subarray(7001)];
    let range: [number, number] | undefined;
    for (const p of parts) range = valueRange(p, range);
    const edges = floatHistogramEdges(range![0], range![1]);
    let hf: Float64Array | undefined;
    for (const p of parts) hf = floatHistogram(p, edges, hf);
    expect(hf!.reduce((a, b) => a + b, 0)).toBe(f32.length);
    expect(otsuFromFloatHistogram(hf!, edges)).toBe(otsuThreshold(f32));
  });

  it("separates two well-separated populations between them", () => {
    const v = new Uint16Array(1000);
    for (let i = 0; i < v.length; i++) v[i] = i % 2 ? 3000 + (i % 7) : 1000 + (i % 5);
    const t = otsuThreshold(v);
    expect(t).toBeGreaterThanOrEqual(1004);
    expect(t).toBeLessThan(3000);
  });

  it("rejects empty volumes and NaN", () => {
    expect(() => otsuThreshold(new Uint8Array(0))).toThrow(/empty/);
    let err: unknown;
    try {
      otsuThreshold(new Float32Array([1, Number.NaN, 2]));
    } catch (e) {
      err = e;
    }
    expect(isOrganelleError(err, "InvalidData")).toBe(true);
  });
});

describe("thresholdFixed on uint8 (four voxels per word)", () => {
  it("matches a plain comparison for every threshold, value and alignment", () => {
    const buf = new Uint8Array(1000 + 3);
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 37 + (i >> 3)) & 255;
    for (const offset of [0, 1, 3]) {
      const v = buf.subarray(offset, offset + 1000);
      for (const t of [-1, 0, 0.5, 1, 63.5, 127, 127.5, 128, 200, 254, 254.5, 255, 300]) {
        for (const inclusive of [false, true]) {
          const got = thresholdFixed(v, t, { inclusive });
          for (let i = 0; i < v.length; i++) {
            const want = (inclusive ? v[i]! >= t : v[i]! > t) ? 1 : 0;
            if (got[i] !== want) throw new Error(`t=${t} inclusive=${inclusive} offset=${offset} i=${i}`);
          }
        }
      }
    }
  });
});
