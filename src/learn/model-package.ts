import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { encode as encodePng } from "fast-png";
import YAML from "yaml";
import { type Coordinate, coord, format } from "../core/coordinate.ts";
import { fromFsError, invalidArgument, invalidData, isOrganelleError, notFound } from "../core/errors.ts";
import { OnnxEngine } from "../engine/onnx-engine.ts";
import { tensor } from "../engine/tensor.ts";
import { TorchEngine } from "../engine/torch-engine.ts";
import { levelAt } from "../predict/arrays.ts";
import { type ModelRef, type PackageJson, resolveModel, safeName } from "../predict/model-ref.ts";
import { type NpyArray, readNpy, writeNpy } from "./model-package-npy.ts";
import { applyOps, buildRdf, type CheckedRdf, checkRdf, RDF_FILE } from "./model-package-rdf.ts";
import { readZip, writeZip, type ZipEntry } from "./model-package-zip.ts";
import { summarizeRun } from "./report.ts";
import { listCheckpoints, RESOLVED, RUN_JSON, type RunInfo, readJsonFile, readMetrics } from "./run-dir.ts";
import { isValidInput, networkShape } from "./shapes.ts";
import { specFromJson, specToJson } from "./unet-spec.ts";

/*
 * Model packages: `organelle export-model` writes a trained checkpoint as a bioimage.io model package
 * (rdf.yaml format 0.5, ONNX + TorchScript weights, test tensors, cover, documentation; see
 * model-package-rdf.ts) that also carries organelle's own model.json and the checkpoint, so the same
 * directory is a model `organelle predict` takes (src/predict/model-ref.ts). `organelle import-model`
 * checks a package (keys, sha256 of every file, the test input through ONNX Runtime against the test
 * output) and installs it as a directory under a models folder.
 */

export const PACKAGE_FILES = {
  rdf: RDF_FILE,
  documentation: "README.md",
  cover: "cover.png",
  onnx: "weights.onnx",
  torchscript: "weights.torchscript.pt",
  testInput: "test_input.npy",
  testOutput: "test_output.npy",
  modelJson: "model.json",
  checkpoint: "model.pt",
} as const;

/** Largest |ONNX Runtime - test output| import-model accepts (float32 graphs of the same weights). */
export const DEFAULT_TOLERANCE = 1e-4;

export interface ExportModelOptions {
  /** A run directory (`RUN[:STEP]`), a checkpoint in a run, or a package directory with a checkpoint. */
  readonly source: string;
  /** NAME.zip, or a directory. */
  readonly out: string;
  /** "best" (validation F1; the default), "latest", or a step. */
  readonly checkpoint?: "best" | "latest" | number;
  readonly name?: string;
  readonly description?: string;
  readonly authors?: readonly string[];
  readonly license?: string;
  readonly tags?: readonly string[];
  /** Input shape (z, y, x) the graphs are traced at; default the training input. */
  readonly inputShape?: Coordinate;
  /** Dataset whose raw gives the test input (default the run's first training dataset). */
  readonly sample?: string;
  readonly overwrite?: boolean;
  readonly python?: string;
}

