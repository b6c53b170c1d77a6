import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { invalidArgument, notFound, OrganelleError } from "../core/errors.ts";
import { driveBlocks, type RunOptions, type RunSummary } from "./run.ts";
import { lookupTask } from "./task-table.ts";
import type { Block, BlockwiseTaskSpec, TaskCall } from "./types.ts";
import { decodeError, encodeBlock, type FromWorker, type ToWorker } from "./worker-protocol.ts";

export interface WorkerPoolOptions {
  /** Worker threads at most (default: one per core, `os.availableParallelism()`). */
  workers?: number;
  /**
   * The worker entry script: it calls `serveBlockTasks(table)`. Default: `defaultWorkerUrl()`, the
   * app's src/tasks/worker.ts (dist/worker.mjs when bundled).
   */
  workerUrl?: URL | string;
  /** Old-generation heap limit per worker in MB; a worker that exceeds it fails its block. */
  maxMemoryMb?: number;
}

export interface WorkerRunOptions extends RunOptions {
  /** A pool to reuse across jobs; without one, a pool is created for this job and closed after it. */
  pool?: WorkerPool;
  /** For the job's own pool: worker threads at most (default: one per core). */
  workers?: number;
  /** For the job's own pool: the worker entry script (default: `defaultWorkerUrl()`). */
  workerUrl?: URL | string;
  /** For the job's own pool: heap limit per worker in MB (see WorkerPoolOptions). */
  maxMemoryMb?: number;
}

/**
 * The app's worker entry: src/tasks/worker.ts when running from TypeScript sources (tests, tsx),
 * dist/worker.mjs next to the bundle when running bundled (scripts/build.mjs builds both).
 */
export function defaultWorkerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith(".ts") ? new URL("../tasks/worker.ts", here) : new URL("./worker.mjs", here);
}

/** Runs a block-wise job on worker threads (a pool of its own unless `options.pool` is given). */
export async function runInWorkers<P>(
  spec: BlockwiseTaskSpec,
  task: TaskCall<P>,
  options: WorkerRunOptions = {},
): Promise<RunSummary> {
  if (options.pool) return options.pool.run(spec, task, options);
  const pool = new WorkerPool({
    workers: options.workers,
    workerUrl: options.workerUrl,
    maxMemoryMb: options.maxMemoryMb,
  });
  try {
    return await pool.run(spec, task, options);
  } finally {
    await pool.close();
  }
}

interface Slot {
  readonly worker: Worker;
  /** Jobs whose parameters this worker has received. */
  readonly jobs: Set<number>;
  /** The worker's task names once it started; rejects if it dies before that. */
  readonly ready: Promise<ReadonlySet<string>>;
  busy:
    | {
        readonly job: number;
        readonly id: number;
        settle: (error: Error | undefined, value?: unknown) => void;
      }
    | undefined;
  /** Set by the 'error' event that precedes the 'exit' of a crashed worker. */
  crash: Error | undefined;
  exited: boolean;
}

/**
 * Worker threads that run block-wise jobs, created once and reused: callers that run many small jobs
 * (one per slab of an import) pay for thread start-up once. Threads start on demand up to `size`;
 * a thread that crashes (uncaught exception, process.exit, out of memory) fails its block, which
 * the job retries on a fresh thread. One job runs at a time; `run` calls queue. Idle threads do not
 * keep the process alive, but call `close()` (or `await using`) when done.
 */
export class WorkerPool {
  readonly size: number;
  readonly workerUrl: URL;
  /** A .ts entry (tests, tsx): started through tsxBootstrap. */
  private readonly fromSource: boolean;
  private readonly maxMemoryMb: number | undefined;
  private readonly slots: Slot[] = [];
  /** Callers waiting on the threads; while there are any, the threads keep the process alive. */
  private users = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private nextJob = 1;
  private closed = false;

  constructor(options: WorkerPoolOptions = {}) {
    const size = options.workers ?? os.availableParallelism();
    if (!Number.isInteger(size) || size < 1)
      throw invalidArgument(`workers must be an integer >= 1, got ${size}`);
    this.size = size;
    const url = options.workerUrl ?? defaultWorkerUrl();
    this.workerUrl =
      typeof url === "string" ? (url.startsWith("file:") ? new URL(url) : pathToFileURL(url)) : url;
    const file = fileURLToPath(this.workerUrl);
    if (!fs.existsSync(file)) {
      const hint = file.endsWith(".mjs") ? "; run `npm run build` to bundle it" : "";
      throw notFound(`worker script ${file} does not exist${hint}`);
    }
    this.fromSource = file.endsWith(".ts");
    this.maxMemoryMb = options.maxMemoryMb;
  }

  /** Threads started and alive now (at most `size`). */
  get started(): number {
    return this.slots.length;
  }

  /**
   * Starts every thread and waits until each is ready, so the first job does not wait for thread
   * start-up (optional: threads otherwise start when a job first needs them).
   */
  async start(): Promise<void> {
    if (this.closed) throw invalidArgument("the worker pool is closed");
    this.use(1);
    try {
      while (this.slots.length < this.size) this.spawn();
      await Promise.all(this.slots.map((s) => s.ready));
    } finally {
      this.use(-1);
    }
  }

  /** Names in the workers' task table (starts one thread if none runs yet). */
  async taskNames(): Promise<ReadonlySet<string>> {
    if (this.closed) throw invalidArgument("the worker pool is closed");
    this.use(1);
    try {
      return await (this.slots.find((s) => !s.exited) ?? this.spawn()).ready;
    } finally {
      this.use(-1);
    }
  }

