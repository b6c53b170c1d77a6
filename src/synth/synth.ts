import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  type BlockwiseTaskSpec,
  jobJournalPath,
  jobKey,
  type Progress,
  runInProcess,
  runInWorkers,
  type TaskCall,
  WorkerPool,
} from "../blockwise/index.ts";
import { canonicalJson } from "../blockwise/job-key.ts";
import { type Coordinate, coord, format, uniform } from "../core/coordinate.ts";
import { fromFsError, invalidArgument } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import { validateVoxelSize } from "../core/voxel-size.ts";
import { readMultiscaleGroup } from "../store/multiscale.ts";
import { buildPyramid } from "../store/pyramid.ts";
import { DEFAULT_CHUNK, type OmeVersion, readJson, Volume, writeJsonAtomic } from "../store/volume.ts";
import { TASK_TABLE } from "../tasks/table.ts";
import { DEFAULT_CLASSES, ORGANELLE_CLASSES, type OrganelleClass, validateClasses } from "./classes.ts";
import type { Vec3 } from "./geometry.ts";
import { DEFAULT_IMAGING, type ImagingParams } from "./imaging.ts";
import { buildCellModel, type CellModel, type PoreDiameterSpec } from "./model.ts";
import { writePreview } from "./preview.ts";
import { Scene } from "./scene.ts";
import { SYNTH_ARRAYS, type SynthBlockStats, type SynthRenderParams } from "./task.ts";

/** Default physical size of a synthetic volume: big enough for every organelle class to appear. */
export const DEFAULT_SIZE_UM = 2;
export const DEFAULT_VOXEL_NM = 5;
/** The model and settings, stored at the dataset root next to the arrays. */
export const SYNTH_JSON = "synth.json";

export interface SynthOptions {
  /** Voxel size (nm, z,y,x); default 5 isotropic. */
  voxelSize?: Coordinate;
  /** Volume shape in voxels (z,y,x); its physical size is shape x voxel size. Exclusive with sizeUm. */
  shape?: Coordinate;
  /** Physical size in um (z,y,x); default 2.5 cubed. The cell is laid out in this size, whatever the voxel size. */
  sizeUm?: Coordinate;
  /** Layout and imaging seed (default 1). */
  seed?: number;
  /** Chunk shape in voxels (default 128, cut to the shape). */
  chunks?: Coordinate;
  format?: OmeVersion;
  /** Classes drawn and labelled (default DEFAULT_CLASSES, plus `ccp` when `pits` is given). */
  classes?: readonly OrganelleClass[];
  /** Nuclear pore diameters (nm); default 95 +- 12 cut to 65..130. */
  poreDiameter?: PoreDiameterSpec;
  /** Coated pits, coated vesicles and caveolae to lay out (class `ccp`); default 12 when `ccp` is drawn. */
  pits?: number;
  /** Imaging model; unset fields take DEFAULT_IMAGING. */
  blur?: Coordinate;
  noise?: number;
  drift?: number;
  curtain?: number;
  /** Replace OUT if it exists and discard an interrupted OUT.partial of other settings. */
  overwrite?: boolean;
  /** Build scale levels for every array (default true). */
  pyramid?: boolean;
  /** Write a PNG preview (middle xy and xz planes, raw and labels) here. */
  preview?: string;
  /** "workers" (default) or "in-process" (tests). */
  runner?: "workers" | "in-process";
  workers?: number;
  /** Write-block edge in voxels, rounded to whole chunks (default: one chunk). */
  blockVoxels?: number;
  pool?: WorkerPool;
  progress?: Progress | false;
  signal?: AbortSignal;
}

export interface SynthResult {
  readonly dataset: string;
  readonly shape: Coordinate;
  readonly voxelSize: Coordinate;
  /** Physical size of the volume the cell was laid out in (nm). */
  readonly extentNm: Coordinate;
  readonly chunks: Coordinate;
  readonly classes: readonly OrganelleClass[];
  /** Instances per class in the model (whole cell, also parts outside the volume). */
  readonly instances: Readonly<Record<OrganelleClass, number>>;
  /** Labelled voxels per class in the volume. */
  readonly voxels: Readonly<Record<OrganelleClass, number>>;
  readonly cellVoxels: number;
  readonly blocks: number;
  /** Blocks skipped because an interrupted run had written them. */
  readonly resumedBlocks: number;
  readonly renderSeconds: number;
  readonly pyramidLevels: number;
  readonly seconds: number;
}

