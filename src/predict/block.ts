import type { Block, BlockContext, BlockFn } from "../blockwise/types.ts";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { copyBox3d } from "../core/ndarray.ts";
import type { Roi, VoxelBox } from "../core/roi.ts";
import type { InferenceEngine } from "../engine/engine.ts";
import { tensor } from "../engine/tensor.ts";
import type { VolumeReader } from "../store/reader.ts";
import type { Volume } from "../store/volume.ts";
import type { ModelRef } from "./model-ref.ts";
import { cropFloat, readNetworkInput } from "./raw.ts";
import { blockReadBox, blockTiles, type ModelTiling } from "./tiling.ts";

/*
 * One write block of a prediction, for every model at once: read the cell mask over the block (none
 * inside: nothing to do), read raw once over the union of all tiles' inputs, run each model's tiles that
 * touch the mask (all submitted at once, so an engine with a queue never waits), assemble the tiles'
 * outputs inside the block, zero what lies outside the mask, threshold, and write prob and seg. Blocks
 * own whole chunks, so writes never race; the same block always writes the same bytes (resume).
 */

export interface PredictModelRun {
  readonly model: ModelRef;
  readonly engine: InferenceEngine;
  readonly tiling: ModelTiling;
  readonly prob: Volume;
  readonly seg: Volume;
  /** Stored values >= this are the organelle (threshold-level.ts). */
  readonly level: number;
}

export interface PredictBlockContext {
  readonly raw: VolumeReader;
  readonly mask: VolumeReader | null;
  /** The region asked for (blocks are chunk-aligned and may reach past it). */
  readonly region: Roi;
  readonly runs: readonly PredictModelRun[];
}

export interface PredictBlockValue {
  /** Tiles run, and 1 when the block lies outside the mask (nothing predicted). */
  readonly tiles: number;
  readonly outside: number;
}

/** The block function of a prediction; a closure over the open engines (runs in this thread). */
export function predictBlockFn(c: PredictBlockContext): BlockFn<unknown> {
  return async (block: Block, _params: unknown, ctx: BlockContext): Promise<PredictBlockValue> => {
    const roi = block.writeRoi.intersect(c.region);
    if (roi.empty) return { tiles: 0, outside: 1 };
    const box = roi.toVoxels(c.raw.meta.voxelSize, c.raw.meta.offset);
    const n = box.shape[0] * box.shape[1] * box.shape[2];
    let mask: Uint8Array | null = null;
    if (c.mask) {
      const m = await c.mask.readBox(maskBox(c.mask, roi), { signal: ctx.signal });
      mask = new Uint8Array(n);
      let any = false;
      for (let i = 0; i < n; i++) {
        if (m[i] !== 0 && m[i] !== 0n) {
          mask[i] = 1;
          any = true;
        }
      }
      if (!any) return { tiles: 0, outside: 1 };
    }
    const readBox = blockReadBox(
      box,
      c.runs.map((r) => r.tiling),
    );
    // One read of raw for all models; they share the normalisation (checked when the run is set up).
    const input = await readNetworkInput(c.raw, readBox, c.runs[0]!.model.normalization, ctx.signal);
    let tiles = 0;
    const outputs = await Promise.all(
      c.runs.map(async (r) => {
        const prob = new Uint8Array(n);
        const t = r.tiling.network;
        const jobs: Promise<void>[] = [];
        for (const start of blockTiles(box, r.tiling)) {
          const lo = start.map((s, d) => Math.max(s, box.begin[d]!));
          const hi = start.map((s, d) => Math.min(s + t.output[d]!, box.begin[d]! + box.shape[d]!));
          if (hi.some((h, d) => h <= lo[d]!)) continue;
          const inBlock = coord(lo[0]! - box.begin[0], lo[1]! - box.begin[1], lo[2]! - box.begin[2]);
          const size = coord(hi[0]! - lo[0]!, hi[1]! - lo[1]!, hi[2]! - lo[2]!);
          if (mask && !anyInside(mask, box.shape, inBlock, size)) continue;
          const at = coord(
            start[0]! - t.contextBefore[0] - readBox.begin[0],
            start[1]! - t.contextBefore[1] - readBox.begin[1],
            start[2]! - t.contextBefore[2] - readBox.begin[2],
          );
          const x = cropFloat(input, readBox.shape, at, t.input);
          tiles++;
          jobs.push(
            r.engine
              .forward(tensor(x, [1, 1, ...t.input]), { output: "uint8", channels: [r.model.channel] })
              .then((y) => {
                const fromTile = coord(lo[0]! - start[0]!, lo[1]! - start[1]!, lo[2]! - start[2]!);
                copyBox3d(y.data as Uint8Array, t.output, fromTile, prob, box.shape, inBlock, size);
              }),
          );
        }
        await Promise.all(jobs);
        const seg = new Uint8Array(n);
        for (let i = 0; i < n; i++) {
          if (mask && mask[i] === 0) prob[i] = 0;
          seg[i] = prob[i]! >= r.level ? 1 : 0;
        }
        return { r, prob, seg };
      }),
    );
    ctx.signal.throwIfAborted();
    for (const { r, prob, seg } of outputs) {
      await Promise.all([
        r.prob.writeBox(box, prob, { signal: ctx.signal }),
        r.seg.writeBox(box, seg, { signal: ctx.signal }),
      ]);
    }
    return { tiles, outside: 0 };
  };
}

/** The mask's voxel box for a ROI on the prediction grid (same voxel size, offsets on the grid). */
function maskBox(mask: VolumeReader, roi: Roi): VoxelBox {
  return roi.toVoxels(mask.meta.voxelSize, mask.meta.offset);
}

function anyInside(mask: Uint8Array, shape: Coordinate, at: Coordinate, size: Coordinate): boolean {
  for (let z = 0; z < size[0]; z++)
    for (let y = 0; y < size[1]; y++) {
      const row = ((at[0] + z) * shape[1] + at[1] + y) * shape[2] + at[2];
      for (let x = 0; x < size[2]; x++) if (mask[row + x]) return true;
    }
  return false;
}
