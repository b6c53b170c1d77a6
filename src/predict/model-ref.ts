import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type Coordinate, coord, format } from "../core/coordinate.ts";
import { fromFsError, invalidArgument, invalidData, isOrganelleError, notFound } from "../core/errors.ts";
import { validateVoxelSize } from "../core/voxel-size.ts";
import { OnnxEngine } from "../engine/onnx-engine.ts";
import { TorchEngine } from "../engine/torch-engine.ts";
import { summarizeRun } from "../learn/report.ts";
import { checkpointPath, listCheckpoints, RUN_JSON, type RunInfo, readJsonFile } from "../learn/run-dir.ts";
import { specFromJson, specToJson, type UNetSpec } from "../learn/unet-spec.ts";
import { foregroundChannel } from "../learn/validate.ts";

/*
 * What `organelle predict MODEL` accepts as MODEL, and what inference needs from it:
 *
 * - a training run directory, `RUN_DIR[:STEP]` (src/learn/run-dir.ts: run.json + checkpoints/); STEP
 *   defaults to the checkpoint with the best validation F1 (the latest when none was validated);
 * - a checkpoint file inside a run (`RUN_DIR/checkpoints/step-N.pt`);
 * - a model package: a directory with `model.json` (below) next to its weights;
 * - an ONNX file `X.onnx` with its description in `X.json` (or `model.json` beside it).
 *
 * model.json (format "organelle-model", version 1):
 *   { "format": "organelle-model", "version": 1, "name": "mito-small", "organelle": "mito",
 *     "spec": {U-Net spec}, "voxelSize": [z, y, x] (nm, the training resolution),
 *     "normalization": { "scale": 2, "shift": -1, "padding": 0.5 },          (optional; these defaults)
 *     "checkpoint": "model.pt",                                              (optional)
 *     "onnx": { "file": "model.onnx", "inputShape": [z, y, x], "channels": [1] } }  (optional)
 * At least one of checkpoint and onnx. An ONNX graph is traced at one input shape: without a
 * checkpoint, tiles use that shape; with one, organelle exports the shapes it wants.
 *
 * Normalisation (what training does, src/learn/sources.ts): raw / full scale of its type (255, 65535;
 * floats as they are) in [0, 1], voxels beyond the data `padding` (0.5), then x * scale + shift
 * ([-1, 1]).
 */

export interface Normalization {
  readonly scale: number;
  readonly shift: number;
  /** Value (in [0, 1] units, before scale/shift) of voxels beyond the data. */
  readonly padding: number;
}

export const TRAINING_NORMALIZATION: Normalization = Object.freeze({ scale: 2, shift: -1, padding: 0.5 });

export interface ModelRef {
  /** Names the output: predictions/<name>/<organelle>. */
  readonly name: string;
  readonly organelle: string;
  readonly spec: UNetSpec;
  /** The voxel size (nm) the model was trained at. */
  readonly voxelSize: Coordinate;
  readonly normalization: Normalization;
  /** The output channel that is the organelle's probability. */
  readonly channel: number;
  /** A PyTorch checkpoint of the engine (absent for ONNX-only packages). */
  readonly checkpoint?: string;
  /** An ONNX graph shipped with the model, traced at `inputShape`, outputting `channels`. */
  readonly onnx?: {
    readonly file: string;
    readonly inputShape: Coordinate;
    readonly channels: readonly number[];
  };
  /** sha256 (16 hex digits) of the weights file: tells models apart in outputs and caches. */
  readonly digest: string;
  /** How the user named it, and what it resolved to, for messages and attributes. */
  readonly ref: string;
  readonly description: string;
}

