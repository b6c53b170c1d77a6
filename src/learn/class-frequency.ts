import { coord } from "../core/coordinate.ts";
import { Roi } from "../core/roi.ts";
import { insideMask } from "./batch.ts";
import type { OpenedSource } from "./sources.ts";
import { readBinaryBlock } from "./sources.ts";
import { validVoxels } from "./weights.ts";

/** Slabs read at a time: bounded memory whatever the ROI's size. */
const SLAB_VOXELS_Z = 32;

/**
 * The foreground fraction over every training ROI of `sources`, among the voxels that count (inside the
 * mask, outside the exclusion zone): the class frequency `loss.balance: dataset` balances with. Reads each
 * ROI once, in z slabs.
 */
export async function foregroundFraction(
  sources: readonly OpenedSource[],
  signal?: AbortSignal,
): Promise<{ fraction: number; counted: number; foreground: number }> {
  let counted = 0;
  let foreground = 0;
  for (const src of sources) {
    for (const { roi } of src.rois) {
      const clipped = roi.intersect(src.labels.roi);
      if (clipped.empty) continue;
      const slab = SLAB_VOXELS_Z * src.voxelSize[0];
      for (let z = clipped.begin[0]; z < clipped.end[0]; z += slab) {
        const part = new Roi(
          coord(z, clipped.begin[1], clipped.begin[2]),
          coord(Math.min(slab, clipped.end[0] - z), clipped.shape[1], clipped.shape[2]),
        );
        const [labels, mask, exclusion] = await Promise.all([
          readBinaryBlock(src, "labels", part, signal),
          readBinaryBlock(src, "mask", part, signal),
          readBinaryBlock(src, "exclusion", part, signal),
        ]);
        const valid = validVoxels(labels!.length, mask, exclusion, insideMask(src, part, roi));
        for (let i = 0; i < valid.length; i++) {
          if (!valid[i]) continue;
          counted++;
          if (labels![i]) foreground++;
        }
      }
    }
  }
  return { fraction: counted ? foreground / counted : Number.NaN, counted, foreground };
}
