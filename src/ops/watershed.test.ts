import { describe, expect, it } from "vitest";
import { compareArrays, fixtureArray, fixtureIndex } from "../../test/helpers/ops-filter-fixtures.ts";
import { coord } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import { type WatershedImage, watershed } from "./watershed.ts";

describe("watershed vs skimage.segmentation.watershed(connectivity=1)", () => {
  for (const c of fixtureIndex().watershed) {
    it(`${c.name}: ${c.image}, ${c.markers}, mask ${c.mask ?? "none"}`, () => {
      const { data: image, shape } = fixtureArray(c.image);
      const markers = Uint32Array.from(fixtureArray(c.markers).data);
      const mask = c.mask ? (fixtureArray(c.mask).data as Uint8Array) : undefined;
      const expected = fixtureArray(c.expected).data;
      const ours = watershed(image as WatershedImage, shape, markers, mask ? { mask } : {});
      const cmp = compareArrays(ours, expected);
      console.log(`watershed ${c.name}: ${cmp.differing}/${cmp.total} voxels differ from skimage`);
      expect(cmp.differing).toBe(0);
    });
  }
});

describe("watershed", () => {
  it("splits a plateau between markers by arrival time and leaves unreachable voxels 0", () => {
    // One row: markers at both ends of a flat valley; a masked-off voxel cuts off the last one.
    const image = new Uint8Array([5, 5, 5, 5, 5, 5, 5, 0, 9]);
    const markers = new Uint32Array([1, 0, 0, 0, 0, 0, 2, 0, 0]);
    const mask = new Uint8Array([1, 1, 1, 1, 1, 1, 1, 0, 1]);
    const out = watershed(image, coord(1, 1, 9), markers, { mask });
    // The left marker pushes first, so it also takes the middle voxel (as skimage does).
    expect([...out]).toEqual([1, 1, 1, 1, 2, 2, 2, 0, 0]);
  });

  it("floods low values first: a basin's label crosses a ridge only where it is lowest", () => {
    // 1x3x5: two basins separated by a ridge of 9 with a gap of 4 in the middle row.
    const image = new Float32Array([0, 1, 9, 1, 0, 0, 1, 4, 1, 0, 0, 1, 9, 1, 0]);
    const markers = new Uint32Array(15);
    markers[0] = 7;
    markers[14] = 3;
    const out = watershed(image, coord(1, 3, 5), markers);
    // skimage 0.19 gives the same labels for this input.
    expect([...out]).toEqual([7, 7, 7, 3, 3, 7, 7, 7, 3, 3, 7, 7, 3, 3, 3]);
  });

  it("rejects mismatched shapes, the reserved label and NaN with one clear line", () => {
    const s = coord(2, 2, 2);
    const cases: (() => unknown)[] = [
      () => watershed(new Uint8Array(7), s, new Uint32Array(8)),
      () => watershed(new Uint8Array(8), s, new Uint32Array(8), { mask: new Uint8Array(3) }),
      () => watershed(new Uint8Array(8), s, new Uint32Array(8).fill(0xffffffff)),
      () => watershed(new Float32Array(8).fill(Number.NaN), s, new Uint32Array(8)),
    ];
    for (const f of cases) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(isOrganelleError(err, "InvalidArgument")).toBe(true);
    }
  });
});
