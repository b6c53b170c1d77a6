import type { Coordinate } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { decodeRuns, encodeRuns } from "./brush.ts";
import {
  GraphCutSession,
  type GraphCutSessionOptions,
  SEED_BACKGROUND,
  SEED_FOREGROUND,
  SEED_NONE,
} from "./graphcut.ts";
import type { GreyVolume } from "./slic.ts";

/*
 * What the browser annotator edits on one sub-volume, independent of HTTP and storage:
 *   seeds        fg/bg strokes (the graph cut's hard constraints; GraphCutSession),
 *   cut          the last graph-cut result (or a prediction loaded as the starting point),
 *   corrections  voxel-level overrides (1 force foreground, 2 force background) that survive re-cuts.
 * The mask shown and saved is `cut` with the corrections applied. Every edit (strokes, corrections,
 * a cut) is one undo step; a new edit clears the redo list. Annotation time is the sum of the gaps
 * between edits, each capped at IDLE_CAP_MS, so a session left open over lunch does not count.
 */

export type EditLabel = "fg" | "bg" | "erase";

const LABEL_VALUE: Readonly<Record<EditLabel, number>> = {
  fg: SEED_FOREGROUND,
  bg: SEED_BACKGROUND,
  erase: SEED_NONE,
};

export const IDLE_CAP_MS = 120_000;
const MAX_HISTORY = 200;

type Layer = "seeds" | "corrections";

type Step =
  | { kind: "paint"; layer: Layer; indices: Int32Array; before: Uint8Array; after: number }
  | { kind: "cut"; before: Uint32Array | null; after: Uint32Array };

export interface SegmentResult {
  readonly mask: Uint8Array;
  readonly foreground: number;
  /** Seconds: unaries, max-flow and mask of this cut. */
  readonly seconds: number;
  readonly timings: { readonly unaries: number; readonly maxflow: number; readonly mask: number };
}

export interface SessionCounts {
  readonly strokes: number;
  readonly corrections: number;
  readonly segments: number;
  readonly undo: number;
  readonly redo: number;
  readonly foregroundSeeds: number;
  readonly backgroundSeeds: number;
}

export class AnnotationSession {
  readonly graph: GraphCutSession;
  readonly shape: Coordinate;
  private cut: Uint8Array | null;
  private readonly corrections: Uint8Array;
  private readonly undoSteps: Step[] = [];
  private readonly redoSteps: Step[] = [];
  private readonly seedCount = [0, 0];
  private strokes = 0;
  private correctionCount = 0;
  private segments = 0;
  private activeMs = 0;
  private lastTouch: number;
  readonly created: number;

  constructor(graph: GraphCutSession, start: Uint8Array | null = null, now = Date.now()) {
    this.graph = graph;
    this.shape = graph.shape;
    const n = graph.supervoxels.labels.length;
    if (start && start.length !== n)
      throw invalidArgument(`annotation: starting mask has ${start.length} voxels, the sub-volume ${n}`);
    this.cut = start ? Uint8Array.from(start, (v) => (v ? 1 : 0)) : null;
    this.corrections = new Uint8Array(n);
    this.created = now;
    this.lastTouch = now;
  }

  static create(
    image: GreyVolume,
    shape: Coordinate,
    options: GraphCutSessionOptions = {},
    start: Uint8Array | null = null,
  ): AnnotationSession {
    return new AnnotationSession(GraphCutSession.create(image, shape, options), start);
  }

  /** Records activity for the annotation time (call on every request of the session). */
  touch(now = Date.now()): void {
    this.activeMs += Math.max(0, Math.min(now - this.lastTouch, IDLE_CAP_MS));
    this.lastTouch = now;
  }

  /** Annotation time so far, seconds (capped gaps between edits). */
  get activeSeconds(): number {
    return this.activeMs / 1000;
  }

  get counts(): SessionCounts {
    return {
      strokes: this.strokes,
      corrections: this.correctionCount,
      segments: this.segments,
      undo: this.undoSteps.length,
      redo: this.redoSteps.length,
      foregroundSeeds: this.seedCount[0]!,
      backgroundSeeds: this.seedCount[1]!,
    };
  }