export interface PackagedFile {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface ExportModelResult {
  readonly out: string;
  readonly name: string;
  readonly organelle: string;
  readonly step: number | null;
  readonly inputShape: Coordinate;
  readonly outputShape: Coordinate;
  /** Where the test input came from. */
  readonly testInput: string;
  /** max |ONNX Runtime - PyTorch| on the test input, checked while exporting. */
  readonly onnxMaxDiff: number;
  readonly files: readonly PackagedFile[];
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function readBytes(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw fromFsError(e, file, `reading ${what}`);
  }
}

interface Provenance {
  readonly run: string | null;
  readonly step: number | null;
  readonly info: RunInfo | null;
  readonly config: Record<string, unknown> | null;
  readonly validation: unknown;
  readonly checkpointDigest: string;
}

async function chooseModel(o: ExportModelOptions): Promise<{ model: ModelRef; prov: Provenance }> {
  let ref = o.source;
  const m = /^(.*?)(?::(\d+))?$/.exec(ref)!;
  const base = path.resolve(m[1]!);
  const isRun = fs.existsSync(path.join(base, RUN_JSON));
  if (o.checkpoint !== undefined && m[2] !== undefined) {
    throw invalidArgument(`export-model: give the step either as ${o.source} or with --checkpoint, not both`);
  }
  if (o.checkpoint !== undefined && o.checkpoint !== "best") {
    if (!isRun)
      throw invalidArgument(`export-model: --checkpoint applies to a training run; ${base} is not one`);
    const steps = listCheckpoints(base);
    const step = o.checkpoint === "latest" ? steps.at(-1) : o.checkpoint;
    if (step === undefined) throw notFound(`${base}: no checkpoints (train it first)`);
    ref = `${m[1]}:${step}`;
  }
  const model = await resolveModel(ref);
  if (!model.checkpoint) {
    throw invalidArgument(
      `export-model: ${o.source} has no PyTorch checkpoint (an ONNX-only model); export a training run instead`,
    );
  }
  const runDir = path.dirname(path.dirname(model.checkpoint));
  if (!fs.existsSync(path.join(runDir, RUN_JSON))) {
    // A package re-exported: keep its provenance.
    const j = readJsonFile<{ training?: Provenance }>(path.join(base, PACKAGE_FILES.modelJson));
    const t = j.training;
    return {
      model,
      prov: {
        run: t?.run ?? null,
        step: t?.step ?? null,
        info: t?.info ?? null,
        config: t?.config ?? null,
        validation: t?.validation ?? null,
        checkpointDigest: model.digest,
      },
    };
  }
  const step = Number(/step-(\d+)\.pt$/.exec(model.checkpoint)?.[1]);
  const info = readJsonFile<RunInfo>(path.join(runDir, RUN_JSON));
  const resolved = path.join(runDir, RESOLVED);
  const config = fs.existsSync(resolved) ? readJsonFile<Record<string, unknown>>(resolved) : null;
  const validation = readMetrics(runDir)
    .filter((r) => r.type === "validation" && r.step === step && !r.label)
    .at(-1);
  const summary = summarizeRun(runDir, 0.05);
  return {
    model,
    prov: {
      run: runDir,
      step,
      info,
      config,
      validation: validation
        ? {
            ...validation,
            best: summary.choice.best?.step === step,
            bestStep: summary.choice.best?.step ?? null,
          }
        : null,
      checkpointDigest: model.digest,
    },
  };
}

/** The test input: a block of real raw (centred in the sample dataset) or, without one, seeded noise. */
async function testInput(
  model: ModelRef,
  input: Coordinate,
  o: ExportModelOptions,
  prov: Provenance,
): Promise<{ array: NpyArray; from: string }> {
  const shape = [1, 1, ...input];
  const n = input[0] * input[1] * input[2];
  let dataset = o.sample;
  let rawArray = "raw";
  if (!dataset) {
    const src = (prov.config?.sources as { dataset?: string; raw?: string }[] | undefined)?.[0];
    if (src?.dataset && fs.existsSync(src.dataset)) {
      dataset = src.dataset;
      rawArray = src.raw ?? "raw";
    }
  }
  if (dataset) {
    const { reader, levels } = await levelAt(dataset, rawArray, model.voxelSize);
    if (!reader) {
      throw invalidArgument(
        `${dataset}/${rawArray} has no level at the model's voxel size ${format(model.voxelSize)} nm (it has ${levels.map((l) => format(l)).join(", ")}); give another --sample or build its pyramid`,
      );
    }
    const dtype = reader.meta.dtype;
    if (dtype !== "uint8" && dtype !== "uint16") {
      throw invalidArgument(
        `${reader.describe()}: raw of type ${dtype}; packages describe uint8 or uint16 raw`,
      );
    }
    const begin = coord(
      ...([0, 1, 2].map((d) => Math.floor((reader.meta.shape[d]! - input[d]!) / 2)) as [
        number,
        number,
        number,
      ]),
    );
    const data = await reader.readBox({ begin, shape: input });
    const from = `${reader.describe()} voxels ${format(begin)} + ${format(input)}`;
    return dtype === "uint8"
      ? { array: { dtype, shape, data: Uint8Array.from(data as Uint8Array) }, from }
      : { array: { dtype, shape, data: Uint16Array.from(data as Uint16Array) }, from };
  }
  // xorshift noise, smoothed along x so the network sees some structure; deterministic for a given shape.
  const data = new Uint8Array(n);
  let s = 0x9e3779b9;
  let prev = 128;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    prev = Math.round(0.7 * prev + 0.3 * ((s >>> 0) & 255));
    data[i] = prev;
  }
  return { array: { dtype: "uint8", shape, data }, from: "seeded noise (no sample dataset)" };
}

