import { product } from "../core/coordinate.ts";
import { invalidArgument, OrganelleError } from "../core/errors.ts";
import { jobKey } from "./job-key.ts";
import { Journal } from "./journal.ts";
import { planBlocks } from "./plan.ts";
import { Progress } from "./progress.ts";
import { type BlockFailure, BlockScheduler } from "./scheduler.ts";
import type { Block, BlockwiseTaskSpec, TaskCall } from "./types.ts";

export type { BlockFailure } from "./scheduler.ts";

export interface RunOptions {
  /**
   * Path of the resume journal (e.g. `jobJournalPath(dataset, jobKey(spec, task))`). Blocks it
   * records are skipped; blocks finished by this run are added. Without it nothing is resumable.
   */
  journal?: string;
  /** Further attempts after a block's first failure (default 2). */
  retries?: number;
  /** A progress bar to tick once per finished block, or false for none (default: one for this job). */
  progress?: Progress | false;
  /** Cancels the run: no new blocks start, running ones see their `ctx.signal` aborted. */
  signal?: AbortSignal;
}

export interface RunSummary {
  /** Blocks in the plan. */
  readonly blocks: number;
  /** Blocks skipped because the journal recorded them as done by an earlier run. */
  readonly skipped: number;
  /** Blocks finished by this run. */
  readonly processed: number;
  /** Blocks that failed after their retries (non-zero only on BlockFailedError's summary). */
  readonly failed: number;
  readonly seconds: number;
  /** Values returned by blocks, by block id, including skipped blocks' values from the journal. */
  readonly values: Map<number, unknown>;
}

/** The signature both runners share (their options differ by how blocks are executed). */
export type BlockRunner<O extends RunOptions = RunOptions> = <P>(
  spec: BlockwiseTaskSpec,
  task: TaskCall<P>,
  options: O,
) => Promise<RunSummary>;

/** A block failed after its retries; `summary` and `failures` tell what was done and what failed. */
export class BlockFailedError extends OrganelleError {
  readonly summary: RunSummary;
  readonly failures: readonly BlockFailure[];
  constructor(message: string, summary: RunSummary, failures: readonly BlockFailure[]) {
    super("BlockFailed", message, { cause: failures[0]?.error });
    this.summary = summary;
    this.failures = failures;
  }
}

/** How a runner executes one block; the driver owns scheduling, journal, progress and errors. */
export interface BlockExecutor {
  /** Blocks in flight at once. */
  readonly capacity: number;
  /** Runs one block; resolves after its outputs are written, with its value. */
  execute(block: Block, attempt: number, signal: AbortSignal): Promise<unknown>;
}

/**
 * Runs every block of `spec` through `executor`: plans (validating the spec first), skips blocks the
 * journal records, keeps `capacity` blocks in flight, journals each block after it finished, retries
 * failures, and reports the first block that failed for good once the blocks in flight settled.
 */
