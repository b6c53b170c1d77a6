import { encode } from "fast-png";

/*
 * Line plots rasterised to PNG without a graphics library: loss and F1 curves of a training run. An
 * RGB canvas, thick lines drawn as stamped discs along each segment, axes with ticks, and labels in a
 * built-in 5x7 bitmap font (digits, capitals, a few signs; lower case is drawn as capitals).
 */

export interface Series {
  readonly name: string;
  readonly color: readonly [number, number, number];
  readonly points: readonly (readonly [number, number])[];
}

export interface PlotOptions {
  readonly title: string;
  readonly width?: number;
  readonly height?: number;
  readonly xLabel?: string;
  /** Fixed y range, e.g. [0, 1] for F1; default: the data's range. */
  readonly yRange?: readonly [number, number];
  readonly logY?: boolean;
}

// 5x7 glyphs, one string of 7 rows of 5 bits (as 0/1 characters) per glyph.
const FONT: Record<string, string> = {
  "0": "01110100011001110101110011000101110",
  "1": "00100011000010000100001000010001110",
  "2": "01110100010000100010001000100011111",
  "3": "11111000100010000010000011000101110",
  "4": "00010001100101010010111110001000010",
  "5": "11111100001111000001000011000101110",
  "6": "00110010001000011110100011000101110",
  "7": "11111000010001000100010000100001000",
  "8": "01110100011000101110100011000101110",
  "9": "01110100011000101111000010001001100",
  A: "01110100011000111111100011000110001",
  B: "11110100011000111110100011000111110",
  C: "01110100011000010000100001000101110",
  D: "11100100101000110001100011001011100",
  E: "11111100001000011110100001000011111",
  F: "11111100001000011110100001000010000",
  G: "01110100011000010111100011000101111",
  H: "10001100011000111111100011000110001",
  I: "01110001000010000100001000010001110",
  J: "00111000100001000010000101001001100",
  K: "10001100101010011000101001001010001",
  L: "10000100001000010000100001000011111",
  M: "10001110111010110101100011000110001",
  N: "10001100011100110101100111000110001",
  O: "01110100011000110001100011000101110",
  P: "11110100011000111110100001000010000",
  Q: "01110100011000110001101011001001101",
  R: "11110100011000111110101001001010001",
  S: "01111100001000001110000010000111110",
  T: "11111001000010000100001000010000100",
  U: "10001100011000110001100011000101110",
  V: "10001100011000110001100010101000100",
  W: "10001100011000110101101011010101010",
  X: "10001100010101000100010101000110001",
  Y: "10001100011000101010001000010000100",
  Z: "11111000010001000100010001000011111",
  ".": "00000000000000000000000000110001100",
  "-": "00000000000000011111000000000000000",
  "+": "00000001000010011111001000010000000",
  ":": "00000011000110000000011000110000000",
  "/": "00001000010001000100010001000010000",
  "(": "00010001000100001000010000010000010",
  ")": "01000001000001000010000100010001000",
  "=": "00000000001111100000111110000000000",
  "%": "11000110010001000100010001001100011",
  ",": "00000000000000000000001100010001000",
  _: "00000000000000000000000000000011111",
  " ": "00000000000000000000000000000000000",
};

class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8Array(width * height * 3).fill(255);
  }

  set(x: number, y: number, c: readonly [number, number, number]): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    const i = (yi * this.width + xi) * 3;
    this.data[i] = c[0];
    this.data[i + 1] = c[1];
    this.data[i + 2] = c[2];
  }

  disc(x: number, y: number, r: number, c: readonly [number, number, number]): void {
    for (let dy = -r; dy <= r; dy++)
      for (let dx = -r; dx <= r; dx++) if (dx * dx + dy * dy <= r * r + r) this.set(x + dx, y + dy, c);
  }

  line(x0: number, y0: number, x1: number, y1: number, c: readonly [number, number, number], r = 0): void {
    const n = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0)));
    for (let i = 0; i <= n; i++) {
      const t = i / n;
      const x = x0 + (x1 - x0) * t;
      const y = y0 + (y1 - y0) * t;
      if (r > 0) this.disc(x, y, r, c);
      else this.set(x, y, c);
    }
  }

  /** Text with its top-left corner at (x, y), each font pixel `scale` pixels. */
  text(s: string, x: number, y: number, c: readonly [number, number, number], scale = 1): void {
    let cx = x;
    for (const ch of s.toUpperCase()) {
      const g = FONT[ch] ?? FONT[" "]!;
      for (let row = 0; row < 7; row++)
        for (let col = 0; col < 5; col++)
          if (g[row * 5 + col] === "1")
            for (let sy = 0; sy < scale; sy++)
              for (let sx = 0; sx < scale; sx++) this.set(cx + col * scale + sx, y + row * scale + sy, c);
      cx += 6 * scale;
    }
  }
}

