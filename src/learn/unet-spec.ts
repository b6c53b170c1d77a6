import { type Coordinate, coord, format } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";

/*
 * The U-Net a model is built from, as plain JSON: the engine builds exactly this network (engine/
 * organelle_engine/unet.py) and TypeScript computes every shape from it (shapes.ts), so neither side
 * hard-codes a shape. The architecture is Funke et al.'s U-Net as ASEM uses it (SPEC §4): per level two
 * valid convolutions + ReLU on the way down, max-pool by the level's factor, the same at the bottom, then
 * per level upsampling (nearest or transposed), a centre crop of the skip connection to the upsampled
 * size, concatenation and two valid convolutions; a final convolution maps to the output channels.
 *
 * Levels: `downsample` has one factor per downsampling step (levels = downsample.length + 1); feature maps
 * of level i are round(fmaps * fmapIncrease^i). Kernel sizes are odd (valid convolutions then crop
 * symmetrically); `kernels[i]` is the list of convolutions of level i (down and up path alike).
 */

export type Upsampling = "nearest" | "transposed";

/**
 * - `none`: convolution + ReLU, as ASEM and COSEM.
 * - `batch`: convolution (no bias) + batch normalisation + ReLU. Its training loss falls several times
 *   faster; inference uses the running statistics, so predictions stay independent of the tiling, but at
 *   batch size 1 those differ from the per-block statistics it trained with (docs/learn.md).
 */
export type Norm = "none" | "batch";

/**
 * - `sigmoid`: one channel, probability via sigmoid, class-balanced binary cross-entropy.
 * - `softmax2`: two channels (background, organelle), softmax, class-balanced cross-entropy (ASEM).
 * - `tanh-distance`: one channel per class, tanh of the signed boundary distance, sum of MSE (COSEM).
 */
export type Head = "sigmoid" | "softmax2" | "tanh-distance";

export const HEADS: readonly Head[] = ["sigmoid", "softmax2", "tanh-distance"];
export const UPSAMPLINGS: readonly Upsampling[] = ["nearest", "transposed"];
export const NORMS: readonly Norm[] = ["none", "batch"];

export interface UNetSpec {
  /** Spec format version; the engine refuses versions it does not know. */
  readonly version: 1;
  readonly inChannels: number;
  readonly fmaps: number;
  readonly fmapIncrease: number;
  /** One factor (z,y,x) per downsampling; anisotropic factors such as (1,2,2) allowed. */
  readonly downsample: readonly Coordinate[];
  /** Convolution kernels (z,y,x) of each level, `downsample.length + 1` lists. */
  readonly kernels: readonly (readonly Coordinate[])[];
  /** Kernel (z,y,x) of the final convolution to the output channels. */
  readonly headKernel: Coordinate;
  readonly upsampling: Upsampling;
  readonly head: Head;
  readonly outChannels: number;
  /** Valid convolutions (no padding) always: the only padding the shape arithmetic supports. */
  readonly padding: "valid";
  /** Normalisation after each convolution (absent in specs written before it existed: none). */
  readonly norm: Norm;
}

export interface ModelPreset {
  readonly name: string;
  readonly description: string;
  readonly spec: UNetSpec;
  /** Input size (voxels z,y,x) training asks for; snapped to the nearest valid size >= it. */
  readonly inputSize: Coordinate;
  readonly source: string;
}

const K3 = coord(3, 3, 3);
const K1 = coord(1, 1, 1);

function twoConvs(levels: number, k: Coordinate = K3): Coordinate[][] {
  return Array.from({ length: levels }, () => [k, k]);
}

function unet(
  o: Omit<UNetSpec, "version" | "padding" | "inChannels" | "kernels" | "norm"> & {
    kernels?: Coordinate[][];
    norm?: Norm;
  },
) {
  return validateSpec({
    ...o,
    version: 1,
    padding: "valid",
    inChannels: 1,
    kernels: o.kernels ?? twoConvs(o.downsample.length + 1),
    norm: o.norm ?? "none",
  });
}

const TWO = coord(2, 2, 2);
const THREE = coord(3, 3, 3);