function toNetworkInput(a: NpyArray, gain: number, offset: number): Float32Array {
  const out = new Float32Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i]! * gain + offset;
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = d; // NaN counts as a difference
  }
  return m;
}

/** Cover image (2:1): the central slice of the test input's output region beside the prediction. */
function cover(
  input: NpyArray,
  inShape: Coordinate,
  output: Float32Array,
  outShape: Coordinate,
  full: number,
): Uint8Array {
  const [oz, oy, ox] = outShape;
  const cz = Math.floor((inShape[0] - oz) / 2) + Math.floor(oz / 2);
  const cy = Math.floor((inShape[1] - oy) / 2);
  const cx = Math.floor((inShape[2] - ox) / 2);
  const z = Math.floor(oz / 2);
  const img = new Uint8Array(oy * ox * 2);
  for (let y = 0; y < oy; y++) {
    for (let x = 0; x < ox; x++) {
      const v = input.data[(cz * inShape[1] + cy + y) * inShape[2] + cx + x]!;
      img[y * 2 * ox + x] = Math.round((v / full) * 255);
      img[y * 2 * ox + ox + x] = Math.round(output[(z * oy + y) * ox + x]! * 255);
    }
  }
  return encodePng({ width: 2 * ox, height: oy, data: img, channels: 1, depth: 8 });
}

function documentation(
  name: string,
  description: string,
  model: ModelRef,
  input: Coordinate,
  output: Coordinate,
  prov: Provenance,
  from: string,
): string {
  const v = prov.validation as { f1?: number; precision?: number; recall?: number; rois?: unknown[] } | null;
  const f3 = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(3));
  return `# ${name}

${description}

- Organelle: **${model.organelle}**
- Voxel size (z, y, x): ${model.voxelSize.join(" x ")} nm — predict data at this resolution.
- Network: U-Net (${model.spec.downsample.length + 1} levels, downsampling ${model.spec.downsample.map((d) => `(${d.join(",")})`).join(" ")}, ${model.spec.fmaps} feature maps x${model.spec.fmapIncrease}, head ${model.spec.head}, valid convolutions).
- Input ${input.join(" x ")} voxels -> output ${output.join(" x ")} voxels (the network's context is cropped).
- Preprocessing: raw / full scale of its type, then 2x - 1 ([-1, 1]); postprocessing: none (the weights end with the activation, the output is a probability).
${prov.run ? `- Trained by organelle: run \`${path.basename(prov.run)}\`, checkpoint step ${prov.step}${prov.info?.git?.commit ? `, organelle commit ${prov.info.git.commit}${prov.info.git.dirty ? " (with local changes)" : ""}` : ""}.` : ""}
${v ? `- Validation at this checkpoint (threshold 0.5): F1 ${f3(v.f1)}, precision ${f3(v.precision)}, recall ${f3(v.recall)} (mean over ${v.rois?.length ?? "?"} ROIs).` : "- Not validated."}
- Test input: ${from}.

## Files

| file | what |
| --- | --- |
| \`${PACKAGE_FILES.rdf}\` | bioimage.io model description (format 0.5) |
| \`${PACKAGE_FILES.onnx}\` | ONNX weights (opset 13, batch axis dynamic, spatial size fixed) |
| \`${PACKAGE_FILES.torchscript}\` | TorchScript weights (traced at the same size) |
| \`${PACKAGE_FILES.testInput}\`, \`${PACKAGE_FILES.testOutput}\` | a test input (raw) and the output PyTorch computed for it |
| \`${PACKAGE_FILES.modelJson}\` | organelle's description (spec, voxel size, normalisation, training provenance) |
| \`${PACKAGE_FILES.checkpoint}\` | the organelle engine checkpoint (any valid tile size; fine-tuning) |

## Use

\`\`\`
organelle import-model ${name}.zip            # checks and installs it under models/
organelle predict models/${name} cell.zarr
\`\`\`
`;
}

