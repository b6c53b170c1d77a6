/**
 * A block-wise job for the resume test, run as a child process so the test can SIGKILL it midway:
 *
 *   node --import tsx resume-job.ts <dataset> <in-process|workers> <delayMs>
 *
 * Fills `fill` (uint16) of the dataset with fillValue block by block, journaled under the dataset;
 * prints one JSON line with the run summary when done.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { coord } from "../../core/coordinate.ts";
import { Volume } from "../../store/volume.ts";
import { runInProcess } from "../in-process.ts";
import { jobJournalPath, jobKey } from "../journal.ts";
import type { BlockwiseTaskSpec, TaskCall } from "../types.ts";
import { runInWorkers } from "../worker-pool.ts";
import { type FillParams, TEST_TASKS } from "./test-tasks.ts";

export const RESUME_SHAPE = coord(24, 32, 32);
export const RESUME_VOXEL = coord(5.2, 4, 4);
/** 8x16x16 voxels: one chunk per block, 3x2x2 = 12 blocks. */
export const RESUME_BLOCK_VOXELS = coord(8, 16, 16);
export const RESUME_ARRAY = "fill";

async function main(): Promise<void> {
  const [dataset, mode, delay] = process.argv.slice(2);
  if (!dataset || (mode !== "in-process" && mode !== "workers")) {
    throw new Error("usage: resume-job.ts <dataset> <in-process|workers> <delayMs>");
  }
  const vol = fs.existsSync(path.join(dataset, RESUME_ARRAY))
    ? await Volume.open(dataset, RESUME_ARRAY, { allowIncomplete: true })
    : await Volume.create(dataset, RESUME_ARRAY, {
        shape: RESUME_SHAPE,
        dtype: "uint16",
        voxelSize: RESUME_VOXEL,
        offset: coord(52, 0, 8),
        chunks: RESUME_BLOCK_VOXELS,
      });
  const spec: BlockwiseTaskSpec = {
    name: "resume-test",
    totalWriteRoi: vol.roi,
    blockShape: coord(8 * 5.2, 16 * 4, 16 * 4),
    context: coord(0, 0, 0),
    voxelSize: RESUME_VOXEL,
  };
  const task: TaskCall<FillParams> = {
    fn: "test.fill",
    params: { dataset, array: RESUME_ARRAY, delayMs: Number(delay ?? 0) },
  };
  const journal = jobJournalPath(dataset, jobKey(spec, task));
  const summary =
    mode === "workers"
      ? await runInWorkers(spec, task, {
          journal,
          workers: 2,
          progress: false,
          workerUrl: new URL("./test-worker.ts", import.meta.url),
        })
      : await runInProcess(spec, task, { journal, table: TEST_TASKS, concurrency: 2, progress: false });
  await vol.markComplete();
  const sums = [...summary.values].map(([id, v]) => [id, (v as { sum: number }).sum]);
  process.stdout.write(
    `${JSON.stringify({ blocks: summary.blocks, skipped: summary.skipped, processed: summary.processed, sums, journal })}\n`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
