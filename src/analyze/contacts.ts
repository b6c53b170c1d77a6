import * as path from "node:path";
import type { ProgressSink, WorkerPool } from "../blockwise/index.ts";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { invalidArgument } from "../core/errors.ts";
import type { Connectivity } from "../ops/volume3d.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import { runComponentLabelling } from "../preprocess/components.ts";
import type { DropIdsParams } from "../preprocess/components-task.ts";
import {
  arraySpec,
  cleanupJob,
  finishOutput,
  prepareOutput,
  runKey,
  runPhase,
  tmpArray,
  wholeNumber,
  withJob,
} from "../preprocess/jobs.ts";
import { Volume } from "../store/volume.ts";
import { type ContactBlockStats, type ContactRow, contactsCsv, mergeContactStats } from "./contacts-core.ts";
import type { ContactRegionParams, ContactStatsParams } from "./contacts-task.ts";
import { writeFileAtomic } from "./measure.ts";

/*
 * `organelle contacts DATASET A B --distance D`: contact sites between two classes (definitions in
 * contacts-core.ts), block-wise and resumable: contact region (each block reads D nm around it) ->
 * connected components with global ids (the block label + face merge of src/preprocess) -> per-contact
 * statistics merged over blocks -> contacts below the minimum volume (or touching only one side)
 * removed from the array (their ids stay unused) -> `analysis/contacts_<A>_<B>` (uint32) and
 * `tables/contacts_<A>_<B>.csv`.
 */

/** SPEC §9: COSEM's minimum contact site volume. */
export const DEFAULT_MIN_CONTACT_VOLUME = 35_000;

export interface ContactsOptions {
  /** nm (default 10). */
  distance?: number;
  /** nm^3 (default 35,000). */
  minVolume?: number;
  connectivity?: Connectivity;
  output?: string;
  table?: string;
  blockVoxels?: number;
  workers?: number;
  /** Reuse these worker threads. */
  pool?: WorkerPool;
  overwrite?: boolean;
  progress?: ProgressSink | null;
  signal?: AbortSignal;
}

export interface ContactsResult {
  readonly rows: ContactRow[];
  readonly output: string;
  /** The instance array's path in the dataset (e.g. analysis/contacts_mito_er). */
  readonly outputArray: string;
  readonly csvPath: string;
  /** Components of the region before the size / pair filter. */
  readonly found: number;
  readonly seconds: number;
}

const lastPart = (a: string) => a.split("/").filter(Boolean).pop() ?? a;

