import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { fromFsError, invalidArgument } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import { getPreset } from "../gt/presets.ts";
import type { LrSchedule } from "./lr-schedule.ts";
import { type Field, type Schema, validate } from "./schema.ts";
import { nearestValidInput, networkShape } from "./shapes.ts";
import { getModelPreset, MODEL_PRESETS, specFromJson, type UNetSpec } from "./unet-spec.ts";

/*
 * `organelle train CONFIG`: the training configuration, YAML or JSON. Keys are snake_case; paths are
 * relative to the file. Everything but `organelle`, `sources` and `validation` has a default taken from
 * SPEC §4 (ASEM). A minimal file:
 *
 *   organelle: mito
 *   model: small
 *   run_dir: runs/mito-small
 *   sources:
 *     - dataset: cell1.zarr          # its labels/mito training ROIs, masks/cell, labels/mito_exclusion
 *   validation:
 *     - dataset: cell1.zarr          # its labels/mito validation ROIs
 *     - dataset: cell2.zarr          # a naive cell
 *       rois: all
 *
 * Sampling: mask rejection follows ASEM's code (reject with p = 0.95 when <= 75 % of the output block is
 * inside the cell mask); the paper's rule (always reject when > 25 % is outside) is
 * `mask_reject_probability: 1`. Foreground rejection: p = 0.9 below 5 % foreground (paper and code).
 */

export type RoiSelection = "training" | "validation" | "all" | readonly Roi[];

export interface SourceConfig {
  /** Absolute path of the dataset container. */
  readonly dataset: string;
  readonly raw: string;
  readonly labels: string;
  readonly rois: RoiSelection;
  /** Cell mask array, `null` for none (everything inside); default masks/cell when the dataset has it. */
  readonly mask: string | null | "auto";
  /** Exclusion zone array, `null` for none; default <labels>_exclusion when the dataset has it. */
  readonly exclusion: string | null | "auto";
  /** Name in reports (default: the dataset's file name). */
  readonly name: string;
}

export interface SamplingConfig {
  readonly foregroundMin: number;
  readonly rejectBackgroundProbability: number;
  readonly maskMinInside: number;
  readonly rejectMaskProbability: number;
  /** Draws before giving up on finding an acceptable block (a configuration that rejects everything). */
  readonly maxTries: number;
}

export interface AugmentConfig {
  readonly mirror: boolean;
  readonly transpose: boolean;
  readonly elastic: {
    readonly enabled: boolean;
    readonly controlPointSpacing: number;
    readonly jitterSigma: number;
    readonly rotation: readonly [number, number];
    readonly subsample: number;
    /** How raw is resampled through the transform; labels are always nearest. */
    readonly rawInterpolation: "linear" | "nearest";
  };
  readonly intensity: {
    readonly enabled: boolean;
    readonly scale: readonly [number, number];
    readonly shift: readonly [number, number];
  };
}

export interface LossConfig {
  /**
   * Class frequencies per block (gunpowder's BalanceLabels, ASEM), over all training ROIs, or none: every
   * voxel that counts weighs 1, so the 0.5 threshold is where the organelle is more likely than not.
   */
  readonly balance: "block" | "dataset" | "none";
}

export interface TrainConfig {
  /** The file it came from (absolute), for messages. */
  readonly file: string;
  readonly organelle: string;
  readonly model: {
    readonly preset: string | null;
    readonly spec: UNetSpec;
    /** Valid network input shape for training (voxels). */
    readonly inputShape: Coordinate;
  };
  /** Training resolution in nm; null = each source's full resolution (they must agree). */
  readonly voxelSize: Coordinate | null;
  readonly runDir: string;
  readonly seed: number;
  readonly training: {
    readonly steps: number;
    readonly batchSize: number;
    readonly learningRate: number;
    readonly lrSchedule: LrSchedule;
    readonly weightDecay: number;
    readonly checkpointEvery: number;
    readonly validateEvery: number;
    readonly prefetch: number;
    /** Decoded chunks kept in memory, MiB (0: read the store every time). */
    readonly cacheMb: number;
  };
  readonly sources: readonly SourceConfig[];
  readonly validation: readonly SourceConfig[];
  readonly loss: LossConfig;
  readonly sampling: SamplingConfig;
  readonly augment: AugmentConfig;
  readonly evaluation: {
    readonly threshold: number;
    /** Largest network input for block-wise validation prediction (voxels). */
    readonly maxInputShape: Coordinate | null;
    /** Relative tolerance on the validation loss that defines the plateau ("fit regime"). */
    readonly plateauTolerance: number;
  };
  readonly engine: {
    readonly device: "auto" | "cpu" | "cuda";
    readonly threads: number | null;
    readonly python: string | null;
  };
  /** The validated configuration with defaults, as written to the run directory. */
  readonly resolved: Record<string, unknown>;
}

