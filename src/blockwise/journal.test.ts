import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { coord } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import { Journal, jobJournalPath, jobKey, markJobFinished, readJournal } from "./journal.ts";
import type { BlockwiseTaskSpec } from "./types.ts";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-journal-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const job = { key: "k1", task: "mask", fn: "ops.mask", blocks: 10 };

async function expectError(p: Promise<unknown>, kind: "InvalidArgument" | "InvalidData", pattern: RegExp) {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(isOrganelleError(caught, kind)).toBe(true);
  expect((caught as Error).message).toMatch(pattern);
}

describe("Journal", () => {
  it("records finished blocks with their values and reads them back", async () => {
    const file = jobJournalPath(path.join(dir, "cell.zarr"), "k1");
    expect(file).toBe(path.join(dir, "cell.zarr", ".organelle", "jobs", "k1.jsonl"));
    const j = await Journal.open(file, job);
    expect(j.done.size).toBe(0);
    await j.append(3, { sum: 12, ok: true });
    await j.append(0);
    await j.append(7, [1, 2]);
    await j.close();
    const again = await Journal.open(file, job);
    expect([...again.done]).toEqual([
      [3, { sum: 12, ok: true }],
      [0, undefined],
      [7, [1, 2]],
    ]);
    expect(again.finished).toBe(false);
    await again.markFinished();
    await again.close();
    const contents = await readJournal(file);
    expect(contents?.finished).toBe(true);
    expect(contents?.header).toMatchObject({
      organelle: "blockwise-journal",
      version: 1,
      key: "k1",
      task: "mask",
    });
    expect(await readJournal(path.join(dir, "missing.jsonl"))).toBeUndefined();
  });

  it("drops a truncated last line (a kill mid-append) and appends cleanly after it", async () => {
    const file = path.join(dir, "j.jsonl");
    const j = await Journal.open(file, job);
    await j.append(0, 5);
    await j.append(1, 6);
    await j.close();
    fs.appendFileSync(file, '{"id":2,"v":{"su');
    expect([...(await readJournal(file))!.done.keys()]).toEqual([0, 1]);
    const again = await Journal.open(file, job);
    expect([...again.done.keys()]).toEqual([0, 1]);
    await again.append(2, 7);
    await again.close();
    const lines = fs.readFileSync(file, "utf8").trimEnd().split("\n");
    expect(lines.slice(1)).toEqual(['{"id":0,"v":5}', '{"id":1,"v":6}', '{"id":2,"v":7}']);
  });

  it("recreates a journal whose header was cut off", async () => {
    const file = path.join(dir, "j.jsonl");
    fs.writeFileSync(file, '{"organelle":"blockwise-jou');
    const j = await Journal.open(file, job);
    expect(j.done.size).toBe(0);
    await j.close();
    expect((await readJournal(file))!.header.key).toBe("k1");
  });

  it("refuses a journal of another job", async () => {
    const file = path.join(dir, "j.jsonl");
    await (await Journal.open(file, job)).close();
    await expectError(
      Journal.open(file, { ...job, key: "k2" }),
      "InvalidArgument",
      /belongs to another job .*remove the journal or write to a new output/,
    );
  });

  it("refuses damaged journals and files that are not journals", async () => {
    const file = path.join(dir, "j.jsonl");
    await (await Journal.open(file, job)).close();
    fs.appendFileSync(file, 'garbage\n{"id":1}\n');
    await expectError(Journal.open(file, job), "InvalidData", /line 2 is not valid JSON/);
    const other = path.join(dir, "notes.txt");
    fs.writeFileSync(other, "my notes");
    await expectError(Journal.open(other, job), "InvalidData", /not a block journal/);
    expect(fs.readFileSync(other, "utf8")).toBe("my notes");
  });

  it("rejects values that are not JSON", async () => {
    const j = await Journal.open(path.join(dir, "j.jsonl"), job);
    await expectError(j.append(1, 10n), "InvalidArgument", /block 1 returned a value that is not JSON/);
    await j.close();
  });

  it("markJobFinished marks an existing journal", async () => {
    const file = path.join(dir, "j.jsonl");
    await (await Journal.open(file, job)).close();
    await markJobFinished(file);
    await markJobFinished(file);
    expect((await readJournal(file))!.finished).toBe(true);
    expect(fs.readFileSync(file, "utf8").match(/finished/g)).toHaveLength(1);
  });
});

describe("jobKey", () => {
  const spec: BlockwiseTaskSpec = {
    name: "mask",
    totalWriteRoi: new Roi(coord(0, 0, 0), coord(40, 40, 40)),
    blockShape: coord(20, 20, 20),
    context: coord(2, 2, 2),
  };
  it("depends on function, spec and parameters, not on key order", () => {
    const k = jobKey(spec, { fn: "ops.mask", params: { a: 1, b: { c: [1, 2] } } });
    expect(k).toMatch(/^[0-9a-f]{24}$/);
    expect(jobKey({ ...spec }, { fn: "ops.mask", params: { b: { c: [1, 2] }, a: 1 } })).toBe(k);
    expect(jobKey({ ...spec, fit: "shrink" }, { fn: "ops.mask", params: { a: 1, b: { c: [1, 2] } } })).toBe(
      k,
    );
    expect(jobKey(spec, { fn: "ops.mask", params: { a: 2, b: { c: [1, 2] } } })).not.toBe(k);
    expect(jobKey(spec, { fn: "ops.other", params: { a: 1, b: { c: [1, 2] } } })).not.toBe(k);
    expect(
      jobKey({ ...spec, context: coord(2, 2, 4) }, { fn: "ops.mask", params: { a: 1, b: { c: [1, 2] } } }),
    ).not.toBe(k);
    expect(
      jobKey({ ...spec, name: "mask2" }, { fn: "ops.mask", params: { a: 1, b: { c: [1, 2] } } }),
    ).not.toBe(k);
  });
  it("counts shared memory by size, not content", () => {
    const a = new Int32Array(new SharedArrayBuffer(16));
    const k = jobKey(spec, { fn: "f", params: { a } });
    a[0] = 5;
    expect(jobKey(spec, { fn: "f", params: { a } })).toBe(k);
    expect(jobKey(spec, { fn: "f", params: { a: new Int32Array(new SharedArrayBuffer(32)) } })).not.toBe(k);
  });
});
