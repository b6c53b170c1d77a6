import type { Block, BlockContext } from "../blockwise/types.ts";
import type { Coordinate } from "../core/coordinate.ts";
import { Volume } from "../store/volume.ts";
import { registerZstdCodec } from "../store/zstd-codec.ts";
import { classIndex, ORGANELLE_CLASSES, type OrganelleClass } from "./classes.ts";
import type { ImagingParams } from "./imaging.ts";
import type { CellModel } from "./model.ts";
import { labelsOf, renderBlock } from "./render.ts";
import { Scene } from "./scene.ts";

/** Where a synthetic cell's arrays live in the dataset. */
export const SYNTH_ARRAYS = {
  raw: "raw",
  mask: "masks/cell",
  label: (c: OrganelleClass) => `labels/${c}`,
} as const;

/** Parameters of the `synth.render` block function (structured-cloned to worker threads once per job). */
export interface SynthRenderParams {
  readonly datasetPath: string;
  readonly voxelSize: Coordinate;
  readonly imaging: ImagingParams;
  readonly model: CellModel;
}

/** What a block reports back: voxel counts, summed by the caller into per-class volumes. */
export interface SynthBlockStats {
  /** Labelled voxels per class, in ORGANELLE_CLASSES order. */
  readonly voxels: number[];
  /** Voxels inside the cell mask. */
  readonly cell: number;
}

interface Prepared {
  readonly scene: Scene;
  readonly raw: Volume;
  readonly mask: Volume;
  readonly labels: readonly [OrganelleClass, Volume][];
}

// A job's parameters arrive once per worker and stay the same object for all its blocks.
const prepared = new WeakMap<SynthRenderParams, Promise<Prepared>>();

async function prepare(p: SynthRenderParams): Promise<Prepared> {
  registerZstdCodec();
  const open = (a: string) => Volume.open(p.datasetPath, a, { allowIncomplete: true });
  const [raw, mask, ...labels] = await Promise.all([
    open(SYNTH_ARRAYS.raw),
    open(SYNTH_ARRAYS.mask),
    ...p.model.classes.map((c) => open(SYNTH_ARRAYS.label(c))),
  ]);
  return {
    scene: new Scene(p.model),
    raw: raw!,
    mask: mask!,
    labels: p.model.classes.map((c, i) => [c, labels[i]!] as [OrganelleClass, Volume]),
  };
}

/**
 * Renders one block of a synthetic cell and writes raw, the cell mask and every label array. Blocks are
 * chunk-aligned and rendering does not depend on the block decomposition, so a block written again after
 * a resume gives the same bytes.
 */
export async function renderSynthBlock(
  block: Block,
  p: SynthRenderParams,
  ctx: BlockContext,
): Promise<SynthBlockStats> {
  let ready = prepared.get(p);
  if (!ready) {
    ready = prepare(p);
    prepared.set(p, ready);
  }
  const { scene, raw, mask, labels } = await ready;
  const box = raw.boxOf(block.writeRoi);
  const r = renderBlock(scene, { voxelSize: p.voxelSize, offset: raw.meta.offset }, p.imaging, box);
  ctx.signal.throwIfAborted();
  await raw.writeBox(box, r.raw, { signal: ctx.signal });
  const voxels = new Array<number>(ORGANELLE_CLASSES.length).fill(0);
  for (let i = 0; i < r.classCode.length; i++) {
    const c = r.classCode[i]!;
    if (c > 0) voxels[c - 1]!++;
  }
  let cell = 0;
  for (let i = 0; i < r.mask.length; i++) cell += r.mask[i]!;
  // Blocks are whole chunks and an unwritten chunk reads as the fill value 0, so an empty mask or label
  // block (most label blocks: organelles are sparse) needs no chunk at all. Rendering is deterministic,
  // so a resumed run skips the same chunks.
  if (cell > 0) await mask.writeBox(box, r.mask, { signal: ctx.signal });
  let buffer: Uint32Array | undefined;
  for (const [cls, vol] of labels) {
    if (voxels[classIndex(cls)] === 0) continue;
    buffer ??= new Uint32Array(r.classCode.length);
    await vol.writeBox(box, labelsOf(r, cls, buffer), { signal: ctx.signal });
  }
  return { voxels, cell };
}
