import * as fs from "node:fs";
import { encode } from "fast-png";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { fromFsError } from "../core/errors.ts";

import type { ImagingParams } from "./imaging.ts";
import { type RenderGrid, renderBlock } from "./render.ts";
import type { Scene } from "./scene.ts";

/** Overlay colours per class (RGB), in ORGANELLE_CLASSES order. */
const COLOURS: readonly (readonly [number, number, number])[] = [
  [255, 215, 0], // plasma_membrane
  [70, 130, 255], // nucleus
  [0, 220, 220], // nuclear_envelope
  [255, 0, 255], // nuclear_pore
  [255, 60, 60], // mito
  [60, 220, 60], // er
  [255, 150, 0], // golgi
  [200, 120, 255], // vesicle
  [240, 240, 160], // lipid_droplet
];

export interface SlicePanel {
  readonly width: number;
  readonly height: number;
  readonly raw: Uint8Array;
  readonly classCode: Uint8Array;
}

/**
 * Renders one plane of the volume straight from the model: the middle z slice (`axis` 0) or the middle y
 * slice (an xz view, `axis` 1). Rendering is block-invariant, so this equals the same plane of the written
 * dataset.
 */
export function renderPlane(
  scene: Scene,
  grid: RenderGrid,
  imaging: ImagingParams,
  shape: Coordinate,
  axis: 0 | 1,
  index = Math.floor(shape[axis] / 2),
): SlicePanel {
  const begin = axis === 0 ? coord(index, 0, 0) : coord(0, index, 0);
  const size = axis === 0 ? coord(1, shape[1], shape[2]) : coord(shape[0], 1, shape[2]);
  const b = renderBlock(scene, grid, imaging, { begin, shape: size });
  const height = axis === 0 ? shape[1] : shape[0];
  return { width: shape[2], height, raw: b.raw, classCode: b.classCode };
}

/**
 * A PNG with the raw plane on the left and the same plane with coloured labels blended in on the right;
 * panels are stacked vertically when several are given (e.g. xy above xz).
 */
export function previewPng(panels: readonly SlicePanel[], overlay = 0.45): Uint8Array {
  const gap = 4;
  const width = Math.max(...panels.map((p) => p.width)) * 2 + gap;
  const height = panels.reduce((a, p) => a + p.height, 0) + gap * (panels.length - 1);
  const rgb = new Uint8Array(width * height * 3).fill(255);
  let top = 0;
  for (const p of panels) {
    for (let y = 0; y < p.height; y++) {
      for (let x = 0; x < p.width; x++) {
        const i = y * p.width + x;
        const g = p.raw[i]!;
        const left = ((top + y) * width + x) * 3;
        rgb[left] = g;
        rgb[left + 1] = g;
        rgb[left + 2] = g;
        const right = left + (p.width + gap) * 3;
        const code = p.classCode[i]!;
        const c = code > 0 ? COLOURS[code - 1] : undefined;
        for (let k = 0; k < 3; k++) rgb[right + k] = c ? Math.round(g * (1 - overlay) + c[k]! * overlay) : g;
      }
    }
    top += p.height + gap;
  }
  return encode({ width, height, data: rgb, channels: 3, depth: 8 });
}

/** Writes the xy and xz preview of a synthetic volume to `file`. */
export function writePreview(
  file: string,
  scene: Scene,
  grid: RenderGrid,
  imaging: ImagingParams,
  shape: Coordinate,
): void {
  const png = previewPng([
    renderPlane(scene, grid, imaging, shape, 0),
    renderPlane(scene, grid, imaging, shape, 1),
  ]);
  try {
    fs.writeFileSync(file, png);
  } catch (e) {
    throw fromFsError(e, file, "writing the preview PNG");
  }
}
