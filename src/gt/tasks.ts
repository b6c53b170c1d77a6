import type { Block, BlockContext } from "../blockwise/types.ts";
import { coord } from "../core/coordinate.ts";
import { invalidData } from "../core/errors.ts";
import type { VoxelBox } from "../core/roi.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import { Volume } from "../store/volume.ts";
import {
  dilateLabels,
  exclusionZone,
  type LabelVolume,
  onBlock,
  type Structure,
} from "./label-morphology.ts";

/*
 * Block functions of the local ground-truth operations: each block reads its write box grown by the
 * operation's reach (zeros outside the volume: scipy's border_value=0) and writes its write box, equal
 * to the whole-volume result (see label-morphology.ts).
 */

export interface ExclusionParams {
  readonly input: ArrayRef;
  readonly output: ArrayRef;
  readonly dilate: number;
  readonly erode: number;
  readonly structure: Structure;
}

export interface BiasParams {
  readonly input: ArrayRef;
  readonly output: ArrayRef;
  readonly voxels: number;
  readonly structure: Structure;
}

const open = (a: ArrayRef, incomplete = false) =>
  Volume.open(a.datasetPath, a.arrayPath, { allowIncomplete: incomplete });

async function readGrown(src: Volume, block: Block, reach: number, signal: AbortSignal) {
  const write = src.boxOf(block.writeRoi);
  const read: VoxelBox = {
    begin: coord(write.begin[0] - reach, write.begin[1] - reach, write.begin[2] - reach),
    shape: coord(write.shape[0] + 2 * reach, write.shape[1] + 2 * reach, write.shape[2] + 2 * reach),
  };
  const data = await src.readBox(read, { signal });
  if (!(data instanceof Uint8Array || data instanceof Uint16Array || data instanceof Uint32Array)) {
    throw invalidData(`${src.describe()}: labels must be uint8, uint16 or uint32`);
  }
  return { data: data as LabelVolume, geometry: { volumeShape: src.meta.shape, read, write } };
}

export async function exclusionBlock(block: Block, p: ExclusionParams, ctx: BlockContext): Promise<void> {
  const [src, dst] = await Promise.all([open(p.input), open(p.output, true)]);
  const reach = Math.max(p.dilate, p.erode);
  const { data, geometry } = await readGrown(src, block, reach, ctx.signal);
  const zone = onBlock(data, geometry, reach, (d, s) => exclusionZone(d, s, p.dilate, p.erode, p.structure));
  await dst.writeBox(dst.boxOf(block.writeRoi), zone, { signal: ctx.signal });
}

export async function biasBlock(block: Block, p: BiasParams, ctx: BlockContext): Promise<void> {
  const [src, dst] = await Promise.all([open(p.input), open(p.output, true)]);
  const { data, geometry } = await readGrown(src, block, p.voxels, ctx.signal);
  const grown = onBlock(data, geometry, p.voxels, (d, s) => dilateLabels(d, s, p.voxels, p.structure));
  await dst.writeBox(dst.boxOf(block.writeRoi), grown, { signal: ctx.signal });
}