export const MODEL_PRESETS: readonly ModelPreset[] = [
  {
    name: "asem",
    description:
      "ASEM's U-Net: 32 fmaps x2, 3 downsamplings by 2, nearest upsampling, 2-class softmax (~6 M parameters)",
    spec: unet({
      fmaps: 32,
      fmapIncrease: 2,
      downsample: [TWO, TWO, TWO],
      headKernel: K3,
      upsampling: "nearest",
      head: "softmax2",
      outChannels: 2,
    }),
    inputSize: coord(204, 204, 204),
    source: "SPEC §4 (ASEM paper and kirchhausenlab/incasem: final 3x3x3 convolution to 2 classes)",
  },
  {
    name: "cosem-few",
    description:
      "COSEM's multi-class U-Net: 12 fmaps x6, downsampling (2,2,2),(3,3,3),(3,3,3), signed tanh distance per class (4 classes)",
    spec: unet({
      fmaps: 12,
      fmapIncrease: 6,
      downsample: [TWO, THREE, THREE],
      headKernel: K1,
      upsampling: "transposed",
      head: "tanh-distance",
      outChannels: 4,
    }),
    inputSize: coord(216, 216, 216),
    source: "SPEC §5 (COSEM 'few' networks, <= 4 related classes)",
  },
  {
    name: "small",
    description:
      "CPU preset: 16 fmaps x2, 2 downsamplings by 2, batch normalisation, 2-class softmax; trains in minutes on 2 cores",
    spec: unet({
      fmaps: 16,
      fmapIncrease: 2,
      downsample: [TWO, TWO],
      headKernel: K1,
      upsampling: "nearest",
      head: "softmax2",
      outChannels: 2,
      norm: "batch",
    }),
    inputSize: coord(68, 68, 68),
    source: "organelle (a scaled-down ASEM network for CPUs, with batch normalisation to learn in minutes)",
  },
  {
    name: "tiny",
    description: "CPU/test preset: 8 fmaps x2, 1 downsampling by 2, 2-class softmax; for tests and demos",
    spec: unet({
      fmaps: 8,
      fmapIncrease: 2,
      downsample: [TWO],
      headKernel: K1,
      upsampling: "nearest",
      head: "softmax2",
      outChannels: 2,
    }),
    inputSize: coord(36, 36, 36),
    source: "organelle (the smallest useful U-Net; tests)",
  },
];

export function modelPresetNames(): string[] {
  return MODEL_PRESETS.map((p) => p.name);
}

export function getModelPreset(name: string): ModelPreset {
  const p = MODEL_PRESETS.find((m) => m.name === name);
  if (!p)
    throw invalidArgument(`model preset '${name}': unknown; choose from ${modelPresetNames().join(", ")}`);
  return p;
}

/** Checks a spec's internal consistency; `what` names it in errors. Returns the spec, frozen. */
export function validateSpec(spec: UNetSpec, what = "model spec"): UNetSpec {
  const fail = (m: string) => invalidArgument(`${what}: ${m}`);
  if (spec.version !== 1) throw fail(`version ${String(spec.version)} is not supported (expected 1)`);
  if (spec.padding !== "valid") throw fail(`padding '${String(spec.padding)}': only 'valid' is supported`);
  const posInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 1) throw fail(`${name} must be a whole number >= 1, got ${v}`);
  };
  posInt(spec.inChannels, "inChannels");
  posInt(spec.fmaps, "fmaps");
  posInt(spec.outChannels, "outChannels");
  if (!(spec.fmapIncrease >= 1)) throw fail(`fmapIncrease must be >= 1, got ${spec.fmapIncrease}`);
  if (!HEADS.includes(spec.head)) throw fail(`head '${String(spec.head)}': choose from ${HEADS.join(", ")}`);
  if (!UPSAMPLINGS.includes(spec.upsampling))
    throw fail(`upsampling '${String(spec.upsampling)}': choose from ${UPSAMPLINGS.join(", ")}`);
  if (!NORMS.includes(spec.norm)) throw fail(`norm '${String(spec.norm)}': choose from ${NORMS.join(", ")}`);
  if (spec.head === "sigmoid" && spec.outChannels !== 1) throw fail("head 'sigmoid' needs outChannels 1");
  if (spec.head === "softmax2" && spec.outChannels !== 2) throw fail("head 'softmax2' needs outChannels 2");
  spec.downsample.forEach((f, i) => {
    for (const v of f) posInt(v, `downsample[${i}] ${format(f)}`);
  });
  if (spec.kernels.length !== spec.downsample.length + 1) {
    throw fail(
      `kernels has ${spec.kernels.length} levels but downsample implies ${spec.downsample.length + 1} (one more than the downsampling steps)`,
    );
  }
  const oddKernel = (k: Coordinate, name: string) => {
    for (const v of k) {
      if (!Number.isInteger(v) || v < 1 || v % 2 === 0)
        throw fail(`${name} ${format(k)}: sizes must be odd whole numbers`);
    }
  };
  spec.kernels.forEach((level, i) => {
    if (level.length === 0) throw fail(`kernels[${i}] is empty; every level needs at least one convolution`);
    level.forEach((k, j) => {
      oddKernel(k, `kernels[${i}][${j}]`);
    });
  });
  oddKernel(spec.headKernel, "headKernel");
  return deepFreeze(spec);
}