const num = (o: Omit<Extract<Schema, { type: "number" }>, "type"> = {}): Schema => ({ type: "number", ...o });
const int = (min = 0): Schema => ({ type: "number", integer: true, min });
const str = (choices?: readonly string[]): Schema =>
  choices ? { type: "string", choices } : { type: "string" };
const bool: Schema = { type: "boolean" };
const prob = num({ min: 0, max: 1 });
const obj = (fields: Record<string, Field>): Schema => ({ type: "object", fields });

const ROI_ITEM = obj({
  offset: { schema: { type: "coord" }, required: true, doc: "[z, y, x] in nm" },
  shape: { schema: { type: "coord", positive: true }, required: true, doc: "[z, y, x] in nm" },
});

const roisSchema = (dflt: string): Field => ({
  schema: {
    type: "oneOf",
    expected: "training, validation, all or a list of {offset, shape} in nm",
    alternatives: [
      { when: (v) => typeof v === "string", schema: str(["training", "validation", "all"]) },
      { when: Array.isArray, schema: { type: "list", of: ROI_ITEM, minItems: 1 } },
    ],
  },
  default: dflt,
  doc: "which ROIs of the label array",
});

const sourceSchema = (roiDefault: string): Schema =>
  obj({
    dataset: { schema: str(), required: true, doc: "path of the cell's dataset container" },
    name: { schema: str() },
    raw: { schema: str(), default: "raw" },
    labels: { schema: str(), doc: "label array, default labels/<organelle>" },
    rois: roisSchema(roiDefault),
    mask: { schema: str(), default: "auto", doc: "mask array, none, or auto (masks/cell if present)" },
    exclusion: {
      schema: str(),
      default: "auto",
      doc: "exclusion zone array, none, or auto (<labels>_exclusion if present)",
    },
  });

const MODEL_SCHEMA: Schema = {
  type: "oneOf",
  expected: `a preset name (${MODEL_PRESETS.map((p) => p.name).join(", ")}) or {preset | spec, input_shape}`,
  alternatives: [
    { when: (v) => typeof v === "string", schema: str(MODEL_PRESETS.map((p) => p.name)) },
    {
      when: (v) => typeof v === "object" && v !== null && !Array.isArray(v),
      schema: obj({
        preset: { schema: str(MODEL_PRESETS.map((p) => p.name)) },
        spec: { schema: { type: "any" }, doc: "a U-Net spec (see src/learn/unet-spec.ts)" },
        input_shape: { schema: { type: "coord", positive: true, integer: true } },
      }),
    },
  ],
};

