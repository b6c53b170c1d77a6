import { invalidArgument } from "../core/errors.ts";
import type { Block } from "./types.ts";

export type BlockState = "pending" | "running" | "done" | "failed" | "skipped";

export interface SchedulerOptions {
  /** Further attempts after a block's first failure (default 2, so at most 3 attempts). */
  retries?: number;
  /**
   * Blocks finished by an earlier run (from the resume journal): never handed out. A Map also
   * carries their values.
   */
  alreadyDone?: Iterable<number> | ReadonlyMap<number, unknown>;
}

export interface SchedulerCounts {
  readonly total: number;
  readonly pending: number;
  readonly running: number;
  readonly done: number;
  readonly failed: number;
  readonly skipped: number;
}

export interface BlockFailure {
  readonly block: Block;
  /** The error of the last attempt. */
  readonly error: unknown;
  readonly attempts: number;
}

const PENDING = 0;
const RUNNING = 1;
const DONE = 2;
const FAILED = 3;
const SKIPPED = 4;
const STATE_NAMES: readonly BlockState[] = ["pending", "running", "done", "failed", "skipped"];

/**
 * The pure state machine of a block-wise job: which block runs next, which are done, which failed
 * after their retries. No I/O, no timers, no clocks: runners drive it, so every runner shares its
 * behaviour and its tests. Blocks are handed out in ascending id order; a failed block that has
 * attempts left is handed out again before any new block. After a block fails for good the
 * scheduler stops handing out blocks (the runner lets the running ones finish), as it does after
 * `halt()`.
 */
export class BlockScheduler {
  private readonly blocks: readonly Block[];
  private readonly slotOf = new Map<number, number>();
  private readonly state: Uint8Array;
  private readonly attemptsOf: Uint32Array;
  private readonly maxAttempts: number;
  private readonly retryQueue: number[] = [];
  private cursor = 0;
  private halted = false;
  private readonly valueOf = new Map<number, unknown>();
  private readonly failureList: BlockFailure[] = [];
  private nPending = 0;
  private nRunning = 0;
  private nDone = 0;
  private nFailed = 0;
  private nSkipped = 0;

  constructor(blocks: readonly Block[], options: SchedulerOptions = {}) {
    const retries = options.retries ?? 2;
    if (!Number.isInteger(retries) || retries < 0) {
      throw invalidArgument(`retries must be an integer >= 0, got ${retries}`);
    }
    this.maxAttempts = retries + 1;
    this.blocks = [...blocks].sort((a, b) => a.id - b.id);
    this.state = new Uint8Array(this.blocks.length);
    this.attemptsOf = new Uint32Array(this.blocks.length);
    this.blocks.forEach((b, i) => {
      if (this.slotOf.has(b.id)) throw invalidArgument(`block id ${b.id} occurs twice in the block list`);
      this.slotOf.set(b.id, i);
    });
    this.nPending = this.blocks.length;
    const done = options.alreadyDone;
    if (done) {
      const withValues = done instanceof Map;
      for (const id of withValues ? done.keys() : (done as Iterable<number>)) {
        const slot = this.slotOf.get(id);
        // Ids outside the plan cannot come from a journal with the same job key; ignoring them is safe.
        if (slot === undefined || this.state[slot] === SKIPPED) continue;
        this.state[slot] = SKIPPED;
        this.nPending--;
        this.nSkipped++;
        if (withValues) {
          const v = (done as ReadonlyMap<number, unknown>).get(id);
          if (v !== undefined) this.valueOf.set(id, v);
        }
      }
    }
  }

  /** The next block to run and its attempt number (1-based), now marked running; undefined if none. */
  next(): { block: Block; attempt: number } | undefined {
    if (this.halted) return undefined;
    let slot = this.retryQueue.shift();
    if (slot === undefined) {
      while (this.cursor < this.blocks.length && this.state[this.cursor] !== PENDING) this.cursor++;
      if (this.cursor >= this.blocks.length) return undefined;
      slot = this.cursor++;
    }
    this.state[slot] = RUNNING;
    this.nPending--;
    this.nRunning++;
    const attempt = ++this.attemptsOf[slot]!;
    return { block: this.blocks[slot]!, attempt };
  }

  /** Records a running block as done with its (optional) value. */
  complete(id: number, value?: unknown): void {
    const slot = this.runningSlot(id, "complete");
    this.state[slot] = DONE;
    this.nRunning--;
    this.nDone++;
    if (value !== undefined) this.valueOf.set(id, value);
  }

  /**
   * Records a failed attempt. Returns "retry" when the block goes back to the queue, "failed" when
   * its attempts are used up (the scheduler then halts).
   */
  fail(id: number, error: unknown): "retry" | "failed" {
    const slot = this.runningSlot(id, "fail");
    this.nRunning--;
    if (this.attemptsOf[slot]! < this.maxAttempts && !this.halted) {
      this.state[slot] = PENDING;
      this.nPending++;
      this.retryQueue.push(slot);
      return "retry";
    }
    this.state[slot] = FAILED;
    this.nFailed++;
    this.failureList.push({ block: this.blocks[slot]!, error, attempts: this.attemptsOf[slot]! });
    this.halted = true;
    return "failed";
  }

  /**
   * Stops handing out blocks (cancellation). Running blocks may still complete or fail; a failure
   * after halt is final, because no further attempt will be made.
   */
  halt(): void {
    this.halted = true;
  }

  get isHalted(): boolean {
    return this.halted;
  }

  /** True when nothing runs and nothing more will be handed out. */
  get finished(): boolean {
    return this.nRunning === 0 && (this.halted || this.nPending === 0);
  }

  /** True when every block is done or skipped. */
  get succeeded(): boolean {
    return this.nDone + this.nSkipped === this.blocks.length;
  }

  get counts(): SchedulerCounts {
    return {
      total: this.blocks.length,
      pending: this.nPending,
      running: this.nRunning,
      done: this.nDone,
      failed: this.nFailed,
      skipped: this.nSkipped,
    };
  }

  get failures(): readonly BlockFailure[] {
    return this.failureList;
  }

  /** Values of completed blocks, and of skipped blocks when `alreadyDone` was a Map. */
  get values(): ReadonlyMap<number, unknown> {
    return this.valueOf;
  }

  stateOf(id: number): BlockState {
    const slot = this.slotOf.get(id);
    if (slot === undefined) throw invalidArgument(`block id ${id} is not part of this job`);
    return STATE_NAMES[this.state[slot]!]!;
  }

  attemptsOfBlock(id: number): number {
    const slot = this.slotOf.get(id);
    return slot === undefined ? 0 : this.attemptsOf[slot]!;
  }

  block(id: number): Block {
    const slot = this.slotOf.get(id);
    if (slot === undefined) throw invalidArgument(`block id ${id} is not part of this job`);
    return this.blocks[slot]!;
  }

  private runningSlot(id: number, action: string): number {
    const slot = this.slotOf.get(id);
    if (slot === undefined) throw invalidArgument(`cannot ${action} block ${id}: not part of this job`);
    if (this.state[slot] !== RUNNING) {
      throw invalidArgument(
        `cannot ${action} block ${id}: it is ${STATE_NAMES[this.state[slot]!]}, not running`,
      );
    }
    return slot;
  }
}
