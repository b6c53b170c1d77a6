import { contactRegionBlock, contactStatsBlock } from "../analyze/contacts-task.ts";
import { measureBlock } from "../analyze/measure-task.ts";
import { meshObjectsBlock } from "../analyze/mesh-task.ts";
import { thresholdBlock } from "../analyze/refine-task.ts";
import { skeletonObjectsBlock, skeletonWriteBlock } from "../analyze/skeleton-task.ts";
import { splitBoxesBlock, splitObjectsBlock, splitWriteBlock } from "../analyze/split-task.ts";
import { defineTaskTable } from "../blockwise/task-table.ts";
import type { TaskTable } from "../blockwise/types.ts";
import { evaluateHistogramBlock } from "../evaluate/histogram-task.ts";
import { importArrayBlock } from "../gt/import-task.ts";
import { biasBlock, exclusionBlock } from "../gt/tasks.ts";
import { fuseBlock, rethresholdBlock } from "../predict/tasks.ts";
import { claheFinishBlock, claheRangeBlock, claheRawBlock } from "../preprocess/clahe-task.ts";
import {
  componentsApplyBlock,
  componentsLabelBlock,
  countIdsBlock,
  dropIdsBlock,
} from "../preprocess/components-task.ts";
import { cropCopyBlock } from "../preprocess/crop-task.ts";
import { maskMorphologyBlock } from "../preprocess/mask-task.ts";
import { localOpBlock } from "../preprocess/ops-task.ts";
import { writeSlabBlock } from "../store/import-slab.ts";
import { downsampleBlock } from "../store/pyramid-task.ts";
import { renderSynthBlock } from "../synth/task.ts";

/**
 * The application's block functions, by name. Worker threads cannot receive functions, so a job
 * names its function (`{ fn: "pyramid.downsample", params }`) and every thread looks it up here.
 * The table is a constant built once at import time, not a registry that code mutates.
 *
 * To add a task: write `async function myTask(block: Block, params: MyParams, ctx: BlockContext)`
 * in its own module (next to the algorithm it runs), import it here and add `"area.name": myTask`.
 * Keep entries sorted by name. See docs/blockwise.md.
 */
export const TASK_TABLE: TaskTable = defineTaskTable({
  "analyze.contactRegion": contactRegionBlock,
  "analyze.contactStats": contactStatsBlock,
  "analyze.measure": measureBlock,
  "analyze.meshObjects": meshObjectsBlock,
  "analyze.skeletonObjects": skeletonObjectsBlock,
  "analyze.skeletonWrite": skeletonWriteBlock,
  "analyze.splitBoxes": splitBoxesBlock,
  "analyze.splitObjects": splitObjectsBlock,
  "analyze.splitWrite": splitWriteBlock,
  "analyze.threshold": thresholdBlock,
  "clahe.finish": claheFinishBlock,
  "clahe.range": claheRangeBlock,
  "clahe.raw": claheRawBlock,
  "components.apply": componentsApplyBlock,
  "components.countIds": countIdsBlock,
  "components.dropIds": dropIdsBlock,
  "components.label": componentsLabelBlock,
  "crop.copy": cropCopyBlock,
  "evaluate.histogram": evaluateHistogramBlock,
  "gt.bias": biasBlock,
  "gt.exclusion": exclusionBlock,
  "gt.importArray": importArrayBlock,
  "import.writeSlab": writeSlabBlock,
  "mask.morphology": maskMorphologyBlock,
  "ops.local": localOpBlock,
  "predict.fuse": fuseBlock,
  "predict.threshold": rethresholdBlock,
  "pyramid.downsample": downsampleBlock,
  "synth.render": renderSynthBlock,
});
