import * as path from "node:path";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import {
  type BlockLabelMerge,
  type BlockLabelSummary,
  mergeBlockLabels,
} from "../ops/connected-components.ts";
import { holeTable } from "../ops/fill-holes.ts";
import { keepLargeTable } from "../ops/remove-small.ts";
import type { Connectivity } from "../ops/volume3d.ts";
import type { Volume } from "../store/volume.ts";
import type { ArrayRef } from "./clahe-task.ts";
import {
  type ApplyPhaseParams,
  type CountIdsParams,
  type DropIdsParams,
  type LabelPhaseParams,
  MIXED_ID,
  readSummary,
} from "./components-task.ts";
import { arraySpec, type JobContext, runPhase, tmpContainerPath } from "./jobs.ts";

/*
 * Global connected-component steps on volumes of any size, exact (equal to the whole-volume
 * scipy/skimage result), through the block-wise runner:
 *
 * 1. label every block on its own, once, and save its summary (sizes, first voxels, faces as runs)
 *    and its runs to a file;
 * 2. merge the summaries on this thread (src/ops/connected-components.ts mergeBlockLabels): global
 *    components with their total sizes and whether they touch the volume border;
 * 3. decide per global component (keep / drop, fill / leave) and send each block the value of each of
 *    its local labels; every block paints them from the runs its label phase saved (no second
 *    labelling; the input is read again only for instance labels, whose ids the output keeps).
 *
 * Instance labels (uint16/uint32 ids): "remove small objects" judges each id by its total voxel count
 * (skimage remove_small_objects on integer input); "fill holes" fills a hole with the id around it
 * when exactly one id touches it (a hole between two objects is left alone).
 *
 * Memory: the merge holds every block's six faces as runs (16 bytes per run crossing a face, and 4
 * bytes per face row), so a few bytes per face voxel at worst; the blocks' runs stay in their summary
 * files until the apply phase reads them back one block at a time.
 */

export interface RemoveSmallStage {
  readonly op: "removeSmall";
  /** Objects with fewer voxels than this are removed. */
  readonly minSize: number;
  readonly connectivity: Connectivity;
  readonly instances: boolean;
}

export interface FillHolesStage {
  readonly op: "fillHoles";
  /** Holes with fewer voxels than this are filled (Infinity: all). */
  readonly smallerThan: number;
  /** Count background pieces touching the volume border as holes (skimage remove_small_holes). */
  readonly includeBorder: boolean;
  readonly connectivity: Connectivity;
  readonly instances: boolean;
}

export type ComponentStage = RemoveSmallStage | FillHolesStage;

export interface StageReport {
  readonly stage: ComponentStage;
  /** Objects (or holes / background pieces) found. */
  readonly found: number;
  /** Of them removed (or filled). */
  readonly changed: number;
  /** Voxels in the changed objects. */
  readonly voxels: number;
}

export interface StagePhases {
  readonly report: StageReport;
  readonly phases: { spec: BlockwiseTaskSpec; call: TaskCall }[];
}

/** Block shape in voxels of a chunk-aligned spec (as the runner and the merge both tile it). */
function blockVoxels(spec: BlockwiseTaskSpec, vol: Volume): Coordinate {
  const vs = vol.meta.voxelSize;
  return coord(
    Math.round(spec.blockShape[0] / vs[0]),
    Math.round(spec.blockShape[1] / vs[1]),
    Math.round(spec.blockShape[2] / vs[2]),
  );
}

/**
 * Runs one stage from `input` (whose volume is `vol`) to `output` (an array of the same grid).
 * `tag` tells the stage's files apart within the job.
 */
