import { describe, expect, it } from "vitest";
import { coord, parseCoordinate, uniform } from "./coordinate.ts";
import { isOrganelleError } from "./errors.ts";
import { parseRoi, Roi } from "./roi.ts";
import { validateVoxelSize } from "./voxel-size.ts";

const roi = (o: [number, number, number], s: [number, number, number]) => new Roi(coord(...o), coord(...s));

describe("Roi", () => {
  it("is immutable", () => {
    const r = roi([0, 0, 0], [10, 10, 10]);
    expect(Object.isFrozen(r)).toBe(true);
    expect(Object.isFrozen(r.offset)).toBe(true);
    expect(() => {
      (r.offset as unknown as number[])[0] = 5;
    }).toThrow();
    const g = r.grow(uniform(1));
    expect(r.offset).toEqual([0, 0, 0]);
    expect(g.offset).toEqual([-1, -1, -1]);
  });

  it("computes begin, end, size, center and emptiness", () => {
    const r = roi([10, 20, 30], [4, 5, 6]);
    expect(r.begin).toEqual([10, 20, 30]);
    expect(r.end).toEqual([14, 25, 36]);
    expect(r.size).toBe(120);
    expect(r.center).toEqual([12, 22.5, 33]);
    expect(r.empty).toBe(false);
    expect(roi([0, 0, 0], [0, 5, 5]).empty).toBe(true);
  });

  it("intersects, unions and tests containment", () => {
    const a = roi([0, 0, 0], [10, 10, 10]);
    const b = roi([5, -5, 8], [10, 10, 10]);
    expect(a.intersect(b).equals(roi([5, 0, 8], [5, 5, 2]))).toBe(true);
    expect(a.intersects(b)).toBe(true);
    expect(a.intersect(roi([20, 20, 20], [1, 1, 1])).empty).toBe(true);
    expect(a.union(b).equals(roi([0, -5, 0], [15, 15, 18]))).toBe(true);
    expect(a.contains(coord(0, 0, 0))).toBe(true);
    expect(a.contains(coord(9.99, 0, 0))).toBe(true);
    expect(a.contains(coord(10, 0, 0))).toBe(false);
    expect(a.contains(roi([2, 2, 2], [8, 8, 8]))).toBe(true);
    expect(a.contains(roi([2, 2, 2], [9, 8, 8]))).toBe(false);
    expect(a.contains(roi([50, 50, 50], [0, 0, 0]))).toBe(true);
  });

  it("grows and shrinks per side, never below zero extent", () => {
    const a = roi([0, 0, 0], [10, 10, 10]);
    expect(a.grow(coord(1, 2, 3), coord(4, 5, 6)).equals(roi([-1, -2, -3], [15, 17, 19]))).toBe(true);
    expect(a.grow(uniform(-2)).equals(roi([2, 2, 2], [6, 6, 6]))).toBe(true);
    expect(a.grow(uniform(-20)).empty).toBe(true);
  });

  it("snaps to a grid in world units", () => {
    const a = roi([3, 7, 12], [10, 10, 10]);
    expect(a.snapToGrid(uniform(5), "grow").equals(roi([0, 5, 10], [15, 15, 15]))).toBe(true);
    expect(a.snapToGrid(uniform(5), "shrink").equals(roi([5, 10, 15], [5, 5, 5]))).toBe(true);
    expect(a.snapToGrid(uniform(5), "closest").equals(roi([5, 5, 10], [10, 10, 10]))).toBe(true);
    // anisotropic grid with an origin
    const g = roi([0, 0, 0], [10, 10, 10]).snapToGrid(coord(5.2, 4, 4), "grow", coord(1, 0, 0));
    expect(g.begin[0]).toBeCloseTo(1 - 5.2);
    expect(g.end[0]).toBeCloseTo(1 + 2 * 5.2);
    expect(g.begin[1]).toBe(0);
    expect(g.end[1]).toBe(12);
    expect(roi([0, 0, 0], [10, 12, 8]).isAligned(coord(5, 4, 4))).toBe(true);
    expect(roi([1, 0, 0], [10, 12, 8]).isAligned(coord(5, 4, 4))).toBe(false);
  });

  it("converts to and from voxels with anisotropic voxel sizes and an origin", () => {
    const vs = coord(5.2, 4, 4);
    const origin = coord(52, 40, 0);
    const box = { begin: coord(2, 3, 4), shape: coord(10, 20, 30) };
    const r = Roi.fromVoxels(box, vs, origin);
    expect(r.offset[0]).toBeCloseTo(62.4);
    expect(r.shape).toEqual([52, 80, 120]);
    expect(r.toVoxels(vs, origin)).toEqual(box);
    expect(() => roi([1, 0, 0], [4, 4, 4]).toVoxels(uniform(4))).toThrow(/voxel grid/);
  });

  it("rejects negative or non-finite shapes and parses user ROIs", () => {
    expect(() => roi([0, 0, 0], [-1, 1, 1])).toThrow();
    expect(() => roi([Number.NaN, 0, 0], [1, 1, 1])).toThrow();
    expect(parseRoi("0,10,20:100,200,300").equals(roi([0, 10, 20], [100, 200, 300]))).toBe(true);
    expect(() => parseRoi("0,10:5,5,5")).toThrow(/z,y,x:dz,dy,dx/);
    expect(Roi.fromJSON(roi([1, 2, 3], [4, 5, 6]).toJSON()).equals(roi([1, 2, 3], [4, 5, 6]))).toBe(true);
  });
});

describe("coordinates and voxel sizes", () => {
  it("parses isotropic and anisotropic values", () => {
    expect(parseCoordinate("5", "--voxel-size", { positive: true })).toEqual([5, 5, 5]);
    expect(parseCoordinate("5.2,4,4", "--voxel-size", { positive: true })).toEqual([5.2, 4, 4]);
    expect(() => parseCoordinate("5,4", "--voxel-size")).toThrow(/three numbers/);
    expect(() => parseCoordinate("0", "--voxel-size", { positive: true })).toThrow(/> 0/);
    expect(() => parseCoordinate("a,b,c", "--shape")).toThrow(/not a list of numbers/);
    expect(() => parseCoordinate("1.5", "--shape", { integer: true })).toThrow(/integers/);
  });

  it("rejects voxel sizes that are unit mistakes", () => {
    expect(() => validateVoxelSize(coord(0.000005, 5, 5))).toThrow(/um or m/);
    expect(() => validateVoxelSize(coord(5, 5, 5e9))).toThrow(/um or m/);
    try {
      validateVoxelSize(coord(-1, 5, 5));
    } catch (e) {
      expect(isOrganelleError(e, "InvalidArgument")).toBe(true);
    }
    expect(validateVoxelSize(coord(5.2, 4, 4))).toEqual([5.2, 4, 4]);
  });
});
