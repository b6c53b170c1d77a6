import { describe, expect, it } from "vitest";
import {
  bijectionError,
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
import {
  type BlockLabelSummary,
  blockLabelMap,
  connectedComponents,
  labelBlock,
  labelBlockRuns,
  mergeBlockLabels,
  paintRunLabels,
  rankByFirst,
  relabelBlock,
} from "./connected-components.ts";
import { fillHoles, holeTable } from "./fill-holes.ts";
import { keepLargeTable, removeSmallObjects } from "./remove-small.ts";
import { paintRunsMask } from "./runs.ts";
import type { Connectivity } from "./volume3d.ts";

const CONNS: Connectivity[] = [6, 18, 26];

/** Labels a volume block by block and merges, as a block-wise run would. */
function labelBlockwise(
  mask: Uint8Array,
  shape: Coordinate,
  block: Coordinate,
  connectivity: Connectivity,
  ofZeros = false,
): { labels: Uint32Array; count: number } {
  const tiles = tileBlocks(shape, block);
  const local: Uint32Array[] = [];
  const summaries: BlockLabelSummary[] = [];
  for (const t of tiles) {
    const data = cutBox(mask, shape, t.begin, t.shape, (n) => new Uint8Array(n));
    const r = labelBlock(data, t.shape, { connectivity, ofZeros });
    local.push(r.labels);
    // what crosses a worker boundary must survive structured cloning
    summaries.push(structuredClone(r.summary));
  }
  const merge = mergeBlockLabels(shape, block, summaries, connectivity);
  const out = new Uint32Array(mask.length);
  tiles.forEach((t, id) => {
    pasteBox(out, shape, t.begin, t.shape, relabelBlock(local[id]!, blockLabelMap(merge, id)));
  });
  return { labels: out, count: merge.count };
}

describe("connectedComponents against scipy.ndimage.label", () => {
  for (const c of opsFixtures().cases) {
    it(`${c.name}: identical ids for 6, 18 and 26 connectivity`, () => {
      const mask = fixtureU8(c.mask);
      for (const conn of CONNS) {
        const ref = c.label[String(conn) as "6" | "18" | "26"];
        const want = fixtureU32(ref.labels);
        const got = connectedComponents(mask, c.shape, { connectivity: conn });
        expect(got.count).toBe(ref.count);
        expect(bijectionError(got.labels, want)).toBeNull();
        // same numbering as scipy (raster order of first voxel), not just the same partition
        expect(countDifferences(got.labels, want)).toBe(0);
      }
    });
  }
});

describe("connectedComponents against flood fill", () => {
  it("matches on random volumes of every density and connectivity", () => {
    const rand = rng(21);
    for (let t = 0; t < 45; t++) {
      const shape: Coordinate = [
        1 + Math.floor(rand() * 9),
        1 + Math.floor(rand() * 9),
        1 + Math.floor(rand() * 12),
      ];
      const mask = randomMask(shape[0] * shape[1] * shape[2], [0.2, 0.4, 0.6][t % 3]!, rand);
      for (const conn of CONNS) {
        const want = floodLabels(mask, shape, conn);
        const got = connectedComponents(mask, shape, { connectivity: conn });
        expect(got.count).toBe(want.count);
        expect(countDifferences(got.labels, want.labels), `${shape} conn ${conn}`).toBe(0);
        const zeros = connectedComponents(mask, shape, { connectivity: conn, ofZeros: true });
        expect(countDifferences(zeros.labels, floodLabels(mask, shape, conn, true).labels)).toBe(0);
      }
    }
  });

  it("reads any non-zero byte as foreground, from aligned and unaligned buffers", () => {
    const rand = rng(23);
    const shape: Coordinate = [5, 9, 64];
    const n = shape[0] * shape[1] * shape[2];
    const mask = randomMask(n, 0.7, rand);
    const want = connectedComponents(mask, shape, { connectivity: 18 });
    const backing = new Uint8Array(n + 1);
    const shifted = backing.subarray(1); // byteOffset 1: no word access
    for (let i = 0; i < n; i++) shifted[i] = mask[i] === 0 ? 0 : 1 + Math.floor(rand() * 255);
    const got = connectedComponents(shifted, shape, { connectivity: 18 });
    expect(got.count).toBe(want.count);
    expect(countDifferences(got.labels, want.labels)).toBe(0);
    const aligned = Uint8Array.from(shifted);
    expect(
      countDifferences(connectedComponents(aligned, shape, { connectivity: 18 }).labels, want.labels),
    ).toBe(0);
  });

  it("tells the connectivities apart on diagonal contacts", () => {
    const shape: Coordinate = [2, 2, 2];
    const edge = new Uint8Array([1, 0, 0, 1, 0, 0, 0, 0]); // (0,0,0)-(0,1,1): edge neighbours
    const corner = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 1]); // (0,0,0)-(1,1,1): corner neighbours
    expect(connectedComponents(edge, shape, { connectivity: 6 }).count).toBe(2);
    expect(connectedComponents(edge, shape, { connectivity: 18 }).count).toBe(1);
    expect(connectedComponents(corner, shape, { connectivity: 18 }).count).toBe(2);
    expect(connectedComponents(corner, shape, { connectivity: 26 }).count).toBe(1);
  });

  it("handles empty and full volumes and rejects a bad connectivity", () => {
    expect(connectedComponents(new Uint8Array(27), [3, 3, 3]).count).toBe(0);
    const full = connectedComponents(new Uint8Array(27).fill(1), [3, 3, 3]);
    expect(full.count).toBe(1);
    expect([...full.labels].every((v) => v === 1)).toBe(true);
    expect(() => connectedComponents(new Uint8Array(27), [3, 3, 3], { connectivity: 8 as 6 })).toThrow(
      /connectivity must be 6, 18 or 26/,
    );
  });
});