export function textWidth(s: string, scale = 1): number {
  return s.length * 6 * scale - scale;
}

/** Tick values: 1, 2 or 5 times a power of ten, about `n` of them over [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

/** Ticks of a log axis spanning log10 range [a, b]: 1-2-5 per decade, or only powers of ten over many decades. */
function logTicks(a: number, b: number): number[] {
  const out: number[] = [];
  const mult = b - a > 3 ? [1] : [1, 2, 5];
  for (let k = Math.floor(a); k <= Math.ceil(b); k++) {
    for (const m of mult) {
      const v = m * 10 ** k;
      const l = Math.log10(v);
      if (l >= a - 1e-9 && l <= b + 1e-9) out.push(Number(v.toPrecision(6)));
    }
  }
  return out;
}

function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0).replace("+", "");
  if (a >= 1000) return `${Number((v / 1000).toPrecision(3))}K`;
  return String(Number(v.toPrecision(3)));
}

const AXIS: readonly [number, number, number] = [60, 60, 60];
const GRID: readonly [number, number, number] = [225, 225, 225];

/** Renders the series as a PNG. */
export function plotPng(series: readonly Series[], o: PlotOptions): Uint8Array {
  const W = o.width ?? 640;
  const H = o.height ?? 360;
  const cv = new Canvas(W, H);
  const left = 56;
  const right = 16;
  const top = 30;
  const bottom = 36;
  const pw = W - left - right;
  const ph = H - top - bottom;
  const pts = series
    .flatMap((s) => s.points)
    .filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!o.logY || p[1] > 0));
  const ty = (v: number) => (o.logY ? Math.log10(v) : v);
  let x0 = Math.min(...pts.map((p) => p[0]));
  let x1 = Math.max(...pts.map((p) => p[0]));
  let y0 = o.yRange ? ty(o.yRange[0]) : Math.min(...pts.map((p) => ty(p[1])));
  let y1 = o.yRange ? ty(o.yRange[1]) : Math.max(...pts.map((p) => ty(p[1])));
  if (!Number.isFinite(x0)) [x0, x1] = [0, 1];
  if (!Number.isFinite(y0)) [y0, y1] = [0, 1];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * pw;
  const py = (y: number) => top + ph - ((ty(y) - y0) / (y1 - y0)) * ph;
  // grid and ticks
  const yt = o.logY ? logTicks(y0, y1) : niceTicks(y0, y1, 5);
  for (const v of yt) {
    const y = py(v);
    cv.line(left, y, left + pw, y, GRID);
    const label = formatTick(v);
    cv.text(label, left - 6 - textWidth(label), y - 3, AXIS);
  }
  for (const v of niceTicks(x0, x1, 6)) {
    const x = px(v);
    cv.line(x, top, x, top + ph, GRID);
    const label = formatTick(v);
    cv.text(label, x - textWidth(label) / 2, top + ph + 6, AXIS);
  }
  cv.line(left, top, left, top + ph, AXIS);
  cv.line(left, top + ph, left + pw, top + ph, AXIS);
  // series
  for (const s of series) {
    const p = s.points.filter((q) => Number.isFinite(q[0]) && Number.isFinite(q[1]) && (!o.logY || q[1] > 0));
    for (let i = 1; i < p.length; i++)
      cv.line(px(p[i - 1]![0]), py(p[i - 1]![1]), px(p[i]![0]), py(p[i]![1]), s.color, 1);
    if (p.length <= 40) for (const q of p) cv.disc(px(q[0]), py(q[1]), 2, s.color);
  }
  // title, axis label and legend
  cv.text(o.title, left, 8, [20, 20, 20], 2);
  if (o.xLabel) cv.text(o.xLabel, left + pw - textWidth(o.xLabel), H - 12, AXIS);
  let lx = left + pw;
  for (const s of [...series].reverse()) {
    const w = textWidth(s.name) + 18;
    lx -= w + 10;
    cv.line(lx, 12, lx + 12, 12, s.color, 1);
    cv.text(s.name, lx + 16, 9, AXIS);
  }
  return encode({ width: W, height: H, data: cv.data, channels: 3, depth: 8 });
}
