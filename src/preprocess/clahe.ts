import * as path from "node:path";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { type Coordinate, coord, uniform } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { CLAHE_DEFAULTS } from "../gt/presets.ts";
import type { ClaheParams } from "../ops/clahe.ts";
import { Volume } from "../store/volume.ts";
import type { ClaheFinishParams, ClaheRangeParams, ClaheRawParams } from "./clahe-task.ts";
import {
  arraySpec,
  cleanupJob,
  finishOutput,
  type JobOptions,
  prepareOutput,
  runKey,
  runPhase,
  tmpArray,
  withJob,
} from "./jobs.ts";

/*
 * `organelle clahe`: 3D CLAHE of an intensity array (default raw) into `raw_clahe`, with
 * skimage.exposure.equalize_adapthist semantics (kernel 128, clip limit 0.02, 256 bins by default,
 * SPEC §2), block-wise on worker threads, resumable, identical to a whole-volume run.
 *
 * Three phases over chunk-aligned write blocks: the input's min/max, the 14-bit CLAHE of each block
 * into a hidden uint16 intermediate (with its min/max), and the final stretch to the input's type
 * (uint8 -> uint8, uint16 -> uint16). Context: a block reads the CLAHE tiles its voxels interpolate
 * between; tiles are anchored to the volume origin, so blocks aligned to the chunks (not to the
 * interpolation cells) read up to one kernel around themselves (a cell-aligned block would need
 * (kernel+1)/2 before and kernel/2 after, ASEM's context, but its writes would straddle chunks, which
 * parallel blocks must not share). Blocks default to the smallest whole number of chunks >= 2 kernels
 * per axis, so the extra reading stays below ~8x and memory per worker is (block + 2 kernels)^3 voxels.
 */

export interface ClaheOptions extends JobOptions {
  /** Input array (default raw). */
  array?: string;
  /** Output array (default raw_clahe). */
  output?: string;
  /** Kernel (tile) size in voxels, one number or z,y,x (default 128). */
  kernel?: number | Coordinate;
  clipLimit?: number;
  nbins?: number;
  /** Write-block edge in voxels (rounded to whole chunks; default: >= 2 kernels). */
  blockVoxels?: number;
  overwrite?: boolean;
  /** Build the output's pyramid like the input's (default true). */
  pyramid?: boolean;
}

export interface ClaheResult {
  readonly output: string;
  readonly shape: Coordinate;
  readonly dtype: string;
  readonly params: ClaheParams;
  readonly inputRange: readonly [number, number];
  readonly rawRange: readonly [number, number];
  readonly blocks: number;
  readonly resumedBlocks: number;
  readonly levels: number;
  readonly seconds: number;
}

function kernelOf(k: number | Coordinate | undefined): Coordinate {
  const v = k ?? CLAHE_DEFAULTS.kernelVoxels;
  const c = typeof v === "number" ? uniform(v) : v;
  if (!c.every((x) => Number.isInteger(x) && x >= 2)) {
    throw invalidArgument(`--kernel ${c.join(",")}: the CLAHE kernel is whole numbers of voxels >= 2`);
  }
  return coord(c[0], c[1], c[2]);
}

