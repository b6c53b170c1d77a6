import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { coord } from "../core/coordinate.ts";
import { isOrganelleError, type OrganelleError } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import { runInProcess } from "./in-process.ts";
import { readJournal } from "./journal.ts";
import { Progress } from "./progress.ts";
import { BlockFailedError, type RunOptions, type RunSummary } from "./run.ts";
import { TEST_TASKS } from "./testing/test-tasks.ts";
import type { BlockwiseTaskSpec, TaskCall } from "./types.ts";
import { runInWorkers, WorkerPool } from "./worker-pool.ts";

const TEST_WORKER = new URL("./testing/test-worker.ts", import.meta.url);

/** 2 x 2 x 3 = 12 blocks; the last column is clipped to 10 nm. */
const spec: BlockwiseTaskSpec = {
  name: "runner-test",
  totalWriteRoi: new Roi(coord(0, 0, 0), coord(40, 40, 50)),
  blockShape: coord(20, 20, 20),
  context: coord(2, 2, 2),
};
const N = 12;

const shared = (n: number) => new Int32Array(new SharedArrayBuffer(4 * n));

async function caught(p: Promise<unknown>): Promise<OrganelleError> {
  try {
    await p;
  } catch (e) {
    if (isOrganelleError(e)) return e;
    throw e;
  }
  throw new Error("expected the run to fail");
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-runner-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

type Run = (spec: BlockwiseTaskSpec, task: TaskCall, options?: RunOptions) => Promise<RunSummary>;

// Two threads of work at most: the machine has 2 cores shared with other engineers.
let pool: WorkerPool;
beforeAll(async () => {
  pool = new WorkerPool({ workers: 2, workerUrl: TEST_WORKER });
  await pool.start();
  expect(pool.started).toBe(2);
});
afterAll(async () => {
  await pool.close();
  expect(pool.started).toBe(0);
});

const runners: [string, Run][] = [
  [
    "in-process",
    (s, t, o = {}) => runInProcess(s, t, { progress: false, ...o, table: TEST_TASKS, concurrency: 2 }),
  ],
  ["workers", (s, t, o = {}) => runInWorkers(s, t, { progress: false, ...o, pool })],
];

describe.each(runners)("%s runner", (_name, run) => {
  it("runs every block exactly once, two at a time, and returns their values", async () => {
    const runs = shared(N);
    const inFlight = shared(2);
    const summary = await run(spec, { fn: "test.count", params: { runs, inFlight, delayMs: 15 } });
    expect([...runs]).toEqual(Array(N).fill(1));
    expect(Atomics.load(inFlight, 0)).toBe(2);
    expect(summary).toMatchObject({ blocks: N, skipped: 0, processed: N, failed: 0 });
    expect(summary.seconds).toBeGreaterThan(0);
    expect(summary.values.size).toBe(N);
    expect(summary.values.get(5)).toEqual({ id: 5, z: 0, voxels: 20 * 20 * 10 });
    expect(summary.values.get(11)).toEqual({ id: 11, z: 20, voxels: 20 * 20 * 10 });
  });

  it("retries failed blocks", async () => {
    const runs = shared(N);
    const failuresLeft = shared(N);
    failuresLeft[1] = 2;
    failuresLeft[7] = 1;
    const summary = await run(spec, { fn: "test.flaky", params: { runs, failuresLeft } });
    expect(summary.processed).toBe(N);
    expect(runs[1]).toBe(3);
    expect(runs[7]).toBe(2);
    expect(runs[0]).toBe(1);
    expect(summary.values.get(1)).toBe(1);
  });

  it("reports a block that fails after its retries with its ROI, and a re-run redoes only what is left", async () => {
    const runs = shared(N);
    const failuresLeft = shared(N);
    failuresLeft[4] = 4;
    const journal = path.join(dir, "jobs", "j.jsonl");
    const task = { fn: "test.flaky", params: { runs, failuresLeft } };
    const e = await caught(run(spec, task, { journal, retries: 2 }));
    expect(e).toBeInstanceOf(BlockFailedError);
    expect(e.kind).toBe("BlockFailed");
    expect(e.message).toBe(
      "task 'runner-test' block 4 (write ROI [(0, 20, 20)..(20, 40, 40)) nm) failed after 3 attempts: " +
        "synthetic failure of block 4 on attempt 3; finished blocks are journaled, run the same command again to redo only the rest",
    );
    const failed = (e as BlockFailedError).summary;
    expect(failed.failed).toBe(1);
    expect(runs[4]).toBe(3);
    // Blocks in flight finish and are journaled. How many others finished before block 4's last
    // attempt depends on thread timing (under load all of them may); that no block starts after the
    // final failure is checked deterministically in the scheduler's tests.
    const journaled = [...(await readJournal(journal))!.done.keys()];
    expect(journaled.length).toBe(failed.processed);
    expect(journaled).not.toContain(4);
    expect(journaled.length).toBeLessThanOrEqual(N - 1);
    for (const id of journaled) expect(runs[id]).toBe(1);

    // Same command again: journaled blocks are skipped, block 4 succeeds on its 2nd try this time.
    const summary = await run(spec, task, { journal, retries: 2 });
    expect(summary.skipped).toBe(journaled.length);
    expect(summary.processed).toBe(N - journaled.length);
    expect(runs[4]).toBe(5);
    expect([...runs].filter((r, id) => id !== 4 && r !== 1)).toEqual([]);
    expect(summary.values.size).toBe(N);
    expect((await readJournal(journal))!.finished).toBe(true);
  });

  it("returns the values of skipped blocks from the journal", async () => {
    const journal = path.join(dir, "j.jsonl");
    const runs = shared(N);
    const first = await run(spec, { fn: "test.count", params: { runs } }, { journal });
    const second = await run(spec, { fn: "test.count", params: { runs } }, { journal });
    expect(second).toMatchObject({ blocks: N, skipped: N, processed: 0 });
    expect(second.values).toEqual(first.values);
    expect([...runs]).toEqual(Array(N).fill(1));
  });

  it("refuses a journal written by another command", async () => {
    const journal = path.join(dir, "j.jsonl");
    await run(spec, { fn: "test.count", params: { runs: shared(N) } }, { journal });
    const e = await caught(
      run(spec, { fn: "test.count", params: { runs: shared(N), delayMs: 1 } }, { journal }),
    );
    expect(e.kind).toBe("InvalidArgument");
    expect(e.message).toMatch(/belongs to another job/);
  });

  it("cancels on an AbortSignal: running blocks see it, no new block starts", async () => {
    const runs = shared(N);
    const controller = new AbortController();
    const journal = path.join(dir, "j.jsonl");
    const started = performance.now();
    setTimeout(() => controller.abort(), 150);
    const e = await caught(
      run(spec, { fn: "test.wait", params: { runs, ms: 20_000 } }, { signal: controller.signal, journal }),
    );
    expect(e.kind).toBe("Aborted");
    expect(e.message).toBe(
      "task 'runner-test' cancelled with 0 of 12 blocks done; run the same command again to resume",
    );
    expect(performance.now() - started).toBeLessThan(10_000);
    expect([...runs]).toEqual([1, 1, ...Array(N - 2).fill(0)]);
    const pre = await caught(
      run(spec, { fn: "test.wait", params: { runs, ms: 1 } }, { signal: AbortSignal.abort() }),
    );
    expect(pre.kind).toBe("Aborted");
    expect(runs[2]).toBe(0);
  });

  it("validates the request before running anything", async () => {
    const runs = shared(N);
    const bad = await caught(
      run({ ...spec, blockShape: coord(20, 0, 20) }, { fn: "test.count", params: { runs } }),
    );
    expect(bad.kind).toBe("InvalidArgument");
    expect(bad.message).toMatch(/^task 'runner-test': block shape/);
    const unknown = await caught(run(spec, { fn: "test.nope", params: { runs } }));
    expect(unknown.message).toMatch(/no block function 'test.nope' in the task table \(known: test.count, /);
    expect([...runs]).toEqual(Array(N).fill(0));
  });

  it("ticks a given progress bar once per block", async () => {
    const lines: string[] = [];
    const progress = new Progress({
      label: "p",
      total: N,
      sink: { write: (t) => lines.push(t) },
      intervalMs: 0,
    });
    await run(spec, { fn: "test.count", params: { runs: shared(N) } }, { progress });
    expect(progress.completed).toBe(N);
    expect(lines.at(-1)).toMatch(/^p \[#+\] 100\.0% 12\/12/);
  });
});

describe("workers runner", () => {
  it.each([
    ["exit", /exited with code 3/],
    ["uncaught", /uncaught RangeError: thrown outside the block's promise/],
  ] as const)("replaces a worker that crashes (%s) and retries its block", async (how, why) => {
    const runs = shared(N);
    const summary = await runInWorkers(
      spec,
      { fn: "test.crash", params: { runs, block: 5, how, times: 1 } },
      { pool, progress: false },
    );
    expect(summary.processed).toBe(N);
    expect(runs[5]).toBe(2);
    expect(runs.filter((r) => r !== 1)).toHaveLength(1);

    const e = await caught(
      runInWorkers(
        spec,
        { fn: "test.crash", params: { runs, block: 5, how, times: 99 } },
        { pool, progress: false, retries: 1 },
      ),
    );
    expect(e.kind).toBe("BlockFailed");
    expect(e.message).toMatch(
      /^task 'runner-test' block 5 \(write ROI .*\) failed after 2 attempts: worker thread crashed/,
    );
    expect(e.message).toMatch(why);
    expect(pool.started).toBeLessThanOrEqual(2);
  });

  it("reports a worker that runs out of memory", async () => {
    const runs = shared(N);
    const small = { ...spec, totalWriteRoi: new Roi(coord(0, 0, 0), coord(20, 20, 40)) };
    const e = await caught(
      runInWorkers(small, { fn: "test.crash", params: { runs, block: 1, how: "oom", times: 99 } }, {
        workers: 1,
        workerUrl: TEST_WORKER,
        retries: 0,
        progress: false,
        maxMemoryMb: 24,
      } as never),
    );
    expect(e.message).toMatch(/block 1 .* worker thread crashed \(ran out of memory\)/);
  });

  it("reuses one pool for many jobs without starting more threads", async () => {
    const runs = shared(N);
    const one = { ...spec, totalWriteRoi: new Roi(coord(0, 0, 0), coord(20, 20, 20)) };
    for (let i = 0; i < 20; i++)
      await pool.run(one, { fn: "test.count", params: { runs } }, { progress: false });
    expect(runs[0]).toBe(20);
    expect(pool.started).toBeLessThanOrEqual(2);
  });

  it("shares SharedArrayBuffers in parameters with the workers", async () => {
    const runs = shared(N);
    await runInWorkers(spec, { fn: "test.count", params: { runs } }, { pool, progress: false });
    expect(runs.reduce((a, b) => a + b, 0)).toBe(N);
  });

  it("starts the app's worker entry by default (src/tasks/worker.ts from sources)", async () => {
    const e = await caught(
      runInWorkers(spec, { fn: "test.count", params: {} }, { workers: 1, progress: false }),
    );
    expect(e.kind).toBe("InvalidArgument");
    expect(e.message).toMatch(/no block function 'test.count' in the task table/);
  });

  it("runs a bundled worker script", async () => {
    const out = path.join(dir, "worker.mjs");
    await esbuild.build({
      entryPoints: [fileURLToPath(TEST_WORKER)],
      outfile: out,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "silent",
      banner: {
        js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
      },
    });
    const runs = shared(N);
    const summary = await runInWorkers(
      spec,
      { fn: "test.count", params: { runs } },
      { workers: 2, workerUrl: out, progress: false },
    );
    expect(summary.processed).toBe(N);
    expect([...runs]).toEqual(Array(N).fill(1));
  });

  it("names a missing worker script", async () => {
    const e = await caught(
      runInWorkers(
        spec,
        { fn: "test.count", params: {} },
        { workerUrl: path.join(dir, "worker.mjs"), progress: false },
      ),
    );
    expect(e.kind).toBe("NotFound");
    expect(e.message).toMatch(/worker script .*worker\.mjs does not exist; run `npm run build`/);
  });
});
