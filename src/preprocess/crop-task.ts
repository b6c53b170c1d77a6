import type { Block, BlockContext } from "../blockwise/types.ts";
import { Volume } from "../store/volume.ts";
import type { ArrayRef } from "./clahe-task.ts";

/** `crop.copy`: copies the world ROI of one block from the source array to the cropped array (same voxel grid). */
export interface CropCopyParams {
  readonly source: ArrayRef;
  readonly target: ArrayRef;
}

export async function cropCopyBlock(block: Block, p: CropCopyParams, ctx: BlockContext): Promise<void> {
  const [src, dst] = await Promise.all([
    Volume.open(p.source.datasetPath, p.source.arrayPath),
    Volume.open(p.target.datasetPath, p.target.arrayPath, { allowIncomplete: true }),
  ]);
  const data = await src.readRoi(block.writeRoi, { signal: ctx.signal });
  await dst.writeBox(dst.boxOf(block.writeRoi), data, { signal: ctx.signal });
}