export async function runContacts(
  datasetPath: string,
  arrayA: string,
  arrayB: string,
  opts: ContactsOptions = {},
): Promise<ContactsResult> {
  const t0 = performance.now();
  const ds = path.resolve(datasetPath);
  const distance = opts.distance ?? 10;
  if (!(distance > 0 && Number.isFinite(distance)))
    throw invalidArgument(`--distance ${distance}: expected nm > 0`);
  const minVolume = opts.minVolume ?? DEFAULT_MIN_CONTACT_VOLUME;
  if (!(minVolume >= 0 && Number.isFinite(minVolume)))
    throw invalidArgument(`--min-volume ${minVolume}: expected nm^3 >= 0`);
  const connectivity = opts.connectivity ?? 26;
  const edge = wholeNumber(opts.blockVoxels ?? 256, "--block", 1);
  const self = arrayA === arrayB;
  const va = await Volume.open(ds, arrayA);
  const vb = self ? va : await Volume.open(ds, arrayB);
  for (const v of [va, vb]) {
    if (!["uint8", "uint16", "uint32", "int32"].includes(v.meta.dtype)) {
      throw invalidArgument(
        `${v.describe()} is ${v.meta.dtype}; contacts read label arrays (uint8, uint16, uint32 or int32)`,
      );
    }
  }
  const same = (x: readonly number[], y: readonly number[]) => x.every((v, d) => v === y[d]);
  if (
    !same(va.meta.shape, vb.meta.shape) ||
    !same(va.meta.voxelSize, vb.meta.voxelSize) ||
    !same(va.meta.offset, vb.meta.offset)
  ) {
    throw invalidArgument(
      `${arrayA} and ${arrayB} are on different grids (shape ${va.meta.shape.join(",")} vs ${vb.meta.shape.join(",")}, voxel size ${va.meta.voxelSize.join(",")} vs ${vb.meta.voxelSize.join(",")} nm, offset ${va.meta.offset.join(",")} vs ${vb.meta.offset.join(",")} nm); pass arrays of one scale level and crop`,
    );
  }
  const vs = va.meta.voxelSize;
  const minVoxels = Math.ceil(minVolume / (vs[0] * vs[1] * vs[2]) - 1e-9);
  const nameA = lastPart(arrayA);
  const nameB = lastPart(arrayB);
  const output = opts.output ?? `analysis/contacts_${nameA}_${nameB}`;
  const key = runKey({
    v: 1,
    verb: "contacts",
    arrayA,
    arrayB,
    distance,
    minVoxels,
    connectivity,
    edge,
    output,
  });
  const geometry = {
    shape: va.meta.shape,
    voxelSize: vs,
    offset: va.meta.offset,
    chunks: va.meta.chunks,
    compressor: "zstd" as const,
    level: 1,
    format: va.meta.format,
  };
  const { runId } = await prepareOutput(
    ds,
    output,
    {
      ...geometry,
      dtype: "uint32",
      kind: "label",
      attrs: { contacts: { a: arrayA, b: arrayB, distance, minVolume, connectivity } },
    },
    key,
    { overwrite: opts.overwrite },
  );
  const a: ArrayRef = { datasetPath: ds, arrayPath: arrayA };
  const b: ArrayRef | undefined = self ? undefined : { datasetPath: ds, arrayPath: arrayB };
  return withJob(ds, key, runId, opts, async (job) => {
    const phases: { spec: BlockwiseTaskSpec; call: TaskCall }[] = [];
    const region = await tmpArray(job, "region", { ...geometry, dtype: "uint8" });
    const regionRef: ArrayRef = { datasetPath: region.datasetPath, arrayPath: region.arrayPath };
    const regionSpec = arraySpec(`contacts ${nameA}-${nameB}: region`, va, edge);
    const regionCall: TaskCall<ContactRegionParams> = {
      fn: "analyze.contactRegion",
      params: { a, ...(b ? { b } : {}), output: regionRef, distance },
    };
    await runPhase(job, regionSpec, regionCall);
    phases.push({ spec: regionSpec, call: regionCall });
    await region.volume.markComplete();
    const out: ArrayRef = { datasetPath: ds, arrayPath: output };
    const labelled = await runComponentLabelling(job, va, regionRef, out, connectivity, edge, "contacts");
    phases.push(...labelled.phases);
    const statsSpec = arraySpec(`contacts ${nameA}-${nameB}: statistics`, va, edge);
    const statsCall: TaskCall<ContactStatsParams> = {
      fn: "analyze.contactStats",
      params: { a, ...(b ? { b } : {}), contacts: out },
    };
    const stats = await runPhase(job, statsSpec, statsCall);
    phases.push({ spec: statsSpec, call: statsCall });
    const { rows, drop } = mergeContactStats(
      [...stats.values.values()] as ContactBlockStats[],
      vs,
      minVoxels,
      self,
    );
    if (drop.length > 0) {
      const spec = arraySpec(`contacts ${nameA}-${nameB}: drop small`, va, edge);
      const call: TaskCall<DropIdsParams> = {
        fn: "components.dropIds",
        params: { input: out, output: out, drop: Uint32Array.from(drop), run: `${job.key}/drop` },
      };
      await runPhase(job, spec, call);
      phases.push({ spec, call });
    }
    const csvPath = path.join(ds, opts.table ?? path.join("tables", `contacts_${nameA}_${nameB}.csv`));
    await writeFileAtomic(csvPath, contactsCsv(nameA, nameB, rows));
    await finishOutput(job, ds, output, 1);
    await cleanupJob(job, phases);
    return {
      rows,
      output: path.join(ds, output),
      outputArray: output,
      csvPath,
      found: labelled.count,
      seconds: (performance.now() - t0) / 1000,
    };
  });
}
