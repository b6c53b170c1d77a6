import * as os from "node:os";
import { driveBlocks, type RunOptions, type RunSummary } from "./run.ts";
import { lookupTask } from "./task-table.ts";
import type { BlockwiseTaskSpec, TaskCall, TaskTable } from "./types.ts";

export interface InProcessOptions extends RunOptions {
  /** The table that holds `task.fn` (the app's is src/tasks/table.ts). */
  table: TaskTable;
  /**
   * Blocks in flight at once (default: one per core). They share this thread, so more than one helps
   * only while blocks wait for I/O; CPU-bound tasks want runInWorkers.
   */
  concurrency?: number;
}

/** Runs a block-wise job on this thread, several blocks in flight at once. */
export async function runInProcess<P>(
  spec: BlockwiseTaskSpec,
  task: TaskCall<P>,
  options: InProcessOptions,
): Promise<RunSummary> {
  const fn = lookupTask(options.table, task.fn, spec.name);
  const capacity = options.concurrency ?? os.availableParallelism();
  return driveBlocks(spec, task, options, {
    capacity,
    execute: (block, attempt, signal) => fn(block, task.params, { signal, attempt }),
  });
}
