import { describe, expect, it } from "vitest";
import { compareArrays, cutBox, fixtureArray, fixtureIndex } from "../../test/helpers/ops-filter-fixtures.ts";
import { coord } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import type { BlockGeometry } from "./block-geometry.ts";
import {
  type GaussianParams,
  type GreyArray,
  gaussianBlock,
  gaussianKernel1d,
  gaussianRadius,
  gaussianSmooth,
} from "./gaussian.ts";

describe("gaussian kernel", () => {
  it("has scipy's radius int(truncate*sigma+0.5) in voxels per axis and sums to one", () => {
    const p: GaussianParams = { sigma: coord(12, 12, 12), voxelSize: coord(5.2, 4, 4) };
    expect(gaussianRadius(p)).toEqual([9, 12, 12]);
    expect(gaussianRadius({ ...p, truncate: 2 })).toEqual([5, 6, 6]);
    expect(gaussianRadius({ sigma: coord(0, 1, 1), voxelSize: coord(1, 1, 1) })).toEqual([0, 4, 4]);
    const k = gaussianKernel1d(3, 12);
    expect(k.length).toBe(25);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    expect(k[0]).toBe(k[24]);
    expect(k[12]! > k[11]!).toBe(true);
  });

  it("rejects bad sigma, voxel size and truncate with one clear line", () => {
    const bad = [
      { sigma: coord(-1, 1, 1), voxelSize: coord(1, 1, 1) },
      { sigma: coord(1, 1, 1), voxelSize: coord(0, 1, 1) },
      { sigma: coord(1, 1, 1), voxelSize: coord(1, 1, 1), truncate: 0 },
    ];
    for (const p of bad) {
      let err: unknown;
      try {
        gaussianRadius(p);
      } catch (e) {
        err = e;
      }
      expect(isOrganelleError(err, "InvalidArgument")).toBe(true);
    }
    expect(() =>
      gaussianSmooth(new Uint8Array(5), coord(2, 2, 2), { sigma: coord(1, 1, 1), voxelSize: coord(1, 1, 1) }),
    ).toThrow(/8/);
  });
});

describe("gaussianSmooth vs scipy.ndimage.gaussian_filter", () => {
  for (const c of fixtureIndex().gaussian) {
    it(`${c.name}: sigma ${c.sigma_nm} nm, voxel ${c.voxel_nm} nm, output ${c.output}`, () => {
      const { data, shape } = fixtureArray(c.input);
      const expected = fixtureArray(c.expected).data;
      const params: GaussianParams = {
        sigma: coord(c.sigma_nm[0]!, c.sigma_nm[1]!, c.sigma_nm[2]!),
        voxelSize: coord(c.voxel_nm[0]!, c.voxel_nm[1]!, c.voxel_nm[2]!),
        truncate: c.truncate,
      };
      const ours = gaussianSmooth(data as GreyArray, shape, params, { output: c.output });
      expect(ours.constructor).toBe(expected.constructor);
      const cmp = compareArrays(ours, expected);
      console.log(
        `gaussian ${c.name}: max |ours - scipy| = ${cmp.maxAbs}, ${cmp.differing}/${cmp.total} differ`,
      );
      if (ours instanceof Float32Array) {
        expect(cmp.maxAbs).toBeLessThanOrEqual(1e-4);
      } else {
        expect(cmp.maxAbs).toBeLessThanOrEqual(1);
        // Same arithmetic in the same order: differences would only come from exp() ulps at truncation edges.
        expect(cmp.differing).toBeLessThanOrEqual(cmp.total * 1e-3);
      }
    });
  }
});

describe("gaussianSmooth with the plain JS kernel", () => {
  it("gives the same results as the WebAssembly kernel (and scipy)", () => {
    for (const c of fixtureIndex().gaussian) {
      const { data, shape } = fixtureArray(c.input);
      const params: GaussianParams = {
        sigma: coord(c.sigma_nm[0]!, c.sigma_nm[1]!, c.sigma_nm[2]!),
        voxelSize: coord(c.voxel_nm[0]!, c.voxel_nm[1]!, c.voxel_nm[2]!),
      };
      const js = gaussianSmooth(data as GreyArray, shape, params, { output: c.output, kernel: "js" });
      expect(compareArrays(js, fixtureArray(c.expected).data).differing).toBe(0);
    }
  });
});

describe("gaussianBlock", () => {
  const { data, shape } = fixtureArray("vol_u8");
  const vol = data as Uint8Array;
  const params: GaussianParams = { sigma: coord(12, 12, 12), voxelSize: coord(5.2, 4, 4) };
  const whole = gaussianSmooth(vol, shape, params);
  const r = gaussianRadius(params);

  it("equals the whole-volume result with blocks much smaller than the kernel, at and away from borders", () => {
    const blockShape = coord(5, 7, 6);
    let blocks = 0;
    for (let bz = 0; bz < shape[0]; bz += blockShape[0]) {
      for (let by = 0; by < shape[1]; by += blockShape[1]) {
        for (let bx = 0; bx < shape[2]; bx += blockShape[2]) {
          const wb = coord(bz, by, bx);
          const ws = coord(
            Math.min(blockShape[0], shape[0] - bz),
            Math.min(blockShape[1], shape[1] - by),
            Math.min(blockShape[2], shape[2] - bx),
          );
          const rb = coord(bz - r[0], by - r[1], bx - r[2]);
          const rs = coord(ws[0] + 2 * r[0], ws[1] + 2 * r[1], ws[2] + 2 * r[2]);
          const geometry: BlockGeometry = {
            volumeShape: shape,
            read: { begin: rb, shape: rs },
            write: { begin: wb, shape: ws },
          };
          const out = gaussianBlock(cutBox(vol, shape, rb, rs), geometry, params);
          const ref = cutBox(whole, shape, wb, ws);
          expect(compareArrays(out, ref).differing).toBe(0);
          blocks++;
        }
      }
    }
    expect(blocks).toBe(7 * 6 * 6);
  });

  it("accepts a read box clipped to the volume and float32 output", () => {
    const wholeF = gaussianSmooth(vol, shape, params, { output: "float32" });
    const wb = coord(20, 3, 30);
    const ws = coord(12, 9, 6);
    const rb = coord(wb[0] - r[0], 0, wb[2] - r[2]);
    const rs = coord(shape[0] - rb[0], wb[1] + ws[1] + r[1], shape[2] - rb[2]);
    const geometry: BlockGeometry = {
      volumeShape: shape,
      read: { begin: rb, shape: rs },
      write: { begin: wb, shape: ws },
    };
    const out = gaussianBlock(cutBox(vol, shape, rb, rs), geometry, params, { output: "float32" });
    expect(compareArrays(out, cutBox(wholeF, shape, wb, ws)).differing).toBe(0);
  });

  it("says how much context is missing when the read box is too small", () => {
    const geometry: BlockGeometry = {
      volumeShape: shape,
      read: { begin: coord(10, 10, 10), shape: coord(12, 12, 12) },
      write: { begin: coord(12, 12, 12), shape: coord(4, 4, 4) },
    };
    expect(() => gaussianBlock(new Uint8Array(12 * 12 * 12), geometry, params)).toThrow(/lacks context/);
  });
});