/** Resolves a model reference (see the note at the top). */
export async function resolveModel(ref: string): Promise<ModelRef> {
  const m = /^(.*?)(?::(\d+))?$/.exec(ref)!;
  const base = path.resolve(m[1]!);
  const step = m[2] === undefined ? undefined : Number(m[2]);
  if (!fs.existsSync(base)) {
    throw notFound(`model ${ref}: no such run directory, model package or file`);
  }
  const st = fs.statSync(base);
  if (st.isDirectory()) {
    if (fs.existsSync(path.join(base, RUN_JSON))) return fromRun(ref, base, step);
    if (fs.existsSync(path.join(base, "model.json"))) return fromPackage(ref, path.join(base, "model.json"));
    throw invalidArgument(
      `model ${ref}: ${base} is neither a training run (no ${RUN_JSON}) nor a model package (no model.json)`,
    );
  }
  if (step !== undefined)
    throw invalidArgument(`model ${ref}: :STEP applies to a run directory, not to a file`);
  if (base.endsWith(".pt")) {
    const runDir = path.dirname(path.dirname(base));
    const s = /^step-(\d+)\.pt$/.exec(path.basename(base));
    if (!s || !fs.existsSync(path.join(runDir, RUN_JSON))) {
      throw invalidArgument(
        `model ${ref}: a checkpoint outside a training run directory; give the run directory (RUN_DIR[:STEP]) or a model package with model.json`,
      );
    }
    return fromRun(ref, runDir, Number(s[1]), base);
  }
  if (base.endsWith(".onnx")) {
    const beside = [base.replace(/\.onnx$/, ".json"), path.join(path.dirname(base), "model.json")];
    const desc = beside.find((f) => fs.existsSync(f));
    if (!desc) {
      throw notFound(
        `model ${ref}: an ONNX file needs its description (spec, voxel size) in ${path.basename(beside[0]!)} or model.json beside it`,
      );
    }
    return fromPackage(ref, desc, base);
  }
  throw invalidArgument(
    `model ${ref}: expected a run directory, a checkpoint (.pt), a model package directory or an .onnx file`,
  );
}

function fromRun(ref: string, runDir: string, step: number | undefined, file?: string): ModelRef {
  const info = readJsonFile<RunInfo>(path.join(runDir, RUN_JSON));
  const where = path.join(runDir, RUN_JSON);
  const steps = listCheckpoints(runDir);
  if (steps.length === 0) throw notFound(`model ${ref}: ${runDir} has no checkpoints (train it first)`);
  let chosen = step;
  if (chosen === undefined) {
    chosen = summarizeRun(runDir, 0.05).choice.best?.step ?? steps.at(-1)!;
  } else if (!steps.includes(chosen)) {
    throw notFound(`model ${ref}: ${runDir} has no checkpoint at step ${chosen}; it has ${steps.join(", ")}`);
  }
  const checkpoint = file ?? checkpointPath(runDir, chosen);
  checkCheckpointFile(checkpoint);
  const spec = specFromJson(info.model?.spec, `${where}: model.spec`);
  const voxelSize = voxelSizeOf(info.voxelSize, `${where}: voxelSize`);
  if (typeof info.organelle !== "string" || info.organelle === "") {
    throw invalidData(`${where}: no organelle name`);
  }
  return {
    name: safeName(`${path.basename(runDir)}-step${chosen}`),
    organelle: info.organelle,
    spec,
    voxelSize,
    normalization: TRAINING_NORMALIZATION,
    channel: foregroundChannel(spec),
    checkpoint,
    digest: fileDigest(checkpoint),
    ref,
    description: `${runDir} step ${chosen}`,
  };
}

/** model.json of a model package as read from disk: every field still to be checked. */
export interface PackageJson {
  format?: unknown;
  version?: unknown;
  name?: unknown;
  organelle?: unknown;
  spec?: unknown;
  voxelSize?: unknown;
  normalization?: { scale?: unknown; shift?: unknown; padding?: unknown };
  checkpoint?: unknown;
  onnx?: { file?: unknown; inputShape?: unknown; channels?: unknown };
}