export async function runClahe(datasetPath: string, opts: ClaheOptions = {}): Promise<ClaheResult> {
  const started = performance.now();
  const ds = path.resolve(datasetPath);
  const array = opts.array ?? "raw";
  const output = opts.output ?? "raw_clahe";
  if (output === array) throw invalidArgument(`--output ${output}: CLAHE cannot write over its input`);
  const params: ClaheParams = {
    kernelSize: kernelOf(opts.kernel),
    clipLimit: opts.clipLimit ?? CLAHE_DEFAULTS.clipLimit,
    nbins: opts.nbins ?? CLAHE_DEFAULTS.nbins,
  };
  if (!(Number.isFinite(params.clipLimit) && params.clipLimit >= 0 && params.clipLimit <= 1)) {
    throw invalidArgument(
      `--clip ${params.clipLimit}: the clip limit is a fraction from 0 to 1 (0 = no clipping)`,
    );
  }
  if (!(Number.isInteger(params.nbins) && params.nbins! >= 2 && params.nbins! <= 16384)) {
    throw invalidArgument(`--nbins ${params.nbins}: expected a whole number from 2 to 16384`);
  }
  const src = await Volume.open(ds, array);
  if (src.meta.dtype !== "uint8" && src.meta.dtype !== "uint16") {
    throw invalidArgument(
      `${src.describe()} is ${src.meta.dtype}; CLAHE equalises uint8 or uint16 intensities`,
    );
  }
  const edge =
    opts.blockVoxels ??
    Math.max(
      ...params.kernelSize.map((k, d) => Math.ceil((2 * k) / src.meta.chunks[d]!) * src.meta.chunks[d]!),
    );
  if (!(Number.isInteger(edge) && edge >= 1))
    throw invalidArgument(`--block ${edge}: expected a whole number of voxels >= 1`);
  const key = runKey({ v: 1, verb: "clahe", array, output, params, edge });
  const levels = opts.pyramid === false ? 1 : src.levels.length;
  const { volume: out, runId } = await prepareOutput(
    ds,
    output,
    {
      shape: src.meta.shape,
      dtype: src.meta.dtype,
      voxelSize: src.meta.voxelSize,
      offset: src.meta.offset,
      chunks: src.meta.chunks,
      compressor: src.meta.compressor,
      format: src.meta.format,
      kind: "intensity",
      attrs: {
        clahe: {
          source: array,
          kernel: [...params.kernelSize],
          clipLimit: params.clipLimit,
          nbins: params.nbins,
        },
      },
    },
    key,
    { overwrite: opts.overwrite },
  );

  return withJob(ds, key, runId, opts, async (job) => {
    const input = { datasetPath: ds, arrayPath: array };
    const rangeSpec: BlockwiseTaskSpec = arraySpec(`clahe ${array}: value range`, src, edge);
    const rangeCall: TaskCall<ClaheRangeParams> = { fn: "clahe.range", params: { input } };
    const r1 = await runPhase(job, rangeSpec, rangeCall);
    const inputRange = reduceRange(r1.values);

    const tmp = await tmpArray(job, "clahe_raw", {
      shape: src.meta.shape,
      dtype: "uint16",
      voxelSize: src.meta.voxelSize,
      offset: src.meta.offset,
      chunks: src.meta.chunks,
      compressor: "zstd",
      level: 1,
      format: src.meta.format,
    });
    const raw = { datasetPath: tmp.datasetPath, arrayPath: tmp.arrayPath };
    const rawSpec = arraySpec(`clahe ${array}: equalise`, src, edge);
    const rawCall: TaskCall<ClaheRawParams> = { fn: "clahe.raw", params: { input, raw, params, inputRange } };
    const r2 = await runPhase(job, rawSpec, rawCall);
    const rawRange = reduceRange(r2.values);

    const finishSpec = arraySpec(`clahe ${array}: write ${output}`, out, edge);
    const finishCall: TaskCall<ClaheFinishParams> = {
      fn: "clahe.finish",
      params: { raw, output: { datasetPath: ds, arrayPath: output }, rawRange },
    };
    const r3 = await runPhase(job, finishSpec, finishCall);
    const built = await finishOutput(job, ds, output, levels);
    await cleanupJob(job, [
      { spec: rangeSpec, call: rangeCall },
      { spec: rawSpec, call: rawCall },
      { spec: finishSpec, call: finishCall },
    ]);
    return {
      output: path.join(ds, output),
      shape: src.meta.shape,
      dtype: src.meta.dtype,
      params,
      inputRange,
      rawRange,
      blocks: r2.blocks,
      resumedBlocks: r1.skipped + r2.skipped + r3.skipped,
      levels: built,
      seconds: (performance.now() - started) / 1000,
    };
  });
}

function reduceRange(values: ReadonlyMap<number, unknown>): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values.values()) {
    const [a, b] = v as [number, number];
    if (a < lo) lo = a;
    if (b > hi) hi = b;
  }
  return [lo, hi];
}
