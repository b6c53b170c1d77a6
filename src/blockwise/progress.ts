import * as fs from "node:fs";

/**
 * Progress of a long job: done/total units, rate and ETA. On a terminal it redraws one line;
 * elsewhere (CI logs, pipes) it prints a line at most every `intervalMs` so logs stay readable.
 * For a parent process (`organelle serve` jobs) it also appends JSON lines to the file named by
 * ORGANELLE_PROGRESS_FILE: {"label", "done", "total", "unit", "rate", "etaSeconds", "finished"}.
 */
export interface ProgressSink {
  write(text: string): void;
  readonly isTTY?: boolean;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** Unit shown for the rate, e.g. "blocks" or "MB"; `scale` converts units to what the rate shows. */
  unit?: string;
  rateUnit?: string;
  rateScale?: number;
  sink?: ProgressSink | null;
  intervalMs?: number;
  /** Work already done before this run started (resumed jobs); excluded from the rate. */
  initial?: number;
  now?: () => number;
  /** File to append JSON progress lines to; default $ORGANELLE_PROGRESS_FILE, null for none. */
  jsonFile?: string | null;
}

const JSON_INTERVAL_MS = 250;

export class Progress {
  readonly label: string;
  readonly total: number;
  private done: number;
  private readonly initial: number;
  private readonly start: number;
  private lastDraw = 0;
  private readonly sink: ProgressSink | null;
  private readonly intervalMs: number;
  private readonly unit: string;
  private readonly rateUnit: string;
  private readonly rateScale: number;
  private readonly now: () => number;
  private finished = false;
  private readonly jsonFile: string | null;
  private lastJson = Number.NEGATIVE_INFINITY;

  constructor(o: ProgressOptions) {
    this.label = o.label;
    this.total = o.total;
    this.initial = o.initial ?? 0;
    this.done = this.initial;
    this.now = o.now ?? (() => performance.now());
    this.start = this.now();
    this.sink = o.sink === undefined ? defaultSink() : o.sink;
    this.intervalMs = o.intervalMs ?? (this.sink?.isTTY ? 100 : 5000);
    this.unit = o.unit ?? "";
    this.rateUnit = o.rateUnit ?? o.unit ?? "";
    this.rateScale = o.rateScale ?? 1;
    this.jsonFile = o.jsonFile === undefined ? process.env.ORGANELLE_PROGRESS_FILE || null : o.jsonFile;
  }

  get completed(): number {
    return this.done;
  }

  /** Units per second since start, counting only work done in this run. */
  get rate(): number {
    const s = (this.now() - this.start) / 1000;
    return s > 0 ? (this.done - this.initial) / s : 0;
  }

  /** Seconds left at the current rate, or undefined before anything was done. */
  get eta(): number | undefined {
    const r = this.rate;
    if (r <= 0) return undefined;
    return (this.total - this.done) / r;
  }

  tick(n = 1): void {
    this.done = Math.min(this.total, this.done + n);
    const t = this.now();
    if (t - this.lastDraw >= this.intervalMs || this.done === this.total) {
      this.lastDraw = t;
      this.draw();
    }
    if (this.jsonFile && (t - this.lastJson >= JSON_INTERVAL_MS || this.done === this.total)) {
      this.lastJson = t;
      this.writeJson(false);
    }
  }

  private writeJson(finished: boolean): void {
    const eta = this.eta;
    const record = {
      label: this.label,
      done: this.done,
      total: this.total,
      unit: this.unit,
      rate: this.rate * this.rateScale,
      ...(eta !== undefined && Number.isFinite(eta) ? { etaSeconds: eta } : {}),
      finished,
    };
    try {
      fs.appendFileSync(this.jsonFile!, `${JSON.stringify(record)}\n`);
    } catch {
      // Progress reporting must never fail the job it reports on.
    }
  }

  line(): string {
    const frac = this.total > 0 ? this.done / this.total : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`;
    const rate = this.rate * this.rateScale;
    const eta = this.eta;
    const unit = this.unit ? ` ${this.unit}` : "";
    return (
      `${this.label} [${bar}] ${(frac * 100).toFixed(1)}% ${this.done}/${this.total}${unit}` +
      ` ${formatRate(rate)} ${this.rateUnit}/s ETA ${eta === undefined ? "--" : formatDuration(eta)}`
    );
  }

  private draw(): void {
    if (!this.sink) return;
    if (this.sink.isTTY) this.sink.write(`\r${this.line()}\x1b[K`);
    else this.sink.write(`${this.line()}\n`);
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.jsonFile) this.writeJson(true);
    if (!this.sink) return;
    const secs = (this.now() - this.start) / 1000;
    const text = `${this.label}: ${this.done}/${this.total}${this.unit ? ` ${this.unit}` : ""} in ${formatDuration(secs)} (${formatRate(this.rate * this.rateScale)} ${this.rateUnit}/s)`;
    if (this.sink.isTTY) this.sink.write(`\r${text}\x1b[K\n`);
    else this.sink.write(`${text}\n`);
  }
}

function defaultSink(): ProgressSink | null {
  if (process.env.ORGANELLE_QUIET === "1") return null;
  return { write: (t) => process.stderr.write(t), isTTY: Boolean(process.stderr.isTTY) };
}

export function formatRate(r: number): string {
  if (!Number.isFinite(r)) return "--";
  if (r >= 1e9) return `${(r / 1e9).toFixed(2)}G`;
  if (r >= 1e6) return `${(r / 1e6).toFixed(2)}M`;
  if (r >= 1e4) return `${(r / 1e3).toFixed(1)}k`;
  if (r >= 100) return r.toFixed(0);
  return r.toFixed(2);
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return "--";
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s - m * 60)).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m - h * 60).padStart(2, "0")}m`;
}
