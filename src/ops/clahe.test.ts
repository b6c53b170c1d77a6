import { describe, expect, it } from "vitest";
import { compareArrays, cutBox, fixtureArray, fixtureIndex } from "../../test/helpers/ops-filter-fixtures.ts";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import type { BlockGeometry } from "./block-geometry.ts";
import {
  type ClaheInput,
  type ClaheParams,
  claheBlockRaw,
  claheContext,
  claheFinish,
  claheRawRange,
  claheReadBox,
  claheVolume,
} from "./clahe.ts";
import { valueRange } from "./threshold.ts";

describe("claheVolume vs skimage.exposure.equalize_adapthist + img_as_ubyte", () => {
  for (const c of fixtureIndex().clahe) {
    it(`${c.name}: kernel ${c.kernel_size}, clip ${c.clip_limit}, nbins ${c.nbins}`, () => {
      const { data, shape } = fixtureArray(c.input);
      const expected = fixtureArray(c.expected_u8).data;
      const params: ClaheParams = {
        kernelSize: coord(c.kernel_size[0]!, c.kernel_size[1]!, c.kernel_size[2]!),
        clipLimit: c.clip_limit,
        nbins: c.nbins,
      };
      const ours = claheVolume(data as ClaheInput, shape, params, "uint8");
      const cmp = compareArrays(ours, expected);
      console.log(
        `CLAHE ${c.name}: max |ours - skimage| = ${cmp.maxAbs}, ${cmp.differing}/${cmp.total} differ`,
      );
      expect(cmp.maxAbs).toBeLessThanOrEqual(1);
      // A faithful port: the same integer maps and float32 sums give the same grey levels.
      expect(cmp.differing).toBe(0);
      // The float output is the same [0, 1] value before img_as_ubyte's rounding.
      const f = claheVolume(data as ClaheInput, shape, params, "float32");
      let maxF = 0;
      for (let i = 0; i < f.length; i++) maxF = Math.max(maxF, Math.abs(f[i]! * 255 - ours[i]!));
      expect(maxF).toBeLessThanOrEqual(0.5 + 1e-5);
      expect(Math.min(...f)).toBe(0);
      expect(Math.max(...f)).toBe(1);
    });
  }
});

/** Runs CLAHE block by block the way a block runner would, through the global two-statistics protocol. */
function blockwise(
  vol: ClaheInput,
  shape: Coordinate,
  params: ClaheParams,
  blockShape: Coordinate,
  gridOffset: Coordinate,
  context: { before: Coordinate; after: Coordinate },
): Uint8Array {
  const blocks: { geometry: BlockGeometry; input: ClaheInput }[] = [];
  const starts = (a: number) => {
    const s: number[] = [];
    for (let b = gridOffset[a]!; b < shape[a]!; b += blockShape[a]!) if (b + blockShape[a]! > 0) s.push(b);
    return s;
  };
  for (const bz of starts(0)) {
    for (const by of starts(1)) {
      for (const bx of starts(2)) {
        const wb = coord(Math.max(bz, 0), Math.max(by, 0), Math.max(bx, 0));
        const we = coord(
          Math.min(bz + blockShape[0], shape[0]),
          Math.min(by + blockShape[1], shape[1]),
          Math.min(bx + blockShape[2], shape[2]),
        );
        const ws = coord(we[0] - wb[0], we[1] - wb[1], we[2] - wb[2]);
        const rb = coord(wb[0] - context.before[0], wb[1] - context.before[1], wb[2] - context.before[2]);
        const rs = coord(
          ws[0] + context.before[0] + context.after[0],
          ws[1] + context.before[1] + context.after[1],
          ws[2] + context.before[2] + context.after[2],
        );
        blocks.push({
          geometry: { volumeShape: shape, read: { begin: rb, shape: rs }, write: { begin: wb, shape: ws } },
          input: cutBox(vol, shape, rb, rs),
        });
      }
    }
  }
  // Pass 0: input range. Pass 1: raw values and their range. Pass 2: finish.
  let inRange: [number, number] | undefined;
  for (const b of blocks) {
    inRange = valueRange(cutBox(vol, shape, b.geometry.write.begin, b.geometry.write.shape), inRange);
  }
  const raws = blocks.map((b) => claheBlockRaw(b.input, b.geometry, params, inRange!));
  let rawRange: [number, number] | undefined;
  for (const r of raws) rawRange = claheRawRange(r, rawRange);
  const out = new Uint8Array(shape[0] * shape[1] * shape[2]);
  blocks.forEach((b, i) => {
    const o = claheFinish(raws[i]!, rawRange!, "uint8");
    const { begin, shape: ws } = b.geometry.write;
    let s = 0;
    for (let z = 0; z < ws[0]; z++) {
      for (let y = 0; y < ws[1]; y++) {
        const d = ((begin[0] + z) * shape[1] + begin[1] + y) * shape[2] + begin[2];
        out.set(o.subarray(s, s + ws[2]), d);
        s += ws[2];
      }
    }
  });
  return out;
}