  /** Runs one job on the pool's threads; same contract as runInProcess. */
  run<P>(spec: BlockwiseTaskSpec, task: TaskCall<P>, options: RunOptions = {}): Promise<RunSummary> {
    const result = this.queue.then(() => this.runNow(spec, task, options));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Stops every thread; running blocks are abandoned (their blocks are not journaled). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const s of slots) s.busy?.settle(new OrganelleError("Aborted", "the worker pool was closed"));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async runNow(spec: BlockwiseTaskSpec, task: TaskCall, options: RunOptions): Promise<RunSummary> {
    if (this.closed) throw invalidArgument(`task '${spec.name}': the worker pool is closed`);
    const names = await this.taskNames();
    lookupTask(new Map([...names].map((n) => [n, noop])), task.fn, spec.name);
    const job = this.nextJob++;
    const onAbort = () => this.broadcast(job, { type: "abort", job });
    options.signal?.addEventListener("abort", onAbort, { once: true });
    this.use(1);
    try {
      return await driveBlocks(spec, task, options, {
        capacity: this.size,
        execute: (block, attempt) => this.execute(job, task, block, attempt),
      });
    } finally {
      this.use(-1);
      options.signal?.removeEventListener("abort", onAbort);
      this.broadcast(job, { type: "end", job });
      for (const s of this.slots) s.jobs.delete(job);
    }
  }

  private execute(job: number, task: TaskCall, block: Block, attempt: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new OrganelleError("Aborted", "the worker pool was closed"));
    const slot = this.slots.find((s) => !s.busy && !s.exited) ?? this.spawn();
    return new Promise<unknown>((resolve, reject) => {
      slot.busy = {
        job,
        id: block.id,
        settle: (error, value) => {
          slot.busy = undefined;
          if (error) reject(error);
          else resolve(value);
        },
      };
      try {
        if (!slot.jobs.has(job)) {
          this.post(slot, { type: "job", job, fn: task.fn, params: task.params });
          slot.jobs.add(job);
        }
        this.post(slot, { type: "block", job, block: encodeBlock(block), attempt });
      } catch (e) {
        // Parameters structured clone cannot copy (functions, ...): a caller error, not a crash.
        slot.busy.settle(
          invalidArgument(`block parameters cannot be sent to worker threads: ${(e as Error).message}`, e),
        );
      }
    });
  }

  private spawn(): Slot {
    if (this.slots.length >= this.size) {
      throw new Error("WorkerPool: no free thread (runner exceeded capacity)");
    }
    const resourceLimits = this.maxMemoryMb ? { maxOldGenerationSizeMb: this.maxMemoryMb } : undefined;
    const worker = this.fromSource
      ? new Worker(tsxBootstrap(this.workerUrl), { eval: true, resourceLimits })
      : new Worker(this.workerUrl, { resourceLimits });
    if (this.users === 0) worker.unref();
    let onReady: (names: ReadonlySet<string>) => void = () => undefined;
    let onStartFailed: (e: Error) => void = () => undefined;
    const ready = new Promise<ReadonlySet<string>>((resolve, reject) => {
      onReady = resolve;
      onStartFailed = reject;
    });
    ready.catch(() => undefined); // reported to whoever awaits it
    const slot: Slot = { worker, ready, jobs: new Set(), busy: undefined, crash: undefined, exited: false };
    worker.on("message", (m: FromWorker) => {
      if (m.type === "ready") {
        onReady(new Set(m.tasks));
        return;
      }
      const busy = slot.busy;
      if (!busy || m.job !== busy.job || m.id !== busy.id) return;
      if (m.type === "done") busy.settle(undefined, m.value);
      else busy.settle(decodeError(m.error));
    });
    worker.on("error", (e) => {
      slot.crash = e;
    });
    worker.on("exit", (code) => {
      slot.exited = true;
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      const why = slot.crash ? slot.crash.message.split("\n", 1)[0] : `exit code ${code}`;
      // No-op when the worker had started: then this is a crash, reported through its block.
      onStartFailed(
        new OrganelleError(
          "Engine",
          `worker script ${fileURLToPath(this.workerUrl)} failed to start: ${why}`,
        ),
      );
      slot.busy?.settle(crashError(slot.crash, code));
    });
    this.slots.push(slot);
    return slot;
  }

  /** Counts callers waiting on threads: ref'd threads keep the process alive, idle ones do not. */
  private use(delta: 1 | -1): void {
    this.users += delta;
    if (this.users === 1 && delta === 1) for (const s of this.slots) s.worker.ref();
    if (this.users === 0) for (const s of this.slots) s.worker.unref();
  }

  private post(slot: Slot, m: ToWorker): void {
    slot.worker.postMessage(m);
  }

  private broadcast(job: number, m: ToWorker): void {
    for (const s of this.slots) {
      if (s.jobs.has(job) && !s.exited) s.worker.postMessage(m);
    }
  }
}

function crashError(crash: Error | undefined, code: number): OrganelleError {
  const oom = (crash as { code?: string } | undefined)?.code === "ERR_WORKER_OUT_OF_MEMORY";
  const why = oom
    ? "ran out of memory"
    : crash
      ? `uncaught ${crash.name}: ${crash.message.split("\n", 1)[0]}`
      : `exited with code ${code}`;
  return new OrganelleError("Engine", `worker thread crashed (${why})`, { cause: crash });
}

/**
 * Worker code that loads a TypeScript entry. `execArgv: ["--import", "tsx"]` does not work for a
 * worker whose entry is a .ts file on Node 20 (the entry is resolved before the hooks apply: "Unknown
 * file extension .ts"), so the thread first registers tsx through its API, then imports the entry.
 * tsx is resolved from this file, so the working directory does not matter.
 */
function tsxBootstrap(entry: URL): string {
  const api = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api")).href.replace(
    /\.cjs$/,
    ".mjs",
  );
  return `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
}

const noop = async () => undefined;