export async function runComponentStage(
  job: JobContext,
  stage: ComponentStage,
  vol: Volume,
  input: ArrayRef,
  output: ArrayRef,
  edge: number,
  tag: string,
): Promise<StagePhases> {
  checkStage(stage);
  if (stage.op === "removeSmall" && stage.instances)
    return removeSmallIds(job, stage, vol, input, output, edge, tag);
  const ofZeros = stage.op === "fillHoles";
  const adjacency = stage.op === "fillHoles" && stage.instances;
  const dir = path.join(tmpContainerPath(job.datasetPath, job.key), "summaries", tag);
  const what = stage.op === "fillHoles" ? "fill holes" : "remove small objects";
  const labelSpec = arraySpec(`${what}: label blocks`, vol, edge, coord(0, 0, 0));
  const labelCall: TaskCall<LabelPhaseParams> = {
    fn: "components.label",
    params: { input, ofZeros, connectivity: stage.connectivity, dir, adjacency, keepRuns: true },
  };
  const labelled = await runPhase(job, labelSpec, labelCall);
  const summaries: BlockLabelSummary[] = [];
  const adjacencies: (Uint32Array | undefined)[] = [];
  for (let b = 0; b < labelled.blocks; b++) {
    const s = await readSummary(path.join(dir, `${b}.bin`));
    summaries.push(s.summary);
    adjacencies.push(s.adjacency);
  }
  const merge = mergeBlockLabels(vol.meta.shape, blockVoxels(labelSpec, vol), summaries, stage.connectivity);
  const { table, changed, voxels } =
    stage.op === "removeSmall"
      ? removalTable(merge, summaries.length, stage.minSize)
      : adjacency
        ? instanceHoleTable(merge, adjacencies, stage)
        : binaryHoleTable(merge, summaries.length, stage);
  const applySpec = arraySpec(`${what}: apply`, vol, edge);
  const applyCall: TaskCall<ApplyPhaseParams> = {
    fn: "components.apply",
    params: {
      input,
      output,
      ofZeros,
      dir,
      table,
      offsets: merge.offsets,
      run: `${job.key}/${tag}`,
    },
  };
  await runPhase(job, applySpec, applyCall);
  return {
    report: { stage, found: merge.count, changed, voxels },
    phases: [
      { spec: labelSpec, call: labelCall },
      { spec: applySpec, call: applyCall },
    ],
  };
}

function checkStage(s: ComponentStage): void {
  const size = s.op === "removeSmall" ? s.minSize : s.smallerThan;
  if (!(size >= 0)) throw invalidArgument(`${s.op}: size ${size} must be a number of voxels >= 0`);
  if (s.connectivity !== 6 && s.connectivity !== 18 && s.connectivity !== 26) {
    throw invalidArgument(`connectivity ${s.connectivity}: must be 6, 18 or 26`);
  }
}

function flatTable(merge: BlockLabelMerge, blocks: number, perBlock: (b: number) => Uint8Array): Uint32Array {
  const table = new Uint32Array(merge.offsets[blocks]!);
  for (let b = 0; b < blocks; b++) {
    const t = perBlock(b);
    const base = merge.offsets[b]!;
    for (let l = 1; l < t.length; l++) table[base + l - 1] = t[l]!;
  }
  return table;
}

function removalTable(merge: BlockLabelMerge, blocks: number, minSize: number) {
  const table = flatTable(merge, blocks, (b) => keepLargeTable(merge, b, minSize));
  let changed = 0;
  let voxels = 0;
  for (let g = 1; g <= merge.count; g++) {
    if (merge.sizes[g]! < minSize) {
      changed++;
      voxels += merge.sizes[g]!;
    }
  }
  return { table, changed, voxels };
}

function isHole(merge: BlockLabelMerge, g: number, s: FillHolesStage): boolean {
  return (s.includeBorder || merge.touchesBorder[g] === 0) && merge.sizes[g]! < s.smallerThan;
}

function binaryHoleTable(merge: BlockLabelMerge, blocks: number, s: FillHolesStage) {
  const opts = { smallerThan: s.smallerThan, includeBorder: s.includeBorder };
  const table = flatTable(merge, blocks, (b) => holeTable(merge, b, opts));
  let changed = 0;
  let voxels = 0;
  for (let g = 1; g <= merge.count; g++) {
    if (isHole(merge, g, s)) {
      changed++;
      voxels += merge.sizes[g]!;
    }
  }
  return { table, changed, voxels };
}

/** A hole takes the one id around it; holes touched by several ids (or none) stay background. */
function instanceHoleTable(
  merge: BlockLabelMerge,
  adjacencies: readonly (Uint32Array | undefined)[],
  s: FillHolesStage,
) {
  const around = new Uint32Array(merge.count + 1);
  for (let b = 0; b < adjacencies.length; b++) {
    const adj = adjacencies[b]!;
    const base = merge.offsets[b]!;
    for (let l = 1; l < adj.length; l++) {
      const g = merge.globalOf[base + l - 1]!;
      const a = adj[l]!;
      const cur = around[g]!;
      if (a === 0 || a === cur || cur === MIXED_ID) continue;
      around[g] = cur === 0 ? a : MIXED_ID;
    }
  }
  const fill = new Uint32Array(merge.count + 1);
  let changed = 0;
  let voxels = 0;
  for (let g = 1; g <= merge.count; g++) {
    const id = around[g]!;
    if (id !== 0 && id !== MIXED_ID && isHole(merge, g, s)) {
      fill[g] = id;
      changed++;
      voxels += merge.sizes[g]!;
    }
  }
  const table = new Uint32Array(merge.offsets[adjacencies.length]!);
  for (let i = 0; i < table.length; i++) table[i] = fill[merge.globalOf[i]!]!;
  return { table, changed, voxels };
}

