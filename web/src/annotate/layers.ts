/*
 * The annotator's slice layers: the sub-volume's seeds, corrections and segmentation drawn over the EM in
 * every view (one small canvas per plane, rebuilt only when the annotation changed), the ROI box, and the
 * brush outline under the pointer.
 */
import type { Vec3 } from "../api.ts";
import { Lru } from "../data/lru.ts";
import type { Axis } from "../data/protocol.ts";
import type { ViewGeometry } from "../viewer/geometry.ts";
import { worldToScreen } from "../viewer/geometry.ts";
import type { DrawContext, SliceLayer } from "../viewer/layers.ts";
import { planeIndex, planeShape, roiEnd, type SubVolume, voxelOf } from "./subvolume.ts";

/** The annotation state the overlay draws; `version` changes whenever any array does. */
export interface AnnotationPlanes {
  sub: SubVolume;
  /** 0 none, 1 foreground, 2 background strokes. */
  seeds: Uint8Array;
  /** 0 none, 1 forced foreground, 2 forced background (voxel corrections). */
  corrections: Uint8Array;
  /** The segmentation shown (cut with the corrections applied), 0/1; null before the first one. */
  mask: Uint8Array | null;
  version: number;
}

export interface OverlayStyle {
  showSeeds: boolean;
  showMask: boolean;
  /** 0..1 */
  maskOpacity: number;
}

const SEED_RGBA = [
  [0, 0, 0, 0],
  [61, 220, 132, 255],
  [255, 77, 77, 255],
] as const;
const CORRECTION_RGBA = [
  [0, 0, 0, 0],
  [255, 212, 0, 255],
  [214, 92, 255, 255],
] as const;
const MASK_RGB = [0, 200, 255] as const;

const planes = new Lru<string, HTMLCanvasElement>(48);
let layerSerial = 0;

export class AnnotationLayer implements SliceLayer {
  readonly id = "annotation";
  private readonly serial = ++layerSerial;
  constructor(
    readonly a: AnnotationPlanes,
    readonly style: OverlayStyle,
  ) {}

  private plane(axis: Axis, index: number): HTMLCanvasElement {
    const { sub, seeds, corrections, mask } = this.a;
    const s = this.style;
    const key = `${this.serial}|${this.a.version}|${axis}|${index}|${s.showSeeds}|${s.showMask}|${s.maskOpacity}`;
    const have = planes.get(key);
    if (have) return have;
    const [nu, nv] = planeShape(sub, axis);
    const img = new ImageData(nv, nu);
    const px = img.data;
    const maskAlpha = Math.round(255 * s.maskOpacity);
    for (let u = 0; u < nu; u++) {
      for (let v = 0; v < nv; v++) {
        const i = voxelOf(sub, axis, index, u, v);
        const o = (u * nv + v) * 4;
        const seed = s.showSeeds ? seeds[i]! : 0;
        const corr = s.showSeeds ? corrections[i]! : 0;
        const c = seed ? SEED_RGBA[seed as 1 | 2] : corr ? CORRECTION_RGBA[corr as 1 | 2] : null;
        if (c) {
          px[o] = c[0];
          px[o + 1] = c[1];
          px[o + 2] = c[2];
          px[o + 3] = c[3];
        } else if (s.showMask && mask?.[i]) {
          px[o] = MASK_RGB[0];
          px[o + 1] = MASK_RGB[1];
          px[o + 2] = MASK_RGB[2];
          px[o + 3] = maskAlpha;
        }
      }
    }
    const canvas = document.createElement("canvas");
    canvas.width = nv;
    canvas.height = nu;
    canvas.getContext("2d")!.putImageData(img, 0, 0);
    planes.set(key, canvas);
    return canvas;
  }

  draw({ ctx, geometry: g }: DrawContext): void {
    const { sub } = this.a;
    const index = planeIndex(sub, g.axis, g.position);
    if (index < 0) return;
    const [x0, y0] = worldToScreen(g, sub.begin);
    const [x1, y1] = worldToScreen(g, roiEnd(sub));
    ctx.save();
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(
      this.plane(g.axis, index),
      Math.round(x0),
      Math.round(y0),
      Math.round(x1) - Math.round(x0),
      Math.round(y1) - Math.round(y0),
    );
    ctx.restore();
  }

  /** 1 where the segmentation shown is foreground (the hover read-out). */
  valueAt(_source: unknown, _g: ViewGeometry, world: Vec3): number | undefined {
    const { sub, mask } = this.a;
    if (!mask) return undefined;
    const v = [0, 1, 2].map((d) => Math.floor((world[d]! - sub.begin[d]!) / sub.voxelSize[d]!));
    if (v.some((x, d) => x < 0 || x >= sub.shape[d]!)) return undefined;
    return mask[(v[0]! * sub.shape[1] + v[1]!) * sub.shape[2] + v[2]!];
  }
}

/** A box in world coordinates outlined where the slice cuts it (the ROI being chosen, or the session's). */
export class BoxLayer implements SliceLayer {
  readonly id: string;
  constructor(
    readonly begin: Vec3,
    readonly end: Vec3,
    readonly color: string,
    readonly label: string,
    readonly dashed = false,
  ) {
    this.id = `box-${label}`;
  }

  draw({ ctx, geometry: g }: DrawContext): void {
    const p = g.position[g.axis];
    if (p < this.begin[g.axis] || p >= this.end[g.axis]) return;
    const [x0, y0] = worldToScreen(g, this.begin);
    const [x1, y1] = worldToScreen(g, this.end);
    ctx.save();
    ctx.strokeStyle = this.color;
    ctx.fillStyle = this.color;
    ctx.lineWidth = 2;
    if (this.dashed) ctx.setLineDash([6, 4]);
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.font = "12px sans-serif";
    // Under the box: the dataset's ROI outlines put their names inside its top edge.
    ctx.fillText(this.label, x0 + 3, y1 + 14);
    ctx.restore();
  }
}

/** The brush's outline at the pointer, in the view the pointer is over. */
export class BrushCursorLayer implements SliceLayer {
  readonly id = "brush-cursor";
  constructor(
    readonly at: { axis: Axis; world: Vec3 } | null,
    /** Radius in nm (the brush's voxels times the in-plane voxel size). */
    readonly radius: number,
    readonly color: string,
  ) {}

  draw({ ctx, geometry: g }: DrawContext): void {
    if (!this.at || this.at.axis !== g.axis) return;
    const [x, y] = worldToScreen(g, this.at.world);
    ctx.save();
    ctx.strokeStyle = this.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.arc(x, y, Math.max(2, this.radius / g.scale), 0, Math.PI * 2);
    ctx.stroke();
    ctx.restore();
  }
}
