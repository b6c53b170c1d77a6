/**
 * The compute-only variant of bench/ops-parallel.ts: the same block plans, the same block kernels
 * (src/preprocess/ops-task.ts computeLocalOp, src/ops labelBlockRuns / mergeBlockLabels / holeTable /
 * keepLargeTable / blockLabelMap and the run painters, the CLAHE block functions) and the same
 * worker-thread runner, but inputs and outputs
 * live in SharedArrayBuffers instead of an OME-Zarr store: a block copies its read box out of the
 * shared input and its result into the shared output (row copies, no (de)compression, no files).
 * What this measures is the algorithms plus the block-wise overheads (context, the merge, the
 * runner); the difference to the store-backed run is the store's share.
 *
 * bench/ops-parallel-worker.ts serves MEMORY_TASKS on the worker threads.
 */
import { defineTaskTable } from "../src/blockwise/task-table.ts";
import type { Block, BlockContext, BlockwiseTaskSpec, TaskCall } from "../src/blockwise/types.ts";
import { type Coordinate, coord } from "../src/core/coordinate.ts";
import { copyBox3d } from "../src/core/ndarray.ts";
import { Roi, type VoxelBox } from "../src/core/roi.ts";
import type { BlockGeometry } from "../src/ops/block-geometry.ts";
import {
  type ClaheParams,
  claheBlockRaw,
  claheFinish,
  claheRawRange,
  claheReadBox,
} from "../src/ops/clahe.ts";
import {
  type BlockLabelSummary,
  blockLabelMap,
  checkMap,
  labelBlockRuns,
  mergeBlockLabels,
  paintRunLabels,
  type RunLabels,
} from "../src/ops/connected-components.ts";
import { holeTable } from "../src/ops/fill-holes.ts";
import { keepLargeTable } from "../src/ops/remove-small.ts";
import { paintRunsMask } from "../src/ops/runs.ts";
import { valueRange } from "../src/ops/threshold.ts";
import { type Connectivity, intersectBoxes } from "../src/ops/volume3d.ts";
import { computeLocalOp, type LocalOp, localOpContext } from "../src/preprocess/ops-task.ts";
import { allocate, type DType, type VoxelArray, viewOf } from "../src/store/dtype.ts";

/** A whole volume in shared memory (structured clone passes the buffer, not a copy). */
export interface SharedVolume {
  readonly buffer: SharedArrayBuffer;
  readonly dtype: DType;
  readonly shape: Coordinate;
  readonly voxelSize: Coordinate;
}

export function sharedVolume(
  data: VoxelArray | undefined,
  dtype: DType,
  shape: Coordinate,
  voxelSize: Coordinate,
) {
  const n = shape[0] * shape[1] * shape[2];
  const view = allocate(dtype, n, true);
  if (data) (view as Uint8Array).set(data as Uint8Array);
  return { volume: { buffer: view.buffer as SharedArrayBuffer, dtype, shape, voxelSize }, view };
}

const ORIGIN = coord(0, 0, 0);
const boxOf = (v: SharedVolume, roi: Roi): VoxelBox => roi.toVoxels(v.voxelSize, ORIGIN);

function readBox(v: SharedVolume, box: VoxelBox): VoxelArray {
  const out = allocate(v.dtype, box.shape[0] * box.shape[1] * box.shape[2]);
  copyBox3d(viewOf(v.dtype, v.buffer), v.shape, box.begin, out, box.shape, ORIGIN, box.shape);
  return out;
}

function writeBox(v: SharedVolume, box: VoxelBox, data: VoxelArray): void {
  copyBox3d(data, box.shape, ORIGIN, viewOf(v.dtype, v.buffer), v.shape, box.begin, box.shape);
}

// ---------------------------------------------------------------------------------------------
// Block functions

interface LocalParams {
  readonly input: SharedVolume;
  readonly output: SharedVolume;
  readonly op: LocalOp;
}

async function localBlock(block: Block, p: LocalParams, _ctx: BlockContext): Promise<void> {
  const volumeShape = p.input.shape;
  const read = intersectBoxes(boxOf(p.input, block.readRoi), { begin: ORIGIN, shape: volumeShape });
  const write = boxOf(p.input, block.writeRoi);
  const geometry: BlockGeometry = { volumeShape, read, write };
  const result = computeLocalOp(
    p.op,
    readBox(p.input, read),
    geometry,
    p.input.voxelSize,
    p.output.dtype,
    "memory",
  );
  writeBox(p.output, write, result);
}

