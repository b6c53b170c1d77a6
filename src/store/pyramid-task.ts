import type { Block, BlockContext } from "../blockwise/types.ts";
import { type Coordinate, coord, min } from "../core/coordinate.ts";
import { invalidData } from "../core/errors.ts";
import { type DownsampleMethod, downsample, downsampledShape } from "./downsample.ts";
import { allocate } from "./dtype.ts";
import { Volume } from "./volume.ts";

/** Parameters of the `pyramid.downsample` block function (structured-cloned to worker threads). */
export interface DownsampleParams {
  readonly datasetPath: string;
  readonly arrayPath: string;
  /** Level read and level written (target = source + 1). */
  readonly source: number;
  readonly target: number;
  /** Per-axis factor from source to target, z,y,x (1 or 2). */
  readonly factor: Coordinate;
  readonly method: DownsampleMethod;
}

/**
 * Writes one block of level `target`: reads the source region the block covers (factor x its voxels,
 * cut at the source's border) and downsamples it. Blocks are chunk-aligned, so blocks never share a
 * chunk and a block written twice (after a resume) gives the same bytes.
 */
export async function downsampleBlock(block: Block, p: DownsampleParams, ctx: BlockContext): Promise<void> {
  const open = (scale: number) => Volume.open(p.datasetPath, p.arrayPath, { scale, allowIncomplete: true });
  const [src, dst] = await Promise.all([open(p.source), open(p.target)]);
  const out = dst.boxOf(block.writeRoi);
  const f = p.factor;
  const begin = coord(out.begin[0] * f[0], out.begin[1] * f[1], out.begin[2] * f[2]);
  const end = min(
    coord(
      (out.begin[0] + out.shape[0]) * f[0],
      (out.begin[1] + out.shape[1]) * f[1],
      (out.begin[2] + out.shape[2]) * f[2],
    ),
    src.meta.shape,
  );
  const inShape = coord(end[0] - begin[0], end[1] - begin[1], end[2] - begin[2]);
  const expect = downsampledShape(inShape, f);
  if (!expect.every((n, d) => n === out.shape[d])) {
    throw invalidData(
      `${dst.describe()}: level ${p.target} (shape ${dst.meta.shape.join(",")}) does not match level ${p.source} (shape ${src.meta.shape.join(",")}) downsampled by ${f.join(",")}; rebuild the pyramid with --overwrite`,
    );
  }
  const input = await src.readBox({ begin, shape: inShape }, { signal: ctx.signal });
  const result = allocate(dst.meta.dtype, out.shape[0] * out.shape[1] * out.shape[2]);
  downsample(p.method, input, inShape, f, result);
  await dst.writeBox(out, result, { signal: ctx.signal });
}
