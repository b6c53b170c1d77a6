import type { Block, BlockContext } from "../blockwise/types.ts";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { invalidData } from "../core/errors.ts";
import type { VoxelBox } from "../core/roi.ts";
import { ballContext, morphologyBlock } from "../ops/morphology.ts";
import { intersectBoxes } from "../ops/volume3d.ts";
import { Volume } from "../store/volume.ts";
import type { ArrayRef } from "./clahe-task.ts";

/*
 * `mask.morphology`: one block of the cell mask's local part — the intensity window lo < v < hi, then
 * skimage's binary opening (erosion, dilation) and closing (dilation, erosion) with balls. skimage
 * erodes with border_value=True (the outside of the volume counts as foreground, so the cell is not
 * eaten from the volume border) and dilates with border_value=0; each step runs through the exact
 * block-wise ball morphology of src/ops/morphology.ts on a box that shrinks by the ball's reach, so
 * the block's result equals the whole-volume result.
 */

export interface MaskMorphologyParams {
  readonly input: ArrayRef;
  readonly output: ArrayRef;
  readonly windowLow: number;
  readonly windowHigh: number;
  /** Ball radii in the units of `ballVoxelSize` (1,1,1: voxels, ASEM; the array's voxel size: nm). */
  readonly openingRadius: number;
  readonly closingRadius: number;
  readonly ballVoxelSize: Coordinate;
}

/** Voxels of context (z,y,x) the four morphology steps need around a write block. */
export function maskContext(
  p: Pick<MaskMorphologyParams, "openingRadius" | "closingRadius" | "ballVoxelSize">,
): Coordinate {
  const o = ballContext("dilation", p.openingRadius, p.ballVoxelSize);
  const c = ballContext("dilation", p.closingRadius, p.ballVoxelSize);
  return coord(2 * (o[0] + c[0]), 2 * (o[1] + c[1]), 2 * (o[2] + c[2]));
}

function grow(box: VoxelBox, by: Coordinate): VoxelBox {
  return {
    begin: coord(box.begin[0] - by[0], box.begin[1] - by[1], box.begin[2] - by[2]),
    shape: coord(box.shape[0] + 2 * by[0], box.shape[1] + 2 * by[1], box.shape[2] + 2 * by[2]),
  };
}

export async function maskMorphologyBlock(
  block: Block,
  p: MaskMorphologyParams,
  ctx: BlockContext,
): Promise<void> {
  const [src, dst] = await Promise.all([
    Volume.open(p.input.datasetPath, p.input.arrayPath),
    Volume.open(p.output.datasetPath, p.output.arrayPath, { allowIncomplete: true }),
  ]);
  const volumeShape = src.meta.shape;
  const whole: VoxelBox = { begin: coord(0, 0, 0), shape: volumeShape };
  const write = src.boxOf(block.writeRoi);
  const o = ballContext("dilation", p.openingRadius, p.ballVoxelSize);
  const c = ballContext("dilation", p.closingRadius, p.ballVoxelSize);
  // Boxes each step writes, from the last step back to the first; all clipped to the volume.
  const b4 = write;
  const b3 = intersectBoxes(grow(b4, c), whole);
  const b2 = intersectBoxes(grow(grow(b4, c), c), whole);
  const b1 = intersectBoxes(grow(grow(grow(b4, c), c), o), whole);
  const b0 = intersectBoxes(grow(grow(grow(grow(b4, c), c), o), o), whole);
  const raw = await src.readBox(b0, { signal: ctx.signal });
  if (raw instanceof BigUint64Array)
    throw invalidData(`${src.describe()}: a cell mask needs intensities, not uint64 ids`);
  const m = new Uint8Array(raw.length);
  const lo = p.windowLow;
  const hi = p.windowHigh;
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i]!;
    m[i] = v > lo && v < hi ? 1 : 0;
  }
  const opts = (borderValue: 0 | 1) => ({ voxelSize: p.ballVoxelSize, borderValue });
  const s1 = morphologyBlock(m, { volumeShape, read: b0, write: b1 }, "erosion", p.openingRadius, opts(1));
  const s2 = morphologyBlock(s1, { volumeShape, read: b1, write: b2 }, "dilation", p.openingRadius, opts(0));
  const s3 = morphologyBlock(s2, { volumeShape, read: b2, write: b3 }, "dilation", p.closingRadius, opts(0));
  const s4 = morphologyBlock(s3, { volumeShape, read: b3, write: b4 }, "erosion", p.closingRadius, opts(1));
  await dst.writeBox(dst.boxOf(block.writeRoi), s4, { signal: ctx.signal });
}