async function removeSmallIds(
  job: JobContext,
  stage: RemoveSmallStage,
  vol: Volume,
  input: ArrayRef,
  output: ArrayRef,
  edge: number,
  tag: string,
): Promise<StagePhases> {
  const countSpec = arraySpec("remove small objects: count ids", vol, edge);
  const countCall: TaskCall<CountIdsParams> = { fn: "components.countIds", params: { input } };
  const counted = await runPhase(job, countSpec, countCall);
  const totals = new Map<number, number>();
  for (const v of counted.values.values()) {
    const pairs = v as number[];
    for (let i = 0; i < pairs.length; i += 2)
      totals.set(pairs[i]!, (totals.get(pairs[i]!) ?? 0) + pairs[i + 1]!);
  }
  const drop: number[] = [];
  let voxels = 0;
  for (const [id, n] of totals) {
    if (n < stage.minSize) {
      drop.push(id);
      voxels += n;
    }
  }
  drop.sort((a, b) => a - b);
  const dropSpec = arraySpec("remove small objects: apply", vol, edge);
  const dropCall: TaskCall<DropIdsParams> = {
    fn: "components.dropIds",
    params: { input, output, drop: Uint32Array.from(drop), run: `${job.key}/${tag}` },
  };
  await runPhase(job, dropSpec, dropCall);
  return {
    report: { stage, found: totals.size, changed: drop.length, voxels },
    phases: [
      { spec: countSpec, call: countCall },
      { spec: dropSpec, call: dropCall },
    ],
  };
}

/**
 * Connected components of the non-zero voxels of `input` into the uint32 array `output`, ids as
 * scipy.ndimage.label gives them on the whole volume: every block labelled once (its runs saved),
 * the faces merged here, the global ids painted from the saved runs (no second labelling, no second
 * read of the input). Blocks are cubes of about `edge` voxels (whole chunks); `tag` tells this run's
 * files apart within the job.
 */
export async function runComponentLabelling(
  job: JobContext,
  vol: Volume,
  input: ArrayRef,
  output: ArrayRef,
  connectivity: Connectivity,
  edge: number,
  tag: string,
): Promise<{ count: number; phases: { spec: BlockwiseTaskSpec; call: TaskCall }[] }> {
  if (connectivity !== 6 && connectivity !== 18 && connectivity !== 26) {
    throw invalidArgument(`connectivity ${connectivity}: must be 6, 18 or 26`);
  }
  const dir = path.join(tmpContainerPath(job.datasetPath, job.key), "summaries", tag);
  const labelSpec = arraySpec(
    `connected components ${input.arrayPath}: label blocks`,
    vol,
    edge,
    coord(0, 0, 0),
  );
  const labelCall: TaskCall<LabelPhaseParams> = {
    fn: "components.label",
    params: { input, ofZeros: false, connectivity, dir, adjacency: false, keepRuns: true },
  };
  const labelled = await runPhase(job, labelSpec, labelCall);
  const summaries: BlockLabelSummary[] = [];
  for (let b = 0; b < labelled.blocks; b++) {
    summaries.push((await readSummary(path.join(dir, `${b}.bin`))).summary);
  }
  const merge = mergeBlockLabels(vol.meta.shape, blockVoxels(labelSpec, vol), summaries, connectivity);
  const paintSpec = arraySpec(`connected components ${input.arrayPath}: paint ids`, vol, edge);
  const paintCall: TaskCall<ApplyPhaseParams> = {
    fn: "components.apply",
    params: {
      input,
      output,
      ofZeros: false,
      dir,
      table: merge.globalOf,
      offsets: merge.offsets,
      relabel: true,
      run: `${job.key}/${tag}`,
    },
  };
  await runPhase(job, paintSpec, paintCall);
  return {
    count: merge.count,
    phases: [
      { spec: labelSpec, call: labelCall },
      { spec: paintSpec, call: paintCall },
    ],
  };
}
