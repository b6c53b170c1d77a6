import type { Block, BlockContext } from "../blockwise/types.ts";
import { invalidData } from "../core/errors.ts";
import { type ClaheParams, claheBlockRaw, claheFinish, claheRawRange, claheReadBox } from "../ops/clahe.ts";
import { valueRange } from "../ops/threshold.ts";
import { Volume } from "../store/volume.ts";

/*
 * Block functions of `organelle clahe` (three phases over the same chunk-aligned blocks):
 *   clahe.range   min/max of the input (CLAHE stretches the input range of the whole volume first);
 *   clahe.raw     the 14-bit CLAHE result of the block into a uint16 intermediate array, and its min/max;
 *   clahe.finish  the intermediate stretched by the whole volume's raw range to the output type.
 * Every block reads exactly the voxels claheReadBox says it needs, so the result equals the
 * whole-volume result (tiles are anchored to the volume origin; see src/ops/clahe.ts).
 */

export interface ArrayRef {
  readonly datasetPath: string;
  readonly arrayPath: string;
}

export interface ClaheRangeParams {
  readonly input: ArrayRef;
}

export interface ClaheRawParams {
  readonly input: ArrayRef;
  readonly raw: ArrayRef;
  readonly params: ClaheParams;
  readonly inputRange: readonly [number, number];
}

export interface ClaheFinishParams {
  readonly raw: ArrayRef;
  readonly output: ArrayRef;
  readonly rawRange: readonly [number, number];
}

const open = (a: ArrayRef) => Volume.open(a.datasetPath, a.arrayPath, { allowIncomplete: true });

function greyInput(data: unknown, where: string): Uint8Array | Uint16Array {
  if (data instanceof Uint8Array || data instanceof Uint16Array) return data;
  throw invalidData(`${where}: CLAHE reads uint8 or uint16 volumes`);
}

export async function claheRangeBlock(
  block: Block,
  p: ClaheRangeParams,
  ctx: BlockContext,
): Promise<[number, number]> {
  const src = await open(p.input);
  const data = greyInput(await src.readRoi(block.writeRoi, { signal: ctx.signal }), src.describe());
  return valueRange(data);
}

export async function claheRawBlock(
  block: Block,
  p: ClaheRawParams,
  ctx: BlockContext,
): Promise<[number, number]> {
  const [src, dst] = await Promise.all([open(p.input), open(p.raw)]);
  const write = src.boxOf(block.writeRoi);
  const read = claheReadBox(write, src.meta.shape, p.params);
  const input = greyInput(await src.readBox(read, { signal: ctx.signal }), src.describe());
  const raw = claheBlockRaw(input, { volumeShape: src.meta.shape, read, write }, p.params, p.inputRange);
  await dst.writeBox(write, raw, { signal: ctx.signal });
  return claheRawRange(raw);
}

export async function claheFinishBlock(block: Block, p: ClaheFinishParams, ctx: BlockContext): Promise<void> {
  const [raw, dst] = await Promise.all([open(p.raw), open(p.output)]);
  const box = raw.boxOf(block.writeRoi);
  const data = await raw.readBox(box, { signal: ctx.signal });
  if (!(data instanceof Uint16Array))
    throw invalidData(`${raw.describe()}: expected uint16 raw CLAHE values`);
  const out =
    dst.meta.dtype === "uint16"
      ? claheFinish(data, p.rawRange, "uint16")
      : claheFinish(data, p.rawRange, "uint8");
  await dst.writeBox(dst.boxOf(block.writeRoi), out, { signal: ctx.signal });
}