interface LabelParams {
  readonly input: SharedVolume;
  readonly ofZeros: boolean;
  readonly connectivity: Connectivity;
}

/**
 * A block's runs and local ids in shared memory: the label phase hands them back with the summary
 * (structured clone shares the buffers), the apply phase paints from them on whichever thread gets
 * the block — as the store-backed run saves them to a file next to the summary.
 */
function shareRunLabels(rl: RunLabels): RunLabels {
  const share = (a: Int32Array, n: number) => {
    const b = new Int32Array(new SharedArrayBuffer(4 * n));
    b.set(a.subarray(0, n));
    return b;
  };
  const { runs } = rl;
  const c = runs.count;
  return {
    runs: {
      shape: runs.shape,
      rowStart: share(runs.rowStart, runs.rowStart.length),
      x0: share(runs.x0, c),
      x1: share(runs.x1, c),
      count: c,
    },
    runLabel: share(rl.runLabel, c),
    count: rl.count,
  };
}

interface LabelledBlock {
  readonly summary: BlockLabelSummary;
  readonly runLabels: RunLabels;
}

async function labelSummaryBlock(block: Block, p: LabelParams): Promise<LabelledBlock> {
  const box = boxOf(p.input, block.writeRoi);
  const mask = readBox(p.input, box) as Uint8Array;
  const r = labelBlockRuns(mask, box.shape, { ofZeros: p.ofZeros, connectivity: p.connectivity });
  return { summary: r.summary, runLabels: shareRunLabels(r.runLabels) };
}

interface ApplyParams {
  readonly input: SharedVolume;
  readonly output: SharedVolume;
  readonly how: "keep" | "fill" | "relabel";
  /** Per block: its runs and local ids from the label phase. */
  readonly blocks: readonly RunLabels[];
  /** Per block: keep / fill table, or the local-to-global label map. */
  readonly tables: readonly (Uint8Array | Uint32Array)[];
}

async function applyBlock(block: Block, p: ApplyParams): Promise<void> {
  const box = boxOf(p.input, block.writeRoi);
  const rl = p.blocks[block.id]!;
  const table = p.tables[block.id]!;
  checkMap(rl, table, "memory apply");
  // painted straight into the shared output: the runs write every voxel of the block once
  const at = { shape: p.output.shape, begin: box.begin };
  const out = viewOf(p.output.dtype, p.output.buffer);
  // the shared output is fresh (all zero): paint only what is not 0
  if (p.how === "relabel") paintRunLabels(rl, out as Uint32Array, table as Uint32Array, at, true);
  else {
    const gap = p.how === "fill" ? 1 : 0;
    paintRunsMask(rl.runs, rl.runLabel, table as Uint8Array, gap, out as Uint8Array, at, true);
  }
}

async function claheRangeBlock(block: Block, p: { input: SharedVolume }): Promise<[number, number]> {
  return valueRange(readBox(p.input, boxOf(p.input, block.writeRoi)) as Uint8Array);
}

interface ClaheRawParams {
  readonly input: SharedVolume;
  readonly raw: SharedVolume;
  readonly params: ClaheParams;
  readonly inputRange: readonly [number, number];
}

async function claheRawBlock(block: Block, p: ClaheRawParams): Promise<[number, number]> {
  const write = boxOf(p.input, block.writeRoi);
  const read = claheReadBox(write, p.input.shape, p.params);
  const input = readBox(p.input, read) as Uint8Array;
  const raw = claheBlockRaw(input, { volumeShape: p.input.shape, read, write }, p.params, p.inputRange);
  writeBox(p.raw, write, raw);
  return claheRawRange(raw);
}

interface ClaheFinishParams {
  readonly raw: SharedVolume;
  readonly output: SharedVolume;
  readonly rawRange: readonly [number, number];
}

async function claheFinishBlock(block: Block, p: ClaheFinishParams): Promise<void> {
  const box = boxOf(p.raw, block.writeRoi);
  writeBox(p.output, box, claheFinish(readBox(p.raw, box) as Uint16Array, p.rawRange, "uint8"));
}

