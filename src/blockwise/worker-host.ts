import { parentPort } from "node:worker_threads";
import { lookupTask } from "./task-table.ts";
import type { BlockFn, TaskTable } from "./types.ts";
import {
  decodeBlock,
  encodeError,
  type FromWorker,
  type ToWorker,
  type WireBlock,
} from "./worker-protocol.ts";

interface JobState {
  readonly fn: BlockFn | undefined;
  /** Why `fn` is missing: the pool checks names before a job, so this only guards a table mismatch. */
  readonly lookupError: unknown;
  readonly params: unknown;
  readonly running: Set<AbortController>;
}

/**
 * The worker side of a WorkerPool: call it once from a worker entry script with the task table
 * (src/tasks/worker.ts does so with the app's table). Runs the blocks it is sent and answers each
 * with its value or error; an uncaught exception or process.exit here ends only this thread, and the
 * pool replaces it.
 */
export function serveBlockTasks(table: TaskTable): void {
  const port = parentPort;
  if (!port) throw new Error("serveBlockTasks() must be called in a worker thread started by WorkerPool");
  const jobs = new Map<number, JobState>();
  const send = (m: FromWorker) => port.postMessage(m);

  const runBlock = async (job: number, wire: WireBlock, attempt: number) => {
    const state = jobs.get(job);
    const block = decodeBlock(wire);
    if (!state?.fn) {
      const error = state ? state.lookupError : new Error(`worker received a block of unknown job ${job}`);
      send({ type: "failed", job, id: block.id, error: encodeError(error) });
      return;
    }
    const controller = new AbortController();
    state.running.add(controller);
    try {
      const value = await state.fn(block, state.params, { signal: controller.signal, attempt });
      try {
        send({ type: "done", job, id: block.id, value });
      } catch (e) {
        // Values that structured clone cannot copy (functions, class instances with handles, ...).
        send({ type: "failed", job, id: block.id, error: encodeError(e) });
      }
    } catch (e) {
      send({ type: "failed", job, id: block.id, error: encodeError(e) });
    } finally {
      state.running.delete(controller);
    }
  };

  port.on("message", (m: ToWorker) => {
    switch (m.type) {
      case "job": {
        let fn: BlockFn | undefined;
        let lookupError: unknown;
        try {
          fn = lookupTask(table, m.fn, m.fn);
        } catch (e) {
          lookupError = e;
        }
        jobs.set(m.job, { fn, lookupError, params: m.params, running: new Set() });
        break;
      }
      case "block":
        void runBlock(m.job, m.block, m.attempt);
        break;
      case "abort":
        for (const c of jobs.get(m.job)?.running ?? []) c.abort(new Error("cancelled"));
        break;
      case "end":
        jobs.delete(m.job);
        break;
    }
  });
  send({ type: "ready", tasks: [...table.keys()] });
}
