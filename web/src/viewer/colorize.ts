/*
 * Turns a decoded plane into RGBA pixels for one layer's style. Runs once per (tile, style) and is cached
 * by the layer, so the per-voxel loop stays out of the frame loop.
 */
import type { ArrayKind } from "../api.ts";
import type { Tile } from "../data/tile-source.ts";

export type Colormap = "grey" | "magma" | "green" | "red" | "cyan";

export interface LayerStyle {
  kind: ArrayKind;
  /** Window of raw values mapped to 0..1 (intensity and probability). */
  window: [number, number];
  brightness: number;
  contrast: number;
  colormap: Colormap;
  /** "#rrggbb" for masks. */
  color: string;
}

export const styleKey = (s: LayerStyle): string =>
  `${s.kind}|${s.window[0]}|${s.window[1]}|${s.brightness}|${s.contrast}|${s.colormap}|${s.color}`;

const STOPS: Record<Colormap, [number, number, number][]> = {
  grey: [
    [0, 0, 0],
    [255, 255, 255],
  ],
  magma: [
    [0, 0, 4],
    [80, 18, 123],
    [182, 54, 121],
    [251, 136, 97],
    [252, 253, 191],
  ],
  green: [
    [0, 0, 0],
    [0, 255, 64],
  ],
  red: [
    [0, 0, 0],
    [255, 40, 40],
  ],
  cyan: [
    [0, 0, 0],
    [0, 230, 255],
  ],
};

const luts = new Map<Colormap, Uint8Array>();
export function lut(name: Colormap): Uint8Array {
  let l = luts.get(name);
  if (l) return l;
  const stops = STOPS[name];
  l = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (stops.length - 1);
    const k = Math.min(stops.length - 2, Math.floor(t));
    const f = t - k;
    const a = stops[k]!;
    const b = stops[k + 1]!;
    for (let c = 0; c < 3; c++) l[3 * i + c] = Math.round(a[c]! + (b[c]! - a[c]!) * f);
  }
  luts.set(name, l);
  return l;
}

/** A stable, well-spread colour per label id (golden-ratio hue walk). */
export function labelColor(id: number): [number, number, number] {
  const h = (id * 0.618033988749895) % 1;
  const s = 0.75;
  const v = 0.95;
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  const rgb = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ][i % 6]!;
  return [Math.round(rgb[0]! * 255), Math.round(rgb[1]! * 255), Math.round(rgb[2]! * 255)];
}

export function hexColor(hex: string): [number, number, number] {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  return m
    ? [Number.parseInt(m[1]!, 16), Number.parseInt(m[2]!, 16), Number.parseInt(m[3]!, 16)]
    : [255, 255, 0];
}

export function colorize(tile: Tile, style: LayerStyle): ImageData {
  const w = tile.validCols;
  const h = tile.validRows;
  const img = new ImageData(Math.max(1, w), Math.max(1, h));
  const px = img.data;
  const src = tile.data;
  const stride = tile.cols;
  if (style.kind === "label") {
    let lastId = -1;
    let r = 0;
    let g = 0;
    let b = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const id = src[y * stride + x]!;
        if (id === 0) continue;
        if (id !== lastId) {
          [r, g, b] = labelColor(id);
          lastId = id;
        }
        const o = 4 * (y * w + x);
        px[o] = r;
        px[o + 1] = g;
        px[o + 2] = b;
        px[o + 3] = 255;
      }
    }
    return img;
  }
  if (style.kind === "mask") {
    const [r, g, b] = hexColor(style.color);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (!src[y * stride + x]) continue;
        const o = 4 * (y * w + x);
        px[o] = r;
        px[o + 1] = g;
        px[o + 2] = b;
        px[o + 3] = 255;
      }
    }
    return img;
  }
  const table = lut(style.colormap);
  const [lo, hi] = style.window;
  const inv = 1 / Math.max(1e-12, hi - lo);
  const transparentLow = style.kind === "probability";
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let t = ((src[y * stride + x]! - lo) * inv - 0.5) * style.contrast + 0.5 + style.brightness;
      t = Math.min(1, Math.max(0, t));
      const i = Math.round(t * 255);
      const o = 4 * (y * w + x);
      px[o] = table[3 * i]!;
      px[o + 1] = table[3 * i + 1]!;
      px[o + 2] = table[3 * i + 2]!;
      // Probability maps fade in with their value so the EM stays visible under low probabilities.
      px[o + 3] = transparentLow ? i : 255;
    }
  }
  return img;
}