export const MEMORY_TASKS = defineTaskTable({
  "mem.apply": applyBlock,
  "mem.claheFinish": claheFinishBlock,
  "mem.claheRange": claheRangeBlock,
  "mem.claheRaw": claheRawBlock,
  "mem.label": labelSummaryBlock,
  "mem.local": localBlock,
});

// ---------------------------------------------------------------------------------------------
// Drivers (main thread): the phases of each algorithm, as src/preprocess runs them on a store

export type Run = <P>(spec: BlockwiseTaskSpec, call: TaskCall<P>) => Promise<ReadonlyMap<number, unknown>>;

function spec(
  name: string,
  v: SharedVolume,
  blockVoxels: Coordinate,
  context: Coordinate,
): BlockwiseTaskSpec {
  const vs = v.voxelSize;
  const nm = (c: Coordinate) => coord(c[0] * vs[0], c[1] * vs[1], c[2] * vs[2]);
  const block = coord(
    Math.min(blockVoxels[0], v.shape[0]),
    Math.min(blockVoxels[1], v.shape[1]),
    Math.min(blockVoxels[2], v.shape[2]),
  );
  return {
    name,
    totalWriteRoi: Roi.fromVoxels({ begin: ORIGIN, shape: v.shape }, vs),
    blockShape: nm(block),
    context: nm(context),
    voxelSize: vs,
  };
}

export async function memoryLocalOp(
  run: Run,
  op: LocalOp,
  input: SharedVolume,
  output: SharedVolume,
  blockVoxels: Coordinate,
): Promise<void> {
  const s = spec(`memory ${op.op}`, input, blockVoxels, localOpContext(op, input.voxelSize));
  await run(s, { fn: "mem.local", params: { input, output, op } });
}

export type ComponentOp =
  | { readonly how: "fill"; readonly connectivity: Connectivity }
  | { readonly how: "keep"; readonly connectivity: Connectivity; readonly minSize: number }
  | { readonly how: "relabel"; readonly connectivity: Connectivity };

export async function memoryComponents(
  run: Run,
  op: ComponentOp,
  input: SharedVolume,
  output: SharedVolume,
  edge: number,
): Promise<void> {
  const blockVoxels = coord(edge, edge, edge);
  const s = spec(`memory components`, input, blockVoxels, ORIGIN);
  const ofZeros = op.how === "fill";
  const label: LabelParams = { input, ofZeros, connectivity: op.connectivity };
  const values = await run(s, { fn: "mem.label", params: label });
  const labelled = [...values.keys()].sort((a, b) => a - b).map((k) => values.get(k) as LabelledBlock);
  const summaries = labelled.map((l) => l.summary);
  const merge = mergeBlockLabels(input.shape, blockVoxels, summaries, op.connectivity);
  const tables = summaries.map((_, b) =>
    op.how === "relabel"
      ? blockLabelMap(merge, b)
      : op.how === "fill"
        ? holeTable(merge, b)
        : keepLargeTable(merge, b, op.minSize),
  );
  const blocks = labelled.map((l) => l.runLabels);
  const apply: ApplyParams = { input, output, how: op.how, blocks, tables };
  await run(s, { fn: "mem.apply", params: apply });
}

export async function memoryClahe(
  run: Run,
  params: ClaheParams,
  input: SharedVolume,
  output: SharedVolume,
  edge: number,
): Promise<void> {
  const s = spec("memory clahe", input, coord(edge, edge, edge), ORIGIN);
  const reduce = (values: ReadonlyMap<number, unknown>): [number, number] => {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const v of values.values()) {
      const [a, b] = v as [number, number];
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
    }
    return [lo, hi];
  };
  const inputRange = reduce(await run(s, { fn: "mem.claheRange", params: { input } }));
  const raw = sharedVolume(undefined, "uint16", input.shape, input.voxelSize).volume;
  const rawParams: ClaheRawParams = { input, raw, params, inputRange };
  const rawRange = reduce(await run(s, { fn: "mem.claheRaw", params: rawParams }));
  const finish: ClaheFinishParams = { raw, output, rawRange };
  await run(s, { fn: "mem.claheFinish", params: finish });
}
