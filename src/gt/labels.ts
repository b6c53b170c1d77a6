import * as fs from "node:fs";
import * as path from "node:path";
import { invalidArgument, isOrganelleError, notFound } from "../core/errors.ts";
import { readJson, Volume, writeJsonAtomic } from "../store/volume.ts";
import { getPreset, type OrganellePreset } from "./presets.ts";

/*
 * Label arrays of a dataset: `labels/<organelle>` (uint8 0/1 binary, or uint16/uint32 instance ids),
 * named by the canonical preset name, so `gt ... mitochondria` finds labels/mito.
 *
 * Verbs that rewrite a label array in place (gt clean, gt bias) write the new array into a hidden
 * container and swap it in with renames. A swap record makes the swap finish even when the process is
 * killed between the renames: the next command that opens the labels completes it first.
 */

export function labelArrayPath(preset: OrganellePreset): string {
  return `labels/${preset.name}`;
}

export interface OpenedLabels {
  readonly datasetPath: string;
  readonly preset: OrganellePreset;
  readonly arrayPath: string;
  readonly volume: Volume;
  /** uint8 arrays hold binary labels (non-zero = the organelle); wider types hold instance ids. */
  readonly instances: boolean;
}

export async function openLabels(
  datasetPath: string,
  organelle: string,
  opts: { allowIncomplete?: boolean } = {},
): Promise<OpenedLabels> {
  const preset = getPreset(organelle);
  const ds = path.resolve(datasetPath);
  if (!fs.existsSync(ds)) throw notFound(`${datasetPath}: no such dataset`);
  const arrayPath = labelArrayPath(preset);
  await finishPendingSwap(ds, arrayPath);
  let volume: Volume;
  try {
    volume = await Volume.open(ds, arrayPath, { allowIncomplete: opts.allowIncomplete ?? false });
  } catch (e) {
    if (isOrganelleError(e, "NotFound")) {
      throw notFound(
        `${path.join(datasetPath, arrayPath)}: the dataset has no ${preset.title} labels; bring them in with 'organelle gt import SRC ${datasetPath} ${preset.name}'`,
      );
    }
    throw e;
  }
  const dtype = volume.meta.dtype;
  if (dtype !== "uint8" && dtype !== "uint16" && dtype !== "uint32") {
    throw invalidArgument(
      `${volume.describe()} is ${dtype}; ground-truth tools work on uint8 (binary) or uint16/uint32 (instance) labels`,
    );
  }
  return { datasetPath: ds, preset, arrayPath, volume, instances: dtype !== "uint8" };
}

interface SwapRecord {
  readonly source: string;
  readonly target: string;
  readonly trash: string;
}

function swapRecordPath(datasetPath: string, arrayPath: string): string {
  return path.join(datasetPath, ".organelle", "swap", `${arrayPath.replaceAll("/", "__")}.json`);
}

/**
 * Replaces `<dataset>/<arrayPath>` by the complete array directory `source` (same array path inside
 * another container of the same format), through renames recorded in a swap record.
 */
export async function swapInArray(datasetPath: string, arrayPath: string, source: string): Promise<void> {
  const record: SwapRecord = {
    source,
    target: path.join(datasetPath, arrayPath),
    trash: path.join(datasetPath, ".organelle", "trash", `${arrayPath.replaceAll("/", "__")}-${Date.now()}`),
  };
  await writeJsonAtomic(swapRecordPath(datasetPath, arrayPath), record);
  await completeSwap(datasetPath, arrayPath, record);
}

async function completeSwap(datasetPath: string, arrayPath: string, r: SwapRecord): Promise<void> {
  if (fs.existsSync(r.source)) {
    if (fs.existsSync(r.target)) {
      await fs.promises.mkdir(path.dirname(r.trash), { recursive: true });
      await fs.promises.rename(r.target, r.trash);
    }
    await fs.promises.mkdir(path.dirname(r.target), { recursive: true });
    await fs.promises.rename(r.source, r.target);
  }
  await fs.promises.rm(r.trash, { recursive: true, force: true });
  await fs.promises.rm(swapRecordPath(datasetPath, arrayPath), { force: true });
}

/** Completes a swap that an interrupted command left half done. */
export async function finishPendingSwap(datasetPath: string, arrayPath: string): Promise<void> {
  const file = swapRecordPath(datasetPath, arrayPath);
  if (!fs.existsSync(file)) return;
  await completeSwap(datasetPath, arrayPath, (await readJson(file)) as SwapRecord);
}
