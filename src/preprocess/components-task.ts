import * as fs from "node:fs";
import * as path from "node:path";
import type { Block, BlockContext } from "../blockwise/types.ts";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { fromFsError, invalidData } from "../core/errors.ts";
import { copyBox3d } from "../core/ndarray.ts";
import type { VoxelBox } from "../core/roi.ts";
import { type BlockLabelSummary, labelBlock } from "../ops/connected-components.ts";
import type { Connectivity } from "../ops/volume3d.ts";
import { allocate, type VoxelArray } from "../store/dtype.ts";
import { Volume } from "../store/volume.ts";
import type { ArrayRef } from "./clahe-task.ts";

/*
 * Block functions of the global connected-component steps (remove small objects, fill holes) that
 * `organelle mask` and `organelle gt clean` run on volumes of any size, after the block-wise merge of
 * src/ops/connected-components.ts:
 *
 *   components.label  labels a block on its own (foreground, or background for holes) and saves what
 *                     the merge needs (sizes, first voxels, the six faces; for instance labels also the
 *                     one id around each background piece) to `<dir>/<block id>.bin`;
 *   (the caller merges all blocks and turns the global components into one value per local label)
 *   components.apply  labels the block again (same input, same local ids) and applies the values.
 *   components.countIds / components.dropIds  the same for instance labels judged per id.
 *
 * Summaries go to files rather than the journal: faces are 6 planes per block, too big for JSON.
 */

/** Marks a background piece touched by more than one id (instance hole filling leaves it alone). */
export const MIXED_ID = 0xffffffff;

export interface LabelPhaseParams {
  readonly input: ArrayRef;
  /** Label the background (for hole filling) instead of the foreground. */
  readonly ofZeros: boolean;
  readonly connectivity: Connectivity;
  /** Directory of the summary files. */
  readonly dir: string;
  /** Also record, per local background label, the non-zero id around it (MIXED_ID if several). */
  readonly adjacency: boolean;
}

export interface ApplyPhaseParams {
  readonly input: ArrayRef;
  readonly output: ArrayRef;
  readonly ofZeros: boolean;
  readonly connectivity: Connectivity;
  /**
   * Value per local label of every block: entry offsets[block] + label - 1. For the background (hole
   * filling): the value to fill with, 0 = leave; for the foreground: non-zero = keep.
   */
  readonly table: Uint32Array;
  readonly offsets: Float64Array;
  /** Names the run (the tables' contents do not enter the journal key). */
  readonly run: string;
}

export interface CountIdsParams {
  readonly input: ArrayRef;
}

export interface DropIdsParams {
  readonly input: ArrayRef;
  readonly output: ArrayRef;
  /** Ids to set to 0, sorted ascending. */
  readonly drop: Uint32Array;
  readonly run: string;
}

const open = (a: ArrayRef) => Volume.open(a.datasetPath, a.arrayPath, { allowIncomplete: true });

type IntArray = Exclude<VoxelArray, BigUint64Array | Float32Array | Float64Array>;

function integerData(data: VoxelArray, where: string): IntArray {
  if (data instanceof BigUint64Array || data instanceof Float32Array || data instanceof Float64Array) {
    throw invalidData(
      `${where}: labels must be uint8, uint16, uint32 or int32 (uint64 ids: relabel to uint32 first)`,
    );
  }
  return data;
}

function binary(data: IntArray): Uint8Array {
  const m = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) m[i] = data[i] !== 0 ? 1 : 0;
  return m;
}

