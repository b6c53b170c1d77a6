import * as fs from "node:fs";
import * as path from "node:path";
import type { Block, BlockContext } from "../blockwise/types.ts";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { fromFsError, invalidArgument, invalidData } from "../core/errors.ts";
import { copyBox3d } from "../core/ndarray.ts";
import type { VoxelBox } from "../core/roi.ts";
import {
  type BlockLabelSummary,
  type FaceRuns,
  labelBlockRuns,
  type RunLabels,
} from "../ops/connected-components.ts";
import { paintRunsOverData, paintRunValues, type RowRuns } from "../ops/runs.ts";
import type { Connectivity } from "../ops/volume3d.ts";
import { allocate, type VoxelArray } from "../store/dtype.ts";
import { Volume } from "../store/volume.ts";
import type { ArrayRef } from "./clahe-task.ts";

/*
 * Block functions of the global connected-component steps (remove small objects, fill holes) that
 * `organelle mask` and `organelle gt clean` run on volumes of any size, after the block-wise merge of
 * src/ops/connected-components.ts:
 *
 *   components.label  labels a block on its own (foreground, or background for holes), once, and
 *                     saves what the merge needs (sizes, first voxels, the six faces as runs; for
 *                     instance labels also the one id around each background piece) and, with
 *                     `keepRuns`, the block's runs and their local ids to `<dir>/<block id>.bin`;
 *   (the caller merges all blocks and turns the global components into one value per local label)
 *   components.apply  paints the values from the saved runs; it reads the input again only when the
 *                     block's non-zero voxels are not all one value (instance labels keep their ids).
 *   components.countIds / components.dropIds  the same for instance labels judged per id.
 *
 * Summaries go to files rather than the journal: runs are binary arrays, too big for JSON.
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
  /** Also save the block's runs and local ids, for components.apply (default false). */
  readonly keepRuns?: boolean;
}

export interface ApplyPhaseParams {
  readonly input: ArrayRef;
  readonly output: ArrayRef;
  readonly ofZeros: boolean;
  /** Directory of the label phase's summary files (saved with `keepRuns`). */
  readonly dir: string;
  /**
   * Paint each local label's table value as it is (global component ids into a uint32 output)
   * instead of keeping or filling the input's values. Default false.
   */
  readonly relabel?: boolean;
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

/** The block as a mask (non-zero = foreground): uint8 data as it is, wider ids compared with 0. */
function maskOf(data: IntArray): Uint8Array {
  if (data instanceof Uint8Array) return data;
  const m = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) m[i] = data[i] !== 0 ? 1 : 0;
  return m;
}

/**
 * The one value of the block's non-zero voxels (0 if it has none), or MIXED_ID when they differ;
 * only the foreground spans are read (the runs, or the gaps between them when the runs are the
 * background).
 */
function uniformValue(data: IntArray, runs: RowRuns, ofZeros: boolean): number {
  const { rowStart, x0, x1 } = runs;
  const nx = runs.shape[2];
  const rows = rowStart.length - 1;
  // uint8 data is compared four voxels at a time
  const words =
    data instanceof Uint8Array && (data.byteOffset & 3) === 0
      ? new Int32Array(data.buffer, data.byteOffset, data.length >>> 2)
      : undefined;
  let v = 0;
  let v4 = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * nx;
    let pos = o;
    const e = rowStart[r + 1]!;
    for (let i = rowStart[r]!; i <= e; i++) {
      // foreground span: the run i (runs of the foreground), or the gap before it (runs of the
      // background; i === e: the gap after the row's last run)
      let s: number;
      let t: number;
      if (ofZeros) {
        s = pos;
        t = i < e ? o + x0[i]! : o + nx;
        if (i < e) pos = o + x1[i]!;
      } else {
        if (i === e) break;
        s = o + x0[i]!;
        t = o + x1[i]!;
      }
      if (s === t) continue;
      if (v === 0) {
        v = data[s]!;
        v4 = (v * 0x01010101) | 0;
      }
      if (!(words ? bytesAre(data as Uint8Array, words, s, t, v, v4) : spanIs(data, s, t, v)))
        return MIXED_ID;
    }
  }
  return v;
}

