import { encode } from "fast-png";
import type { DatasetDetail } from "../catalog/dataset-summary.ts";
import { coord } from "../core/coordinate.ts";
import { Volume } from "../store/volume.ts";

/*
 * A dataset's thumbnail: the middle z slice of its EM array at the finest pyramid level no larger than
 * `maxSide` pixels (the coarsest when all are larger), contrast-stretched to the 0.5-99.5 % quantiles,
 * as a greyscale PNG.
 */

export async function thumbnailPng(abs: string, d: DatasetDetail, maxSide = 256): Promise<Uint8Array> {
  const em =
    d.arrays.find((a) => a.group === "em") ?? d.arrays.find((a) => a.kind === "intensity") ?? d.arrays[0];
  if (!em) throw new Error(`${d.id}: no arrays to draw a thumbnail from`);
  let level = em.scales.findIndex((s) => Math.max(s.shape[1]!, s.shape[2]!) <= maxSide);
  if (level < 0) level = em.scales.length - 1;
  const vol = await Volume.open(abs, em.path, { scale: Math.max(0, level), allowIncomplete: true });
  const [nz, ny, nx] = vol.meta.shape;
  // At most maxSide x maxSide from the middle of the slice when even the coarsest level is larger.
  const h = Math.min(ny, maxSide);
  const w = Math.min(nx, maxSide);
  const box = {
    begin: coord(Math.floor(nz / 2), Math.floor((ny - h) / 2), Math.floor((nx - w) / 2)),
    shape: coord(1, h, w),
  };
  const data = await vol.readBox(box);
  const n = h * w;
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = Number(data[i]!);
  const sorted = Float64Array.from(values).sort();
  const lo = sorted[Math.floor(0.005 * (n - 1))] ?? 0;
  const hi = sorted[Math.ceil(0.995 * (n - 1))] ?? 1;
  const out = new Uint8Array(n);
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < n; i++) {
    const v = ((values[i]! - lo) / span) * 255;
    out[i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
  }
  return encode({ width: w, height: h, data: out, channels: 1, depth: 8 });
}