  /** Paints fg/bg seeds (or erases them) on voxel indices: one undo step. */
  stroke(indices: Int32Array, label: EditLabel): number {
    this.strokes++;
    return this.apply("seeds", indices, LABEL_VALUE[label]);
  }

  /** Voxel-level correction of the mask (fg/bg override, erase = back to the cut): one undo step. */
  correct(indices: Int32Array, label: EditLabel): number {
    this.correctionCount++;
    return this.apply("corrections", indices, LABEL_VALUE[label]);
  }

  private apply(layer: Layer, indices: Int32Array, value: number): number {
    const n = this.corrections.length;
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      if (!(i >= 0 && i < n)) throw invalidArgument(`annotation: voxel index ${i} outside 0..${n - 1}`);
    }
    const before = new Uint8Array(indices.length);
    const current = layer === "seeds" ? this.graph.seedValues() : this.corrections;
    for (let k = 0; k < indices.length; k++) before[k] = current[indices[k]!]!;
    this.write(layer, indices, value);
    this.push({ kind: "paint", layer, indices, before, after: value });
    return indices.length;
  }

  private write(layer: Layer, indices: Int32Array, value: number): void {
    if (layer === "corrections") {
      for (let k = 0; k < indices.length; k++) this.corrections[indices[k]!] = value;
      return;
    }
    const seeds = this.graph.seedValues();
    for (let k = 0; k < indices.length; k++) {
      const old = seeds[indices[k]!]!;
      if (old !== SEED_NONE) this.seedCount[old - 1]!--;
      if (value !== SEED_NONE) this.seedCount[value - 1]!++;
    }
    this.graph.paint(indices, value);
  }

  /** Restores `before` values voxel by voxel (undo of a paint step). */
  private restore(layer: Layer, indices: Int32Array, before: Uint8Array): void {
    for (const value of [SEED_NONE, SEED_FOREGROUND, SEED_BACKGROUND]) {
      let m = 0;
      for (let k = 0; k < before.length; k++) if (before[k] === value) m++;
      if (m === 0) continue;
      const subset = new Int32Array(m);
      for (let k = 0, j = 0; k < before.length; k++) if (before[k] === value) subset[j++] = indices[k]!;
      this.write(layer, subset, value);
    }
  }

  private push(step: Step): void {
    this.undoSteps.push(step);
    if (this.undoSteps.length > MAX_HISTORY) this.undoSteps.shift();
    this.redoSteps.length = 0;
  }

  /** Graph cut with the current seeds; the corrections are applied to the returned mask. */
  segment(): SegmentResult {
    const r = this.graph.solve();
    const before = this.cut ? encodeRuns(this.cut) : null;
    this.cut = r.mask;
    this.push({ kind: "cut", before, after: encodeRuns(r.mask) });
    this.segments++;
    const mask = this.mask();
    let fg = 0;
    for (let i = 0; i < mask.length; i++) fg += mask[i]!;
    const t = r.timings;
    return { mask, foreground: fg, seconds: (t.unaries + t.maxflow + t.mask) / 1000, timings: t };
  }

  /** The current mask: the cut (none yet: empty) with the corrections applied. */
  mask(): Uint8Array {
    const n = this.corrections.length;
    const out = this.cut ? this.cut.slice() : new Uint8Array(n);
    const c = this.corrections;
    for (let i = 0; i < n; i++) {
      const v = c[i]!;
      if (v === SEED_FOREGROUND) out[i] = 1;
      else if (v === SEED_BACKGROUND) out[i] = 0;
    }
    return out;
  }

  /** Undoes the last edit; false when there is none. */
  undo(): Step["kind"] | null {
    const s = this.undoSteps.pop();
    if (!s) return null;
    if (s.kind === "paint") this.restore(s.layer, s.indices, s.before);
    else this.cut = s.before ? decodeRuns(s.before, this.corrections.length) : null;
    this.redoSteps.push(s);
    return s.kind;
  }

  /** Redoes the last undone edit; false when there is none. */
  redo(): Step["kind"] | null {
    const s = this.redoSteps.pop();
    if (!s) return null;
    if (s.kind === "paint") this.write(s.layer, s.indices, s.after);
    else this.cut = decodeRuns(s.after, this.corrections.length);
    this.undoSteps.push(s);
    return s.kind;
  }
}
