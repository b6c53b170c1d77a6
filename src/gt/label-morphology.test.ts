import { describe, expect, it } from "vitest";
import { differences, gtFixtures, gtU8, gtU32, shapeOf } from "../../test/helpers/gt-fixtures.ts";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { copyBox3d } from "../core/ndarray.ts";
import type { VoxelBox } from "../core/roi.ts";
import { binaryDilation, binaryErosion } from "../ops/morphology.ts";
import {
  cityBlockDistance,
  dilateBinary,
  dilateLabels,
  erodeBinary,
  exclusionZone,
  type LabelVolume,
  onBlock,
} from "./label-morphology.ts";

const fx = gtFixtures().labels;
const shape = shapeOf(fx.shape);

describe("exclusion zone", () => {
  it.each(fx.exclusion.map((c) => [c.structure, c.dilate, c.erode, c.zone] as const))(
    "%s %i/%i equals scipy's dilate XOR erode",
    (structure, d, e, zone) => {
      const got = exclusionZone(gtU8(fx.binary), shape, d, e, structure);
      expect(differences(got, gtU8(zone))).toBe(0);
      // instance labels give the same zone (labels are binarised)
      expect(differences(exclusionZone(gtU32(fx.instances), shape, d, e, structure), got)).toBe(0);
    },
  );

  it("with a ball equals the ops module's ball dilation XOR erosion", () => {
    const m = gtU8(fx.binary);
    const dil = binaryDilation(m, shape, 3, { voxelSize: coord(1, 1, 1) });
    const ero = binaryErosion(m, shape, 1, { voxelSize: coord(1, 1, 1) });
    const zone = exclusionZone(m, shape, 3, 1, "ball");
    for (let i = 0; i < m.length; i++) expect(zone[i]).toBe(dil[i]! ^ ero[i]!);
  });

  it("zero steps leave the labels as they are", () => {
    const m = gtU8(fx.binary);
    expect(differences(dilateBinary(m, shape, 0), m)).toBe(0);
    expect(differences(erodeBinary(m, shape, 0), m)).toBe(0);
    expect(exclusionZone(m, shape, 0, 0).every((v) => v === 0)).toBe(true);
  });
});

describe("bias correction (label dilation)", () => {
  it.each(fx.bias.map((c) => [c.structure, c.n, c] as const))(
    "%s %i equals the reference",
    (structure, n, c) => {
      expect(differences(dilateLabels(gtU8(fx.binary), shape, n, structure), gtU8(c.binary))).toBe(0);
      const inst = dilateLabels(gtU32(fx.instances), shape, n, structure);
      expect(inst).toBeInstanceOf(Uint32Array);
      expect(differences(inst, gtU32(c.instances))).toBe(0);
    },
  );
});

describe("city-block distance", () => {
  it("matches brute force, with and without the outside as source", () => {
    const s: Coordinate = coord(5, 6, 7);
    const n = 5 * 6 * 7;
    const m = new Uint8Array(n);
    for (let i = 0; i < n; i++) m[i] = (i * 2654435761) % 97 < 6 ? 1 : 0;
    for (const outside of [false, true]) {
      const d = cityBlockDistance(m, s, true, 20, outside);
      for (let z = 0; z < 5; z++)
        for (let y = 0; y < 6; y++)
          for (let x = 0; x < 7; x++) {
            let best = outside ? Math.min(z + 1, 5 - z, y + 1, 6 - y, x + 1, 7 - x) : 21;
            for (let i = 0; i < n; i++) {
              if (!m[i]) continue;
              const zz = Math.floor(i / 42);
              const yy = Math.floor(i / 7) % 6;
              const xx = i % 7;
              best = Math.min(best, Math.abs(z - zz) + Math.abs(y - yy) + Math.abs(x - xx));
            }
            expect(d[(z * 6 + y) * 7 + x]).toBe(Math.min(best, 21));
          }
    }
  });
});

/** Cuts the volume into blocks, runs `op` on each block's zero-filled read box and reassembles. */
function blockwise<T extends Uint8Array | Uint32Array>(
  data: LabelVolume,
  s: Coordinate,
  block: Coordinate,
  reach: number,
  make: (n: number) => T,
  op: (d: LabelVolume, sh: Coordinate) => T,
): T {
  const out = make(s[0] * s[1] * s[2]);
  for (let z = 0; z < s[0]; z += block[0])
    for (let y = 0; y < s[1]; y += block[1])
      for (let x = 0; x < s[2]; x += block[2]) {
        const write: VoxelBox = {
          begin: coord(z, y, x),
          shape: coord(
            Math.min(block[0], s[0] - z),
            Math.min(block[1], s[1] - y),
            Math.min(block[2], s[2] - x),
          ),
        };
        const read: VoxelBox = {
          begin: coord(z - reach, y - reach, x - reach),
          shape: coord(write.shape[0] + 2 * reach, write.shape[1] + 2 * reach, write.shape[2] + 2 * reach),
        };
        const buf = new (data.constructor as new (n: number) => LabelVolume)(
          read.shape[0] * read.shape[1] * read.shape[2],
        );
        const lo = read.begin.map((v) => Math.max(v, 0));
        const hi = read.begin.map((v, d) => Math.min(v + read.shape[d]!, s[d]!));
        const size = coord(hi[0]! - lo[0]!, hi[1]! - lo[1]!, hi[2]! - lo[2]!);
        copyBox3d(
          data,
          s,
          coord(lo[0]!, lo[1]!, lo[2]!),
          buf,
          read.shape,
          coord(lo[0]! - read.begin[0], lo[1]! - read.begin[1], lo[2]! - read.begin[2]),
          size,
        );
        const res = onBlock(buf, { volumeShape: s, read, write }, reach, op);
        copyBox3d(res, write.shape, coord(0, 0, 0), out, s, write.begin, write.shape);
      }
  return out;
}

describe("block-wise equals whole-volume", () => {
  const blockShape = coord(5, 4, 6); // much smaller than the objects
  it.each(["cross", "ball"] as const)("exclusion zone and bias correction (%s)", (structure) => {
    const m = gtU8(fx.binary);
    const whole = exclusionZone(m, shape, 4, 2, structure);
    const blocks = blockwise(
      m,
      shape,
      blockShape,
      4,
      (n) => new Uint8Array(n),
      (d, sh) => exclusionZone(d, sh, 4, 2, structure),
    );
    expect(differences(blocks, whole)).toBe(0);
    const inst = gtU32(fx.instances);
    const wholeBias = dilateLabels(inst, shape, 3, structure);
    const blockBias = blockwise(
      inst,
      shape,
      blockShape,
      3,
      (n) => new Uint32Array(n),
      (d, sh) => dilateLabels(d as Uint32Array, sh, 3, structure),
    );
    expect(differences(blockBias, wholeBias)).toBe(0);
  });

  it("refuses a block without enough context", () => {
    const m = gtU8(fx.binary);
    const read: VoxelBox = { begin: coord(2, 2, 2), shape: coord(6, 6, 6) };
    const write: VoxelBox = { begin: coord(4, 4, 4), shape: coord(2, 2, 2) };
    expect(() =>
      onBlock(new Uint8Array(216), { volumeShape: shape, read, write }, 3, (d, sh) => dilateBinary(d, sh, 3)),
    ).toThrow(/lacks context/);
    void m;
  });

  it("rejects nonsense step counts", () => {
    const m = gtU8(fx.binary);
    expect(() => dilateBinary(m, shape, -1)).toThrow(/whole number/);
    expect(() => erodeBinary(m, shape, 1.5)).toThrow(/whole number/);
  });
});