/** Writes a model package (zip or directory); returns what it wrote. */
export async function exportModel(o: ExportModelOptions): Promise<ExportModelResult> {
  const out = path.resolve(o.out);
  const zip = out.endsWith(".zip");
  if (fs.existsSync(out) && !o.overwrite)
    throw invalidArgument(`${o.out} exists; pass --overwrite to replace it`);
  const { model, prov } = await chooseModel(o);
  const name = safeName(o.name ?? model.name);
  const input =
    o.inputShape ??
    (prov.info?.model.inputShape
      ? coord(prov.info.model.inputShape[0]!, prov.info.model.inputShape[1]!, prov.info.model.inputShape[2]!)
      : undefined) ??
    model.onnx?.inputShape;
  if (!input)
    throw invalidArgument("export-model: give --input-shape z,y,x (the source has no training input shape)");
  if (!isValidInput(model.spec, input)) networkShape(model.spec, input); // throws the error naming the axis
  const output = networkShape(model.spec, input).output;
  const channels =
    model.spec.head === "tanh-distance" ? [...Array(model.spec.outChannels).keys()] : [model.channel];
  const channelNames =
    model.spec.head === "tanh-distance" ? channels.map((c) => `${model.organelle}-${c}`) : [model.organelle];

  const test = await testInput(model, input, o, prov);
  const full = test.array.dtype === "uint16" ? 65535 : 255;
  const gain = model.normalization.scale / full;
  const offset = model.normalization.shift;
  const x = toNetworkInput(test.array, gain, offset);

  let work: string;
  try {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    work = fs.mkdtempSync(path.join(path.dirname(out), `.${path.basename(out)}.tmp-`));
  } catch (e) {
    throw fromFsError(e, path.dirname(out), "creating the package");
  }
  try {
    const engine = await TorchEngine.start({
      ...(o.python ? { python: o.python } : {}),
      engine: { device: "cpu", deterministic: true },
    });
    let torchVersion: string;
    let opset: number;
    let y: Float32Array;
    try {
      torchVersion = engine.info!.torch;
      await engine.loadCheckpoint(model.checkpoint!, { optimizer: false });
      opset = (await engine.exportOnnx(path.join(work, PACKAGE_FILES.onnx), { inputShape: input, channels }))
        .opset;
      await engine.exportTorchScript(path.join(work, PACKAGE_FILES.torchscript), {
        inputShape: input,
        channels,
      });
      const r = await engine.forward(tensor(x, [1, 1, ...input]), { output: "float32", channels });
      y = r.data as Float32Array;
    } finally {
      await engine.close();
    }
    const ort = await OnnxEngine.open(path.join(work, PACKAGE_FILES.onnx), {
      threads: 1,
      exportedChannels: channels,
    });
    let onnxMaxDiff: number;
    try {
      const r = await ort.forward(tensor(x.slice(), [1, 1, ...input]), { output: "float32" });
      onnxMaxDiff = maxAbsDiff(r.data as Float32Array, y);
    } finally {
      await ort.close();
    }
    if (!(onnxMaxDiff <= DEFAULT_TOLERANCE)) {
      throw invalidData(
        `export-model: the exported ONNX graph differs from PyTorch by ${onnxMaxDiff} on the test input (more than ${DEFAULT_TOLERANCE}); the export is broken`,
      );
    }
    const files = new Map<string, Uint8Array>();
    const read = (n: string) => new Uint8Array(readBytes(path.join(work, n), n));
    files.set(PACKAGE_FILES.onnx, read(PACKAGE_FILES.onnx));
    files.set(PACKAGE_FILES.torchscript, read(PACKAGE_FILES.torchscript));
    files.set(PACKAGE_FILES.checkpoint, new Uint8Array(readBytes(model.checkpoint!, "the checkpoint")));
    files.set(PACKAGE_FILES.testInput, writeNpy(test.array));
    files.set(
      PACKAGE_FILES.testOutput,
      writeNpy({ dtype: "float32", shape: [1, channels.length, ...output], data: y }),
    );
    files.set(PACKAGE_FILES.cover, cover(test.array, input, y, output, full));
    const description =
      o.description ??
      `${model.organelle} segmentation of volume EM at ${model.voxelSize.join(" x ")} nm: a 3D U-Net trained with organelle (ASEM's method)`;
    files.set(
      PACKAGE_FILES.documentation,
      Buffer.from(documentation(name, description, model, input, output, prov, test.from), "utf8"),
    );
    const modelJson = {
      format: "organelle-model",
      version: 1,
      name,
      organelle: model.organelle,
      spec: specToJson(model.spec),
      voxelSize: [...model.voxelSize],
      normalization: { ...model.normalization },
      inputDtype: test.array.dtype,
      checkpoint: PACKAGE_FILES.checkpoint,
      onnx: { file: PACKAGE_FILES.onnx, inputShape: [...input], channels },
      outputShape: [...output],
      training: prov,
      exported: { at: new Date().toISOString(), from: model.ref, checkpoint: model.checkpoint },
    };
    files.set(PACKAGE_FILES.modelJson, Buffer.from(`${JSON.stringify(modelJson, null, 2)}\n`, "utf8"));
    const ref = (n: string) => ({ source: n, sha256: sha256(files.get(n)!) });
    const v = prov.validation as { f1?: number } | null;
    const rdf = buildRdf({
      // bioimage.io names: letters, digits, underscore, minus, parentheses and spaces
      name: name.replace(/[^A-Za-z0-9_\- ()]/g, "_"),
      description,
      authors: o.authors?.length ? o.authors : [process.env.USER || "organelle user"],
      license: o.license ?? "CC-BY-4.0",
      tags: o.tags?.length
        ? o.tags
        : [
            "3d",
            "electron-microscopy",
            "fib-sem",
            "semantic-segmentation",
            model.organelle,
            "organelle",
            "unet",
          ],
      organelle: model.organelle,
      voxelSize: model.voxelSize,
      inputShape: input,
      outputShape: output,
      inputDtype: test.array.dtype === "uint16" ? "uint16" : "uint8",
      normalization: model.normalization,
      outputChannels: channelNames,
      onnx: { ...ref(PACKAGE_FILES.onnx), opset },
      torchscript: { ...ref(PACKAGE_FILES.torchscript), pytorchVersion: torchVersion },
      testInput: ref(PACKAGE_FILES.testInput),
      testOutput: ref(PACKAGE_FILES.testOutput),
      documentation: PACKAGE_FILES.documentation,
      covers: [PACKAGE_FILES.cover],
      attachments: [ref(PACKAGE_FILES.modelJson), ref(PACKAGE_FILES.checkpoint)],
      timestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      config: {
        organelle: model.organelle,
        model_json: PACKAGE_FILES.modelJson,
        training_run: prov.run ? path.basename(prov.run) : null,
        step: prov.step,
        validation_f1: v?.f1 ?? null,
      },
    });
    files.set(PACKAGE_FILES.rdf, Buffer.from(YAML.stringify(rdf, { lineWidth: 0 }), "utf8"));

    const order = [PACKAGE_FILES.rdf, ...[...files.keys()].filter((n) => n !== PACKAGE_FILES.rdf)];
    const entries: ZipEntry[] = order.map((n) => ({ name: n, data: files.get(n)! }));
    if (zip) {
      const tmp = path.join(work, "package.zip");
      fs.writeFileSync(tmp, writeZip(entries));
      if (o.overwrite) fs.rmSync(out, { recursive: true, force: true });
      fs.renameSync(tmp, out);
    } else {
      const dir = path.join(work, "package");
      fs.mkdirSync(dir);
      for (const e of entries) fs.writeFileSync(path.join(dir, e.name), e.data);
      if (o.overwrite) fs.rmSync(out, { recursive: true, force: true });
      fs.renameSync(dir, out);
    }
    return {
      out,
      name,
      organelle: model.organelle,
      step: prov.step,
      inputShape: input,
      outputShape: output,
      testInput: test.from,
      onnxMaxDiff,
      files: entries.map((e) => ({ name: e.name, bytes: e.data.length, sha256: sha256(e.data) })),
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Import

export interface ImportModelOptions {
  /** Folder the package is installed under (default "models"). */
  readonly into?: string;
  /** Directory name inside `into` (default the package's name). */
  readonly name?: string;
  readonly overwrite?: boolean;
  readonly tolerance?: number;
  readonly threads?: number;
  /** Check only; install nothing. */
  readonly checkOnly?: boolean;
}

export interface ImportModelResult {
  /** The installed package directory (null with checkOnly). */
  readonly dir: string | null;
  readonly name: string;
  readonly organelle: string;
  readonly voxelSize: Coordinate;
  readonly inputShape: Coordinate;
  readonly outputShape: Coordinate;
  /** max |ONNX Runtime - test output|. */
  readonly maxDiff: number;
  readonly files: number;
}

/** The files of a package (zip or directory) by name. */
export function readPackageFiles(src: string): Map<string, Uint8Array> {
  if (!fs.existsSync(src)) throw notFound(`${src}: no such model package (a .zip or a directory)`);
  const files = new Map<string, Uint8Array>();
  if (fs.statSync(src).isDirectory()) {
    const walk = (dir: string, prefix: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const rel = prefix ? `${prefix}/${e.name}` : e.name;
        if (e.isDirectory()) walk(path.join(dir, e.name), rel);
        else if (e.isFile()) files.set(rel, new Uint8Array(readBytes(path.join(dir, e.name), rel)));
      }
    };
    walk(src, "");
    return files;
  }
  for (const e of readZip(readBytes(src, "the package"), src)) files.set(e.name, e.data);
  // Packages zipped with a top folder: use the folder holding rdf.yaml.
  if (!files.has(RDF_FILE) && !files.has("bioimageio.yaml")) {
    const rdf = [...files.keys()].find((n) => /(^|\/)(rdf|bioimageio)\.yaml$/.test(n));
    if (rdf?.includes("/")) {
      const prefix = rdf.slice(0, rdf.lastIndexOf("/") + 1);
      const inner = new Map<string, Uint8Array>();
      for (const [n, d] of files) if (n.startsWith(prefix)) inner.set(n.slice(prefix.length), d);
      return inner;
    }
  }
  return files;
}

/** Checks a package (zip or directory) completely; throws the first problem as one line. */
export async function checkPackage(
  src: string,
  o: { tolerance?: number; threads?: number } = {},
): Promise<{
  files: Map<string, Uint8Array>;
  rdf: CheckedRdf;
  modelJson: PackageJson;
  maxDiff: number;
}> {
  const files = readPackageFiles(src);
  const rdfName = files.has(RDF_FILE)
    ? RDF_FILE
    : files.has("bioimageio.yaml")
      ? "bioimageio.yaml"
      : undefined;
  if (!rdfName)
    throw invalidData(`${src}: no rdf.yaml (or bioimageio.yaml); not a bioimage.io model package`);
  let doc: unknown;
  try {
    doc = YAML.parse(Buffer.from(files.get(rdfName)!).toString("utf8"));
  } catch (e) {
    throw invalidData(`${src}: ${rdfName} is not valid YAML (${(e as Error).message.split("\n")[0]})`);
  }
  const rdf = checkRdf(doc, src);
  for (const f of rdf.files) {
    const data = files.get(f.source);
    if (!data) throw invalidData(`${src}: ${f.what} names ${f.source}, which the package does not contain`);
    if (f.sha256 && sha256(data) !== f.sha256) {
      throw invalidData(
        `${src}: ${f.source} does not match its sha256 in ${rdfName} (${f.what}); the package is damaged or was edited`,
      );
    }
  }
  const mj = files.get(PACKAGE_FILES.modelJson);
  if (!mj) {
    throw invalidData(
      `${src}: no ${PACKAGE_FILES.modelJson}; organelle installs packages it exported (it needs the U-Net spec for tiling)`,
    );
  }
  let modelJson: PackageJson;
  try {
    modelJson = JSON.parse(Buffer.from(mj).toString("utf8")) as PackageJson;
  } catch {
    throw invalidData(`${src}: ${PACKAGE_FILES.modelJson} is not valid JSON`);
  }
  if (modelJson.format !== "organelle-model" || modelJson.version !== 1) {
    throw invalidData(
      `${src}: ${PACKAGE_FILES.modelJson} is not an organelle model description (format organelle-model, version 1)`,
    );
  }
  const spec = specFromJson(modelJson.spec, `${src}: ${PACKAGE_FILES.modelJson}: spec`);
  const vs = modelJson.voxelSize;
  if (!Array.isArray(vs) || vs.length !== 3 || !vs.every((v) => typeof v === "number")) {
    throw invalidData(`${src}: ${PACKAGE_FILES.modelJson}: voxelSize must be [z, y, x] in nm`);
  }
  for (let d = 0; d < 3; d++) {
    if (Math.abs(vs[d]! - rdf.voxelSize[d]!) > 1e-6 * vs[d]!) {
      throw invalidData(
        `${src}: voxel size ${format(rdf.voxelSize)} nm in ${rdfName} (the input axes' scale) differs from ${vs.join(" x ")} nm in ${PACKAGE_FILES.modelJson}; the package is inconsistent`,
      );
    }
  }
  const shape = networkShape(spec, rdf.inputShape);
  if (format(shape.output) !== format(rdf.outputShape)) {
    throw invalidData(
      `${src}: ${rdfName} gives output ${format(rdf.outputShape)} for input ${format(rdf.inputShape)}, the spec's shape arithmetic ${format(shape.output)}`,
    );
  }
  for (const key of ["checkpoint"] as const) {
    const f = modelJson[key];
    if (typeof f === "string" && !files.has(f))
      throw invalidData(`${src}: ${PACKAGE_FILES.modelJson} names ${f}, which is missing`);
  }
  if (typeof modelJson.onnx?.file === "string" && modelJson.onnx.file !== rdf.onnx) {
    throw invalidData(
      `${src}: ${PACKAGE_FILES.modelJson} names ONNX file ${modelJson.onnx.file}, ${rdfName} ${rdf.onnx}`,
    );
  }

  // The test input through ONNX Runtime, against the test output.
  const tin = readNpy(files.get(rdf.testInput)!, `${src}: ${rdf.testInput}`);
  const tout = readNpy(files.get(rdf.testOutput)!, `${src}: ${rdf.testOutput}`);
  const want = [1, 1, ...rdf.inputShape].join(",");
  if (tin.shape.join(",") !== want) {
    throw invalidData(`${src}: ${rdf.testInput} has shape [${tin.shape.join(", ")}], the input is [${want}]`);
  }
  if (tout.dtype !== "float32") throw invalidData(`${src}: ${rdf.testOutput} must be float32`);
  const x = applyOps(Float32Array.from(tin.data), rdf.preprocessing, `${src}: preprocessing`);
  const work = fs.mkdtempSync(path.join(process.env.TMPDIR || "/tmp", "organelle-import-"));
  let maxDiff: number;
  try {
    const onnxFile = path.join(work, "weights.onnx");
    fs.writeFileSync(onnxFile, files.get(rdf.onnx)!);
    const ort = await OnnxEngine.open(onnxFile, { threads: o.threads ?? 1 });
    try {
      const r = await ort.forward(tensor(x, [1, 1, ...rdf.inputShape]), { output: "float32" });
      if (r.shape.join(",") !== tout.shape.join(",")) {
        throw invalidData(
          `${src}: the ONNX weights give shape [${r.shape.join(", ")}] for the test input, the test output is [${tout.shape.join(", ")}]`,
        );
      }
      const y = applyOps(r.data as Float32Array, rdf.postprocessing, `${src}: postprocessing`);
      maxDiff = maxAbsDiff(y, tout.data);
    } catch (e) {
      if (isOrganelleError(e, "InvalidData") && /not a readable ONNX model/.test(e.message)) {
        throw invalidData(`${src}: ${rdf.onnx} is not a readable ONNX model; the package is damaged`);
      }
      throw e;
    } finally {
      await ort.close();
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const tol = o.tolerance ?? DEFAULT_TOLERANCE;
  if (!(maxDiff <= tol)) {
    throw invalidData(
      `${src}: the ONNX weights do not reproduce the test output (max difference ${maxDiff.toPrecision(3)} > ${tol}); the weights and test tensors do not belong together`,
    );
  }
  return { files, rdf, modelJson, maxDiff };
}

/** Checks a package and installs it as `<into>/<name>/` (written under a temporary name, then renamed). */
export async function importModel(src: string, o: ImportModelOptions = {}): Promise<ImportModelResult> {
  const { files, rdf, modelJson, maxDiff } = await checkPackage(src, o);
  const name = safeName(o.name ?? (typeof modelJson.name === "string" ? modelJson.name : rdf.name));
  const result = {
    name,
    organelle: String(modelJson.organelle),
    voxelSize: rdf.voxelSize,
    inputShape: rdf.inputShape,
    outputShape: rdf.outputShape,
    maxDiff,
    files: files.size,
  };
  if (o.checkOnly) return { ...result, dir: null };
  const into = path.resolve(o.into ?? "models");
  const dir = path.join(into, name);
  if (fs.existsSync(dir) && !o.overwrite) {
    throw invalidArgument(
      `${dir} exists; pass --overwrite to replace it, or --name to install under another name`,
    );
  }
  fs.mkdirSync(into, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(into, `.${name}.tmp-`));
  try {
    for (const [n, data] of files) {
      const f = path.join(tmp, n);
      if (!path.resolve(f).startsWith(tmp + path.sep))
        throw invalidData(`${src}: entry ${n} points outside the package`);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, data);
    }
    if (fs.existsSync(dir)) fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw isOrganelleError(e) ? e : fromFsError(e, dir, "installing the model");
  }
  return { ...result, dir };
}
