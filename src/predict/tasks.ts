import type { Block, BlockContext } from "../blockwise/types.ts";
import { Volume } from "../store/volume.ts";

/*
 * Block functions of the prediction verbs that need no engine (src/tasks/table.ts runs them on worker
 * threads): re-thresholding a probability map, and fusing several organelles' predictions into one
 * label volume. Blocks are whole chunks of the output, so writes never race and repeat the same bytes.
 */

export interface ThresholdParams {
  readonly dataset: string;
  readonly prob: string;
  readonly seg: string;
  /** Stored values >= level are the organelle (threshold-level.ts). */
  readonly level: number;
}

export async function rethresholdBlock(block: Block, p: ThresholdParams, ctx: BlockContext): Promise<void> {
  const [prob, seg] = await Promise.all([
    Volume.open(p.dataset, p.prob),
    Volume.open(p.dataset, p.seg, { allowIncomplete: true }),
  ]);
  const box = seg.boxOf(block.writeRoi);
  const v = (await prob.readBox(box, { signal: ctx.signal })) as Uint8Array;
  const out = new Uint8Array(v.length);
  const level = p.level;
  for (let i = 0; i < v.length; i++) out[i] = v[i]! >= level ? 1 : 0;
  await seg.writeBox(box, out, { signal: ctx.signal });
}

export interface FuseParams {
  readonly dataset: string;
  /** Probability arrays, in id order (id = index + 1). */
  readonly probs: readonly string[];
  /** Per input: stored values >= level claim the voxel. */
  readonly levels: readonly number[];
  /**
   * Per input: its rank when two claim a voxel (lower wins). Highest probability wins when null; ties
   * go to the earlier input.
   */
  readonly ranks: readonly number[] | null;
  readonly output: string;
}

export interface FuseValue {
  /** Voxels given to each id. */
  readonly voxels: readonly number[];
  /** Voxels claimed by more than one input. */
  readonly contested: number;
}

export async function fuseBlock(block: Block, p: FuseParams, ctx: BlockContext): Promise<FuseValue> {
  const out = await Volume.open(p.dataset, p.output, { allowIncomplete: true });
  const box = out.boxOf(block.writeRoi);
  const probs = await Promise.all(
    p.probs.map(
      async (a) =>
        (await (await Volume.open(p.dataset, a)).readBox(box, { signal: ctx.signal })) as Uint8Array,
    ),
  );
  const n = box.shape[0] * box.shape[1] * box.shape[2];
  const labels = out.meta.dtype === "uint8" ? new Uint8Array(n) : new Uint16Array(n);
  const voxels = new Array<number>(p.probs.length).fill(0);
  let contested = 0;
  const k = probs.length;
  const levels = p.levels;
  const ranks = p.ranks;
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestKey = -1;
    let claims = 0;
    for (let j = 0; j < k; j++) {
      const v = probs[j]![i]!;
      if (v < levels[j]!) continue;
      claims++;
      // larger key wins: the probability, or the inverted rank
      const key = ranks ? k - ranks[j]! : v;
      if (key > bestKey) {
        bestKey = key;
        best = j;
      }
    }
    if (best >= 0) {
      labels[i] = best + 1;
      voxels[best]!++;
      if (claims > 1) contested++;
    }
  }
  await out.writeBox(box, labels, { signal: ctx.signal });
  return { voxels, contested };
}
