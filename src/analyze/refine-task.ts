import type { Block, BlockContext } from "../blockwise/types.ts";
import { invalidData } from "../core/errors.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import { Volume } from "../store/volume.ts";

/*
 * `analyze.threshold`: the per-voxel step of `organelle refine` — foreground where the (smoothed)
 * prediction exceeds the threshold and, with a mask class, where that class is present (inside) or
 * absent (outside). Writes uint8 0/`on`.
 */

export interface ThresholdParams {
  readonly input: ArrayRef;
  readonly output: ArrayRef;
  /** Foreground: value > threshold (in the input's units). */
  readonly threshold: number;
  readonly on: number;
  /** A class on the same voxel size; read by world position (zeros outside it). */
  readonly mask?: ArrayRef;
  readonly maskMode?: "inside" | "outside";
}

export async function thresholdBlock(block: Block, p: ThresholdParams, ctx: BlockContext): Promise<void> {
  const [src, dst] = await Promise.all([
    Volume.open(p.input.datasetPath, p.input.arrayPath, { allowIncomplete: true }),
    Volume.open(p.output.datasetPath, p.output.arrayPath, { allowIncomplete: true }),
  ]);
  const data = await src.readRoi(block.writeRoi, { signal: ctx.signal });
  if (data instanceof BigUint64Array)
    throw invalidData(`${src.describe()}: refine reads predictions, not uint64 ids`);
  const out = new Uint8Array(data.length);
  const t = p.threshold;
  const on = p.on;
  for (let i = 0; i < data.length; i++) out[i] = data[i]! > t ? on : 0;
  if (p.mask) {
    const mv = await Volume.open(p.mask.datasetPath, p.mask.arrayPath);
    const m = await mv.readRoi(block.writeRoi, { signal: ctx.signal });
    const keepInside = p.maskMode !== "outside";
    for (let i = 0; i < out.length; i++) {
      const present = m[i] !== 0 && m[i] !== 0n;
      if (present !== keepInside) out[i] = 0;
    }
  }
  await dst.writeBox(dst.boxOf(block.writeRoi), out, { signal: ctx.signal });
}
