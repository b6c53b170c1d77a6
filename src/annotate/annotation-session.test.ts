import { describe, expect, it } from "vitest";
import { coord } from "../core/coordinate.ts";
import { AnnotationSession } from "./annotation-session.ts";
import { decodeRuns, encodeRuns, listedVoxels, planeMaskVoxels, strokeVoxels } from "./brush.ts";
import { GraphCutSession } from "./graphcut.ts";
import { slicFast } from "./slic-fast.ts";
import { f1Score, organelleCrop, simulateStrokes } from "./testing.ts";

/** Indices of the voxels whose value passes `test`. */
function where(a: Uint8Array, test: (v: number) => boolean): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (test(a[i]!)) out.push(i);
  return Int32Array.from(out);
}

describe("brushes", () => {
  const shape = coord(4, 5, 6);
  it("a stroke paints disks along the polyline on the named plane", () => {
    // z plane 2, a single point with radius 0: one voxel at (y 1, x 3)
    expect(Array.from(strokeVoxels(shape, { axis: 0, index: 2, points: [[1, 3]], radius: 0 }))).toEqual([
      (2 * 5 + 1) * 6 + 3,
    ]);
    // x plane 5, a line along z at y 0: z 0..3
    const line = strokeVoxels(shape, {
      axis: 2,
      index: 5,
      points: [
        [0, 0],
        [3, 0],
      ],
      radius: 0,
    });
    expect(Array.from(line)).toEqual([0, 1, 2, 3].map((z) => (z * 5 + 0) * 6 + 5));
    // radius 1 on a y plane: the centre and its 4 neighbours (a disk of radius 1)
    const disk = strokeVoxels(shape, { axis: 1, index: 0, points: [[2, 2]], radius: 1 });
    expect(disk.length).toBe(5);
  });

  it("plane masks and voxel lists", () => {
    // runs on the 5 x 6 plane z = 1: 7 off, 2 on, rest off
    const v = planeMaskVoxels(shape, 0, 1, [7, 2, 21]);
    expect(Array.from(v)).toEqual([30 + 7, 30 + 8]);
    expect(() => planeMaskVoxels(shape, 0, 1, [7, 2])).toThrow(/cover 9 voxels/);
    expect(Array.from(listedVoxels(shape, [[1, 2, 3]]))).toEqual([(1 * 5 + 2) * 6 + 3]);
    expect(() => listedVoxels(shape, [[4, 0, 0]])).toThrow(/inside 4x5x6/);
    expect(() => strokeVoxels(shape, { axis: 0, index: 4, points: [[0, 0]], radius: 1 })).toThrow(/0..3/);
  });

  it("run-length encoding round-trips, starting with a (possibly empty) run of zeros", () => {
    const m = Uint8Array.from([1, 1, 0, 0, 0, 1, 0]);
    const runs = encodeRuns(m);
    expect(Array.from(runs)).toEqual([0, 2, 3, 1, 1]);
    expect(Array.from(decodeRuns(runs, m.length))).toEqual(Array.from(m));
    expect(Array.from(encodeRuns(new Uint8Array(3)))).toEqual([3]);
  });
});

describe("annotation session on a synthetic mitochondrion", () => {
  const mito = organelleCrop("mito", coord(48, 48, 48), 12, 1);
  const sv = slicFast(mito.raw, mito.shape, { spacing: mito.voxelSize, nSegments: 1500 });
  const seeds = simulateStrokes(mito, {
    planes: [
      [0, 24],
      [1, 24],
      [2, 24],
    ],
    diskRadius: 4,
    margin: 1,
  });
  const indicesOf = (value: number) => where(seeds, (v) => v === value);
  const fresh = () =>
    new AnnotationSession(new GraphCutSession(mito.raw, sv, { voxelSize: mito.voxelSize }), null, 0);

  it("strokes in steps, undo and redo give exactly the cut of a fresh solve", () => {
    const s = fresh();
    s.stroke(indicesOf(1), "fg");
    s.stroke(indicesOf(2), "bg");
    const cut = s.segment();
    expect(f1Score(cut.mask, mito.truth)).toBeGreaterThan(0.85);
    // one more background stroke, then undone: the re-solve equals the first
    const extra = Int32Array.from({ length: 48 }, (_, x) => (2 * 48 + 2) * 48 + x);
    s.stroke(extra, "bg");
    const withExtra = s.segment();
    expect(s.undo()).toBe("cut");
    expect(s.undo()).toBe("paint");
    expect(Buffer.from(s.mask()).equals(Buffer.from(cut.mask))).toBe(true);
    const again = s.segment();
    expect(Buffer.from(again.mask).equals(Buffer.from(cut.mask))).toBe(true);
    // the undone stroke is gone from redo after a new edit; undo/redo of the cut restores masks
    expect(s.redo()).toBeNull();
    s.stroke(extra, "bg");
    const re = s.segment();
    expect(Buffer.from(re.mask).equals(Buffer.from(withExtra.mask))).toBe(true);
    // a fresh session with all strokes at once gives the same cut (incremental == fresh)
    const f = fresh();
    const all = new Uint8Array(seeds);
    for (const i of extra) all[i] = 2;
    f.stroke(
      where(all, (v) => v === 1),
      "fg",
    );
    f.stroke(
      where(all, (v) => v === 2),
      "bg",
    );
    expect(Buffer.from(f.segment().mask).equals(Buffer.from(re.mask))).toBe(true);
    expect(s.counts.strokes).toBe(4);
  });

  it("corrections override the cut, survive re-cuts, and undo restores them", () => {
    const s = fresh();
    s.stroke(indicesOf(1), "fg");
    s.stroke(indicesOf(2), "bg");
    const cut = s.segment().mask;
    const fgVoxels = where(cut, (v) => v === 1).slice(0, 50);
    s.correct(fgVoxels, "bg");
    for (const i of fgVoxels) expect(s.mask()[i]).toBe(0);
    const recut = s.segment().mask;
    for (const i of fgVoxels) expect(recut[i]).toBe(0);
    s.correct(fgVoxels.subarray(0, 10), "erase");
    for (const i of fgVoxels.subarray(0, 10)) expect(s.mask()[i]).toBe(1);
    s.undo();
    for (const i of fgVoxels) expect(s.mask()[i]).toBe(0);
    s.undo(); // the re-cut
    s.undo(); // the correction
    expect(Buffer.from(s.mask()).equals(Buffer.from(cut))).toBe(true);
  });

  it("starts from a loaded mask (a prediction) and counts annotation time with idle gaps capped", () => {
    const s = new AnnotationSession(
      new GraphCutSession(mito.raw, sv, { voxelSize: mito.voxelSize }),
      mito.truth,
      1000,
    );
    expect(Buffer.from(s.mask()).equals(Buffer.from(mito.truth))).toBe(true);
    s.touch(31_000);
    s.touch(31_000 + 3_600_000);
    expect(s.activeSeconds).toBe(30 + 120);
    expect(() => s.segment()).toThrow(/at least one foreground/);
  });
});
