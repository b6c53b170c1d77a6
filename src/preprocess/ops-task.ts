import type { Block, BlockContext } from "../blockwise/types.ts";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { invalidArgument, invalidData } from "../core/errors.ts";
import type { BlockGeometry } from "../ops/block-geometry.ts";
import { distanceTransformBlock } from "../ops/edt.ts";
import { gaussianBlock, gaussianRadius } from "../ops/gaussian.ts";
import { ballContext, type MorphologyOp, morphologyBlock } from "../ops/morphology.ts";
import { intersectBoxes } from "../ops/volume3d.ts";
import type { DType, VoxelArray } from "../store/dtype.ts";
import { Volume } from "../store/volume.ts";
import type { ArrayRef } from "./clahe-task.ts";

/*
 * Block functions of the local volume algorithms of src/ops on arrays of any size (`ops.local`: ball
 * morphology, distance transform up to a distance, Gaussian smoothing). A local block reads its read ROI (the
 * write ROI grown by the spec's context, clipped to the volume: the algorithms treat the volume
 * border as the whole-volume computation does) and writes its write ROI, equal to the whole-volume
 * result there. `computeLocalOp` is the pure part, without the store. The specs with the right
 * context are built by src/preprocess/ops.ts.
 */

export type LocalOp =
  | {
      readonly op: "morphology";
      readonly operation: MorphologyOp;
      /** Ball radius in nm (the voxel size sets its shape in voxels). */
      readonly radius: number;
      /** scipy's border_value: what the outside of the volume counts as (default 0). */
      readonly borderValue?: 0 | 1;
    }
  | {
      readonly op: "distance";
      /** Distances of the foreground voxels to the background (default), or the other way round. */
      readonly of?: "foreground" | "background";
      /** Distances up to this many nm are exact, farther voxels get Infinity (sets the context). */
      readonly maxDistance: number;
    }
  | {
      readonly op: "gaussian";
      /** Standard deviation per axis (z,y,x) in nm. */
      readonly sigma: Coordinate;
      readonly truncate?: number;
    };

export interface LocalOpParams {
  readonly input: ArrayRef;
  readonly output: ArrayRef;
  readonly op: LocalOp;
}

/** Context in voxels (z,y,x) a block of `op` needs on each side. */
export function localOpContext(op: LocalOp, voxelSize: Coordinate): Coordinate {
  switch (op.op) {
    case "morphology":
      return ballContext(op.operation, op.radius, voxelSize);
    case "distance": {
      if (!(op.maxDistance > 0 && Number.isFinite(op.maxDistance))) {
        throw invalidArgument(
          `distance transform: maximum distance ${op.maxDistance} nm must be a finite number > 0 (block-wise distances need a bound, which sets the blocks' context)`,
        );
      }
      const c = (d: number) => Math.ceil(op.maxDistance / voxelSize[d]! - 1e-9);
      return coord(c(0), c(1), c(2));
    }
    case "gaussian":
      return gaussianRadius({ sigma: op.sigma, voxelSize, truncate: op.truncate });
    default:
      throw invalidArgument(`unknown local operation '${(op as { op: string }).op}'`);
  }
}

/** Output element types each operation writes (the first is its natural one). */
export function localOpOutputTypes(op: LocalOp, input: DType): readonly DType[] {
  switch (op.op) {
    case "morphology":
      return ["uint8"];
    case "distance":
      return ["float64", "float32"];
    case "gaussian":
      return input === "float32" ? ["float32"] : [input, "float32"];
  }
}

/** A mask (non-zero = foreground) as uint8, without copying uint8 input. */
function asMask(data: VoxelArray, where: string): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof BigUint64Array) {
    throw invalidData(`${where}: a mask must be uint8, uint16, uint32 or int32, not uint64`);
  }
  const m = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) m[i] = data[i] !== 0 ? 1 : 0;
  return m;
}

/**
 * The write box of one block of `op` (pure: no store). `data` holds `geometry.read`, which must give
 * the context of localOpContext wherever it lies inside the volume; `output` is the element type to
 * return (one of localOpOutputTypes). `where` names the input in errors.
 */
export function computeLocalOp(
  op: LocalOp,
  data: VoxelArray,
  geometry: BlockGeometry,
  voxelSize: Coordinate,
  output: DType,
  where: string,
): VoxelArray {
  switch (op.op) {
    case "morphology":
      return morphologyBlock(asMask(data, where), geometry, op.operation, op.radius, {
        voxelSize,
        borderValue: op.borderValue ?? 0,
      });
    case "distance": {
      const d = distanceTransformBlock(asMask(data, where), geometry, {
        voxelSize,
        of: op.of ?? "foreground",
        maxDistance: op.maxDistance,
      });
      return output === "float32" ? Float32Array.from(d) : d;
    }
    case "gaussian": {
      if (!(data instanceof Uint8Array || data instanceof Uint16Array || data instanceof Float32Array)) {
        throw invalidData(`${where}: Gaussian smoothing reads uint8, uint16 or float32 volumes`);
      }
      const params = { sigma: op.sigma, voxelSize, truncate: op.truncate };
      const same =
        (data instanceof Uint8Array && output === "uint8") ||
        (data instanceof Uint16Array && output === "uint16");
      return gaussianBlock(data, geometry, params, { output: same ? "same" : "float32" });
    }
  }
}

const open = (a: ArrayRef, incomplete = false) =>
  Volume.open(a.datasetPath, a.arrayPath, { allowIncomplete: incomplete });

export async function localOpBlock(block: Block, p: LocalOpParams, ctx: BlockContext): Promise<void> {
  const [src, dst] = await Promise.all([open(p.input), open(p.output, true)]);
  if (!src.meta.shape.every((s, d) => s === dst.meta.shape[d])) {
    throw invalidArgument(
      `${dst.describe()} has shape ${dst.meta.shape.join(",")} but its input ${src.describe()} has ${src.meta.shape.join(",")}`,
    );
  }
  const allowed = localOpOutputTypes(p.op, src.meta.dtype);
  if (!allowed.includes(dst.meta.dtype)) {
    throw invalidArgument(
      `${dst.describe()} is ${dst.meta.dtype}; ${p.op.op} of ${src.meta.dtype} writes ${allowed.join(" or ")}`,
    );
  }
  const volumeShape = src.meta.shape;
  // Nothing outside the volume is used: reading only what lies inside saves a copy.
  const read = intersectBoxes(src.boxOf(block.readRoi), { begin: coord(0, 0, 0), shape: volumeShape });
  const write = src.boxOf(block.writeRoi);
  const data = await src.readBox(read, { signal: ctx.signal });
  const result = computeLocalOp(
    p.op,
    data,
    { volumeShape, read, write },
    src.meta.voxelSize,
    dst.meta.dtype,
    src.describe(),
  );
  await dst.writeBox(write, result, { signal: ctx.signal });
}