/** Everything that decides the output bytes; a partial dataset is resumed only when this matches. */
interface SynthSettings {
  readonly organelle: "synth-settings";
  readonly version: 1;
  readonly seed: number;
  readonly extentNm: Vec3;
  readonly shape: Vec3;
  readonly voxelSize: Vec3;
  readonly chunks: Vec3;
  readonly format: OmeVersion;
  readonly classes: readonly OrganelleClass[];
  readonly imaging: ImagingParams;
  readonly pyramid: boolean;
  /** Only when given, so settings (and resume keys) of runs without them stay as they were. */
  readonly poreDiameter?: PoreDiameterSpec;
  readonly pits?: number;
}

/** The resolved settings of a run: validated, with defaults filled in. */
export function resolveSynthSettings(opts: SynthOptions): {
  settings: SynthSettings;
  model: CellModel;
} {
  const voxelSize = validateVoxelSize(opts.voxelSize ?? uniform(DEFAULT_VOXEL_NM), "--voxel-size");
  if (opts.shape && opts.sizeUm) throw invalidArgument("give either --shape (voxels) or --size-um, not both");
  let shape: Coordinate;
  let extent: Coordinate;
  if (opts.shape) {
    if (!opts.shape.every((s) => Number.isInteger(s) && s > 0)) {
      throw invalidArgument(
        `--shape ${format(opts.shape)}: every axis must be a whole number of voxels >= 1`,
      );
    }
    shape = opts.shape;
    extent = coord(shape[0] * voxelSize[0], shape[1] * voxelSize[1], shape[2] * voxelSize[2]);
  } else {
    const um = opts.sizeUm ?? uniform(DEFAULT_SIZE_UM);
    if (!um.every((v) => Number.isFinite(v) && v > 0)) {
      throw invalidArgument(`--size-um ${format(um)}: every axis must be a positive number of micrometres`);
    }
    extent = coord(um[0] * 1000, um[1] * 1000, um[2] * 1000);
    shape = coord(
      ...([0, 1, 2].map((d) => Math.max(1, Math.round(extent[d]! / voxelSize[d]!))) as [
        number,
        number,
        number,
      ]),
    );
  }
  const voxels = shape[0] * shape[1] * shape[2];
  if (voxels > 2 ** 40) {
    throw invalidArgument(
      `volume of ${shape.join(" x ")} voxels is too large; check --shape/--size-um against --voxel-size (nm)`,
    );
  }
  const seed = opts.seed ?? 1;
  if (!Number.isSafeInteger(seed)) throw invalidArgument(`--seed ${seed}: must be a whole number`);
  const chunkRequest = opts.chunks ?? uniform(DEFAULT_CHUNK);
  if (!chunkRequest.every((c) => Number.isInteger(c) && c > 0)) {
    throw invalidArgument(`--chunks ${format(chunkRequest)}: every axis must be a whole number >= 1`);
  }
  const chunks = coord(
    Math.min(chunkRequest[0], shape[0]),
    Math.min(chunkRequest[1], shape[1]),
    Math.min(chunkRequest[2], shape[2]),
  );
  const blur = opts.blur ?? DEFAULT_IMAGING.blur;
  if (!blur.every((b) => Number.isFinite(b) && b >= 0 && b <= 1000)) {
    throw invalidArgument(`--blur ${format(blur)}: PSF sigma in nm must lie within 0..1000`);
  }
  const strength = (v: number | undefined, def: number, what: string, max: number) => {
    const x = v ?? def;
    if (!(Number.isFinite(x) && x >= 0 && x <= max)) {
      throw invalidArgument(`${what} ${x}: must be a number within 0..${max}`);
    }
    return x;
  };
  const imaging: ImagingParams = {
    blur: coord(blur[0], blur[1], blur[2]),
    noise: strength(opts.noise, DEFAULT_IMAGING.noise, "--noise", 255),
    drift: strength(opts.drift, DEFAULT_IMAGING.drift, "--drift", 20),
    curtain: strength(opts.curtain, DEFAULT_IMAGING.curtain, "--curtain", 20),
    seed,
  };
  const defaults = opts.pits !== undefined ? [...DEFAULT_CLASSES, "ccp" as const] : DEFAULT_CLASSES;
  const classes = validateClasses(opts.classes ?? defaults, "--organelles");
  const model = buildCellModel({
    seed,
    extent: [extent[0], extent[1], extent[2]],
    classes,
    poreDiameter: opts.poreDiameter,
    pits: opts.pits,
  });
  return {
    settings: {
      organelle: "synth-settings",
      version: 1,
      seed,
      extentNm: [extent[0], extent[1], extent[2]],
      shape: [shape[0], shape[1], shape[2]],
      voxelSize: [voxelSize[0], voxelSize[1], voxelSize[2]],
      chunks: [chunks[0], chunks[1], chunks[2]],
      format: opts.format ?? "0.4",
      classes,
      imaging,
      pyramid: opts.pyramid ?? true,
      ...(opts.poreDiameter ? { poreDiameter: opts.poreDiameter } : {}),
      ...(opts.pits !== undefined ? { pits: opts.pits } : {}),
    },
    model,
  };
}

