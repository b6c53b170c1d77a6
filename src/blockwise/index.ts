/**
 * Block-wise processing: plan a task's ROI into blocks (write ROI + read ROI with context), schedule
 * them with a pure state machine, run them in-process or on worker threads, and journal finished
 * blocks so a killed run resumes where it stopped. See docs/blockwise.md.
 *
 * Typical use (the function lives in the app's task table, src/tasks/table.ts):
 *
 *   const spec = { name: "clahe", totalWriteRoi: vol.roi, blockShape, context, voxelSize };
 *   const journal = jobJournalPath(datasetPath, jobKey(spec, call));
 *   const summary = await runInWorkers(spec, { fn: "ops.clahe", params }, { journal });
 */

export { type InProcessOptions, runInProcess } from "./in-process.ts";
export {
  Journal,
  type JournalContents,
  type JournalHeader,
  type JournalOptions,
  jobJournalPath,
  jobKey,
  markJobFinished,
  readJournal,
} from "./journal.ts";
export { blockGridShape, planBlocks, validateSpec } from "./plan.ts";
export { formatDuration, formatRate, Progress, type ProgressOptions, type ProgressSink } from "./progress.ts";
export {
  BlockFailedError,
  type BlockRunner,
  type RunOptions,
  type RunSummary,
} from "./run.ts";
export {
  type BlockFailure,
  BlockScheduler,
  type BlockState,
  type SchedulerCounts,
  type SchedulerOptions,
} from "./scheduler.ts";
export { defineTaskTable, lookupTask } from "./task-table.ts";
export type {
  Block,
  BlockContext,
  BlockFn,
  BlockResult,
  BlockwiseTaskSpec,
  TaskCall,
  TaskTable,
} from "./types.ts";
export { serveBlockTasks } from "./worker-host.ts";
export {
  defaultWorkerUrl,
  runInWorkers,
  WorkerPool,
  type WorkerPoolOptions,
  type WorkerRunOptions,
} from "./worker-pool.ts";