export const CONFIG_SCHEMA: Schema = obj({
  organelle: { schema: str(), required: true, doc: "the organelle to learn, e.g. mito" },
  model: { schema: MODEL_SCHEMA, default: "small" },
  voxel_size: { schema: { type: "coord", positive: true } },
  run_dir: { schema: str(), doc: "default runs/<config file name>" },
  seed: { schema: int(0), default: 1 },
  training: {
    schema: obj({
      steps: { schema: int(1), default: 2000 },
      batch_size: { schema: int(1), default: 1 },
      learning_rate: { schema: num({ min: 0 }), default: 3e-5 },
      lr_schedule: {
        schema: str(["constant", "cosine"]),
        default: "constant",
        doc: "constant (ASEM), or cosine: from learning_rate down to 0 at the last step",
      },
      weight_decay: { schema: num({ min: 0 }), default: 3e-5 },
      checkpoint_every: { schema: int(1), default: 1000 },
      validate_every: { schema: int(1), default: 1000 },
      prefetch: { schema: int(1), default: 2 },
      cache_mb: { schema: int(0), default: 1024, doc: "decoded chunks kept in memory (0: none)" },
    }),
  },
  sources: { schema: { type: "list", of: sourceSchema("training"), minItems: 1 }, required: true },
  validation: { schema: { type: "list", of: sourceSchema("validation") }, default: [] },
  loss: {
    schema: obj({
      balance: {
        schema: str(["block", "dataset", "none"]),
        default: "block",
        doc: "class-balanced weights from each block's foreground fraction (ASEM) or from all training ROIs', or none (weight 1)",
      },
    }),
  },
  sampling: {
    schema: obj({
      foreground_min: { schema: prob, default: 0.05 },
      reject_background_probability: { schema: prob, default: 0.9 },
      mask_min_inside: { schema: prob, default: 0.75 },
      mask_reject_probability: { schema: prob, default: 0.95 },
      max_tries: { schema: int(1), default: 10_000 },
    }),
  },
  augment: {
    schema: obj({
      mirror: { schema: bool, default: true },
      transpose: { schema: bool, default: true },
      elastic: {
        schema: obj({
          enabled: { schema: bool, default: true },
          control_point_spacing: { schema: num({ min: 1 }), default: 32 },
          jitter_sigma: { schema: num({ min: 0 }), default: 2 },
          rotation: {
            schema: { type: "interval", min: -2 * Math.PI, max: 2 * Math.PI },
            default: [0, Math.PI / 2],
          },
          subsample: { schema: int(1), default: 4 },
          raw_interpolation: {
            schema: str(["linear", "nearest"]),
            default: "linear",
            doc: "linear (gunpowder) averages neighbouring voxels and so smooths the noise; nearest keeps it",
          },
        }),
      },
      intensity: {
        schema: obj({
          enabled: { schema: bool, default: true },
          scale: { schema: { type: "interval", min: 0 }, default: [0.85, 1.15] },
          shift: { schema: { type: "interval", min: -1, max: 1 }, default: [-0.15, 0.15] },
        }),
      },
    }),
  },
  evaluation: {
    schema: obj({
      threshold: { schema: prob, default: 0.5 },
      max_input_shape: { schema: { type: "coord", positive: true, integer: true } },
      plateau_tolerance: { schema: num({ min: 0 }), default: 0.05 },
    }),
  },
  engine: {
    schema: obj({
      device: { schema: str(["auto", "cpu", "cuda"]), default: "auto" },
      threads: { schema: int(1) },
      python: { schema: str() },
    }),
  },
});

/** Reads and validates a YAML or JSON training configuration. */
export function loadTrainConfig(file: string): TrainConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw fromFsError(e, file, "reading the training configuration");
  }
  return parseTrainConfig(text, path.resolve(file));
}

export function parseTrainConfig(text: string, file: string): TrainConfig {
  let raw: unknown;
  try {
    raw = file.endsWith(".json") ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw invalidArgument(
      `${file}: not valid ${file.endsWith(".json") ? "JSON" : "YAML"}: ${(e as Error).message.split("\n")[0]}`,
    );
  }
  return configFromObject(raw, file);
}

type Obj = Record<string, unknown>;

/** Builds the typed configuration from a parsed object; `file` resolves relative paths and names errors. */
export function configFromObject(raw: unknown, file: string): TrainConfig {
  const v = validate(raw, CONFIG_SCHEMA, "", file) as Obj;
  const dir = path.dirname(file);
  const organelle = getPresetName(v.organelle as string, file);
  const model = resolveModel(v.model, file);
  const tr = v.training as Obj;
  const sources = (v.sources as Obj[]).map((s, i) => resolveSource(s, dir, organelle, `sources[${i}]`, file));
  const validation = (v.validation as Obj[]).map((s, i) =>
    resolveSource(s, dir, organelle, `validation[${i}]`, file),
  );
  const sa = v.sampling as Obj;
  const au = v.augment as Obj;
  const el = au.elastic as Obj;
  const it = au.intensity as Obj;
  const ev = v.evaluation as Obj;
  const en = v.engine as Obj;
  const stem = path.basename(file).replace(/\.(ya?ml|json)$/i, "");
  const runDir = path.resolve(dir, (v.run_dir as string | undefined) ?? path.join("runs", stem));
  const resolved: Obj = {
    ...v,
    run_dir: runDir,
    model: {
      ...(model.preset ? { preset: model.preset } : {}),
      spec: model.spec,
      input_shape: [...model.inputShape],
    },
  };
  resolved.sources = sources.map(sourceToJson);
  resolved.validation = validation.map(sourceToJson);
  return {
    file,
    organelle,
    model,
    voxelSize: v.voxel_size ? c3(v.voxel_size) : null,
    runDir,
    seed: v.seed as number,
    training: {
      steps: tr.steps as number,
      batchSize: tr.batch_size as number,
      learningRate: tr.learning_rate as number,
      lrSchedule: tr.lr_schedule as LrSchedule,
      weightDecay: tr.weight_decay as number,
      checkpointEvery: tr.checkpoint_every as number,
      validateEvery: tr.validate_every as number,
      prefetch: tr.prefetch as number,
      cacheMb: tr.cache_mb as number,
    },
    sources,
    validation,
    loss: { balance: (v.loss as Obj).balance as LossConfig["balance"] },
    sampling: {
      foregroundMin: sa.foreground_min as number,
      rejectBackgroundProbability: sa.reject_background_probability as number,
      maskMinInside: sa.mask_min_inside as number,
      rejectMaskProbability: sa.mask_reject_probability as number,
      maxTries: sa.max_tries as number,
    },
    augment: {
      mirror: au.mirror as boolean,
      transpose: au.transpose as boolean,
      elastic: {
        enabled: el.enabled as boolean,
        controlPointSpacing: el.control_point_spacing as number,
        jitterSigma: el.jitter_sigma as number,
        rotation: el.rotation as [number, number],
        subsample: el.subsample as number,
        rawInterpolation: el.raw_interpolation as "linear" | "nearest",
      },
      intensity: {
        enabled: it.enabled as boolean,
        scale: it.scale as [number, number],
        shift: it.shift as [number, number],
      },
    },
    evaluation: {
      threshold: ev.threshold as number,
      maxInputShape: ev.max_input_shape ? c3(ev.max_input_shape) : null,
      plateauTolerance: ev.plateau_tolerance as number,
    },
    engine: {
      device: en.device as "auto" | "cpu" | "cuda",
      threads: (en.threads as number | undefined) ?? null,
      python: (en.python as string | undefined) ?? null,
    },
    resolved,
  };
}

