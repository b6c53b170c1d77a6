import { type Coordinate, coord } from "../core/coordinate.ts";
import { invalidData } from "../core/errors.ts";

/*
 * The bioimage.io model description (RDF, format_version 0.5) of an organelle model package, and the checks
 * import-model applies to any package it is given. Written by hand against the 0.5 spec (bioimageio.spec
 * `model/v0_5.py`): one input `raw` [batch, channel, z, y, x] of the training raw's type with its
 * preprocessing (cast to float32, then the [0, full scale] -> [-1, 1] of training as `scale_linear`), one
 * output `prob` whose spatial sizes refer to the input's minus the network's context (`size: {tensor_id,
 * axis_id, offset}`: 0.5's way to say a valid network crops its own halo, so `halo` stays 0), space axes in
 * nanometres with the training voxel size as `scale`, ONNX and TorchScript weights with sha256, test
 * tensors as .npy. The weights end with the head's activation (softmax / sigmoid of the network as
 * organelle trains it), so the output is already a probability and `postprocessing` is empty: a declared
 * sigmoid would be applied twice by bioimage.io consumers.
 */

export const RDF_FILE = "rdf.yaml";
export const RDF_FORMAT_VERSION = "0.5.3";
const SPACE = ["z", "y", "x"] as const;

export interface RdfFile {
  readonly source: string;
  readonly sha256: string;
}

export interface RdfContent {
  readonly name: string;
  readonly description: string;
  readonly authors: readonly string[];
  readonly license: string;
  readonly tags: readonly string[];
  readonly organelle: string;
  readonly voxelSize: Coordinate;
  readonly inputShape: Coordinate;
  readonly outputShape: Coordinate;
  /** Raw's type before preprocessing (the training raw's): uint8 or uint16. */
  readonly inputDtype: "uint8" | "uint16";
  /** Normalisation of training: x / fullScale * scale + shift. */
  readonly normalization: { readonly scale: number; readonly shift: number };
  readonly outputChannels: readonly string[];
  readonly onnx: RdfFile & { readonly opset: number };
  readonly torchscript: RdfFile & { readonly pytorchVersion: string };
  readonly testInput: RdfFile;
  readonly testOutput: RdfFile;
  readonly documentation: string;
  readonly covers: readonly string[];
  readonly attachments: readonly RdfFile[];
  readonly timestamp: string;
  readonly config: Record<string, unknown>;
}

const FULL_SCALE = { uint8: 255, uint16: 65535 } as const;

export function buildRdf(c: RdfContent): Record<string, unknown> {
  const space = (i: number, size: unknown) => ({
    type: "space",
    id: SPACE[i],
    size,
    scale: c.voxelSize[i],
    unit: "nanometer",
  });
  const offset = (i: number) => c.outputShape[i]! - c.inputShape[i]!;
  return {
    format_version: RDF_FORMAT_VERSION,
    type: "model",
    name: c.name,
    description: c.description,
    authors: c.authors.map((name) => ({ name })),
    cite: [
      {
        text: "Gallusser B. et al. (2023) Deep neural network automated segmentation of cellular structures in volume electron microscopy. J Cell Biol 222(2):e202208005",
        doi: "10.1083/jcb.202208005",
      },
    ],
    license: c.license,
    documentation: c.documentation,
    covers: [...c.covers],
    tags: [...c.tags],
    timestamp: c.timestamp,
    inputs: [
      {
        id: "raw",
        description: `EM intensities (${c.inputDtype}) at ${c.voxelSize.join(" x ")} nm (z, y, x)`,
        axes: [
          { type: "batch" },
          { type: "channel", channel_names: ["raw"] },
          ...[0, 1, 2].map((i) => space(i, c.inputShape[i])),
        ],
        test_tensor: { ...c.testInput },
        data: { type: c.inputDtype, range: [0, FULL_SCALE[c.inputDtype]], unit: "arbitrary unit" },
        preprocessing: [
          { id: "ensure_dtype", kwargs: { dtype: "float32" } },
          {
            id: "scale_linear",
            kwargs: {
              gain: c.normalization.scale / FULL_SCALE[c.inputDtype],
              offset: c.normalization.shift,
            },
          },
        ],
      },
    ],
    outputs: [
      {
        id: "prob",
        description: `probability of ${c.outputChannels.join(", ")} per voxel (the network's activation is part of the weights)`,
        axes: [
          { type: "batch" },
          { type: "channel", channel_names: [...c.outputChannels] },
          ...[0, 1, 2].map((i) => space(i, { tensor_id: "raw", axis_id: SPACE[i], offset: offset(i) })),
        ],
        test_tensor: { ...c.testOutput },
        data: { type: "float32", range: [0, 1] },
        postprocessing: [],
      },
    ],
    weights: {
      torchscript: {
        source: c.torchscript.source,
        sha256: c.torchscript.sha256,
        pytorch_version: c.torchscript.pytorchVersion,
      },
      onnx: {
        source: c.onnx.source,
        sha256: c.onnx.sha256,
        opset_version: c.onnx.opset,
        parent: "torchscript",
      },
    },
    attachments: c.attachments.map((a) => ({ ...a })),
    config: { organelle: c.config },
  };
}

