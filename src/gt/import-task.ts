import type { Block, BlockContext } from "../blockwise/types.ts";
import type { Coordinate } from "../core/coordinate.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import { openReader } from "../store/reader.ts";
import { Volume } from "../store/volume.ts";
import { applyMapping, type IdMapping } from "./id-map.ts";

/*
 * Block function of `gt import` from a Zarr/N5 array. Kept apart from import.ts: that module reads
 * TIFF slices through geotiff, whose web-worker dependency must not load inside worker threads.
 */

export interface ImportArrayParams {
  readonly source: string;
  readonly array: string | undefined;
  readonly scale: number;
  /** Effective geometry of the source (may override its metadata). */
  readonly sourceOffset: Coordinate;
  readonly voxelSize: Coordinate;
  readonly output: ArrayRef;
  readonly mapping: IdMapping;
}

/** `gt.importArray`: one block of labels from a Zarr/N5 source. */
export async function importArrayBlock(block: Block, p: ImportArrayParams, ctx: BlockContext): Promise<void> {
  const [src, dst] = await Promise.all([
    openReader(p.source, { array: p.array, scale: p.scale }),
    Volume.open(p.output.datasetPath, p.output.arrayPath, { allowIncomplete: true }),
  ]);
  const box = block.writeRoi.toVoxels(p.voxelSize, p.sourceOffset);
  const ids = await src.readBox(box, { signal: ctx.signal });
  await dst.writeBox(dst.boxOf(block.writeRoi), applyMapping(ids, p.mapping, src.describe()), {
    signal: ctx.signal,
  });
}
