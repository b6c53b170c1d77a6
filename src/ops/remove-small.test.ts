import { describe, expect, it } from "vitest";
import {
  countDifferences,
  cutBox,
  fixtureU8,
  fixtureU32,
  floodLabels,
  opsFixtures,
  pasteBox,
  randomMask,
  rng,
  tileBlocks,
} from "../../test/helpers/ops-fixtures.ts";
import type { Coordinate } from "../core/coordinate.ts";
import { type BlockLabelSummary, labelBlock, mergeBlockLabels } from "./connected-components.ts";
import { applyKeepTable, keepLargeTable, removeSmallLabels, removeSmallObjects } from "./remove-small.ts";

describe("remove small objects against skimage.morphology.remove_small_objects", () => {
  for (const c of opsFixtures().cases) {
    it(`${c.name}: binary (connectivity 1 and 3) and label image`, () => {
      const mask = fixtureU8(c.mask);
      const r = c.removeSmall;
      const six = removeSmallObjects(mask, c.shape, r.minSize);
      expect(countDifferences(six, fixtureU8(r.binary6))).toBe(0);
      expect(countDifferences(six, mask)).toBeGreaterThan(0);
      const all = removeSmallObjects(mask, c.shape, r.minSize, { connectivity: 26 });
      expect(countDifferences(all, fixtureU8(r.binary26))).toBe(0);
      const labels = fixtureU32(r.labelsIn);
      expect(countDifferences(removeSmallLabels(labels, r.minSize), fixtureU32(r.labels))).toBe(0);
    });
  }
});

describe("remove small objects against flood fill", () => {
  it("matches on random volumes", () => {
    const rand = rng(41);
    for (let t = 0; t < 40; t++) {
      const shape: Coordinate = [
        1 + Math.floor(rand() * 8),
        1 + Math.floor(rand() * 8),
        1 + Math.floor(rand() * 10),
      ];
      const mask = randomMask(shape[0] * shape[1] * shape[2], [0.2, 0.35, 0.5][t % 3]!, rand);
      for (const conn of [6, 18, 26] as const) {
        const { labels, count } = floodLabels(mask, shape, conn);
        const size = new Float64Array(count + 1);
        for (const l of labels) size[l] = size[l]! + 1;
        for (const minSize of [0, 1, 2, 4, 9]) {
          const want = labels.map((l) => (l !== 0 && size[l]! >= minSize ? 1 : 0));
          const got = removeSmallObjects(mask, shape, minSize, { connectivity: conn });
          expect(countDifferences(got, want), `${shape} ${conn} ${minSize}`).toBe(0);
        }
      }
    }
  });

  it("treats each label id as one object, for dense and sparse ids and every label type", () => {
    const ids = new Uint32Array([0, 5, 5, 7, 7, 7, 9, 0, 5, 4_000_000_000, 4_000_000_000, 0]);
    expect([...removeSmallLabels(ids, 3)]).toEqual([0, 5, 5, 7, 7, 7, 0, 0, 5, 0, 0, 0]);
    const u16 = new Uint16Array([1, 1, 2, 3, 3, 3]);
    const out = removeSmallLabels(u16, 2);
    expect(out).toBeInstanceOf(Uint16Array);
    expect([...out]).toEqual([1, 1, 0, 3, 3, 3]);
    removeSmallLabels(u16, 3, u16);
    expect([...u16]).toEqual([0, 0, 0, 3, 3, 3]);
    expect(() => removeSmallLabels(new Int32Array([1, -2]), 2)).toThrow(/negative label/);
  });
});

describe("removeSmallLabels in one pass", () => {
  it("equals a plain count-and-clear into fresh, reused and in-place outputs, also when many runs stay small", () => {
    const rand = rng(9);
    for (const [n, ids, runLength, minSize] of [
      [5000, 40, 12, 60],
      [6000, 3000, 1, 2], // thousands of small runs: more than the remembered runs allow
      [20000, 300, 30, 100],
    ] as const) {
      const labels = new Uint32Array(n);
      for (let i = 0; i < n; ) {
        const v = rand() < 0.4 ? 0 : 1 + Math.floor(rand() * ids);
        const e = Math.min(n, i + 1 + Math.floor(rand() * runLength));
        labels.fill(v, i, e);
        i = e;
      }
      const size = new Map<number, number>();
      for (const v of labels) size.set(v, (size.get(v) ?? 0) + 1);
      const want = labels.map((v) => (size.get(v)! < minSize ? 0 : v));
      expect(countDifferences(want, labels)).toBeGreaterThan(0);
      expect(countDifferences(removeSmallLabels(labels, minSize), want)).toBe(0);
      const reused = new Uint32Array(n).fill(123);
      expect(countDifferences(removeSmallLabels(labels, minSize, reused), want)).toBe(0);
      const copy = labels.slice();
      removeSmallLabels(copy, minSize, copy);
      expect(countDifferences(copy, want)).toBe(0);
      const i32 = Int32Array.from(labels);
      expect(countDifferences(removeSmallLabels(i32, minSize), want)).toBe(0);
    }
  });
});

describe("block-wise remove small objects", () => {
  it("equals the whole-volume result with blocks much smaller than the objects", () => {
    for (const c of opsFixtures().cases) {
      const mask = fixtureU8(c.mask);
      const block: Coordinate = [4, 5, 6];
      const minSize = c.removeSmall.minSize;
      for (const conn of [6, 26] as const) {
        const tiles = tileBlocks(c.shape, block);
        const local: Uint32Array[] = [];
        const summaries: BlockLabelSummary[] = [];
        for (const t of tiles) {
          const r = labelBlock(
            cutBox(mask, c.shape, t.begin, t.shape, (n) => new Uint8Array(n)),
            t.shape,
            {
              connectivity: conn,
            },
          );
          local.push(r.labels);
          summaries.push(r.summary);
        }
        const merge = mergeBlockLabels(c.shape, block, summaries, conn);
        const out = new Uint8Array(mask.length);
        tiles.forEach((t, id) => {
          pasteBox(
            out,
            c.shape,
            t.begin,
            t.shape,
            applyKeepTable(local[id]!, keepLargeTable(merge, id, minSize)),
          );
        });
        const whole = removeSmallObjects(mask, c.shape, minSize, { connectivity: conn });
        expect(countDifferences(out, whole), `${c.name} ${conn}`).toBe(0);
      }
    }
  });
});