export async function componentsLabelBlock(
  block: Block,
  p: LabelPhaseParams,
  ctx: BlockContext,
): Promise<void> {
  const src = await open(p.input);
  const box = src.boxOf(block.writeRoi);
  let data: IntArray;
  let adjacency: Uint32Array | undefined;
  if (p.adjacency) {
    const grown: VoxelBox = {
      begin: coord(box.begin[0] - 1, box.begin[1] - 1, box.begin[2] - 1),
      shape: coord(box.shape[0] + 2, box.shape[1] + 2, box.shape[2] + 2),
    };
    const around = integerData(await src.readBox(grown, { signal: ctx.signal }), src.describe());
    data = inner(around, grown.shape, box.shape);
    const r = labelBlock(binary(data), box.shape, { ofZeros: p.ofZeros, connectivity: p.connectivity });
    adjacency = neighbourIds(r.labels, r.count, box.shape, around);
    await writeSummary(path.join(p.dir, `${block.id}.bin`), r.summary, adjacency);
    return;
  }
  data = integerData(await src.readBox(box, { signal: ctx.signal }), src.describe());
  const r = labelBlock(binary(data), box.shape, { ofZeros: p.ofZeros, connectivity: p.connectivity });
  await writeSummary(path.join(p.dir, `${block.id}.bin`), r.summary, undefined);
}

export async function componentsApplyBlock(
  block: Block,
  p: ApplyPhaseParams,
  ctx: BlockContext,
): Promise<void> {
  const [src, dst] = await Promise.all([open(p.input), open(p.output)]);
  const box = src.boxOf(block.writeRoi);
  const data = integerData(await src.readBox(box, { signal: ctx.signal }), src.describe());
  const { labels, count } = labelBlock(binary(data), box.shape, {
    ofZeros: p.ofZeros,
    connectivity: p.connectivity,
  });
  const base = p.offsets[block.id];
  const end = p.offsets[block.id + 1];
  if (base === undefined || end === undefined || end - base !== count) {
    throw invalidData(
      `${src.describe()}: block ${block.id} now has ${count} components, the merge saw ${end !== undefined && base !== undefined ? end - base : "none"} (was the input changed during the run?); run again with --overwrite`,
    );
  }
  const out = integerData(allocate(dst.meta.dtype, data.length), dst.describe());
  const t = p.table;
  const b = base - 1;
  if (p.ofZeros) {
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      out[i] = v !== 0 ? v : labels[i] === 0 ? 0 : t[b + labels[i]!]!;
    }
  } else {
    for (let i = 0; i < data.length; i++) {
      const l = labels[i]!;
      out[i] = l !== 0 && t[b + l] !== 0 ? data[i]! : 0;
    }
  }
  await dst.writeBox(dst.boxOf(block.writeRoi), out, { signal: ctx.signal });
}

/** Voxel counts per id in the block, as [id, count, id, count, ...] (ids ascending, 0 left out). */
export async function countIdsBlock(block: Block, p: CountIdsParams, ctx: BlockContext): Promise<number[]> {
  const src = await open(p.input);
  const data = integerData(await src.readRoi(block.writeRoi, { signal: ctx.signal }), src.describe());
  const counts = new Map<number, number>();
  let run = 0;
  let runLength = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v === run) {
      runLength++;
      continue;
    }
    if (run !== 0) counts.set(run, (counts.get(run) ?? 0) + runLength);
    run = v;
    runLength = 1;
  }
  if (run !== 0) counts.set(run, (counts.get(run) ?? 0) + runLength);
  const out: number[] = [];
  for (const id of [...counts.keys()].sort((a, c) => a - c)) out.push(id, counts.get(id)!);
  return out;
}

export async function dropIdsBlock(block: Block, p: DropIdsParams, ctx: BlockContext): Promise<void> {
  const [src, dst] = await Promise.all([open(p.input), open(p.output)]);
  const data = integerData(await src.readRoi(block.writeRoi, { signal: ctx.signal }), src.describe());
  const out = integerData(allocate(dst.meta.dtype, data.length), dst.describe());
  const drop = p.drop;
  let last = -1;
  let lastDropped = false;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v !== last) {
      last = v;
      lastDropped = v !== 0 && sortedHas(drop, v);
    }
    out[i] = lastDropped ? 0 : v;
  }
  await dst.writeBox(dst.boxOf(block.writeRoi), out, { signal: ctx.signal });
}

