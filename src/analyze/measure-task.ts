import type { Block, BlockContext } from "../blockwise/types.ts";
import { invalidData } from "../core/errors.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import { Volume } from "../store/volume.ts";
import type { IdArray } from "./marching-cubes.ts";
import { measureBlockBelow, measureBoxBelow, type RegionStats } from "./region-stats.ts";

/*
 * `analyze.measure`: one block of `organelle measure` — the block's write box with 3 voxels below it
 * (and 2 above at the volume's end; zeros outside the volume) measured by region-stats.ts
 * (`measureBlockBelow`: no context above, so the chunks above the block are not decoded), plus the
 * voxels of the cell mask in the write box. The value goes to the journal, so a resumed run merges it too.
 */

export interface MeasureParams {
  readonly input: ArrayRef;
  /** Cell mask on the same grid (voxel size and offset), counted for the volume fraction. */
  readonly cellMask?: ArrayRef;
}

export interface MeasureBlockValue extends RegionStats {
  readonly cellVoxels: number;
}

export function asIdArray(data: unknown, where: string): IdArray {
  if (
    data instanceof Uint8Array ||
    data instanceof Uint16Array ||
    data instanceof Uint32Array ||
    data instanceof Int32Array
  ) {
    return data;
  }
  throw invalidData(
    `${where}: instance ids must be uint8, uint16, uint32 or int32 (uint64: relabel to uint32 first)`,
  );
}

export async function measureBlock(
  block: Block,
  p: MeasureParams,
  ctx: BlockContext,
): Promise<MeasureBlockValue> {
  const src = await Volume.open(p.input.datasetPath, p.input.arrayPath);
  const box = src.boxOf(block.writeRoi);
  const read = measureBoxBelow(box.begin, box.shape, src.meta.shape);
  const data = asIdArray(await src.readBox(read, { signal: ctx.signal }), src.describe());
  const stats = measureBlockBelow(data, box.begin, box.shape, src.meta.shape, src.meta.voxelSize);
  let cellVoxels = 0;
  if (p.cellMask) {
    const mask = await Volume.open(p.cellMask.datasetPath, p.cellMask.arrayPath);
    const m = asIdArray(await mask.readRoi(block.writeRoi, { signal: ctx.signal }), mask.describe());
    for (let i = 0; i < m.length; i++) if (m[i] !== 0) cellVoxels++;
  }
  return { ...stats, cellVoxels };
}
