/*
 * Slice view geometry. Everything is in world units (nm, z,y,x); a view looks along `axis` and shows the
 * two other dimensions (rows, cols), centred on `position`, at `scale` nm per screen pixel.
 */
import type { ArrayInfo, Vec3 } from "../api.ts";
import { type Axis, planeDims } from "../data/protocol.ts";

export interface ViewGeometry {
  axis: Axis;
  width: number;
  height: number;
  position: Vec3;
  scale: number;
}

export function screenToWorld(g: ViewGeometry, px: number, py: number): Vec3 {
  const [rd, cd] = planeDims(g.axis);
  const w: Vec3 = [...g.position];
  w[cd] = g.position[cd] + (px - g.width / 2) * g.scale;
  w[rd] = g.position[rd] + (py - g.height / 2) * g.scale;
  return w;
}

/** Screen x, y of a world point's in-plane coordinates. */
export function worldToScreen(g: ViewGeometry, w: Vec3): [number, number] {
  const [rd, cd] = planeDims(g.axis);
  return [
    g.width / 2 + (w[cd] - g.position[cd]) / g.scale,
    g.height / 2 + (w[rd] - g.position[rd]) / g.scale,
  ];
}

/**
 * The pyramid level to draw: the coarsest whose in-plane voxels are at most ~1.5 screen pixels, so a
 * zoomed-out view fetches few, coarse chunks and a zoomed-in one the full resolution.
 */
export function chooseLevel(a: ArrayInfo, g: ViewGeometry): number {
  const [rd, cd] = planeDims(g.axis);
  let best = 0;
  a.scales.forEach((s, i) => {
    if (Math.max(s.voxelSize[rd], s.voxelSize[cd]) <= g.scale * 1.5) best = i;
  });
  return best;
}

/** Voxel index (at `level`) of a world coordinate along dimension d. */
export function voxelIndex(a: ArrayInfo, level: number, d: Axis, world: number): number {
  const s = a.scales[level]!;
  return Math.floor((world - a.offset[d]) / s.voxelSize[d]);
}