function sortedHas(a: Uint32Array, v: number): boolean {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const m = a[mid]!;
    if (m === v) return true;
    if (m < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** The block without its one-voxel rim. */
function inner(around: IntArray, grown: Coordinate, shape: Coordinate): IntArray {
  const out = new (around.constructor as new (n: number) => IntArray)(shape[0] * shape[1] * shape[2]);
  copyBox3d(around, grown, coord(1, 1, 1), out, shape, coord(0, 0, 0), shape);
  return out;
}

/**
 * Per local background label: the non-zero id of its 6-neighbours (looking one voxel past the block
 * into `around`), 0 if none, MIXED_ID if several.
 */
function neighbourIds(labels: Uint32Array, count: number, shape: Coordinate, around: IntArray): Uint32Array {
  const adj = new Uint32Array(count + 1);
  const [nz, ny, nx] = shape;
  const gy = ny + 2;
  const gx = nx + 2;
  const gPlane = gy * gx;
  const offsets = new Int32Array([1, -1, gx, -gx, gPlane, -gPlane]);
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        const l = labels[i]!;
        if (l === 0 || adj[l] === MIXED_ID) continue;
        const g = (z + 1) * gPlane + (y + 1) * gx + (x + 1);
        let a = adj[l]!;
        for (let k = 0; k < 6; k++) {
          const v = around[g + offsets[k]!]!;
          if (v === 0 || v === a) continue;
          a = a === 0 ? v : MIXED_ID;
          if (a === MIXED_ID) break;
        }
        adj[l] = a;
      }
    }
  }
  return adj;
}

// ---------------------------------------------------------------------------------------------
// Summary files

const MAGIC = 0x4f524743; // "ORGC"

export async function writeSummary(file: string, s: BlockLabelSummary, adjacency: Uint32Array | undefined) {
  const f = s.faces;
  const header = new Uint32Array([
    MAGIC,
    1,
    s.shape[0],
    s.shape[1],
    s.shape[2],
    s.count,
    adjacency ? 1 : 0,
    0,
  ]);
  const parts: ArrayBufferView[] = [header, s.sizes, s.first, f.zLo, f.zHi, f.yLo, f.yHi, f.xLo, f.xHi];
  if (adjacency) parts.push(adjacency);
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    await fs.promises.writeFile(
      tmp,
      Buffer.concat(parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength))),
    );
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true }).catch(() => {});
    throw fromFsError(e, file, "writing a block label summary");
  }
}

export interface StoredSummary {
  readonly summary: BlockLabelSummary;
  readonly adjacency: Uint32Array | undefined;
}

export async function readSummary(file: string): Promise<StoredSummary> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    throw fromFsError(e, file, "reading a block label summary");
  }
  const ab = new ArrayBuffer(buf.byteLength);
  new Uint8Array(ab).set(buf);
  const h = new Uint32Array(ab, 0, 8);
  if (h[0] !== MAGIC || h[1] !== 1)
    throw invalidData(`${file}: not a block label summary; remove the run with --overwrite`);
  const shape = coord(h[2]!, h[3]!, h[4]!);
  const count = h[5]!;
  let at = 32;
  const f64 = (n: number) => {
    const a = new Float64Array(ab, at, n);
    at += n * 8;
    return a;
  };
  const u32 = (n: number) => {
    const a = new Uint32Array(ab, at, n);
    at += n * 4;
    return a;
  };
  const [sz, sy, sx] = shape;
  const sizes = f64(count + 1);
  const first = f64(count + 1);
  const faces = {
    zLo: u32(sy * sx),
    zHi: u32(sy * sx),
    yLo: u32(sz * sx),
    yHi: u32(sz * sx),
    xLo: u32(sz * sy),
    xHi: u32(sz * sy),
  };
  const adjacency = h[6] ? u32(count + 1) : undefined;
  if (at !== ab.byteLength) throw invalidData(`${file}: block label summary has the wrong size (truncated?)`);
  return { summary: { shape, count, sizes, first, faces }, adjacency };
}
