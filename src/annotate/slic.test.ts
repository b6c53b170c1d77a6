import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { enforceConnectivity, regularGrid, slic } from "./slic.ts";
import { type SupervoxelStats, supervoxelStats } from "./supervoxel-metrics.ts";

const FIXTURES = path.join(import.meta.dirname, "..", "..", "test", "fixtures", "graphcut");

function gunzip(name: string): Buffer {
  return zlib.gunzipSync(fs.readFileSync(path.join(FIXTURES, name)));
}

interface SlicCase {
  name: string;
  nSegments: number;
  compactness: number;
  iterations: number;
  spacing: [number, number, number];
  shape: [number, number, number];
  stats: SupervoxelStats;
}

const volume = new Uint8Array(gunzip("slic-volume.bin.gz"));
const truth = new Uint8Array(gunzip("slic-truth.bin.gz"));

describe("regularGrid (skimage.util.regular_grid)", () => {
  it("matches the docstring examples", () => {
    expect(regularGrid(coord(3, 20, 40), 8)).toEqual({ start: [1, 5, 5], step: [3, 10, 10] });
    expect(regularGrid(coord(1, 20, 40), 32)).toEqual({ start: [0, 2, 2], step: [1, 5, 5] });
  });
});

describe("slic against skimage.segmentation.slic fixtures", () => {
  for (const name of ["default", "grey", "aniso"]) {
    it(`${name}: similar supervoxel statistics and the same labels as skimage`, () => {
      const c = JSON.parse(fs.readFileSync(path.join(FIXTURES, `slic-${name}.json`), "utf8")) as SlicCase;
      const shape = coord(...c.shape);
      const sv = slic(volume, shape, {
        nSegments: c.nSegments,
        compactness: c.compactness,
        iterations: c.iterations,
        spacing: coord(...c.spacing),
      });
      const ref = new Uint16Array(gunzip(`slic-${name}-labels.bin.gz`).buffer.slice(0));
      const ours = supervoxelStats(sv.labels, sv.count, truth, shape);
      expect(Math.abs(ours.count - c.stats.count)).toBeLessThanOrEqual(0.1 * c.stats.count);
      expect(Math.abs(ours.meanSize - c.stats.meanSize)).toBeLessThanOrEqual(0.1 * c.stats.meanSize);
      expect(ours.boundaryRecall).toBeGreaterThanOrEqual(c.stats.boundaryRecall - 0.02);
      expect(ours.undersegmentationError).toBeLessThanOrEqual(c.stats.undersegmentationError * 1.1 + 0.005);
      // every label 0..count-1 is used and every supervoxel is one 6-connected piece
      expect(connectedPieces(sv.labels, shape)).toBeLessThanOrEqual(sv.count);
      // same arithmetic in the same order: the labels are skimage's, voxel for voxel
      expect(agreement(sv.labels, ref)).toBe(1);
      expect(sv.labels.every((l, i) => l === ref[i])).toBe(true);
    });
  }

  it("rejects bad parameters with a clear message", () => {
    expect(() => slic(volume, coord(36, 44, 52), { nSegments: 0 })).toThrow(/nSegments/);
    expect(() => slic(volume, coord(36, 44, 51))).toThrow(/shape/);
  });
});

describe("enforceConnectivity", () => {
  it("splits a disconnected label and merges small pieces into a neighbour", () => {
    // 1 x 1 x 7: labels a a b a a a c -> the lone 'b' (size 1) merges, 'c' (size 1) merges
    const seg = Int32Array.from([0, 0, 1, 0, 0, 0, 2]);
    const out = enforceConnectivity(seg, coord(1, 1, 7), 2, 100);
    expect(Array.from(out.labels)).toEqual([0, 0, 0, 1, 1, 1, 1]);
    expect(out.count).toBe(2);
  });
});

/** Fraction of voxels whose label matches the reference after mapping each label to its most frequent reference label. */
function agreement(ours: Int32Array, ref: Uint16Array): number {
  const best = new Map<number, Map<number, number>>();
  for (let i = 0; i < ours.length; i++) {
    let m = best.get(ours[i]!);
    if (!m) best.set(ours[i]!, (m = new Map()));
    m.set(ref[i]!, (m.get(ref[i]!) ?? 0) + 1);
  }
  let hit = 0;
  for (const m of best.values()) hit += Math.max(...m.values());
  return hit / ours.length;
}

function connectedPieces(labels: Int32Array, shape: Coordinate): number {
  const [d, h, w] = shape;
  const seen = new Uint8Array(labels.length);
  const stack: number[] = [];
  let pieces = 0;
  for (let s = 0; s < labels.length; s++) {
    if (seen[s]) continue;
    pieces++;
    seen[s] = 1;
    stack.push(s);
    while (stack.length) {
      const p = stack.pop()!;
      const x = p % w;
      const y = Math.floor(p / w) % h;
      const z = Math.floor(p / (w * h));
      const nb = [
        x + 1 < w ? p + 1 : -1,
        x > 0 ? p - 1 : -1,
        y + 1 < h ? p + w : -1,
        y > 0 ? p - w : -1,
        z + 1 < d ? p + w * h : -1,
        z > 0 ? p - w * h : -1,
      ];
      for (const q of nb) {
        if (q >= 0 && !seen[q] && labels[q] === labels[p]) {
          seen[q] = 1;
          stack.push(q);
        }
      }
    }
  }
  return pieces;
}