function spanIs(data: IntArray, s: number, t: number, v: number): boolean {
  for (let k = s; k < t; k++) if (data[k] !== v) return false;
  return true;
}

/** data[s..t) all equal v (v4: v in each byte of a word); whole aligned words compared at once. */
function bytesAre(data: Uint8Array, words: Int32Array, s: number, t: number, v: number, v4: number): boolean {
  let k = s;
  while (k < t && (k & 3) !== 0) if (data[k++] !== v) return false;
  const kEnd = t >>> 2;
  for (let w = k >>> 2; w < kEnd; w++) if (words[w] !== v4) return false;
  for (k = Math.max(k, kEnd << 2); k < t; k++) if (data[k] !== v) return false;
  return true;
}

export async function componentsLabelBlock(
  block: Block,
  p: LabelPhaseParams,
  ctx: BlockContext,
): Promise<void> {
  const src = await open(p.input);
  const box = src.boxOf(block.writeRoi);
  const options = { ofZeros: p.ofZeros, connectivity: p.connectivity };
  const file = path.join(p.dir, `${block.id}.bin`);
  let data: IntArray;
  let around: IntArray | undefined;
  if (p.adjacency) {
    const grown: VoxelBox = {
      begin: coord(box.begin[0] - 1, box.begin[1] - 1, box.begin[2] - 1),
      shape: coord(box.shape[0] + 2, box.shape[1] + 2, box.shape[2] + 2),
    };
    around = integerData(await src.readBox(grown, { signal: ctx.signal }), src.describe());
    data = inner(around, grown.shape, box.shape);
  } else {
    data = integerData(await src.readBox(box, { signal: ctx.signal }), src.describe());
  }
  const { runLabels, summary } = labelBlockRuns(maskOf(data), box.shape, options);
  const adjacency = around ? neighbourIds(runLabels, box.shape, around) : undefined;
  const kept = p.keepRuns ? { runLabels, value: uniformValue(data, runLabels.runs, p.ofZeros) } : undefined;
  await writeSummary(file, summary, adjacency, kept);
}

export async function componentsApplyBlock(
  block: Block,
  p: ApplyPhaseParams,
  ctx: BlockContext,
): Promise<void> {
  const [src, dst] = await Promise.all([open(p.input), open(p.output)]);
  const file = path.join(p.dir, `${block.id}.bin`);
  const stored = await readSummary(file, true);
  const kept = stored.kept;
  if (!kept) {
    throw invalidData(
      `${file}: the block's runs were not saved by the label phase; run again with --overwrite`,
    );
  }
  const { runLabels, value } = kept;
  const count = runLabels.count;
  const base = p.offsets[block.id];
  const end = p.offsets[block.id + 1];
  if (base === undefined || end === undefined || end - base !== count) {
    throw invalidData(
      `${src.describe()}: block ${block.id} has ${count} components, the merge saw ${end !== undefined && base !== undefined ? end - base : "none"} (was the input changed during the run?); run again with --overwrite`,
    );
  }
  const box = dst.boxOf(block.writeRoi);
  const n = box.shape[0] * box.shape[1] * box.shape[2];
  if (runLabels.runs.shape.some((v, d) => v !== box.shape[d])) {
    throw invalidData(
      `${file}: block ${block.id} was labelled with another shape; run again with --overwrite`,
    );
  }
  const out = integerData(allocate(dst.meta.dtype, n), dst.describe());
  // value of each local label: the table's entries for this block
  const values = new Uint32Array(count + 1);
  values.set(p.table.subarray(base, end), 1);
  if (p.relabel) {
    if (p.ofZeros || dst.meta.dtype !== "uint32") {
      throw invalidArgument(`${dst.describe()}: component ids of the foreground are written as uint32`);
    }
    paintRunValues(runLabels.runs, runLabels.runLabel, values, 0, out);
  } else if (value !== MIXED_ID) {
    // every non-zero voxel is `value`: the output follows from the runs alone
    if (p.ofZeros) paintRunValues(runLabels.runs, runLabels.runLabel, values, value, out);
    else {
      const keep = new Uint32Array(values.length);
      for (let l = 1; l < keep.length; l++) keep[l] = values[l] !== 0 ? value : 0;
      paintRunValues(runLabels.runs, runLabels.runLabel, keep, 0, out);
    }
  } else {
    const data = integerData(
      await src.readBox(src.boxOf(block.writeRoi), { signal: ctx.signal }),
      src.describe(),
    );
    paintRunsOverData(runLabels.runs, runLabels.runLabel, values, data, !p.ofZeros, out);
  }
  await dst.writeBox(box, out, { signal: ctx.signal });
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
 * into `around`), 0 if none, MIXED_ID if several. Walks the background runs; within a run only the
 * run's two ends can meet a non-zero voxel along x.
 */
