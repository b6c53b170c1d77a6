import type { Coordinate } from "../core/coordinate.ts";
import { invalidData } from "../core/errors.ts";
import type { VoxelBox } from "../core/roi.ts";
import { fillOutside, fullScale } from "../learn/sources.ts";
import type { VolumeReader } from "../store/reader.ts";
import type { Normalization } from "./model-ref.ts";

/**
 * Raw over a voxel box as the network input: value / full scale, `padding` beyond the array, then
 * x * scale + shift (training's normalisation, see model-ref.ts).
 */
export async function readNetworkInput(
  reader: VolumeReader,
  box: VoxelBox,
  norm: Normalization,
  signal?: AbortSignal,
): Promise<Float32Array> {
  const data = await reader.readBox(box, { signal });
  const out = new Float32Array(data.length);
  const a = norm.scale / fullScale(reader, "prediction");
  const b = norm.shift;
  if (data instanceof BigUint64Array)
    throw invalidData(`${reader.describe()}: uint64 raw cannot be predicted`);
  for (let i = 0; i < out.length; i++) out[i] = data[i]! * a + b;
  fillOutside(out, box, reader.meta.shape, norm.padding * norm.scale + b);
  return out;
}

/** Copies the box `size` at `at` (relative to the source's corner) out of a C-order float volume. */
export function cropFloat(
  src: Float32Array,
  srcShape: Coordinate,
  at: Coordinate,
  size: Coordinate,
): Float32Array {
  const out = new Float32Array(size[0] * size[1] * size[2]);
  const [, sy, sx] = srcShape;
  let o = 0;
  for (let z = 0; z < size[0]; z++) {
    for (let y = 0; y < size[1]; y++) {
      const from = ((at[0] + z) * sy + at[1] + y) * sx + at[2];
      out.set(src.subarray(from, from + size[2]), o);
      o += size[2];
    }
  }
  return out;
}
