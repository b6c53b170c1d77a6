import type { Coordinate } from "../core/coordinate.ts";
import { checkVolume } from "../ops/volume3d.ts";

/**
 * Quality measures of a supervoxel partition against true object labels (the ones the SLIC fixtures
 * record from skimage, computed the same way).
 */

export interface SupervoxelStats {
  count: number;
  meanSize: number;
  /** Fraction of true boundary voxels within one voxel (3x3x3) of a supervoxel boundary. */
  boundaryRecall: number;
  /** Neubert & Protzel's corrected undersegmentation error. */
  undersegmentationError: number;
}

/** Voxels where a 6-neighbour has another label (both sides of each change). */
function boundaries(labels: ArrayLike<number>, shape: Coordinate): Uint8Array {
  const [d, h, w] = shape;
  const out = new Uint8Array(d * h * w);
  const strides = [h * w, w, 1];
  for (let z = 0, i = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++, i++) {
        const pos = [z, y, x];
        for (let ax = 0; ax < 3; ax++) {
          if (pos[ax]! + 1 >= shape[ax]!) continue;
          const j = i + strides[ax]!;
          if (labels[i] !== labels[j]) {
            out[i] = 1;
            out[j] = 1;
          }
        }
      }
    }
  }
  return out;
}

export function supervoxelStats(
  labels: ArrayLike<number>,
  count: number,
  truth: ArrayLike<number>,
  shape: Coordinate,
): SupervoxelStats {
  const n = checkVolume(labels, shape, "supervoxel stats");
  checkVolume(truth, shape, "supervoxel stats (truth)");
  const [d, h, w] = shape;
  const tb = boundaries(truth, shape);
  const sb = boundaries(labels, shape);
  let hits = 0;
  let total = 0;
  for (let z = 0, i = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++, i++) {
        if (!tb[i]) continue;
        total++;
        let near = false;
        for (let dz = -1; dz <= 1 && !near; dz++) {
          const zz = z + dz;
          if (zz < 0 || zz >= d) continue;
          for (let dy = -1; dy <= 1 && !near; dy++) {
            const yy = y + dy;
            if (yy < 0 || yy >= h) continue;
            for (let dx = -1; dx <= 1; dx++) {
              const xx = x + dx;
              if (xx < 0 || xx >= w) continue;
              if (sb[(zz * h + yy) * w + xx]) {
                near = true;
                break;
              }
            }
          }
        }
        if (near) hits++;
      }
    }
  }
  let maxTruth = 0;
  for (let i = 0; i < n; i++) if (truth[i]! > maxTruth) maxTruth = truth[i]!;
  const classes = maxTruth + 1;
  const overlap = new Float64Array(count * classes);
  const size = new Float64Array(count);
  for (let i = 0; i < n; i++) {
    const s = labels[i]!;
    size[s]!++;
    overlap[s * classes + truth[i]!]!++;
  }
  let under = 0;
  for (let s = 0; s < count; s++) {
    for (let t = 0; t < classes; t++) {
      const c = overlap[s * classes + t]!;
      if (c > 0) under += Math.min(c, size[s]! - c);
    }
  }
  return {
    count,
    meanSize: n / count,
    boundaryRecall: total > 0 ? hits / total : 1,
    undersegmentationError: under / n,
  };
}
