import { describe, expect, it } from "vitest";
import { coord } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import { planBlocks } from "./plan.ts";
import { BlockScheduler } from "./scheduler.ts";

const blocks = planBlocks({
  name: "s",
  totalWriteRoi: new Roi(coord(0, 0, 0), coord(10, 10, 40)),
  blockShape: coord(10, 10, 10),
  context: coord(0, 0, 0),
});

describe("BlockScheduler", () => {
  it("hands out blocks in id order and finishes when all are done", () => {
    const s = new BlockScheduler([...blocks].reverse());
    expect(s.counts).toEqual({ total: 4, pending: 4, running: 0, done: 0, failed: 0, skipped: 0 });
    const a = s.next()!;
    const b = s.next()!;
    expect([a.block.id, a.attempt, b.block.id, b.attempt]).toEqual([0, 1, 1, 1]);
    expect(s.stateOf(0)).toBe("running");
    expect(s.counts.running).toBe(2);
    s.complete(1, "one");
    s.complete(0);
    const c = s.next()!;
    const d = s.next()!;
    expect([c.block.id, d.block.id]).toEqual([2, 3]);
    expect(s.next()).toBeUndefined();
    expect(s.finished).toBe(false);
    s.complete(3, { n: 3 });
    s.complete(2, 2);
    expect(s.finished).toBe(true);
    expect(s.succeeded).toBe(true);
    expect(s.counts).toEqual({ total: 4, pending: 0, running: 0, done: 4, failed: 0, skipped: 0 });
    expect([...s.values]).toEqual([
      [1, "one"],
      [3, { n: 3 }],
      [2, 2],
    ]);
  });

  it("retries a failed block before new ones, up to the retry budget, then halts", () => {
    const s = new BlockScheduler(blocks, { retries: 2 });
    expect(s.next()!.block.id).toBe(0);
    expect(s.next()!.block.id).toBe(1);
    expect(s.fail(0, new Error("x"))).toBe("retry");
    expect(s.stateOf(0)).toBe("pending");
    expect(s.next()).toMatchObject({ block: { id: 0 }, attempt: 2 });
    expect(s.fail(0, new Error("y"))).toBe("retry");
    expect(s.next()).toMatchObject({ block: { id: 0 }, attempt: 3 });
    const last = new Error("z");
    expect(s.fail(0, last)).toBe("failed");
    expect(s.stateOf(0)).toBe("failed");
    expect(s.isHalted).toBe(true);
    expect(s.next()).toBeUndefined(); // no new blocks after a final failure
    expect(s.finished).toBe(false); // block 1 still runs
    s.complete(1);
    expect(s.finished).toBe(true);
    expect(s.succeeded).toBe(false);
    expect(s.failures).toEqual([{ block: blocks[0], error: last, attempts: 3 }]);
    expect(s.counts).toMatchObject({ done: 1, failed: 1, pending: 2, running: 0 });
  });

  it("with retries 0 the first failure is final", () => {
    const s = new BlockScheduler(blocks, { retries: 0 });
    s.next();
    expect(s.fail(0, "bad")).toBe("failed");
    expect(s.attemptsOfBlock(0)).toBe(1);
  });

  it("skips blocks already done, keeping their values", () => {
    const s = new BlockScheduler(blocks, {
      alreadyDone: new Map<number, unknown>([
        [1, { v: 1 }],
        [2, undefined],
        [99, 0],
      ]),
    });
    expect(s.counts).toMatchObject({ total: 4, pending: 2, skipped: 2 });
    expect(s.stateOf(1)).toBe("skipped");
    expect(s.next()!.block.id).toBe(0);
    expect(s.next()!.block.id).toBe(3);
    expect(s.next()).toBeUndefined();
    s.complete(0);
    s.complete(3);
    expect(s.succeeded).toBe(true);
    expect(s.values.get(1)).toEqual({ v: 1 });
    const all = new BlockScheduler(blocks, { alreadyDone: [0, 1, 2, 3] });
    expect(all.finished).toBe(true);
    expect(all.next()).toBeUndefined();
  });

  it("halt stops new blocks; failures after halt are final", () => {
    const s = new BlockScheduler(blocks);
    s.next();
    s.halt();
    expect(s.next()).toBeUndefined();
    expect(s.fail(0, "aborted")).toBe("failed");
    expect(s.finished).toBe(true);
  });

  it("rejects transitions of blocks that are not running", () => {
    const s = new BlockScheduler(blocks);
    expect(() => s.complete(0)).toThrow(/block 0: it is pending, not running/);
    s.next();
    s.complete(0);
    let caught: unknown;
    try {
      s.fail(0, "x");
    } catch (e) {
      caught = e;
    }
    expect(isOrganelleError(caught, "InvalidArgument")).toBe(true);
    expect(() => s.complete(42)).toThrow(/not part of this job/);
    expect(() => new BlockScheduler([blocks[0]!, blocks[0]!])).toThrow(/occurs twice/);
    expect(() => new BlockScheduler(blocks, { retries: -1 })).toThrow(/retries/);
  });
});
