import * as fs from "node:fs";
import * as path from "node:path";
import { fromFsError, invalidArgument, invalidData } from "../core/errors.ts";

export { jobKey } from "./job-key.ts";

/**
 * The resume journal of one block-wise job: a JSON-lines file whose first line is a header naming the
 * job (its key), followed by one line per finished block, `{"id":7,"v":<value>}`, appended only after
 * that block's outputs were written, and finally `{"finished":true}` when every block is done. A kill
 * mid-append leaves at most one unterminated last line, which is dropped on the next open (that
 * block simply runs again).
 */
export interface JournalHeader {
  readonly organelle: "blockwise-journal";
  readonly version: 1;
  /** jobKey(spec, task): a journal is only reused by the same function, spec and parameters. */
  readonly key: string;
  readonly task: string;
  readonly fn: string;
  /** Number of blocks in the plan (informative). */
  readonly blocks: number;
  readonly created: string;
}

/** How every journal starts: JSON.stringify writes the header's keys in this order. */
const HEADER_PREFIX = '{"organelle":"blockwise-journal"';

export interface JournalContents {
  readonly header: JournalHeader;
  /** Finished block ids with their values (undefined when the block returned none). */
  readonly done: ReadonlyMap<number, unknown>;
  readonly finished: boolean;
}

export interface JournalOptions {
  /** fsync after this many appended blocks (default 64)... */
  syncEvery?: number;
  /** ...or when this many ms passed since the last fsync (default 1000), whichever comes first. */
  syncIntervalMs?: number;
}

/** Where a dataset keeps the journal of a job: `<dataset>/.organelle/jobs/<key>.jsonl`. */
export function jobJournalPath(datasetPath: string, key: string): string {
  return path.join(datasetPath, ".organelle", "jobs", `${key}.jsonl`);
}

/** Reads a journal without modifying it; undefined when the file does not exist. */
export async function readJournal(file: string): Promise<JournalContents | undefined> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return undefined;
    throw fromFsError(e, file, "reading the block journal");
  }
  const parsed = parseJournal(file, text);
  if (!parsed.header) {
    throw invalidData(
      `${file}: the block journal has no header (interrupted while being created); remove it`,
    );
  }
  return { header: parsed.header, done: parsed.done, finished: parsed.finished };
}

/** Appends the finished marker to an existing journal and makes it durable. */
export async function markJobFinished(file: string): Promise<void> {
  const contents = await readJournal(file);
  if (!contents) throw invalidArgument(`${file}: no block journal to mark finished`);
  if (contents.finished) return;
  const j = await Journal.open(file, contents.header);
  await j.markFinished();
  await j.close();
}