/**
 * Synthesises a cell into the dataset `out`: `raw` (uint8), `labels/<class>` (uint32 instances) for every
 * class, `masks/cell` (uint8 0/1), and `synth.json` (the model with every organelle's parameters and the
 * settings). Renders block-wise on worker threads with a resume journal; everything is written under
 * OUT.partial, which becomes OUT by one rename at the end, so an interrupted run never leaves something
 * that looks complete, and running the same command again resumes it.
 */
export async function synthesize(out: string, opts: SynthOptions = {}): Promise<SynthResult> {
  const started = performance.now();
  const { settings, model } = resolveSynthSettings(opts);
  const dataset = path.resolve(out);
  const partial = `${dataset}.partial`;
  if (fs.existsSync(dataset) && !opts.overwrite) {
    throw invalidArgument(`${out} already exists; choose another name or pass --overwrite`);
  }
  checkWritable(dataset);
  if (opts.preview) checkWritable(path.resolve(opts.preview));
  const shape = coord(...settings.shape);
  const voxelSize = coord(...settings.voxelSize);
  const chunks = coord(...settings.chunks);
  const settingsFile = path.join(partial, SYNTH_JSON);

  let resuming = false;
  if (fs.existsSync(partial)) {
    const prior = fs.existsSync(settingsFile)
      ? ((await readJson(settingsFile)) as { settings?: unknown })
      : {};
    if (canonicalJson(prior.settings) === canonicalJson(settings)) {
      resuming = true;
    } else if (opts.overwrite) {
      await fs.promises.rm(partial, { recursive: true, force: true });
    } else {
      throw invalidArgument(
        `${partial} holds an interrupted synth with other settings; remove it or pass --overwrite`,
      );
    }
  }
  if (!resuming) await createArrays(partial, settings, model);

  const params: SynthRenderParams = {
    datasetPath: partial,
    voxelSize,
    imaging: settings.imaging,
    model,
  };
  const blockEdge = chunks.map((c) => c * Math.max(1, Math.floor((opts.blockVoxels ?? c) / c)));
  const spec: BlockwiseTaskSpec = {
    name: "synth",
    totalWriteRoi: Roi.fromVoxels({ begin: uniform(0), shape }, voxelSize),
    blockShape: coord(
      blockEdge[0]! * voxelSize[0],
      blockEdge[1]! * voxelSize[1],
      blockEdge[2]! * voxelSize[2],
    ),
    context: uniform(0),
    voxelSize,
  };
  const call: TaskCall<SynthRenderParams> = { fn: "synth.render", params };
  const journal = jobJournalPath(partial, jobKey(spec, call));
  const runOptions = { journal, progress: opts.progress, signal: opts.signal };

  const ownPool =
    opts.runner !== "in-process" && !opts.pool
      ? new WorkerPool({ workers: opts.workers ?? os.availableParallelism() })
      : undefined;
  const pool = opts.pool ?? ownPool;
  let pyramidLevels = 1;
  let summary: Awaited<ReturnType<typeof runInProcess>>;
  let renderSeconds: number;
  try {
    const t0 = performance.now();
    summary =
      opts.runner === "in-process"
        ? await runInProcess(spec, call, { ...runOptions, table: TASK_TABLE, concurrency: opts.workers ?? 1 })
        : await runInWorkers(spec, call, { ...runOptions, pool });
    renderSeconds = (performance.now() - t0) / 1000;

    const arrays = [SYNTH_ARRAYS.raw, SYNTH_ARRAYS.mask, ...settings.classes.map(SYNTH_ARRAYS.label)];
    for (const a of arrays) {
      // A resumed run may find arrays an interrupted run already finished.
      if ((await readMultiscaleGroup(partial, a)).organelle.complete === true) continue;
      if (settings.pyramid) {
        const r = await buildPyramid(partial, a, {
          allowIncomplete: true,
          complete: true,
          pool,
          runner: opts.runner,
          workers: opts.runner === "in-process" ? 1 : undefined,
          signal: opts.signal,
          progress: opts.progress === false ? false : undefined,
        });
        pyramidLevels = r.levels.length;
      } else {
        const v = await Volume.open(partial, a, { allowIncomplete: true });
        await v.markComplete();
      }
    }
  } finally {
    await ownPool?.close();
  }

  // Totals from the blocks' reports (a resumed run has the earlier blocks' reports in its journal).
  const voxels = Object.fromEntries(ORGANELLE_CLASSES.map((c) => [c, 0])) as Record<OrganelleClass, number>;
  let cellVoxels = 0;
  for (const v of summary.values.values()) {
    const s = v as SynthBlockStats;
    s.voxels.forEach((n, i) => {
      voxels[ORGANELLE_CLASSES[i]!] += n;
    });
    cellVoxels += s.cell;
  }

  await fs.promises.rm(path.join(partial, ".organelle"), { recursive: true, force: true });
  if (fs.existsSync(dataset)) await fs.promises.rm(dataset, { recursive: true, force: true });
  try {
    await fs.promises.rename(partial, dataset);
  } catch (e) {
    throw fromFsError(e, dataset, "moving the finished dataset into place");
  }
  // Rendered from the model: block-invariance makes it the same plane as the dataset's.
  if (opts.preview) writePreview(opts.preview, new Scene(model), { voxelSize }, settings.imaging, shape);
  return {
    dataset,
    shape,
    voxelSize,
    extentNm: coord(...settings.extentNm),
    chunks,
    classes: settings.classes,
    instances: instanceCounts(model),
    voxels,
    cellVoxels,
    blocks: summary.blocks,
    resumedBlocks: summary.skipped,
    renderSeconds,
    pyramidLevels,
    seconds: (performance.now() - started) / 1000,
  };
}