function fromPackage(ref: string, file: string, onnxFile?: string): ModelRef {
  const j = readJsonFile<PackageJson>(file);
  if (j.format !== "organelle-model" || j.version !== 1) {
    throw invalidData(
      `${file}: not an organelle model description (expected "format": "organelle-model", "version": 1)`,
    );
  }
  const dir = path.dirname(file);
  const spec = specFromJson(j.spec, `${file}: spec`);
  const voxelSize = voxelSizeOf(j.voxelSize, `${file}: voxelSize`);
  if (typeof j.organelle !== "string" || j.organelle === "")
    throw invalidData(`${file}: "organelle" must name the organelle`);
  const n = j.normalization ?? {};
  const num = (v: unknown, dflt: number, what: string) => {
    if (v === undefined) return dflt;
    if (typeof v !== "number" || !Number.isFinite(v))
      throw invalidData(`${file}: normalization.${what} must be a number`);
    return v;
  };
  const normalization: Normalization = {
    scale: num(n.scale, TRAINING_NORMALIZATION.scale, "scale"),
    shift: num(n.shift, TRAINING_NORMALIZATION.shift, "shift"),
    padding: num(n.padding, TRAINING_NORMALIZATION.padding, "padding"),
  };
  const checkpoint = typeof j.checkpoint === "string" ? path.resolve(dir, j.checkpoint) : undefined;
  let onnx: ModelRef["onnx"];
  const onnxPath =
    onnxFile ?? (typeof j.onnx?.file === "string" ? path.resolve(dir, j.onnx.file) : undefined);
  if (onnxPath) {
    const shape = j.onnx?.inputShape;
    if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((v) => Number.isInteger(v) && v > 0)) {
      throw invalidData(`${file}: onnx.inputShape must be the [z, y, x] input the graph was exported at`);
    }
    const channels = j.onnx?.channels ?? [...Array(spec.outChannels).keys()];
    if (
      !Array.isArray(channels) ||
      !channels.every((c) => Number.isInteger(c) && c >= 0 && c < spec.outChannels)
    ) {
      throw invalidData(
        `${file}: onnx.channels must list output channels of the spec (0..${spec.outChannels - 1})`,
      );
    }
    if (!fs.existsSync(onnxPath)) throw notFound(`${file}: its ONNX file ${onnxPath} does not exist`);
    onnx = { file: onnxPath, inputShape: coord(shape[0], shape[1], shape[2]), channels };
  }
  if (!checkpoint && !onnx) throw invalidData(`${file}: names neither a checkpoint nor an onnx file`);
  if (checkpoint) checkCheckpointFile(checkpoint);
  const weights = checkpoint ?? onnx!.file;
  const channel = foregroundChannel(spec);
  if (onnx && !checkpoint && !onnx.channels.includes(channel)) {
    throw invalidData(
      `${file}: the ONNX graph does not output channel ${channel}, the organelle's probability`,
    );
  }
  const name = typeof j.name === "string" && j.name !== "" ? j.name : path.basename(dir);
  return {
    name: safeName(name),
    organelle: j.organelle,
    spec,
    voxelSize,
    normalization,
    channel,
    ...(checkpoint ? { checkpoint } : {}),
    ...(onnx ? { onnx } : {}),
    digest: fileDigest(weights),
    ref,
    description: `${file}${onnxFile ? ` (${path.basename(onnxFile)})` : ""}`,
  };
}

function voxelSizeOf(v: unknown, what: string): Coordinate {
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === "number")) {
    throw invalidData(`${what} must be [z, y, x] in nm`);
  }
  const n = v as number[];
  return validateVoxelSize(coord(n[0]!, n[1]!, n[2]!), what);
}

/** Output names are paths inside the dataset: letters, digits and . _ - only. */
export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "_");
}

/**
 * Checks that a checkpoint looks like what torch.save writes (a zip archive with its end record, or a
 * legacy pickle), so a truncated or foreign file is one clear line here rather than a Python traceback.
 */
