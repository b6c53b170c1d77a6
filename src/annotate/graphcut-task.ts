import * as fs from "node:fs";
import * as path from "node:path";
import { equals, format } from "../core/coordinate.ts";
import { invalidArgument, isOrganelleError, notFound } from "../core/errors.ts";
import type { Roi } from "../core/roi.ts";
import { addRoi } from "../gt/rois.ts";
import { Volume } from "../store/volume.ts";
import { type GraphCutParams, graphCut } from "./graphcut.ts";
import type { SlicOptions } from "./slic.ts";

/**
 * `organelle graphcut`: the graph cut of one ROI of a dataset from a seed array (uint8, 1 fg, 2 bg) into
 * a uint8 label array (created on raw's grid if missing; otherwise only the ROI is rewritten). The
 * label array is marked incomplete while the ROI is written, so an interruption never leaves it looking
 * finished.
 */

export interface GraphcutRunOptions extends GraphCutParams {
  readonly roi: Roi;
  readonly seeds: string;
  readonly out: string;
  readonly raw?: string;
  readonly slic?: SlicOptions;
  readonly mixtureCleanUp?: boolean;
  /** Replace an existing --out array by a fresh uint8 one (otherwise only its ROI is rewritten). */
  readonly overwrite?: boolean;
  /** Register the ROI on the label array as a training or validation block. */
  readonly role?: "training" | "validation";
}

export interface GraphcutRunResult {
  readonly out: string;
  readonly voxels: number;
  readonly foreground: number;
  readonly supervoxels: number;
  readonly seconds: { supervoxels: number; cut: number };
}

export async function runGraphcut(dataset: string, o: GraphcutRunOptions): Promise<GraphcutRunResult> {
  const ds = path.resolve(dataset);
  if (!fs.existsSync(ds)) throw notFound(`${dataset}: no such dataset`);
  const raw = await Volume.open(ds, o.raw ?? "raw");
  if (raw.meta.dtype !== "uint8" && raw.meta.dtype !== "uint16")
    throw invalidArgument(
      `${raw.describe()} is ${raw.meta.dtype}; graph cut reads uint8 or uint16 grey values`,
    );
  const box = raw.boxOf(o.roi);
  if (
    box.shape.some((s, i) => box.begin[i]! < 0 || box.begin[i]! + s > raw.meta.shape[i]!) ||
    box.shape.some((s) => s < 2)
  )
    throw invalidArgument(
      `--roi ${o.roi.toString()}: must lie inside ${raw.describe()} (${format(raw.meta.shape)} voxels) and be >= 2 voxels per axis`,
    );
  let seedsVolume: Volume;
  try {
    seedsVolume = await Volume.open(ds, o.seeds, { allowIncomplete: true });
  } catch (e) {
    if (isOrganelleError(e, "NotFound")) throw notFound(`--seeds ${o.seeds}: no such array in ${dataset}`);
    throw e;
  }
  if (seedsVolume.meta.dtype !== "uint8")
    throw invalidArgument(
      `--seeds ${seedsVolume.describe()} is ${seedsVolume.meta.dtype}; seeds are uint8 (1 foreground, 2 background)`,
    );
  if (!equals(seedsVolume.meta.voxelSize, raw.meta.voxelSize))
    throw invalidArgument(
      `--seeds ${seedsVolume.describe()} has voxel size ${format(seedsVolume.meta.voxelSize)} nm, raw has ${format(raw.meta.voxelSize)}; seeds must be on raw's grid`,
    );

  const image = (await raw.readBox(box)) as Uint8Array | Uint16Array;
  const seeds = (await seedsVolume.readRoi(o.roi)) as Uint8Array;
  for (let i = 0; i < seeds.length; i++) {
    if (seeds[i]! > 2)
      throw invalidArgument(
        `--seeds ${seedsVolume.describe()}: value ${seeds[i]} in the ROI; use 0 none, 1 foreground, 2 background`,
      );
  }
  const t0 = performance.now();
  const result = graphCut(image, box.shape, seeds, {
    ...o,
    voxelSize: raw.meta.voxelSize,
  });
  const t1 = performance.now();

  let out: Volume | undefined;
  if (!o.overwrite) {
    try {
      out = await Volume.open(ds, o.out, { allowIncomplete: true });
    } catch (e) {
      if (!isOrganelleError(e, "NotFound")) throw e;
    }
    if (out && (out.meta.dtype !== "uint8" || !equals(out.meta.voxelSize, raw.meta.voxelSize)))
      throw invalidArgument(
        `--out ${out.describe()} is ${out.meta.dtype} at ${format(out.meta.voxelSize)} nm; graph cut writes uint8 labels on raw's grid (${format(raw.meta.voxelSize)} nm): choose another --out or pass --overwrite to replace it`,
      );
  }
  if (!out) {
    out = await Volume.create(ds, o.out, {
      shape: raw.meta.shape,
      dtype: "uint8",
      voxelSize: raw.meta.voxelSize,
      offset: raw.meta.offset,
      chunks: raw.meta.chunks,
      format: raw.meta.format,
      kind: "label",
      overwrite: o.overwrite ?? false,
    });
  }
  await out.markComplete(false);
  await out.writeRoi(o.roi, result.mask);
  await out.markComplete(true);
  if (o.role) {
    const organelle = path.basename(o.out);
    await addRoi(ds, organelle, { roi: o.roi, role: o.role });
  }
  let fg = 0;
  for (let i = 0; i < result.mask.length; i++) fg += result.mask[i]!;
  const t = result.timings;
  return {
    out: out.describe(),
    voxels: result.mask.length,
    foreground: fg,
    supervoxels: result.session.supervoxels.count,
    seconds: {
      supervoxels: (t1 - t0 - t.unaries - t.maxflow - t.mask) / 1000,
      cut: (t.unaries + t.maxflow + t.mask) / 1000,
    },
  };
}
