import { type Coordinate, coord, format } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import type { VoxelBox } from "../core/roi.ts";
import { inputStep, type NetworkShape, networkShape, smallestValidInput } from "../learn/shapes.ts";
import type { UNetSpec } from "../learn/unet-spec.ts";
import { activationBytes, forwardFlops } from "./cost.ts";

/*
 * How a prediction is cut up. Write blocks are whole chunks of the output arrays (so no two blocks
 * write one chunk); inside a block each model runs on tiles of one valid input shape, chosen for speed.
 *
 * Seamlessness: a valid-padding U-Net is translation-equivariant only for shifts that are multiples of
 * the product P of its downsampling factors (the pooling grid must line up). So every tile's output
 * starts at a multiple of P voxels from the raw array's origin, and tiles step by S = the largest
 * multiple of P that fits in the tile output O. Tiles overlap by O - S (< P) voxels, where they agree;
 * predicting a block, a ROI or the whole volume gives the same value at every voxel.
 *
 * Speed: along an axis, covering a block of B voxels takes t tiles of input N each, i.e. t N / B input
 * voxels per output voxel; the cost of a block is the product over the axes of these ratios times the
 * network's FLOPs per input voxel. The plan picks, per axis, the block size (a multiple of the chunk,
 * up to `maxBlock`) and each model's tile size (a valid size up to its memory limit) that minimise the
 * summed cost of all models, preferring smaller blocks when costs are within 2 %.
 */

export interface ModelTiling {
  /** The network input/output of one tile and its context (voxels). */
  readonly network: NetworkShape;
  /** Step between tile outputs, a multiple of `step`, at most the output size. */
  readonly stride: Coordinate;
  /** The product of the downsampling factors: tile outputs start at multiples of it. */
  readonly step: Coordinate;
}

export interface TilingPlan {
  /** Write-block shape in voxels (a multiple of the chunk shape). */
  readonly block: Coordinate;
  readonly models: readonly ModelTiling[];
}

export interface TilingModel {
  readonly spec: UNetSpec;
  /** Largest tile input per axis (memory); the smallest valid size is used when none fits. */
  readonly maxInput: Coordinate;
  /** A graph exported at one input shape (an ONNX file without its checkpoint): tiles must use it. */
  readonly fixedInput?: Coordinate;
}

export interface TilingOptions {
  /** Chunk shape of the outputs (voxels). */
  readonly chunk: Coordinate;
  /** Largest block edge per axis (voxels). */
  readonly maxBlock: Coordinate;
  /** Extent of the region to predict (voxels): blocks larger than it are pointless. */
  readonly extent: Coordinate;
  /** A block shape the user asked for (voxels; rounded up to whole chunks). */
  readonly block?: Coordinate;
}

interface AxisChoice {
  readonly input: number;
  readonly output: number;
  readonly stride: number;
  /** Input voxels per output voxel along this axis. */
  readonly ratio: number;
}

/** Tiles (count) needed along an axis to cover [r, r + B) with outputs of `o` stepping by `s`. */
function tileCount(span: number, o: number, s: number): number {
  return span <= o ? 1 : Math.ceil((span - o) / s) + 1;
}

/** Valid (input, output) sizes along `axis`, ascending, that fit `max` (or the smallest). */
function axisSizes(spec: UNetSpec, axis: number, max: number, fixed?: number): { n: number; o: number }[] {
  const n0 = smallestValidInput(spec)[axis]!;
  const base = networkShape(spec, smallestValidInput(spec));
  const o0 = base.output[axis]!;
  const p = inputStep(spec)[axis]!;
  if (fixed !== undefined) {
    const k = (fixed - n0) / p;
    if (!Number.isInteger(k) || k < 0) {
      throw invalidArgument(
        `tile input ${fixed} is not a valid input size along axis ${axis} of this network`,
      );
    }
    return [{ n: fixed, o: o0 + k * p }];
  }
  const out: { n: number; o: number }[] = [];
  for (let k = 0; n0 + k * p <= Math.max(max, n0); k++) out.push({ n: n0 + k * p, o: o0 + k * p });
  return out;
}

function bestAxis(
  spec: UNetSpec,
  axis: number,
  block: number,
  chunk: number,
  max: number,
  fixed?: number,
): AxisChoice {
  const p = inputStep(spec)[axis]!;
  // Block starts are multiples of the chunk from the origin: their offsets from the pooling grid.
  const phases = new Set<number>();
  for (let j = 0; j < p; j++) phases.add((j * chunk) % p);
  let best: AxisChoice | undefined;
  for (const { n, o } of axisSizes(spec, axis, max, fixed)) {
    const s = Math.floor(o / p) * p;
    if (s < p) continue;
    let t = 0;
    for (const r of phases) t = Math.max(t, tileCount(block + r, o, s));
    const ratio = (t * n) / block;
    if (!best || ratio < best.ratio - 1e-12) best = { input: n, output: o, stride: s, ratio };
  }
  if (!best) {
    throw invalidArgument(
      `no valid tile of this network has an output of at least ${p} voxels along axis ${axis} within ${max} input voxels; allow more tile memory`,
    );
  }
  return best;
}

