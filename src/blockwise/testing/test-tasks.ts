import { setTimeout as sleep } from "node:timers/promises";
import { invalidData } from "../../core/errors.ts";
import { Volume } from "../../store/volume.ts";
import { defineTaskTable } from "../task-table.ts";
import type { Block, BlockContext, TaskTable } from "../types.ts";

/**
 * Block functions for the runner tests and the resume test; both runners run this same table (the
 * workers through testing/test-worker.ts), so every behaviour is checked on both.
 */

export interface CountParams {
  /** Int32Array over a SharedArrayBuffer: runs[id] counts how often block id ran. */
  readonly runs: Int32Array;
  /** Largest number of blocks seen running at once, slot 0 of an Int32Array(2) (slot 1: now). */
  readonly inFlight?: Int32Array;
  readonly delayMs?: number;
}

/** Counts runs per block in shared memory and returns a value derived from the block. */
async function count(block: Block, p: CountParams, ctx: BlockContext): Promise<unknown> {
  Atomics.add(p.runs, block.id, 1);
  if (p.inFlight) {
    const now = Atomics.add(p.inFlight, 1, 1) + 1;
    let seen = Atomics.load(p.inFlight, 0);
    while (now > seen && Atomics.compareExchange(p.inFlight, 0, seen, now) !== seen)
      seen = Atomics.load(p.inFlight, 0);
  }
  try {
    if (p.delayMs) await sleep(p.delayMs, undefined, { signal: ctx.signal });
  } finally {
    if (p.inFlight) Atomics.sub(p.inFlight, 1, 1);
  }
  return { id: block.id, z: block.writeRoi.offset[0], voxels: block.writeRoi.size };
}

export interface FlakyParams {
  readonly runs: Int32Array;
  /**
   * Shared failure budget per block: a block fails while its budget lasts. It lives outside the
   * job's attempts, so a second run of the same job continues where the first left off.
   */
  readonly failuresLeft: Int32Array;
}

async function flaky(block: Block, p: FlakyParams, ctx: BlockContext): Promise<unknown> {
  Atomics.add(p.runs, block.id, 1);
  if (Atomics.sub(p.failuresLeft, block.id, 1) > 0) {
    throw invalidData(`synthetic failure of block ${block.id} on attempt ${ctx.attempt}\nsecond line`);
  }
  return block.id;
}

export interface CrashParams {
  readonly runs: Int32Array;
  readonly block: number;
  readonly how: "exit" | "uncaught" | "oom";
  /** Crash on the first `times` attempts of `block` only. */
  readonly times: number;
}

/** Kills its worker thread in the given way (only for the workers runner). */
async function crash(block: Block, p: CrashParams, ctx: BlockContext): Promise<unknown> {
  Atomics.add(p.runs, block.id, 1);
  if (block.id === p.block && ctx.attempt <= p.times) {
    if (p.how === "exit") process.exit(3);
    if (p.how === "uncaught") {
      setTimeout(() => {
        throw new RangeError("thrown outside the block's promise");
      });
      await sleep(10_000);
    }
    if (p.how === "oom") {
      const hog: unknown[] = [];
      for (;;) hog.push(new Array(100_000).fill(hog.length));
    }
  }
  return block.id;
}

/** Waits until cancelled (or `ms`), then reports whether the signal arrived. */
async function wait(block: Block, p: { runs: Int32Array; ms: number }, ctx: BlockContext): Promise<unknown> {
  Atomics.add(p.runs, block.id, 1);
  await sleep(p.ms, undefined, { signal: ctx.signal });
  return block.id;
}

export interface FillParams {
  readonly dataset: string;
  readonly array: string;
  readonly delayMs: number;
}

/** The value the fill task writes at voxel (z,y,x) of the array. */
export function fillValue(z: number, y: number, x: number): number {
  return (z * 7 + y * 13 + x * 31 + ((z * y) ^ x)) & 0xffff;
}

/** Writes fillValue over the block's write ROI of a uint16 volume, after a small delay. */
async function fill(block: Block, p: FillParams, ctx: BlockContext): Promise<unknown> {
  const vol = await Volume.open(p.dataset, p.array, { allowIncomplete: true });
  const box = vol.boxOf(block.writeRoi);
  const [bz, by, bx] = box.begin;
  const [sz, sy, sx] = box.shape;
  const data = new Uint16Array(sz * sy * sx);
  let i = 0;
  let sum = 0;
  for (let z = bz; z < bz + sz; z++) {
    for (let y = by; y < by + sy; y++) {
      for (let x = bx; x < bx + sx; x++) {
        const v = fillValue(z, y, x);
        data[i++] = v;
        sum += v;
      }
    }
  }
  await sleep(p.delayMs, undefined, { signal: ctx.signal });
  await vol.writeBox(box, data, { signal: ctx.signal });
  return { sum };
}

export const TEST_TASKS: TaskTable = defineTaskTable({
  "test.count": count,
  "test.crash": crash,
  "test.fill": fill,
  "test.flaky": flaky,
  "test.wait": wait,
});