async function createArrays(partial: string, settings: SynthSettings, model: CellModel): Promise<void> {
  const common = {
    shape: coord(...settings.shape),
    voxelSize: coord(...settings.voxelSize),
    chunks: coord(...settings.chunks),
    format: settings.format,
    overwrite: true,
  };
  const attrs = { synth: { seed: settings.seed, model: SYNTH_JSON } };
  await Volume.create(partial, SYNTH_ARRAYS.raw, { ...common, dtype: "uint8", kind: "intensity", attrs });
  await Volume.create(partial, SYNTH_ARRAYS.mask, { ...common, dtype: "uint8", kind: "mask", attrs });
  for (const c of settings.classes) {
    await Volume.create(partial, SYNTH_ARRAYS.label(c), { ...common, dtype: "uint32", kind: "label", attrs });
  }
  // Written last: its presence with matching settings is what lets a rerun resume this partial.
  await writeJsonAtomic(path.join(partial, SYNTH_JSON), { settings, model });
}

/** Instances per class in a model. */
export function instanceCounts(model: CellModel): Record<OrganelleClass, number> {
  const has = (c: OrganelleClass) => model.classes.includes(c);
  return {
    plasma_membrane: has("plasma_membrane") ? 1 : 0,
    nucleus: model.nucleus && has("nucleus") ? 1 : 0,
    nuclear_envelope: model.nucleus && has("nuclear_envelope") ? 1 : 0,
    nuclear_pore: model.pores.length,
    mito: model.mitos.length,
    er: model.er.length,
    golgi: model.golgi.length,
    vesicle: model.vesicles.length,
    lipid_droplet: model.lipidDroplets.length,
    ccp: model.pits?.length ?? 0,
  };
}

/** Reads the model and settings a synthetic dataset was made with. */
export async function readSynthModel(
  datasetPath: string,
): Promise<{ settings: SynthSettings; model: CellModel }> {
  return (await readJson(path.join(datasetPath, SYNTH_JSON))) as {
    settings: SynthSettings;
    model: CellModel;
  };
}

function checkWritable(out: string): void {
  const parent = path.dirname(out);
  try {
    fs.mkdirSync(parent, { recursive: true });
    fs.accessSync(parent, fs.constants.W_OK);
    const probe = path.join(parent, `.organelle-write-test-${process.pid}`);
    fs.writeFileSync(probe, "");
    fs.rmSync(probe);
  } catch (e) {
    throw fromFsError(e, out, "preparing the output");
  }
}