export function checkCheckpointFile(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    throw fromFsError(e, file, "opening the checkpoint");
  }
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(4);
    fs.readSync(fd, head, 0, 4, 0);
    if (head[0] === 0x80) return; // legacy (pre-1.6) pickle format
    const zip = head.readUInt32LE(0) === 0x04034b50;
    let end = false;
    if (zip) {
      const n = Math.min(size, 65_557);
      const tail = Buffer.alloc(n);
      fs.readSync(fd, tail, 0, n, size - n);
      end = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06])) >= 0;
    }
    if (!zip || !end) {
      throw invalidData(
        `${file}: not a PyTorch checkpoint (${zip ? "truncated" : "unknown format"}; ${size} bytes); the file is damaged, use another checkpoint`,
      );
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** sha256 of a file's bytes, 16 hex digits. */
export function fileDigest(file: string): string {
  const h = createHash("sha256");
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    throw fromFsError(e, file, "reading the model");
  }
  try {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest("hex").slice(0, 16);
}

export interface OnnxFor {
  readonly file: string;
  /** The model channels the file outputs. */
  readonly channels: readonly number[];
  /** True when this call exported it (false: shipped with the model or cached). */
  readonly exported: boolean;
}

/**
 * An ONNX graph of the model at a tile input shape: the model's own when it was exported at that shape,
 * else one exported from the checkpoint by the torch engine (once; cached next to the checkpoint, named
 * by the checkpoint's digest and the shape, or in the system's temporary directory when that is not
 * writable).
 */
export async function onnxFor(
  model: ModelRef,
  inputShape: Coordinate,
  o: { python?: string; fresh?: boolean } = {},
): Promise<OnnxFor> {
  if (model.onnx && format(model.onnx.inputShape) === format(inputShape)) {
    return { file: model.onnx.file, channels: model.onnx.channels, exported: false };
  }
  if (!model.checkpoint) {
    throw invalidArgument(
      `model ${model.ref}: its ONNX graph takes ${format(model.onnx!.inputShape)} voxels, not ${format(inputShape)}, and it has no checkpoint to export another shape`,
    );
  }
  const channels = [model.channel];
  const name = `${path.basename(model.checkpoint, ".pt")}-${model.digest}-${inputShape.join("x")}-c${channels.join("_")}.onnx`;
  const besideDir = path.join(path.dirname(model.checkpoint), "onnx");
  const fallbackDir = path.join(os.tmpdir(), "organelle-onnx-cache");
  for (const dir of [besideDir, fallbackDir]) {
    const file = path.join(dir, name);
    if (fs.existsSync(file) && !o.fresh) return { file, channels, exported: false };
  }
  let dir = besideDir;
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    dir = fallbackDir;
    fs.mkdirSync(dir, { recursive: true });
  }
  const file = path.join(dir, name);
  const engine = await TorchEngine.start({
    ...(o.python ? { python: o.python } : {}),
    engine: { device: "cpu" },
  });
  try {
    await engine.loadCheckpoint(model.checkpoint, { optimizer: false });
    await engine.exportOnnx(file, { inputShape, channels });
  } finally {
    await engine.close();
  }
  return { file, channels, exported: true };
}

/** Opens the ONNX engine for a tile shape, exporting again once when a cached file is unreadable. */
export async function openOnnxEngine(
  model: ModelRef,
  inputShape: Coordinate,
  o: { python?: string; threads?: number } = {},
): Promise<{ engine: OnnxEngine; exported: boolean }> {
  const head = model.spec.head;
  let graph = await onnxFor(model, inputShape, o);
  try {
    const engine = await OnnxEngine.open(graph.file, {
      threads: o.threads,
      exportedChannels: graph.channels,
      head,
    });
    return { engine, exported: graph.exported };
  } catch (e) {
    if (
      !(
        isOrganelleError(e, "InvalidData") &&
        model.checkpoint &&
        !graph.exported &&
        graph.file !== model.onnx?.file
      )
    ) {
      throw e;
    }
    graph = await onnxFor(model, inputShape, { ...o, fresh: true });
    const engine = await OnnxEngine.open(graph.file, {
      threads: o.threads,
      exportedChannels: graph.channels,
      head,
    });
    return { engine, exported: true };
  }
}

/** The model as JSON for output attributes (what made a prediction). */
export function modelAttrs(model: ModelRef): Record<string, unknown> {
  return {
    name: model.name,
    ref: model.ref,
    source: model.description,
    organelle: model.organelle,
    digest: model.digest,
    voxelSize: [...model.voxelSize],
    spec: specToJson(model.spec),
    normalization: { ...model.normalization },
  };
}
