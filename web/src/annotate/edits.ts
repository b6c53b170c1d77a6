/*
 * The client's copy of a session's strokes and corrections. The server keeps the authoritative arrays and
 * one undo stack of paint and cut steps (src/annotate/annotation-session.ts); this mirrors that stack step
 * for step, so undo/redo redraw the strokes without sending the arrays back. A stroke is painted at once as
 * the user draws it (preview) and becomes a step when the server has taken it; if the server refuses it,
 * the preview is rolled back.
 */
export type EditLayer = "seeds" | "corrections";

type Step =
  | { kind: "paint"; layer: EditLayer; indices: Int32Array; before: Uint8Array; after: number }
  | { kind: "cut" };

/** The server's history length (MAX_HISTORY): older steps fall off both stacks alike. */
const MAX_HISTORY = 200;

export class Preview {
  /** Value of each voxel before this stroke first touched it. */
  readonly original = new Map<number, number>();
  constructor(
    readonly layer: EditLayer,
    readonly value: number,
  ) {}
}

export class EditMirror {
  readonly seeds: Uint8Array;
  readonly corrections: Uint8Array;
  private readonly undoSteps: Step[] = [];
  private readonly redoSteps: Step[] = [];

  constructor(voxels: number) {
    this.seeds = new Uint8Array(voxels);
    this.corrections = new Uint8Array(voxels);
  }

  private array(layer: EditLayer): Uint8Array {
    return layer === "seeds" ? this.seeds : this.corrections;
  }

  get canUndo(): boolean {
    return this.undoSteps.length > 0;
  }
  get canRedo(): boolean {
    return this.redoSteps.length > 0;
  }

  /** Paints part of a stroke being drawn. */
  preview(p: Preview, indices: Int32Array): void {
    const a = this.array(p.layer);
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      if (!p.original.has(i)) p.original.set(i, a[i]!);
      a[i] = p.value;
    }
  }

  /** The server took the stroke covering `indices`: it becomes one undo step. */
  commit(p: Preview, indices: Int32Array): void {
    const a = this.array(p.layer);
    const before = new Uint8Array(indices.length);
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      before[k] = p.original.get(i) ?? a[i]!;
      a[i] = p.value;
    }
    this.push({ kind: "paint", layer: p.layer, indices, before, after: p.value });
  }

  /** The server refused the stroke: back to what was there. */
  rollback(p: Preview): void {
    const a = this.array(p.layer);
    for (const [i, v] of p.original) a[i] = v;
  }

  cut(): void {
    this.push({ kind: "cut" });
  }

  private push(s: Step): void {
    this.undoSteps.push(s);
    if (this.undoSteps.length > MAX_HISTORY) this.undoSteps.shift();
    this.redoSteps.length = 0;
  }

  /** Undoes the last step here as the server did; its kind, or null when there was none. */
  undo(): Step["kind"] | null {
    const s = this.undoSteps.pop();
    if (!s) return null;
    if (s.kind === "paint") {
      const a = this.array(s.layer);
      for (let k = 0; k < s.indices.length; k++) a[s.indices[k]!] = s.before[k]!;
    }
    this.redoSteps.push(s);
    return s.kind;
  }

  redo(): Step["kind"] | null {
    const s = this.redoSteps.pop();
    if (!s) return null;
    if (s.kind === "paint") {
      const a = this.array(s.layer);
      for (let k = 0; k < s.indices.length; k++) a[s.indices[k]!] = s.after;
    }
    this.undoSteps.push(s);
    return s.kind;
  }
}
