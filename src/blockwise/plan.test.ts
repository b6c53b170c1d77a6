import { describe, expect, it } from "vitest";
import { coord } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import { blockGridShape, planBlocks, validateSpec } from "./plan.ts";
import type { BlockwiseTaskSpec } from "./types.ts";

const spec = (over: Partial<BlockwiseTaskSpec> = {}): BlockwiseTaskSpec => ({
  name: "t",
  totalWriteRoi: new Roi(coord(0, 0, 0), coord(40, 40, 40)),
  blockShape: coord(20, 20, 20),
  context: coord(0, 0, 0),
  ...over,
});

function expectInvalid(s: BlockwiseTaskSpec, pattern: RegExp): void {
  let caught: unknown;
  try {
    validateSpec(s);
  } catch (e) {
    caught = e;
  }
  expect(isOrganelleError(caught, "InvalidArgument")).toBe(true);
  expect((caught as Error).message).toMatch(pattern);
  expect((caught as Error).message).not.toContain("\n");
}

describe("planBlocks", () => {
  it("numbers blocks row-major (x fastest) with their grid index and write ROI", () => {
    const blocks = planBlocks(spec({ totalWriteRoi: new Roi(coord(100, 200, 300), coord(40, 40, 60)) }));
    expect(blocks.map((b) => b.id)).toEqual([...Array(12).keys()]);
    expect(blockGridShape(spec({ totalWriteRoi: new Roi(coord(100, 200, 300), coord(40, 40, 60)) }))).toEqual(
      [2, 2, 3],
    );
    const b5 = blocks[5]!; // z=0, y=1, x=2
    expect(b5.index).toEqual([0, 1, 2]);
    expect(b5.writeRoi.equals(new Roi(coord(100, 220, 340), coord(20, 20, 20)))).toBe(true);
    const b7 = blocks[7]!; // z=1, y=0, x=1
    expect(b7.index).toEqual([1, 0, 1]);
    expect(b7.writeRoi.offset).toEqual([120, 200, 320]);
    // Planning twice gives the same blocks: ids are deterministic.
    expect(planBlocks(spec()).map((b) => `${b.id}:${b.writeRoi}`)).toEqual(
      planBlocks(spec()).map((b) => `${b.id}:${b.writeRoi}`),
    );
  });

  it("grows the read ROI by the context on every side, also past the data", () => {
    const blocks = planBlocks(spec({ context: coord(4, 2, 0) }));
    const b0 = blocks[0]!;
    expect(b0.readRoi.equals(new Roi(coord(-4, -2, 0), coord(28, 24, 20)))).toBe(true);
    const last = blocks[blocks.length - 1]!;
    expect(last.readRoi.end).toEqual([44, 42, 40]);
    for (const b of blocks) expect(b.readRoi.contains(b.writeRoi)).toBe(true);
  });

  it("fits border blocks by shrinking, overhanging or dropping them", () => {
    const total = new Roi(coord(0, 0, 0), coord(20, 20, 50));
    const shrink = planBlocks(spec({ totalWriteRoi: total }));
    expect(shrink.map((b) => b.writeRoi.shape[2])).toEqual([20, 20, 10]);
    expect(shrink.reduce((s, b) => s + b.writeRoi.size, 0)).toBe(total.size);
    const overhang = planBlocks(spec({ totalWriteRoi: total, fit: "overhang", context: coord(1, 1, 1) }));
    expect(overhang.map((b) => b.writeRoi.end[2])).toEqual([20, 40, 60]);
    expect(overhang[2]!.readRoi.end[2]).toBe(61);
    const valid = planBlocks(spec({ totalWriteRoi: total, fit: "valid" }));
    expect(valid.map((b) => [b.id, b.writeRoi.end[2]])).toEqual([
      [0, 20],
      [1, 40],
    ]);
  });

  it("write ROIs tile the total ROI without overlap", () => {
    const total = new Roi(coord(3, 5, 7), coord(50, 33, 41));
    const blocks = planBlocks(spec({ totalWriteRoi: total, blockShape: coord(16, 10, 12) }));
    expect(blocks.reduce((s, b) => s + b.writeRoi.size, 0)).toBe(total.size);
    for (let i = 0; i < blocks.length; i++) {
      expect(total.contains(blocks[i]!.writeRoi)).toBe(true);
      for (let j = i + 1; j < blocks.length; j++) {
        expect(blocks[i]!.writeRoi.intersects(blocks[j]!.writeRoi)).toBe(false);
      }
    }
  });

  it("handles anisotropic, fractional nm voxel sizes", () => {
    const vs = coord(5.2, 4, 4);
    const total = Roi.fromVoxels({ begin: coord(3, 0, 2), shape: coord(25, 32, 30) }, vs, coord(52, 0, 8));
    const blocks = planBlocks(
      spec({
        totalWriteRoi: total,
        blockShape: coord(8 * 5.2, 128, 120),
        context: coord(2 * 5.2, 8, 8),
        voxelSize: vs,
      }),
    );
    expect(blocks).toHaveLength(4 * 1 * 1);
    let voxels = 0;
    for (const b of blocks) {
      const box = b.writeRoi.toVoxels(vs, coord(52, 0, 8));
      voxels += box.shape[0] * box.shape[1] * box.shape[2];
      expect(b.readRoi.toVoxels(vs, coord(52, 0, 8)).shape[0]).toBe(box.shape[0] + 4);
    }
    expect(voxels).toBe(25 * 32 * 30);
    expect(blocks[3]!.writeRoi.toVoxels(vs, coord(52, 0, 8))).toEqual({
      begin: [27, 0, 2],
      shape: [1, 32, 30],
    });
  });
});

describe("validateSpec", () => {
  it("rejects bad specs with one line naming the task", () => {
    expectInvalid(
      spec({ name: "mask", blockShape: coord(0, 20, 20) }),
      /task 'mask': block shape .*positive/,
    );
    expectInvalid(spec({ name: "mask", blockShape: coord(-1, 20, 20) }), /task 'mask': block shape/);
    expectInvalid(spec({ name: "mask", context: coord(-2, 0, 0) }), /task 'mask': context/);
    expectInvalid(
      spec({ name: "mask", totalWriteRoi: new Roi(coord(0, 0, 0), coord(0, 10, 10)) }),
      /task 'mask': totalWriteRoi .* is empty/,
    );
    expectInvalid(
      spec({
        name: "mask",
        voxelSize: coord(8, 8, 8),
        blockShape: coord(20, 24, 24),
        totalWriteRoi: new Roi(coord(0, 0, 0), coord(40, 40, 40)),
      }),
      /task 'mask': block shape \(20, 24, 24\) nm is not a multiple of the voxel size/,
    );
    expectInvalid(
      spec({
        name: "mask",
        voxelSize: coord(4, 4, 4),
        totalWriteRoi: new Roi(coord(0, 0, 0), coord(40, 40, 42)),
      }),
      /totalWriteRoi shape/,
    );
    expectInvalid(
      spec({ name: "mask", fit: "valid", blockShape: coord(80, 20, 20) }),
      /task 'mask': no block .* fits completely/,
    );
    expectInvalid(spec({ name: "mask", blockShape: coord(0.01, 0.01, 0.01) }), /blocks \(limit/);
    expectInvalid(spec({ name: "  " }), /task name is required/);
    expectInvalid(spec({ fit: "round" as never }), /fit 'round'/);
  });
});