function c3(v: unknown): Coordinate {
  const a = v as number[];
  return coord(a[0]!, a[1]!, a[2]!);
}

function getPresetName(name: string, file: string): string {
  try {
    return getPreset(name).name;
  } catch (e) {
    throw invalidArgument(`${file}: organelle: ${(e as Error).message}`);
  }
}

function resolveModel(m: unknown, file: string): TrainConfig["model"] {
  const o: Obj = typeof m === "string" ? { preset: m } : (m as Obj);
  if ((o.preset === undefined) === (o.spec === undefined)) {
    throw invalidArgument(`${file}: model: give either a preset or a spec (not both)`);
  }
  const preset = o.preset ? getModelPreset(o.preset as string) : undefined;
  const spec = preset ? preset.spec : specFromJson(o.spec, `${file}: model.spec`);
  let inputShape: Coordinate;
  if (o.input_shape) {
    inputShape = c3(o.input_shape);
    try {
      networkShape(spec, inputShape);
    } catch (e) {
      throw invalidArgument(`${file}: model.input_shape: ${(e as Error).message}`);
    }
  } else if (preset) {
    inputShape = nearestValidInput(spec, preset.inputSize, "up");
  } else {
    throw invalidArgument(`${file}: model.input_shape is needed with a spec (a valid input size in voxels)`);
  }
  if (spec.head === "tanh-distance") {
    throw invalidArgument(
      `${file}: model: head 'tanh-distance' (COSEM-style multi-class distances) needs multi-class distance targets, which organelle train does not make yet; train a binary model (head softmax2 or sigmoid, e.g. presets small or asem)`,
    );
  }
  return { preset: preset?.name ?? null, spec, inputShape };
}

function resolveSource(s: Obj, dir: string, organelle: string, where: string, file: string): SourceConfig {
  const dataset = path.resolve(dir, s.dataset as string);
  const labels = (s.labels as string | undefined) ?? `labels/${organelle}`;
  let rois: RoiSelection;
  if (typeof s.rois === "string") rois = s.rois as "training" | "validation" | "all";
  else {
    rois = (s.rois as Obj[]).map((r, i) => {
      try {
        return new Roi(c3(r.offset), c3(r.shape));
      } catch (e) {
        throw invalidArgument(`${file}: ${where}.rois[${i}]: ${(e as Error).message}`);
      }
    });
  }
  const optional = (v: unknown): string | null | "auto" => (v === "none" ? null : (v as string));
  return {
    dataset,
    raw: s.raw as string,
    labels,
    rois,
    mask: optional(s.mask),
    exclusion: optional(s.exclusion),
    name: (s.name as string | undefined) ?? path.basename(dataset).replace(/\.(zarr|n5)$/, ""),
  };
}

function sourceToJson(s: SourceConfig): Obj {
  return {
    name: s.name,
    dataset: s.dataset,
    raw: s.raw,
    labels: s.labels,
    rois: typeof s.rois === "string" ? s.rois : s.rois.map((r) => r.toJSON()),
    mask: s.mask ?? "none",
    exclusion: s.exclusion ?? "none",
  };
}