function neighbourIds(rl: RunLabels, shape: Coordinate, around: IntArray): Uint32Array {
  const adj = new Uint32Array(rl.count + 1);
  const [, ny, nx] = shape;
  const gy = ny + 2;
  const gx = nx + 2;
  const gPlane = gy * gx;
  const { rowStart, x0, x1 } = rl.runs;
  const rows = rowStart.length - 1;
  const offsets = [gx, -gx, gPlane, -gPlane];
  for (let r = 0; r < rows; r++) {
    const z = Math.floor(r / ny);
    const y = r - z * ny;
    const g0 = (z + 1) * gPlane + (y + 1) * gx + 1;
    for (let i = rowStart[r]!, e = rowStart[r + 1]!; i < e; i++) {
      const l = rl.runLabel[i]!;
      let a = adj[l]!;
      if (a === MIXED_ID) continue;
      const s = g0 + x0[i]!;
      const t = g0 + x1[i]!;
      const before = around[s - 1]!;
      if (before !== 0 && before !== a) a = a === 0 ? before : MIXED_ID;
      const after = around[t]!;
      if (after !== 0 && after !== a) a = a === 0 ? after : MIXED_ID;
      for (let k = 0; k < 4 && a !== MIXED_ID; k++) {
        const d = offsets[k]!;
        for (let g = s + d, ge = t + d; g < ge; g++) {
          const v = around[g]!;
          if (v !== 0 && v !== a) {
            a = a === 0 ? v : MIXED_ID;
            if (a === MIXED_ID) break;
          }
        }
      }
      adj[l] = a;
    }
  }
  return adj;
}

// ---------------------------------------------------------------------------------------------
// Summary files

const MAGIC = 0x4f524743; // "ORGC"
const VERSION = 2;
const FACE_NAMES = ["zLo", "zHi", "yLo", "yHi", "xLo", "xHi"] as const;

/** A block's runs kept by the label phase, and the one value of its non-zero voxels (MIXED_ID: several). */
export interface KeptRuns {
  readonly runLabels: RunLabels;
  readonly value: number;
}

/**
 * Layout: 16 uint32 (magic, version, shape, count, flags, value, the six faces' run counts, the
 * block's run count, 0), sizes and first (float64, count+1 each), per face rowStart/v0/v1/label
 * (int32), the adjacency (uint32, count+1) if flagged, the runs (rowStart, x0, x1, runLabel; int32)
 * if flagged.
 */
export async function writeSummary(
  file: string,
  s: BlockLabelSummary,
  adjacency: Uint32Array | undefined,
  kept?: KeptRuns,
) {
  const faces = FACE_NAMES.map((k) => s.faces[k]);
  const header = new Uint32Array([
    MAGIC,
    VERSION,
    s.shape[0],
    s.shape[1],
    s.shape[2],
    s.count,
    (adjacency ? 1 : 0) | (kept ? 2 : 0),
    kept?.value ?? 0,
    ...faces.map((f) => f.label.length),
    kept?.runLabels.runs.count ?? 0,
    0,
  ]);
  const parts: ArrayBufferView[] = [header, s.sizes, s.first];
  for (const f of faces) parts.push(f.rowStart, f.v0, f.v1, f.label);
  if (adjacency) parts.push(adjacency);
  if (kept) {
    const { runs, runLabel } = kept.runLabels;
    const c = runs.count;
    parts.push(runs.rowStart, runs.x0.subarray(0, c), runs.x1.subarray(0, c), runLabel.subarray(0, c));
  }
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
  readonly kept: KeptRuns | undefined;
}