describe("block-wise connected components", () => {
  it("equal the whole-volume labelling voxel for voxel, with blocks much smaller than the objects", () => {
    for (const c of opsFixtures().cases) {
      const mask = fixtureU8(c.mask);
      for (const conn of CONNS) {
        const whole = connectedComponents(mask, c.shape, { connectivity: conn });
        for (const block of [
          [5, 4, 6],
          [1, 7, 38],
          [c.shape[0], c.shape[1], 3],
        ] as Coordinate[]) {
          const got = labelBlockwise(mask, c.shape, block, conn);
          expect(got.count, `${c.name} conn ${conn} block ${block}`).toBe(whole.count);
          expect(countDifferences(got.labels, whole.labels), `${c.name} conn ${conn} block ${block}`).toBe(0);
        }
      }
    }
  });

  it("joins objects that meet only across a block edge or corner", () => {
    // one voxel on each side of a block corner at (2,2,2): 26-connected through the corner only
    const shape: Coordinate = [4, 4, 4];
    const mask = new Uint8Array(64);
    mask[(1 * 4 + 1) * 4 + 1] = 1;
    mask[(2 * 4 + 2) * 4 + 2] = 1;
    for (const conn of CONNS) {
      const got = labelBlockwise(mask, shape, [2, 2, 2], conn);
      expect(got.count).toBe(conn === 26 ? 1 : 2);
    }
    const edge = new Uint8Array(64);
    edge[(1 * 4 + 1) * 4 + 1] = 1;
    edge[(1 * 4 + 2) * 4 + 2] = 1;
    expect(labelBlockwise(edge, shape, [2, 2, 2], 18).count).toBe(1);
    expect(labelBlockwise(edge, shape, [2, 2, 2], 6).count).toBe(2);
  });

  it("reports global sizes and border contact", () => {
    const c = opsFixtures().cases[2]!;
    const mask = fixtureU8(c.mask);
    const tiles = tileBlocks(c.shape, [7, 8, 9]);
    const summaries = tiles.map(
      (t) =>
        labelBlock(
          cutBox(mask, c.shape, t.begin, t.shape, (n) => new Uint8Array(n)),
          t.shape,
        ).summary,
    );
    const merge = mergeBlockLabels(c.shape, [7, 8, 9], summaries, 6);
    const whole = connectedComponents(mask, c.shape);
    const sizes = new Float64Array(whole.count + 1);
    for (const l of whole.labels) sizes[l] = sizes[l]! + 1;
    expect([...merge.sizes.subarray(1)]).toEqual([...sizes.subarray(1)]);
    expect(merge.touchesBorder.reduce((s, v) => s + v, 0)).toBeGreaterThan(0);
    expect(merge.touchesBorder.reduce((s, v) => s + v, 0)).toBeLessThan(whole.count);
  });

  it("rejects summaries that do not fit the grid", () => {
    const s = labelBlock(new Uint8Array(8), [2, 2, 2]).summary;
    expect(() => mergeBlockLabels([4, 2, 2], [2, 2, 2], [s])).toThrow(/1 block summaries for a grid/);
    expect(() => mergeBlockLabels([3, 2, 2], [2, 2, 2], [s, s])).toThrow(/block 1 has shape/);
  });

  it("label once, merge, paint from the kept runs: equal to the whole volume with blocks of 1 to 4 voxels", () => {
    const rand = rng(77);
    for (let t = 0; t < 24; t++) {
      const shape: Coordinate = [
        2 + Math.floor(rand() * 9),
        2 + Math.floor(rand() * 9),
        2 + Math.floor(rand() * 11),
      ];
      const block: Coordinate = [
        1 + Math.floor(rand() * 4),
        1 + Math.floor(rand() * 4),
        1 + Math.floor(rand() * 4),
      ];
      const mask = randomMask(shape[0] * shape[1] * shape[2], 0.25 + 0.5 * rand(), rand);
      const conn = CONNS[t % 3]!;
      const tiles = tileBlocks(shape, block);
      const fg = tiles.map((b) =>
        labelBlockRuns(
          cutBox(mask, shape, b.begin, b.shape, (k) => new Uint8Array(k)),
          b.shape,
          {
            connectivity: conn,
          },
        ),
      );
      const bg = tiles.map((b) =>
        labelBlockRuns(
          cutBox(mask, shape, b.begin, b.shape, (k) => new Uint8Array(k)),
          b.shape,
          {
            connectivity: conn,
            ofZeros: true,
          },
        ),
      );
      const what = `${shape} in blocks of ${block}, conn ${conn}`;
      const mergeFg = mergeBlockLabels(
        shape,
        block,
        fg.map((r) => structuredClone(r.summary)),
        conn,
      );
      const mergeBg = mergeBlockLabels(
        shape,
        block,
        bg.map((r) => structuredClone(r.summary)),
        conn,
      );
      const labels = new Uint32Array(mask.length);
      const kept = new Uint8Array(mask.length);
      const filled = new Uint8Array(mask.length);
      tiles.forEach((b, id) => {
        const at = { shape, begin: b.begin };
        // fresh outputs, blocks disjoint: only the non-zero runs need writing
        paintRunLabels(fg[id]!.runLabels, labels, blockLabelMap(mergeFg, id), at, true);
        const f = fg[id]!.runLabels;
        paintRunsMask(f.runs, f.runLabel, keepLargeTable(mergeFg, id, 4), 0, kept, at, true);
        const h = bg[id]!.runLabels;
        paintRunsMask(h.runs, h.runLabel, holeTable(mergeBg, id, { smallerThan: 6 }), 1, filled, at);
      });
      const whole = connectedComponents(mask, shape, { connectivity: conn });
      expect(mergeFg.count, what).toBe(whole.count);
      expect(countDifferences(labels, whole.labels), what).toBe(0);
      const keep = removeSmallObjects(mask, shape, 4, { connectivity: conn });
      expect(countDifferences(kept, keep), what).toBe(0);
      const fill = fillHoles(mask, shape, { connectivity: conn, smallerThan: 6 });
      expect(countDifferences(filled, fill), what).toBe(0);
    }
  });

  it("ranks roots by first voxel with the packed sort and, past 2^53, by binary search", () => {
    const root = Int32Array.from([0, 0, 2, 3, 2, 5]);
    const first = Float64Array.from([40, Infinity, 7, 1e15, Infinity, 9]);
    expect([...rankByFirst(root, first, 4, 100)]).toEqual([2, 5, 0, 3]);
    expect([...rankByFirst(root, first, 4, 2 ** 52)]).toEqual([2, 5, 0, 3]);
  });
});
