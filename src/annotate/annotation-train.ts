import * as fs from "node:fs";
import * as path from "node:path";
import { invalidArgument, notFound } from "../core/errors.ts";
import { getPreset } from "../gt/presets.ts";
import { listRois } from "../gt/rois.ts";
import { loadTrainConfig, type TrainConfig } from "../learn/config.ts";
import { openSource } from "../learn/sources.ts";

/*
 * Loop closure (issue 8 item 3): from the ROIs an annotation registered on labels/<organelle>, a
 * training configuration (docs/learn.md) that `organelle train` / `finetune` runs as is — the dataset's
 * training ROIs as the source, its validation ROIs (if any) as validation, masks/cell and the exclusion
 * zone picked up automatically.
 */

export interface AnnotationTrainOptions {
  readonly organelle: string;
  /** Model preset (default "small"; ignored by fine-tuning, which keeps the source run's network). */
  readonly model?: string;
  readonly steps?: number;
  /** Configuration file to write (default ./<dataset name>-<organelle>.train.json). */
  readonly config?: string;
  /** Run directory (default runs/<dataset name>-<organelle>[-finetune], next to the configuration). */
  readonly runDir?: string;
  readonly finetune?: boolean;
}

export interface AnnotationTrainConfig {
  readonly file: string;
  readonly text: string;
  readonly training: readonly string[];
  readonly validation: readonly string[];
}

/** Writes the configuration (JSON) for training on the dataset's annotated ROIs. */
export async function writeAnnotationTrainConfig(
  dataset: string,
  o: AnnotationTrainOptions,
): Promise<AnnotationTrainConfig> {
  const ds = path.resolve(dataset);
  if (!fs.existsSync(ds)) throw notFound(`${dataset}: no such dataset`);
  const preset = getPreset(o.organelle);
  const listing = await listRois(ds, preset.name);
  const training = listing.rois.filter((r) => r.role === "training").map((r) => r.name);
  const validation = listing.rois.filter((r) => r.role === "validation").map((r) => r.name);
  if (training.length === 0) {
    throw invalidArgument(
      `${path.join(dataset, listing.array)} has no training ROI; save an annotation as a training block (or 'organelle gt add-roi ${dataset} ${preset.name} --role training ...') first`,
    );
  }
  const stem = path.basename(ds).replace(/\.(zarr|n5)$/i, "");
  const file = path.resolve(o.config ?? `${stem}-${preset.name}.train.json`);
  const runDir = o.runDir
    ? path.resolve(o.runDir)
    : path.join(path.dirname(file), "runs", `${stem}-${preset.name}${o.finetune ? "-finetune" : ""}`);
  const config = {
    organelle: preset.name,
    model: o.model ?? "small",
    run_dir: runDir,
    ...(o.steps ? { training: { steps: o.steps } } : {}),
    sources: [{ dataset: ds, rois: "training" }],
    validation: validation.length > 0 ? [{ dataset: ds, rois: "validation" }] : [],
  };
  const text = `${JSON.stringify(config, null, 2)}\n`;
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.promises.writeFile(tmp, text);
  await fs.promises.rename(tmp, file);
  return { file, text, training, validation };
}

export interface CheckedSource {
  readonly name: string;
  readonly role: "training" | "validation";
  readonly rois: readonly { readonly name: string; readonly roi: string }[];
  readonly mask: boolean;
  readonly exclusion: boolean;
}

/** Loads the configuration and opens every source as training would (arrays, grids, ROIs): a dry run. */
export async function checkTrainConfig(
  file: string,
): Promise<{ config: TrainConfig; sources: CheckedSource[] }> {
  const config = loadTrainConfig(file);
  const sources: CheckedSource[] = [];
  for (const [role, list] of [
    ["training", config.sources],
    ["validation", config.validation],
  ] as const) {
    for (const s of list) {
      const o = await openSource(s, config.voxelSize);
      sources.push({
        name: o.name,
        role,
        rois: o.rois.map((r) => ({ name: r.name, roi: r.roi.toString() })),
        mask: o.mask !== null,
        exclusion: o.exclusion !== null,
      });
    }
  }
  return { config, sources };
}
