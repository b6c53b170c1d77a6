import { describe, expect, it } from "vitest";
import {
  countDifferences,
  cutBox,
  fixtureU8,
  floodLabels,
  opsFixtures,
  pasteBox,
  randomMask,
  rng,
  tileBlocks,
} from "../../test/helpers/ops-fixtures.ts";
import type { Coordinate } from "../core/coordinate.ts";
import { type BlockLabelSummary, labelBlock, mergeBlockLabels } from "./connected-components.ts";
import { applyHoleTable, fillHoles, holeTable } from "./fill-holes.ts";
import type { Connectivity } from "./volume3d.ts";

/** Reference: background components by flood fill, filled when they qualify as holes. */
function naiveFill(
  mask: Uint8Array,
  shape: Coordinate,
  conn: Connectivity,
  smallerThan = Number.POSITIVE_INFINITY,
  includeBorder = false,
): Uint8Array {
  const [nz, ny, nx] = shape;
  const { labels, count } = floodLabels(mask, shape, conn, true);
  const size = new Float64Array(count + 1);
  const border = new Uint8Array(count + 1);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l === 0) continue;
    size[l] = size[l]! + 1;
    const z = Math.floor(i / (ny * nx));
    const y = Math.floor(i / nx) % ny;
    const x = i % nx;
    if (z === 0 || y === 0 || x === 0 || z === nz - 1 || y === ny - 1 || x === nx - 1) border[l] = 1;
  }
  return mask.map((v, i) => {
    if (v !== 0) return 1;
    const l = labels[i]!;
    return (includeBorder || border[l] === 0) && size[l]! < smallerThan ? 1 : 0;
  });
}

describe("fillHoles against scipy/skimage", () => {
  for (const c of opsFixtures().cases) {
    it(`${c.name}`, () => {
      const mask = fixtureU8(c.mask);
      const f = c.fillHoles;
      const small = opsFixtures().smallSize;
      const all6 = fillHoles(mask, c.shape);
      // scipy.ndimage.binary_fill_holes (default structure = 6-connected background)
      expect(countDifferences(all6, fixtureU8(f.all6))).toBe(0);
      expect(countDifferences(all6, mask)).toBeGreaterThan(0);
      expect(countDifferences(fillHoles(mask, c.shape, { connectivity: 26 }), fixtureU8(f.all26))).toBe(0);
      expect(
        countDifferences(fillHoles(mask, c.shape, { smallerThan: small }), fixtureU8(f.inside6SmallerThan)),
      ).toBe(0);
      // skimage.morphology.remove_small_holes(area_threshold=small, connectivity=1)
      const rsh = fillHoles(mask, c.shape, { smallerThan: small, includeBorder: true });
      expect(countDifferences(rsh, fixtureU8(f.removeSmallHoles6))).toBe(0);
    });
  }
});

describe("fillHoles against flood fill", () => {
  it("matches on random volumes for every connectivity, size limit and border rule", () => {
    const rand = rng(31);
    for (let t = 0; t < 40; t++) {
      const shape: Coordinate = [
        1 + Math.floor(rand() * 8),
        1 + Math.floor(rand() * 8),
        1 + Math.floor(rand() * 10),
      ];
      const mask = randomMask(shape[0] * shape[1] * shape[2], [0.55, 0.7, 0.85][t % 3]!, rand);
      for (const conn of [6, 18, 26] as const) {
        for (const smallerThan of [undefined, 1, 2, 5]) {
          for (const includeBorder of [false, true]) {
            const got = fillHoles(mask, shape, { connectivity: conn, smallerThan, includeBorder });
            const want = naiveFill(mask, shape, conn, smallerThan, includeBorder);
            expect(countDifferences(got, want), `${shape} ${conn} ${smallerThan} ${includeBorder}`).toBe(0);
          }
        }
      }
    }
  });

  it("rejects a negative size limit", () => {
    expect(() => fillHoles(new Uint8Array(8), [2, 2, 2], { smallerThan: -1 })).toThrow(/smallerThan/);
  });
});

describe("block-wise fill holes", () => {
  it("equals the whole-volume result with blocks smaller than the holes' surroundings", () => {
    for (const c of opsFixtures().cases) {
      const mask = fixtureU8(c.mask);
      const block: Coordinate = [5, 6, 7];
      for (const conn of [6, 26] as const) {
        const tiles = tileBlocks(c.shape, block);
        const data: Uint8Array[] = [];
        const bg: Uint32Array[] = [];
        const summaries: BlockLabelSummary[] = [];
        for (const t of tiles) {
          const d = cutBox(mask, c.shape, t.begin, t.shape, (n) => new Uint8Array(n));
          const r = labelBlock(d, t.shape, { connectivity: conn, ofZeros: true });
          data.push(d);
          bg.push(r.labels);
          summaries.push(r.summary);
        }
        const merge = mergeBlockLabels(c.shape, block, summaries, conn);
        for (const options of [{}, { smallerThan: 3 }, { smallerThan: 40, includeBorder: true }]) {
          const out = new Uint8Array(mask.length);
          tiles.forEach((t, id) => {
            const table = holeTable(merge, id, options);
            pasteBox(out, c.shape, t.begin, t.shape, applyHoleTable(data[id]!, bg[id]!, table));
          });
          const whole = fillHoles(mask, c.shape, { connectivity: conn, ...options });
          expect(countDifferences(out, whole), `${c.name} ${conn} ${JSON.stringify(options)}`).toBe(0);
        }
      }
    }
  });
});