/** What import-model needs from a checked RDF. */
export interface CheckedRdf {
  readonly name: string;
  /** Every file the RDF names, with its sha256 where the RDF gives one. */
  readonly files: readonly { readonly source: string; readonly sha256?: string; readonly what: string }[];
  readonly onnx: string;
  readonly torchscript?: string;
  readonly testInput: string;
  readonly testOutput: string;
  readonly inputShape: Coordinate;
  /** Output sizes from the size references (input + offset). */
  readonly outputShape: Coordinate;
  /** Space axes' scale in nm (z, y, x). */
  readonly voxelSize: Coordinate;
  readonly preprocessing: readonly PreprocessingOp[];
  readonly postprocessing: readonly PreprocessingOp[];
}

export type PreprocessingOp =
  | { readonly id: "ensure_dtype"; readonly dtype: string }
  | { readonly id: "scale_linear"; readonly gain: number; readonly offset: number }
  | { readonly id: "sigmoid" };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const UNIT_NM: Record<string, number> = { nanometer: 1, micrometer: 1000, angstrom: 0.1 };

/**
 * Checks the keys a bioimage.io 0.5 model description must have and the ones organelle uses; the first
 * problem is one line naming the key. `what` names the package.
 */
export function checkRdf(rdf: unknown, what: string): CheckedRdf {
  const fail = (m: string) => invalidData(`${what}: ${RDF_FILE}: ${m}`);
  if (!isObj(rdf)) throw fail("not a YAML mapping");
  const str = (o: Obj, key: string, where = key): string => {
    const v = o[key];
    if (typeof v !== "string" || v.trim() === "") throw fail(`'${where}' is missing or not a text`);
    return v;
  };
  const fv = str(rdf, "format_version");
  if (!/^0\.5\.\d+$/.test(fv)) {
    throw fail(`format_version ${fv}: organelle reads bioimage.io model descriptions of format 0.5.x`);
  }
  if (rdf.type !== "model") throw fail(`'type' is ${JSON.stringify(rdf.type)}, expected model`);
  const name = str(rdf, "name");
  str(rdf, "description");
  str(rdf, "license");
  const list = (key: string): unknown[] => {
    const v = rdf[key];
    if (!Array.isArray(v) || v.length === 0) throw fail(`'${key}' must be a non-empty list`);
    return v;
  };
  list("authors").forEach((a, i) => {
    if (!isObj(a)) throw fail(`authors[${i}] must be a mapping with a name`);
    str(a, "name", `authors[${i}].name`);
  });
  list("cite").forEach((c, i) => {
    if (!isObj(c)) throw fail(`cite[${i}] must be a mapping with text and doi or url`);
    str(c, "text", `cite[${i}].text`);
    if (typeof c.doi !== "string" && typeof c.url !== "string") throw fail(`cite[${i}] needs a doi or a url`);
  });
  const files: { source: string; sha256?: string; what: string }[] = [];
  const fileRef = (v: unknown, where: string, needSha: boolean): string => {
    if (!isObj(v)) throw fail(`'${where}' must be a mapping with source and sha256`);
    const source = str(v, "source", `${where}.source`);
    const sha = v.sha256;
    if (sha !== undefined && (typeof sha !== "string" || !/^[0-9a-f]{64}$/i.test(sha))) {
      throw fail(`'${where}.sha256' must be 64 hex digits`);
    }
    if (needSha && sha === undefined) throw fail(`'${where}.sha256' is missing`);
    files.push({ source, ...(typeof sha === "string" ? { sha256: sha.toLowerCase() } : {}), what: where });
    return source;
  };
  files.push({ source: str(rdf, "documentation"), what: "documentation" });
  if (rdf.covers !== undefined) {
    if (!Array.isArray(rdf.covers)) throw fail("'covers' must be a list of image files");
    rdf.covers.forEach((c, i) => {
      if (typeof c !== "string") throw fail(`covers[${i}] must be a file name`);
      files.push({ source: c, what: `covers[${i}]` });
    });
  }
  if (rdf.attachments !== undefined) {
    if (!Array.isArray(rdf.attachments)) throw fail("'attachments' must be a list");
    rdf.attachments.forEach((a, i) => {
      fileRef(a, `attachments[${i}]`, false);
    });
  }

  const inputs = list("inputs");
  const outputs = list("outputs");
  if (inputs.length !== 1 || outputs.length !== 1) {
    throw fail(
      `${inputs.length} inputs and ${outputs.length} outputs; organelle's U-Nets have one input and one output`,
    );
  }
  const input = inputs[0];
  const output = outputs[0];
  if (!isObj(input) || !isObj(output)) throw fail("inputs[0] and outputs[0] must be mappings");
  const inputId = str(input, "id", "inputs[0].id");
  const axesOf = (t: Obj, where: string): Obj[] => {
    const axes = t.axes;
    if (!Array.isArray(axes) || !axes.every(isObj)) throw fail(`'${where}.axes' must be a list of axes`);
    const kinds = axes.map((a) => (a.type === "space" ? a.id : a.type));
    if (kinds.join(",") !== "batch,channel,z,y,x") {
      throw fail(
        `'${where}.axes' are ${kinds.join(", ")}; organelle's models take batch, channel, z, y, x (space axes z, y, x)`,
      );
    }
    return axes;
  };
  const inAxes = axesOf(input, "inputs[0]");
  const outAxes = axesOf(output, "outputs[0]");
  const scaleOf = (a: Obj, where: string): number => {
    const unit = a.unit ?? "nanometer";
    const f = typeof unit === "string" ? UNIT_NM[unit] : undefined;
    if (f === undefined)
      throw fail(`'${where}.unit' ${JSON.stringify(unit)}: expected a length unit (nanometer)`);
    const s = a.scale ?? 1;
    if (typeof s !== "number" || !(s > 0)) throw fail(`'${where}.scale' must be a positive number`);
    return s * f;
  };
  const inSize: number[] = [];
  const vs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const a = inAxes[i + 2]!;
    const where = `inputs[0].axes[${i + 2}]`;
    if (!Number.isInteger(a.size) || (a.size as number) < 1) {
      throw fail(
        `'${where}.size' must be a fixed whole number (organelle's graphs are traced at one input size)`,
      );
    }
    inSize.push(a.size as number);
    vs.push(scaleOf(a, where));
  }
  const outSize: number[] = [];
  for (let i = 0; i < 3; i++) {
    const a = outAxes[i + 2]!;
    const where = `outputs[0].axes[${i + 2}]`;
    const s = a.size;
    let n: number;
    if (Number.isInteger(s)) n = s as number;
    else if (isObj(s) && s.tensor_id === inputId && s.axis_id === SPACE[i]) {
      const off = s.offset ?? 0;
      if (!Number.isInteger(off)) throw fail(`'${where}.size.offset' must be a whole number`);
      n = inSize[i]! + (off as number);
    } else {
      throw fail(`'${where}.size' must be a whole number or a reference to ${inputId}'s ${SPACE[i]} axis`);
    }
    if (n < 1) throw fail(`'${where}.size' gives ${n} voxels`);
    const halo = a.halo ?? 0;
    if (halo !== 0) throw fail(`'${where}.halo' ${String(halo)}: organelle's graphs crop their own context`);
    if (Math.abs(scaleOf(a, where) - vs[i]!) > 1e-6 * vs[i]!) {
      throw fail(`'${where}.scale' differs from the input's; organelle's models keep the voxel size`);
    }
    outSize.push(n);
  }
  const testInput = fileRef(input.test_tensor, "inputs[0].test_tensor", true);
  const testOutput = fileRef(output.test_tensor, "outputs[0].test_tensor", true);
  const ops = (v: unknown, where: string): PreprocessingOp[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw fail(`'${where}' must be a list`);
    return v.map((p, i) => {
      const w = `${where}[${i}]`;
      if (!isObj(p)) throw fail(`'${w}' must be a mapping with an id`);
      const k = isObj(p.kwargs) ? p.kwargs : {};
      switch (p.id) {
        case "ensure_dtype":
          if (typeof k.dtype !== "string") throw fail(`'${w}.kwargs.dtype' is missing`);
          return { id: "ensure_dtype", dtype: k.dtype };
        case "scale_linear": {
          const gain = k.gain ?? 1;
          const offset = k.offset ?? 0;
          if (typeof gain !== "number" || typeof offset !== "number") {
            throw fail(
              `'${w}.kwargs': organelle applies scale_linear with one gain and one offset (numbers)`,
            );
          }
          return { id: "scale_linear", gain, offset };
        }
        case "sigmoid":
          return { id: "sigmoid" };
        default:
          throw fail(
            `'${w}.id' ${JSON.stringify(p.id)}: organelle applies ensure_dtype, scale_linear and sigmoid`,
          );
      }
    });
  };
  const preprocessing = ops(input.preprocessing, "inputs[0].preprocessing");
  const postprocessing = ops(output.postprocessing, "outputs[0].postprocessing");

  const weights = rdf.weights;
  if (!isObj(weights)) throw fail("'weights' must be a mapping of weight formats");
  if (weights.onnx === undefined) {
    throw fail(
      `no onnx weights (it has ${Object.keys(weights).join(", ") || "none"}); organelle runs packages with ONNX Runtime`,
    );
  }
  const onnx = fileRef(weights.onnx, "weights.onnx", true);
  if (!Number.isInteger((weights.onnx as Obj).opset_version))
    throw fail("'weights.onnx.opset_version' is missing");
  let torchscript: string | undefined;
  if (weights.torchscript !== undefined) {
    torchscript = fileRef(weights.torchscript, "weights.torchscript", true);
    str(weights.torchscript as Obj, "pytorch_version", "weights.torchscript.pytorch_version");
  }
  return {
    name,
    files,
    onnx,
    ...(torchscript ? { torchscript } : {}),
    testInput,
    testOutput,
    inputShape: coord(inSize[0]!, inSize[1]!, inSize[2]!),
    outputShape: coord(outSize[0]!, outSize[1]!, outSize[2]!),
    voxelSize: coord(vs[0]!, vs[1]!, vs[2]!),
    preprocessing,
    postprocessing,
  };
}

/** Applies the RDF's pre- or postprocessing to float32 values (ensure_dtype float32 is the identity here). */
export function applyOps(data: Float32Array, ops: readonly PreprocessingOp[], what: string): Float32Array {
  for (const op of ops) {
    if (op.id === "ensure_dtype") {
      if (op.dtype !== "float32")
        throw invalidData(`${what}: ensure_dtype ${op.dtype}: organelle computes in float32`);
    } else if (op.id === "scale_linear") {
      for (let i = 0; i < data.length; i++) data[i] = data[i]! * op.gain + op.offset;
    } else {
      for (let i = 0; i < data.length; i++) data[i] = 1 / (1 + Math.exp(-data[i]!));
    }
  }
  return data;
}