/**
 * Reads a summary file; the block's runs only with `withRuns` (the merge on the main thread needs
 * the small part, the apply phase one block's runs).
 */
export async function readSummary(file: string, withRuns = false): Promise<StoredSummary> {
  let buf: Buffer;
  try {
    buf = withRuns ? await fs.promises.readFile(file) : await readSummaryPart(file);
  } catch (e) {
    throw fromFsError(e, file, "reading a block label summary");
  }
  const ab = new ArrayBuffer(buf.byteLength);
  new Uint8Array(ab).set(buf);
  const bad = () =>
    invalidData(`${file}: not a block label summary of this version; run again with --overwrite`);
  if (ab.byteLength < 64) throw bad();
  const h = new Uint32Array(ab, 0, 16);
  if (h[0] !== MAGIC || h[1] !== VERSION) throw bad();
  const shape = coord(h[2]!, h[3]!, h[4]!);
  const count = h[5]!;
  const flags = h[6]!;
  let at = 64;
  const take = <T>(n: number, bytes: number, make: (at: number, n: number) => T): T => {
    if (at + n * bytes > ab.byteLength) throw invalidData(`${file}: block label summary is truncated`);
    const a = make(at, n);
    at += n * bytes;
    return a;
  };
  const f64 = (n: number) => take(n, 8, (o, k) => new Float64Array(ab, o, k));
  const i32 = (n: number) => take(n, 4, (o, k) => new Int32Array(ab, o, k));
  const [sz, sy] = shape;
  const sizes = f64(count + 1);
  const first = f64(count + 1);
  const faceRows = [sy, sy, sz, sz, sz, sz];
  const faceList = FACE_NAMES.map((_, k) => {
    const runs = h[8 + k]!;
    return { rowStart: i32(faceRows[k]! + 1), v0: i32(runs), v1: i32(runs), label: i32(runs) };
  });
  const [zLo, zHi, yLo, yHi, xLo, xHi] = faceList as [
    FaceRuns,
    FaceRuns,
    FaceRuns,
    FaceRuns,
    FaceRuns,
    FaceRuns,
  ];
  const adjacency = flags & 1 ? take(count + 1, 4, (o, k) => new Uint32Array(ab, o, k)) : undefined;
  let kept: KeptRuns | undefined;
  if (withRuns && flags & 2) {
    const c = h[14]!;
    const rowStart = i32(sz * sy + 1);
    const runs: RowRuns = { shape, rowStart, x0: i32(c), x1: i32(c), count: c };
    kept = { runLabels: { runs, runLabel: i32(c), count }, value: h[7]! };
  }
  if (at !== ab.byteLength && (withRuns || !(flags & 2))) {
    throw invalidData(`${file}: block label summary has the wrong size`);
  }
  return {
    summary: { shape, count, sizes, first, faces: { zLo, zHi, yLo, yHi, xLo, xHi } },
    adjacency,
    kept,
  };
}

/** The file up to its runs: the header says how long that part is. */
async function readSummaryPart(file: string): Promise<Buffer> {
  const fh = await fs.promises.open(file, "r");
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await fh.read(head, 0, 64, 0);
    if (bytesRead < 64) return head.subarray(0, bytesRead);
    const h = new Uint32Array(head.buffer, head.byteOffset, 16);
    const [sz, sy] = [h[2]!, h[3]!];
    const count = h[5]!;
    const faceRows = [sy, sy, sz, sz, sz, sz];
    let bytes = 64 + 16 * (count + 1);
    for (let k = 0; k < 6; k++) bytes += 4 * (faceRows[k]! + 1 + 3 * h[8 + k]!);
    if (h[6]! & 1) bytes += 4 * (count + 1);
    const buf = Buffer.alloc(bytes);
    const r = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, r.bytesRead);
  } finally {
    await fh.close();
  }
}