export async function driveBlocks(
  spec: BlockwiseTaskSpec,
  task: TaskCall,
  options: RunOptions,
  executor: BlockExecutor,
): Promise<RunSummary> {
  const started = performance.now();
  const blocks = planBlocks(spec);
  if (!Number.isInteger(executor.capacity) || executor.capacity < 1) {
    throw invalidArgument(
      `task '${spec.name}': concurrency must be an integer >= 1, got ${executor.capacity}`,
    );
  }
  if (options.signal?.aborted) throw cancelled(spec, 0, blocks.length, options.journal);

  const journal = options.journal
    ? await Journal.open(options.journal, {
        key: jobKey(spec, task),
        task: spec.name,
        fn: task.fn,
        blocks: blocks.length,
      })
    : undefined;
  try {
    const scheduler = new BlockScheduler(blocks, { retries: options.retries, alreadyDone: journal?.done });
    const skipped = scheduler.counts.skipped;
    const ownProgress =
      options.progress === undefined ? defaultProgress(spec, blocks.length, skipped) : undefined;
    const progress = options.progress === false ? undefined : (options.progress ?? ownProgress);

    const controller = new AbortController();
    const onAbort = () => {
      scheduler.halt();
      controller.abort(options.signal?.reason);
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let fatal: unknown;

    try {
      await new Promise<void>((resolve) => {
        const settle = () => {
          if (scheduler.finished) resolve();
          else pump();
        };
        const pump = () => {
          for (let inFlight = scheduler.counts.running; inFlight < executor.capacity; inFlight++) {
            const next = scheduler.next();
            if (!next) break;
            const { block, attempt } = next;
            Promise.resolve()
              .then(() => executor.execute(block, attempt, controller.signal))
              .then(
                async (value) => {
                  try {
                    const stored = journal ? asJsonValue(spec, block, value) : value;
                    await journal?.append(block.id, stored);
                    scheduler.complete(block.id, stored);
                    progress?.tick();
                  } catch (e) {
                    // The journal cannot record progress (disk full, ...): stop rather than run blocks
                    // whose completion would be forgotten.
                    fatal ??= e;
                    scheduler.halt();
                    scheduler.fail(block.id, e);
                  }
                },
                (e: unknown) => {
                  scheduler.fail(block.id, e);
                },
              )
              .then(settle);
          }
          if (scheduler.finished) resolve();
        };
        pump();
      });
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }

    const counts = scheduler.counts;
    if (journal) {
      if (scheduler.succeeded) await journal.markFinished();
      else await journal.sync();
    }
    const summary: RunSummary = {
      blocks: counts.total,
      skipped: counts.skipped,
      processed: counts.done,
      failed: fatal || controller.signal.aborted ? 0 : counts.failed,
      seconds: (performance.now() - started) / 1000,
      values: new Map(scheduler.values),
    };
    ownProgress?.finish();
    if (fatal) throw fatal;
    if (controller.signal.aborted && !scheduler.succeeded) {
      throw cancelled(spec, counts.done + counts.skipped, counts.total, options.journal);
    }
    if (scheduler.failures.length > 0) throw blockFailed(spec, scheduler.failures, summary, options.journal);
    return summary;
  } finally {
    await journal?.close();
  }
}

function defaultProgress(spec: BlockwiseTaskSpec, total: number, skipped: number): Progress {
  const vs = spec.voxelSize;
  if (!vs) return new Progress({ label: spec.name, total, unit: "blocks", initial: skipped });
  // The rate in voxels uses the mean block size: border blocks are smaller, the estimate is close.
  const voxelsPerBlock = spec.totalWriteRoi.size / product(vs) / total;
  return new Progress({
    label: spec.name,
    total,
    unit: "blocks",
    rateUnit: "voxels",
    rateScale: voxelsPerBlock,
    initial: skipped,
  });
}

/** What the journal will give back on resume; returning it now keeps fresh and resumed runs equal. */
function asJsonValue(spec: BlockwiseTaskSpec, block: Block, value: unknown): unknown {
  if (value === undefined) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw invalidArgument(
      `task '${spec.name}' block ${block.id} returned a value that is not JSON-serialisable (${(e as Error).message}); return small plain values`,
      e,
    );
  }
  return text === undefined ? undefined : JSON.parse(text);
}

function cancelled(spec: BlockwiseTaskSpec, done: number, total: number, journal?: string): OrganelleError {
  const resume = journal ? "; run the same command again to resume" : "";
  return new OrganelleError(
    "Aborted",
    `task '${spec.name}' cancelled with ${done} of ${total} blocks done${resume}`,
  );
}

function blockFailed(
  spec: BlockwiseTaskSpec,
  failures: readonly BlockFailure[],
  summary: RunSummary,
  journal?: string,
): BlockFailedError {
  const first = failures[0]!;
  const more = failures.length > 1 ? ` (and ${failures.length - 1} more failed blocks)` : "";
  const resume = journal
    ? "; finished blocks are journaled, run the same command again to redo only the rest"
    : "";
  return new BlockFailedError(
    `task '${spec.name}' block ${first.block.id} (write ROI ${first.block.writeRoi}) failed after ${first.attempts} attempt${first.attempts === 1 ? "" : "s"}: ${firstLine(first.error)}${more}${resume}`,
    summary,
    failures,
  );
}

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const line = text.split("\n", 1)[0]!.trim();
  return line === "" ? (e instanceof Error ? e.name : "unknown error") : line;
}