/** Chooses the block shape and each model's tile shape (see the note at the top). */
export function chooseTiling(models: readonly TilingModel[], o: TilingOptions): TilingPlan {
  if (models.length === 0) throw invalidArgument("no model to predict with");
  const candidates = [0, 1, 2].map((d) => {
    const c = o.chunk[d]!;
    if (o.block) return [Math.ceil(o.block[d]! / c) * c];
    const limit = Math.max(c, Math.min(o.maxBlock[d]!, Math.ceil(o.extent[d]! / c) * c));
    const list: number[] = [];
    for (let b = c; b <= limit; b += c) list.push(b);
    return list;
  });
  // FLOPs per input voxel of each model: weighs the models' costs against each other.
  const weights = models.map((m) => {
    const n = smallestValidInput(m.spec);
    return forwardFlops(m.spec, n) / (n[0] * n[1] * n[2]);
  });
  // Axes are independent: each (model, axis, block size) is worked out once.
  const memo = new Map<string, AxisChoice>();
  const choice = (m: number, d: number, b: number) => {
    const key = `${m} ${d} ${b}`;
    let c = memo.get(key);
    if (!c) {
      const model = models[m]!;
      c = bestAxis(model.spec, d, b, o.chunk[d]!, model.maxInput[d]!, model.fixedInput?.[d]);
      memo.set(key, c);
    }
    return c;
  };
  const options: { block: Coordinate; cost: number; axes: AxisChoice[][] }[] = [];
  for (const bz of candidates[0]!)
    for (const by of candidates[1]!)
      for (const bx of candidates[2]!) {
        const block = coord(bz, by, bx);
        const axes = models.map((_, m) => [0, 1, 2].map((d) => choice(m, d, block[d]!)));
        const cost = axes.reduce(
          (sum, a, m) => sum + weights[m]! * a[0]!.ratio * a[1]!.ratio * a[2]!.ratio,
          0,
        );
        options.push({ block, cost, axes });
      }
  const least = Math.min(...options.map((x) => x.cost));
  const pick = options
    .filter((x) => x.cost <= least * 1.02)
    .sort((a, b) => a.block[0] * a.block[1] * a.block[2] - b.block[0] * b.block[1] * b.block[2])[0]!;
  return {
    block: pick.block,
    models: pick.axes.map((a, m) => {
      const spec = models[m]!.spec;
      const network = networkShape(spec, coord(a[0]!.input, a[1]!.input, a[2]!.input));
      return { network, stride: coord(a[0]!.stride, a[1]!.stride, a[2]!.stride), step: inputStep(spec) };
    }),
  };
}

/** The largest input (the same count of pooling steps on every axis) whose activations fit `bytes`. */
export function largestInputWithin(spec: UNetSpec, bytes: number): Coordinate {
  const n0 = smallestValidInput(spec);
  const p = inputStep(spec);
  let k = 0;
  while (k < 10_000) {
    const next = coord(n0[0] + (k + 1) * p[0], n0[1] + (k + 1) * p[1], n0[2] + (k + 1) * p[2]);
    if (activationBytes(spec, next) > bytes) break;
    k++;
  }
  return coord(n0[0] + k * p[0], n0[1] + k * p[1], n0[2] + k * p[2]);
}

/** Output starts (voxels from the origin) of the tiles covering [begin, end) along one axis. */
export function tileStarts(
  begin: number,
  end: number,
  output: number,
  stride: number,
  step: number,
): number[] {
  const starts: number[] = [];
  for (let s = Math.floor(begin / step) * step; ; s += stride) {
    starts.push(s);
    if (s + output >= end) break;
  }
  return starts;
}

/** Output corners (voxels from the origin) of a model's tiles covering a write box. */
export function blockTiles(box: VoxelBox, t: ModelTiling): Coordinate[] {
  const axes = [0, 1, 2].map((d) =>
    tileStarts(box.begin[d]!, box.begin[d]! + box.shape[d]!, t.network.output[d]!, t.stride[d]!, t.step[d]!),
  );
  const out: Coordinate[] = [];
  for (const z of axes[0]!) for (const y of axes[1]!) for (const x of axes[2]!) out.push(coord(z, y, x));
  return out;
}

/** The voxel box every model's tiles of a write box read from (their inputs' union). */
export function blockReadBox(box: VoxelBox, models: readonly ModelTiling[]): VoxelBox {
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (const t of models) {
    for (let d = 0; d < 3; d++) {
      const starts = tileStarts(
        box.begin[d]!,
        box.begin[d]! + box.shape[d]!,
        t.network.output[d]!,
        t.stride[d]!,
        t.step[d]!,
      );
      lo[d] = Math.min(lo[d]!, starts[0]! - t.network.contextBefore[d]!);
      hi[d] = Math.max(hi[d]!, starts.at(-1)! + t.network.output[d]! + t.network.contextAfter[d]!);
    }
  }
  return {
    begin: coord(lo[0]!, lo[1]!, lo[2]!),
    shape: coord(hi[0]! - lo[0]!, hi[1]! - lo[1]!, hi[2]! - lo[2]!),
  };
}

/** One line about a plan, for the CLI. */
export function describeTiling(plan: TilingPlan): string {
  const tiles = plan.models
    .map((t) => `${format(t.network.input)} -> ${format(t.network.output)}`)
    .join(", ");
  return `blocks of ${format(plan.block)} voxels, tiles ${tiles}`;
}