export class Journal {
  readonly file: string;
  readonly header: JournalHeader;
  /** Blocks recorded by earlier runs when the journal was opened. */
  readonly done: ReadonlyMap<number, unknown>;
  private finishedFlag: boolean;
  private handle: fs.promises.FileHandle | undefined;
  private readonly syncEvery: number;
  private readonly syncIntervalMs: number;
  private unsynced = 0;
  private lastSync = Date.now();
  /** Appends and syncs run one after another, in call order. */
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    file: string,
    header: JournalHeader,
    done: ReadonlyMap<number, unknown>,
    finished: boolean,
    handle: fs.promises.FileHandle,
    options: JournalOptions,
  ) {
    this.file = file;
    this.header = header;
    this.done = done;
    this.finishedFlag = finished;
    this.handle = handle;
    this.syncEvery = options.syncEvery ?? 64;
    this.syncIntervalMs = options.syncIntervalMs ?? 1000;
  }

  /**
   * Opens the journal at `file`, creating it (and its directory) when missing. An existing journal
   * of another job (different key) is an error: reusing it would skip blocks that were never
   * written by this job.
   */
  static async open(
    file: string,
    job: Pick<JournalHeader, "key" | "task" | "fn" | "blocks">,
    options: JournalOptions = {},
  ): Promise<Journal> {
    let text: string | undefined;
    try {
      text = await fs.promises.readFile(file, "utf8");
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw fromFsError(e, file, "reading the block journal");
    }
    const parsed = text === undefined ? undefined : parseJournal(file, text);
    if (text && !parsed?.header && !HEADER_PREFIX.startsWith(text.slice(0, HEADER_PREFIX.length))) {
      throw invalidData(
        `${file}: exists and is not a block journal; remove it or choose another journal path`,
      );
    }
    try {
      if (parsed?.header) {
        if (parsed.header.key !== job.key) {
          throw invalidArgument(
            `${file}: this journal belongs to another job (task '${parsed.header.task}', key ${parsed.header.key}), not to task '${job.task}' (key ${job.key}); remove the journal or write to a new output`,
          );
        }
        if (parsed.validLength < Buffer.byteLength(text!))
          await fs.promises.truncate(file, parsed.validLength);
        const handle = await fs.promises.open(file, "a");
        return new Journal(file, parsed.header, parsed.done, parsed.finished, handle, options);
      }
      // Missing, or killed before its header was complete (then nothing else was recorded either).
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      const header: JournalHeader = {
        organelle: "blockwise-journal",
        version: 1,
        key: job.key,
        task: job.task,
        fn: job.fn,
        blocks: job.blocks,
        created: new Date().toISOString(),
      };
      const handle = await fs.promises.open(file, "w");
      await handle.write(`${JSON.stringify(header)}\n`);
      await handle.datasync();
      return new Journal(file, header, new Map(), false, handle, options);
    } catch (e) {
      throw fromFsError(e, file, "opening the block journal");
    }
  }

  get finished(): boolean {
    return this.finishedFlag;
  }

  /**
   * Records a block as done; call only after its outputs were written. `value` must be
   * JSON-serialisable (undefined is allowed and not stored).
   */
  append(id: number, value?: unknown): Promise<void> {
    let line: string;
    try {
      line = value === undefined ? `{"id":${id}}\n` : `{"id":${id},"v":${JSON.stringify(value)}}\n`;
    } catch (e) {
      return Promise.reject(
        invalidArgument(
          `task '${this.header.task}' block ${id} returned a value that is not JSON-serialisable (${(e as Error).message}); return small plain values`,
          e,
        ),
      );
    }
    return this.enqueue(async (h) => {
      await h.write(line);
      this.unsynced++;
      if (this.unsynced >= this.syncEvery || Date.now() - this.lastSync >= this.syncIntervalMs) {
        await this.syncNow(h);
      }
    });
  }

  /** Makes every appended line durable (fsync). */
  sync(): Promise<void> {
    return this.enqueue((h) => (this.unsynced > 0 ? this.syncNow(h) : Promise.resolve()));
  }

  /** Appends the finished marker: every block of the job is done. */
  markFinished(): Promise<void> {
    if (this.finishedFlag) return this.sync();
    return this.enqueue(async (h) => {
      await h.write(`{"finished":true,"at":"${new Date().toISOString()}"}\n`);
      await this.syncNow(h);
      this.finishedFlag = true;
    });
  }

  async close(): Promise<void> {
    const h = this.handle;
    if (!h) return;
    await this.sync();
    this.handle = undefined;
    await h.close();
  }

  private async syncNow(h: fs.promises.FileHandle): Promise<void> {
    await h.datasync();
    this.unsynced = 0;
    this.lastSync = Date.now();
  }

  private enqueue(op: (h: fs.promises.FileHandle) => Promise<void>): Promise<void> {
    const run = this.queue.then(() => {
      const h = this.handle;
      if (!h) throw invalidArgument(`${this.file}: the block journal is closed`);
      return op(h).catch((e) => {
        throw fromFsError(e, this.file, "writing the block journal");
      });
    });
    // A failed write must not block later ones from reporting their own error.
    this.queue = run.catch(() => undefined);
    return run;
  }
}

interface Parsed {
  header: JournalHeader | undefined;
  done: Map<number, unknown>;
  finished: boolean;
  /** Bytes up to the end of the last complete line. */
  validLength: number;
}

function parseJournal(file: string, text: string): Parsed {
  const done = new Map<number, unknown>();
  let finished = false;
  const end = text.lastIndexOf("\n") + 1;
  const complete = text.slice(0, end);
  const lines = complete.split("\n");
  lines.pop(); // after the final newline
  if (lines.length === 0) return { header: undefined, done, finished, validLength: 0 };
  const header = parseLine(file, lines[0]!, 1) as Partial<JournalHeader> | null;
  if (header?.organelle !== "blockwise-journal" || typeof header.key !== "string") {
    throw invalidData(`${file}: not a block journal (first line is not a journal header); remove it`);
  }
  if (header.version !== 1) {
    throw invalidData(`${file}: block journal version ${header.version} is not supported; remove it`);
  }
  for (let i = 1; i < lines.length; i++) {
    const rec = parseLine(file, lines[i]!, i + 1) as { id?: unknown; v?: unknown; finished?: unknown } | null;
    if (rec && rec.finished === true) finished = true;
    else if (rec && typeof rec.id === "number" && Number.isInteger(rec.id)) done.set(rec.id, rec.v);
    else throw invalidData(`${file}: line ${i + 1} is not a block record; the journal is damaged, remove it`);
  }
  return { header: header as JournalHeader, done, finished, validLength: Buffer.byteLength(complete) };
}

function parseLine(file: string, line: string, n: number): unknown {
  try {
    return JSON.parse(line);
  } catch (e) {
    throw invalidData(`${file}: line ${n} is not valid JSON; the journal is damaged, remove it`, e);
  }
}
