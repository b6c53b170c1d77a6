/*
 * Pointer tools the annotator hands to the slice views (viewer/SliceView.tsx `ViewerTool`): a brush that
 * paints on whichever of the three planes it is used in, and a box drawn in a view to choose the ROI.
 * Both take only the left button, so dragging with another button (or without a tool) still pans.
 */
import type { Vec3 } from "../api.ts";
import { planeDims } from "../data/protocol.ts";
import type { ToolEvent, ViewerTool } from "../viewer/SliceView.tsx";
import { type PlaneStroke, planeIndex, type SubVolume, strokeVoxels, toVoxel } from "./subvolume.ts";

export interface BrushOptions {
  sub: SubVolume;
  /** Voxels. */
  radius: number;
  /** Voxels the stroke covers so far (for the immediate overlay), called while drawing. */
  onPaint: (indices: Int32Array) => void;
  /** The finished stroke. */
  onStroke: (stroke: PlaneStroke) => void;
}

/** Continuous (row, col) voxel coordinates of a world point in a view's plane; integers are voxel centres. */
function planePoint(sub: SubVolume, e: ToolEvent): [number, number] {
  const [rd, cd] = planeDims(e.geometry.axis);
  return [toVoxel(sub, rd, e.world[rd]) - 0.5, toVoxel(sub, cd, e.world[cd]) - 0.5];
}

export function brushTool(o: BrushOptions): ViewerTool {
  let stroke: PlaneStroke | null = null;
  const extend = (e: ToolEvent) => {
    if (!stroke) return;
    const p = planePoint(o.sub, e);
    const last = stroke.points[stroke.points.length - 1]!;
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) < 0.5) return;
    stroke.points.push(p);
    o.onPaint(strokeVoxels(o.sub, { ...stroke, points: [last, p] }));
  };
  return {
    id: "brush",
    pointerDown(e) {
      if (e.event.button !== 0) return false;
      const index = planeIndex(o.sub, e.geometry.axis, e.geometry.position);
      if (index < 0) return false;
      stroke = { axis: e.geometry.axis, index, points: [planePoint(o.sub, e)], radius: o.radius };
      o.onPaint(strokeVoxels(o.sub, stroke));
      return true;
    },
    pointerMove: extend,
    pointerUp(e) {
      extend(e);
      const done = stroke;
      stroke = null;
      if (done) o.onStroke(done);
    },
  };
}

export interface BoxOptions {
  /** The box so far (its extent along the view's axis is kept when the slice lies in it). */
  current: () => { begin: Vec3; end: Vec3 } | null;
  onChange: (begin: Vec3, end: Vec3) => void;
}

/** Drag a rectangle in a view; the box's depth along the view's axis is centred on the slice. */
export function boxTool(o: BoxOptions): ViewerTool {
  let start: Vec3 | null = null;
  let depth: [number, number] | null = null;
  const update = (e: ToolEvent) => {
    if (!start) return;
    const axis = e.geometry.axis;
    const [rd, cd] = planeDims(axis);
    const begin: Vec3 = [...start];
    const end: Vec3 = [...start];
    for (const d of [rd, cd]) {
      begin[d] = Math.min(start[d], e.world[d]);
      end[d] = Math.max(start[d], e.world[d]);
    }
    if (depth) {
      [begin[axis], end[axis]] = depth;
    } else {
      const half = Math.max(end[rd] - begin[rd], end[cd] - begin[cd]) / 2;
      begin[axis] = start[axis] - half;
      end[axis] = start[axis] + half;
    }
    o.onChange(begin, end);
  };
  return {
    id: "box",
    pointerDown(e) {
      if (e.event.button !== 0) return false;
      start = [...e.world];
      const c = o.current();
      const axis = e.geometry.axis;
      const p = e.geometry.position[axis];
      depth = c && p >= c.begin[axis] && p < c.end[axis] ? [c.begin[axis], c.end[axis]] : null;
      return true;
    },
    pointerMove: update,
    pointerUp(e) {
      update(e);
      start = null;
    },
  };
}