describe("CLAHE block-wise", () => {
  const { data, shape } = fixtureArray("vol_u8");
  const vol = data as Uint8Array;

  it("equals the whole volume with blocks smaller than the kernel and not aligned to it", () => {
    const params: ClaheParams = { kernelSize: coord(8, 16, 16), clipLimit: 0.02 };
    const whole = claheVolume(vol, shape, params, "uint8");
    const out = blockwise(vol, shape, params, coord(5, 7, 9), coord(-3, -5, -2), claheContext(params));
    expect(compareArrays(out, whole).differing).toBe(0);
  });

  it("equals the whole volume with the ASEM context (kernel+1)/2 when blocks are aligned to the cells", () => {
    const k = coord(8, 10, 6);
    const params: ClaheParams = { kernelSize: k, clipLimit: 0.01 };
    const whole = claheVolume(vol, shape, params, "uint8");
    // Interpolation cells start at n*k - k//2; blocks of 2 cells along z, 1 along y and x.
    const offset = coord(-Math.floor(k[0] / 2), -Math.floor(k[1] / 2), -Math.floor(k[2] / 2));
    const context = {
      before: coord(Math.ceil(k[0] / 2), Math.ceil(k[1] / 2), Math.ceil(k[2] / 2)),
      after: coord(Math.floor(k[0] / 2), Math.floor(k[1] / 2), Math.floor(k[2] / 2)),
    };
    const out = blockwise(vol, shape, params, coord(2 * k[0], k[1], k[2]), offset, context);
    expect(compareArrays(out, whole).differing).toBe(0);
  });

  it("equals the whole volume with one kernel of context when blocks lie on the tile grid", () => {
    const k = coord(8, 10, 6);
    const params: ClaheParams = { kernelSize: k, clipLimit: 0.02 };
    const whole = claheVolume(vol, shape, params, "uint8");
    const context = claheContext(params, { blocksOnTileGrid: true });
    expect(context.before).toEqual(k);
    const out = blockwise(vol, shape, params, coord(k[0], 2 * k[1], k[2]), coord(0, 0, 0), context);
    expect(compareArrays(out, whole).differing).toBe(0);
  });

  it("handles kernels larger than the volume (repeated reflection) block-wise", () => {
    const small = fixtureArray("small_u8");
    const params: ClaheParams = { kernelSize: coord(16, 16, 16), clipLimit: 0.02 };
    const whole = claheVolume(small.data as Uint8Array, small.shape, params, "uint8");
    const out = blockwise(
      small.data as Uint8Array,
      small.shape,
      params,
      coord(3, 4, 5),
      coord(0, 0, 0),
      claheContext(params),
    );
    expect(compareArrays(out, whole).differing).toBe(0);
  });

  it("asks for the tiles' voxels as context and says when they are missing", () => {
    const params: ClaheParams = { kernelSize: coord(8, 8, 8), clipLimit: 0.01 };
    // Voxels 10..13 lie in interpolation cells 1 and 2 (cells start at 8n - 4): tiles 0..2.
    const box = claheReadBox({ begin: coord(10, 10, 10), shape: coord(4, 4, 4) }, shape, params);
    expect(box.begin).toEqual([0, 0, 0]);
    expect(box.shape).toEqual([24, 24, 24]);
    // Near the end of an axis of 36 voxels: tiles 3 and 4; tile 4 (32..39) reflects voxels 31..34 into it.
    const end = claheReadBox({ begin: coord(0, 0, 35), shape: coord(1, 1, 1) }, shape, params);
    expect(end.begin[2]).toBe(24);
    expect(end.begin[2] + end.shape[2]).toBe(36);
    const geometry: BlockGeometry = {
      volumeShape: shape,
      read: { begin: coord(6, 6, 6), shape: coord(12, 12, 12) },
      write: { begin: coord(10, 10, 10), shape: coord(4, 4, 4) },
    };
    expect(() => claheBlockRaw(new Uint8Array(12 ** 3), geometry, params, [0, 255])).toThrow(/lacks context/);
  });

  it("rejects bad parameters with one clear line", () => {
    const bad: ClaheParams[] = [
      { kernelSize: coord(0, 8, 8), clipLimit: 0.01 },
      { kernelSize: coord(8, 8, 8), clipLimit: -1 },
      { kernelSize: coord(8, 8, 8), clipLimit: 0.01, nbins: 1 },
    ];
    for (const p of bad) {
      let err: unknown;
      try {
        claheVolume(vol, shape, p);
      } catch (e) {
        err = e;
      }
      expect(isOrganelleError(err, "InvalidArgument")).toBe(true);
    }
  });
});
