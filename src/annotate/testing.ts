import { type Coordinate, coord } from "../core/coordinate.ts";
import { distanceTransform } from "../ops/edt.ts";
import { classIndex, type OrganelleClass } from "../synth/classes.ts";
import { DEFAULT_IMAGING } from "../synth/imaging.ts";
import { buildCellModel } from "../synth/model.ts";
import { renderBlock } from "../synth/render.ts";
import { Scene } from "../synth/scene.ts";

/**
 * Test and benchmark helpers: a sub-volume of a synthetic cell around one organelle, with exact labels,
 * and strokes drawn the way an annotator would (a few disks inside the organelle and a few lines well
 * outside it, on a handful of planes).
 */

export interface OrganelleCrop {
  readonly raw: Uint8Array;
  /** 1 inside the organelle class. */
  readonly truth: Uint8Array;
  readonly shape: Coordinate;
  readonly voxelSize: Coordinate;
}

/** Renders `shape` voxels of a synthetic cell (seed, 2.5 um cube) centred on the first organelle of a class. */
export function organelleCrop(
  cls: "mito" | "golgi",
  shape: Coordinate,
  voxelNm: number,
  seed = 1,
): OrganelleCrop {
  const model = buildCellModel({ seed, extent: [2500, 2500, 2500] });
  let centre: number[];
  if (cls === "mito") {
    const m = model.mitos[0];
    if (!m) throw new Error(`synthetic cell ${seed} has no mitochondrion`);
    const mid = m.points[Math.floor(m.points.length / 2)]!;
    centre = [mid[0], mid[1], mid[2]];
  } else {
    const g = model.golgi[0];
    const c = g?.cisternae[Math.floor(g.cisternae.length / 2)];
    if (!c) throw new Error(`synthetic cell ${seed} has no Golgi stack`);
    centre = [0, 1, 2].map((i) => c.sphereCenter[i]! + c.axis[i]! * c.curvatureRadius);
  }
  const voxelSize = coord(voxelNm, voxelNm, voxelNm);
  const begin = coord(
    Math.round(centre[0]! / voxelNm - shape[0] / 2),
    Math.round(centre[1]! / voxelNm - shape[1] / 2),
    Math.round(centre[2]! / voxelNm - shape[2] / 2),
  );
  const block = renderBlock(new Scene(model), { voxelSize }, { ...DEFAULT_IMAGING, seed }, { begin, shape });
  const code = classIndex(cls as OrganelleClass) + 1;
  const truth = new Uint8Array(block.raw.length);
  for (let i = 0; i < truth.length; i++) truth[i] = block.classCode[i] === code ? 1 : 0;
  return { raw: block.raw, truth, shape, voxelSize };
}

export interface StrokeOptions {
  /** Planes as [axis (0 z, 1 y, 2 x), index]. */
  planes: readonly (readonly [0 | 1 | 2, number])[];
  /** Foreground disk radius (voxels) around the deepest point of the organelle on the plane. */
  diskRadius?: number;
  /** Background lines every this many voxels along the plane's first in-plane axis. */
  lineSpacing?: number;
  /** Keep strokes this many voxels away from the true boundary (a careful annotator). */
  margin?: number;
}

/** Seeds (1 fg, 2 bg) painted on a few planes from the true labels. */
export function simulateStrokes(crop: OrganelleCrop, options: StrokeOptions): Uint8Array {
  const { truth, shape } = crop;
  const [d, h, w] = shape;
  const margin = options.margin ?? 2;
  const radius = options.diskRadius ?? 6;
  const spacing = options.lineSpacing ?? 8;
  const inside = distanceTransform(truth, shape, { of: "foreground", outside: "sources" });
  const outside = distanceTransform(truth, shape, { of: "background" });
  const seeds = new Uint8Array(truth.length);
  for (const [axis, index] of options.planes) {
    // in-plane coordinates (u, v) and the voxel index of each
    const [nu, nv] = axis === 0 ? [h, w] : axis === 1 ? [d, w] : [d, h];
    const at = (u: number, v: number) =>
      axis === 0 ? (index * h + u) * w + v : axis === 1 ? (u * h + index) * w + v : (u * h + v) * w + index;
    let best = -1;
    let bu = 0;
    let bv = 0;
    for (let u = 0; u < nu; u++) {
      for (let v = 0; v < nv; v++) {
        const di = inside[at(u, v)]!;
        if (di > best) {
          best = di;
          bu = u;
          bv = v;
        }
      }
    }
    for (let u = 0; u < nu; u++) {
      for (let v = 0; v < nv; v++) {
        const i = at(u, v);
        if (best > margin && (u - bu) ** 2 + (v - bv) ** 2 <= radius * radius && inside[i]! > margin)
          seeds[i] = 1;
        else if (u % spacing === 0 && outside[i]! > margin + 1) seeds[i] = 2;
      }
    }
  }
  return seeds;
}

export function f1Score(mask: Uint8Array, truth: Uint8Array): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] && truth[i]) tp++;
    else if (mask[i]) fp++;
    else if (truth[i]) fn++;
  }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}
