import { describe, expect, it } from "vitest";
import { tube } from "../../test/helpers/skeleton-shapes.ts";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { distanceTransform } from "../ops/edt.ts";
import { skeletonGraph, skeletonStats, smoothedLength } from "./skeleton-graph.ts";
import { skeletonize3d } from "./skeletonize.ts";

function analyze(mask: Uint8Array, shape: Coordinate, vs: Coordinate, prune = 80) {
  const skel = skeletonize3d(mask, shape);
  const stats = skeletonStats(skel, shape, vs, prune);
  const edt = distanceTransform(mask, shape, { voxelSize: vs, outside: "sources" });
  let sum = 0;
  for (const i of stats.voxels) sum += edt[i]!;
  return { ...stats, radius: sum / stats.voxels.length };
}

describe("skeleton graph and length (nm, anisotropic voxels)", () => {
  it("smoothedLength: a straight polyline keeps its length, a staircase loses most of its excess", () => {
    expect(smoothedLength([0, 0, 0, 0, 0, 5, 0, 0, 10, 0, 0, 15])).toBeCloseTo(15, 10);
    // a 26-connected digital line of slope 1/2 in x,y: raw steps overestimate by 8 %
    const pts: number[] = [];
    for (let k = 0; k <= 40; k++) pts.push(0, Math.round(k / 2), k);
    const raw = 20 * (1 + Math.SQRT2);
    const truth = Math.hypot(20, 40);
    expect(raw / truth).toBeGreaterThan(1.07);
    expect(Math.abs(smoothedLength(pts) / truth - 1)).toBeLessThan(0.02);
  });

  it("straight oblique tube at 8 x 5 x 5 nm: length of its axis within 5 %, radius within a voxel", () => {
    const vs = coord(8, 5, 5);
    const shape = coord(44, 96, 150);
    const a = [40, 60, 60];
    const dir = [0.25, 0.45, 0.857];
    const n = Math.hypot(dir[0]!, dir[1]!, dir[2]!);
    const A = 800; // nm between the centres of the rounded ends
    const b = a.map((v, d) => v + (A * dir[d]!) / n);
    const r = 30;
    const mask = tube(shape, vs, [a, b], r);
    const s = analyze(mask, shape, vs);
    expect(s.ends).toBe(2);
    expect(s.junctions).toBe(0);
    expect(s.branches).toBe(1);
    expect(Math.abs(s.length / A - 1)).toBeLessThan(0.05);
    expect(Math.abs(s.radius - r)).toBeLessThan(8);
  });

  it("curved tube (half circle of radius 260 nm in a tilted plane) at 6 x 5 x 5 nm: length within 5 %", () => {
    const vs = coord(6, 5, 5);
    const shape = coord(64, 72, 128);
    const R = 260;
    const c = [190, 60, 320];
    const u = [0.5, 0, 0.866]; // in-plane axes of the arc
    const v = [0, 1, 0];
    const points: number[][] = [];
    for (let k = 0; k <= 90; k++) {
      const t = (Math.PI * k) / 90;
      points.push([0, 1, 2].map((d) => c[d]! + R * (Math.cos(t) * u[d]! + Math.sin(t) * v[d]!)));
    }
    const mask = tube(shape, vs, points, 28);
    const s = analyze(mask, shape, vs);
    expect(s.ends).toBe(2);
    expect(s.branches).toBe(1);
    // the polyline's own length (chords of 2 degrees) is 0.005 % below pi R
    expect(Math.abs(s.length / (Math.PI * R) - 1)).toBeLessThan(0.05);
  });

  it("prunes branches shorter than 80 nm, keeps longer ones; length is the longest shortest path", () => {
    const vs = coord(5, 5, 5);
    const shape = coord(40, 60, 160);
    // axes through voxel centres: Lee's thinning (skimage's too) can erase an axis-aligned arm of
    // even width entirely
    const main = [
      [102.5, 102.5, 62.5],
      [102.5, 102.5, 742.5],
    ];
    const r = 25;
    const side = [
      [102.5, 102.5, 302.5],
      [102.5, 102.5 + 160, 302.5],
    ]; // 160 nm beyond the main tube's axis
    const spur = [
      [102.5, 102.5, 552.5],
      [102.5, 102.5 - 60, 552.5],
    ]; // reaches 60 - 25 = 35 nm beyond the tube's surface
    const mask = tube(shape, vs, main, r);
    const m2 = tube(shape, vs, side, r);
    const m3 = tube(shape, vs, spur, 18);
    for (let i = 0; i < mask.length; i++) mask[i] = mask[i]! | m2[i]! | m3[i]!;
    const unpruned = analyze(mask, shape, vs, 0);
    const s = analyze(mask, shape, vs, 80);
    expect(unpruned.ends).toBe(4);
    expect(s.pruned).toBe(1);
    expect(s.ends).toBe(3);
    expect(s.junctions).toBe(1);
    expect(s.branches).toBe(3);
    expect(Math.abs(s.length / 680 - 1)).toBeLessThan(0.05);
  });

  it("a ring has one loop edge and a length of half its circumference; a single voxel has length 0", () => {
    const vs = coord(5, 5, 5);
    const shape = coord(20, 90, 90);
    const points: number[][] = [];
    for (let k = 0; k <= 120; k++) {
      const t = (2 * Math.PI * k) / 120;
      points.push([50, 225 + 160 * Math.cos(t), 225 + 160 * Math.sin(t)]);
    }
    const ring = analyze(tube(shape, vs, points, 20), shape, vs);
    expect(ring.branches).toBe(1);
    expect(ring.ends).toBe(0);
    expect(Math.abs(ring.length / (Math.PI * 160) - 1)).toBeLessThan(0.05);
    const dot = new Uint8Array(27);
    dot[13] = 1;
    const g = skeletonGraph(dot, coord(3, 3, 3), vs);
    expect(g.nodeVoxels.length).toBe(1);
    expect(g.edges.length).toBe(0);
    const s = skeletonStats(dot, coord(3, 3, 3), vs, 80);
    expect(s.length).toBe(0);
    expect(Array.from(s.voxels)).toEqual([13]);
  });
});