/** Feature maps of level i. */
export function levelFmaps(spec: UNetSpec, level: number): number {
  return Math.round(spec.fmaps * spec.fmapIncrease ** level);
}

/** Trainable parameters of the network the engine builds (weights, biases, normalisation scale and shift), for reports. */
export function parameterCount(spec: UNetSpec): number {
  const vol = (k: Coordinate) => k[0] * k[1] * k[2];
  let n = 0;
  const conv = (cin: number, cout: number, k: Coordinate, normalised = false) => {
    // A normalised convolution has no bias; the normalisation has a scale and a shift per channel.
    n += cin * cout * vol(k) + (normalised ? 2 * cout : cout);
  };
  const normed = spec.norm === "batch";
  const L = spec.downsample.length;
  let cin = spec.inChannels;
  for (let i = 0; i <= L; i++) {
    const f = levelFmaps(spec, i);
    for (const k of spec.kernels[i]!) {
      conv(cin, f, k, normed);
      cin = f;
    }
  }
  for (let i = L - 1; i >= 0; i--) {
    const f = levelFmaps(spec, i);
    const below = levelFmaps(spec, i + 1);
    let up = below;
    if (spec.upsampling === "transposed") {
      // A transposed convolution with kernel = stride = factor, keeping the channel count (funlib).
      conv(below, below, spec.downsample[i]!);
      up = below;
    }
    cin = up + f;
    for (const k of spec.kernels[i]!) {
      conv(cin, f, k, normed);
      cin = f;
    }
  }
  conv(levelFmaps(spec, 0), spec.outChannels, spec.headKernel);
  return n;
}

/** Parses a spec from JSON (config files, checkpoints), checking every field. */
export function specFromJson(v: unknown, what = "model spec"): UNetSpec {
  const o = v as Record<string, unknown> | null;
  if (!o || typeof o !== "object" || Array.isArray(o)) throw invalidArgument(`${what}: expected an object`);
  const c3 = (x: unknown, name: string): Coordinate => {
    if (typeof x === "number") return coord(x, x, x);
    if (!Array.isArray(x) || x.length !== 3 || !x.every((n) => typeof n === "number")) {
      throw invalidArgument(`${what}: ${name} must be a number or [z, y, x]`);
    }
    return coord(x[0] as number, x[1] as number, x[2] as number);
  };
  const num = (x: unknown, name: string, dflt?: number): number => {
    if (x === undefined && dflt !== undefined) return dflt;
    if (typeof x !== "number") throw invalidArgument(`${what}: ${name} must be a number`);
    return x;
  };
  const downsample = o.downsample;
  if (!Array.isArray(downsample)) throw invalidArgument(`${what}: downsample must be a list of factors`);
  const ds = downsample.map((f, i) => c3(f, `downsample[${i}]`));
  let kernels: Coordinate[][];
  if (o.kernels === undefined) kernels = twoConvs(ds.length + 1);
  else if (!Array.isArray(o.kernels)) throw invalidArgument(`${what}: kernels must be a list per level`);
  else {
    kernels = o.kernels.map((level, i) => {
      if (!Array.isArray(level)) throw invalidArgument(`${what}: kernels[${i}] must be a list of kernels`);
      return level.map((k, j) => c3(k, `kernels[${i}][${j}]`));
    });
  }
  const head = (o.head ?? "softmax2") as Head;
  return validateSpec(
    {
      version: num(o.version, "version", 1) as 1,
      inChannels: num(o.inChannels, "inChannels", 1),
      fmaps: num(o.fmaps, "fmaps"),
      fmapIncrease: num(o.fmapIncrease, "fmapIncrease", 2),
      downsample: ds,
      kernels,
      headKernel: o.headKernel === undefined ? K1 : c3(o.headKernel, "headKernel"),
      upsampling: (o.upsampling ?? "nearest") as Upsampling,
      head,
      outChannels: num(o.outChannels, "outChannels", head === "sigmoid" ? 1 : 2),
      padding: (o.padding ?? "valid") as "valid",
      norm: (o.norm ?? "none") as Norm,
    },
    what,
  );
}

/** The spec as the JSON the engine receives (plain arrays). */
export function specToJson(spec: UNetSpec): Record<string, unknown> {
  return JSON.parse(JSON.stringify(spec)) as Record<string, unknown>;
}

/** Whether two specs (e.g. the configuration's and a checkpoint's, whatever their key order) describe the same network. */
export function specsEqual(a: unknown, b: unknown): boolean {
  const canon = (v: unknown): string => {
    const s = specToJson(specFromJson(v));
    return JSON.stringify(s, Object.keys(s).sort());
  };
  try {
    return canon(a) === canon(b);
  } catch {
    return false;
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
