import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Catalog, JobProgress, JobRecord } from "../catalog/catalog.ts";
import { HttpError } from "./http.ts";

/*
 * Jobs: CLI verbs run as child processes (`node dist/organelle.mjs <verb> ...args`, cwd = the served
 * directory), one at a time (the machine's cores go to the verb's own workers). Arguments are checked
 * before anything runs: only the verb's own options, and every value that names a path must resolve
 * inside the served directory (symbolic links included). Progress comes from the JSON lines the CLI's
 * Progress appends to ORGANELLE_PROGRESS_FILE; stdout and stderr make the log (last 50 lines).
 */

export const JOB_VERBS = ["predict", "evaluate", "refine", "measure", "mesh", "threshold"] as const;
export type JobVerb = (typeof JOB_VERBS)[number];

/** What a verb accepts, taken from the CLI's own definition (commander). */
export interface VerbSpec {
  /** "--long" and "-s" flags -> whether the option takes a value. */
  readonly options: ReadonlyMap<string, boolean>;
}

export interface ApiJob {
  id: string;
  verb: string;
  args: string[];
  state: JobRecord["state"];
  progress: JobProgress | null;
  log: string;
  exitCode: number | null;
  started: string | null;
  finished: string | null;
}

export function apiJob(j: JobRecord): ApiJob {
  return {
    id: j.id,
    verb: j.verb,
    args: j.args,
    state: j.state,
    progress: j.progress,
    log: j.log,
    exitCode: j.exitCode,
    started: j.started,
    finished: j.finished,
  };
}

const LOG_LINES = 50;
const MAX_ARGS = 64;

function insideDir(p: string, realDir: string): boolean {
  return p === realDir || p.startsWith(realDir + path.sep);
}

/** realpath of the nearest existing ancestor of `p`, with the rest appended (p may not exist yet). */
function realpathLenient(p: string): string {
  let cur = p;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return p;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/** Checks one argument value as a path: inside the served directory once resolved (cwd = that directory). */
function checkPathValue(value: string, realDir: string, what: string): void {
  if (value.startsWith("~"))
    throw new HttpError(400, `${what} ${JSON.stringify(value)}: '~' paths are not allowed`);
  const resolved = realpathLenient(path.resolve(realDir, value));
  if (!insideDir(resolved, realDir)) {
    throw new HttpError(400, `${what} ${JSON.stringify(value)}: outside the served directory`);
  }
}

/**
 * Validates a job request; returns the verb and arguments to run. Refuses unknown verbs, options the
 * verb does not have, and values that resolve outside the served directory.
 */
export function validateJob(
  body: unknown,
  specs: ReadonlyMap<string, VerbSpec>,
  realDir: string,
): { verb: JobVerb; args: string[] } {
  if (!body || typeof body !== "object") throw new HttpError(400, "job: expected a JSON object {verb, args}");
  const { verb, args } = body as { verb?: unknown; args?: unknown };
  if (typeof verb !== "string" || !(JOB_VERBS as readonly string[]).includes(verb)) {
    throw new HttpError(400, `job: verb must be one of ${JOB_VERBS.join(", ")}`);
  }
  const spec = specs.get(verb);
  if (!spec) throw new HttpError(400, `job: this server cannot run ${verb}`);
  if (!Array.isArray(args) || args.length > MAX_ARGS || !args.every((a) => typeof a === "string")) {
    throw new HttpError(400, `job: args must be an array of at most ${MAX_ARGS} strings`);
  }
  const list = args as string[];
  for (const a of list) {
    if (a.includes("\0") || a.length > 4096)
      throw new HttpError(400, "job: an argument holds a NUL byte or is too long");
  }
  let positional = false;
  for (let i = 0; i < list.length; i++) {
    const a = list[i]!;
    if (!positional && a === "--") {
      positional = true;
      continue;
    }
    if (!positional && a.startsWith("-") && a.length > 1 && !/^-\d/.test(a)) {
      const eq = a.indexOf("=");
      const flag = eq > 0 ? a.slice(0, eq) : a;
      const takesValue = spec.options.get(flag);
      if (takesValue === undefined)
        throw new HttpError(400, `job: ${flag} is not an option of organelle ${verb}`);
      if (!takesValue) {
        if (eq > 0) throw new HttpError(400, `job: ${flag} takes no value`);
        continue;
      }
      const value = eq > 0 ? a.slice(eq + 1) : list[++i];
      if (value === undefined) throw new HttpError(400, `job: ${flag} needs a value`);
      checkPathValue(value, realDir, `job: ${flag}`);
      continue;
    }
    checkPathValue(a, realDir, "job: argument");
  }
  return { verb: verb as JobVerb, args: list };
}

export interface JobRunnerOptions {
  readonly catalog: Catalog;
  readonly dir: string;
  /** The bundled CLI (dist/organelle.mjs). */
  readonly cliPath: string;
  /** Called after each job ends (the server re-scans the catalogue). */
  readonly onFinished?: (job: JobRecord) => void | Promise<void>;
}

/** Runs jobs one after another and reports their updates as "update" events (the job record). */
export class JobRunner extends EventEmitter {
  private readonly o: JobRunnerOptions;
  private readonly queue: string[] = [];
  private current: { id: string; child: ChildProcess } | undefined;
  private readonly tmp: string;
  private closed = false;

  constructor(o: JobRunnerOptions) {
    super();
    this.setMaxListeners(0);
    this.o = o;
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-serve-jobs-"));
    o.catalog.failUnfinishedJobs("the server that ran this job stopped");
  }

  submit(verb: string, args: string[]): JobRecord {
    const id = `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
    const job = this.o.catalog.createJob(id, verb, args);
    this.queue.push(id);
    this.emit("update", job);
    queueMicrotask(() => this.next());
    return job;
  }

  private next(): void {
    if (this.current || this.closed) return;
    const id = this.queue.shift();
    if (id === undefined) return;
    const job = this.o.catalog.getJob(id);
    if (!job) {
      this.next();
      return;
    }
    const progressFile = path.join(this.tmp, `${id}.progress.jsonl`);
    const env: NodeJS.ProcessEnv = { ...process.env, ORGANELLE_PROGRESS_FILE: progressFile };
    delete env.ORGANELLE_QUIET;
    const child = spawn(process.execPath, [this.o.cliPath, job.verb, ...job.args], {
      cwd: this.o.dir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.current = { id, child };
    const lines: string[] = [];
    let partial = { out: "", err: "" };
    const addText = (which: "out" | "err", text: string) => {
      // A TTY-style bar redraws with "\r"; keep the last state of each line.
      const all = (partial[which] + text).split("\n");
      partial = { ...partial, [which]: all.pop() ?? "" };
      for (const l of all) {
        const last = l.split("\r").filter(Boolean).pop();
        if (last !== undefined) lines.push(last);
      }
      if (lines.length > LOG_LINES) lines.splice(0, lines.length - LOG_LINES);
    };
    const log = () => [...lines, ...[partial.out, partial.err].filter(Boolean)].slice(-LOG_LINES).join("\n");
    let progressOffset = 0;
    let lastProgress: JobProgress | null = null;
    const readProgress = () => {
      let buf: Buffer;
      try {
        const fd = fs.openSync(progressFile, "r");
        try {
          const size = fs.fstatSync(fd).size;
          if (size <= progressOffset) return;
          buf = Buffer.alloc(size - progressOffset);
          fs.readSync(fd, buf, 0, buf.length, progressOffset);
        } finally {
          fs.closeSync(fd);
        }
      } catch {
        return;
      }
      const text = buf.toString("utf8");
      const end = text.lastIndexOf("\n");
      if (end < 0) return;
      progressOffset += Buffer.byteLength(text.slice(0, end + 1));
      for (const l of text.slice(0, end).split("\n")) {
        try {
          const p = JSON.parse(l) as {
            label?: string;
            done: number;
            total: number;
            rate?: number;
            etaSeconds?: number;
          };
          lastProgress = {
            done: p.done,
            total: p.total,
            ...(p.rate !== undefined ? { rate: p.rate } : {}),
            ...(p.etaSeconds !== undefined ? { etaSeconds: p.etaSeconds } : {}),
            ...(p.label ? { label: p.label } : {}),
          };
        } catch {
          // a torn line: the next read has it whole
        }
      }
    };
    const publish = () => {
      readProgress();
      this.o.catalog.updateJob(id, { progress: lastProgress, log: log() });
      this.emit("update", this.o.catalog.getJob(id));
    };
    child.stdout!.setEncoding("utf8").on("data", (t: string) => addText("out", t));
    child.stderr!.setEncoding("utf8").on("data", (t: string) => addText("err", t));
    this.o.catalog.updateJob(id, { state: "running", started: new Date().toISOString() });
    this.emit("update", this.o.catalog.getJob(id));
    const timer = setInterval(publish, 500);
    const finish = async (code: number | null, error?: string) => {
      clearInterval(timer);
      if (error) addText("err", `${error}\n`);
      readProgress();
      fs.rmSync(progressFile, { force: true });
      this.o.catalog.updateJob(id, {
        state: code === 0 ? "done" : "failed",
        exitCode: code,
        progress: lastProgress,
        log: log(),
        finished: new Date().toISOString(),
      });
      this.current = undefined;
      const done = this.o.catalog.getJob(id)!;
      try {
        await this.o.onFinished?.(done);
      } catch {
        // a failed re-scan does not change the job's outcome
      }
      this.emit("update", done);
      this.next();
    };
    let ended = false;
    child.on("error", (e) => {
      if (ended) return;
      ended = true;
      void finish(null, `could not start the CLI: ${e.message}`);
    });
    child.on("close", (code, signal) => {
      if (ended) return;
      ended = true;
      void finish(code ?? null, signal ? `stopped by ${signal}` : undefined);
    });
  }

  /** Stops the running job (SIGTERM: verbs leave outputs resumable) and refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    for (const id of this.queue.splice(0)) {
      this.o.catalog.updateJob(id, {
        state: "failed",
        finished: new Date().toISOString(),
        log: "server stopped",
      });
    }
    const cur = this.current;
    if (cur) {
      const exited = new Promise<void>((resolve) => cur.child.once("close", () => resolve()));
      cur.child.kill("SIGTERM");
      const t = setTimeout(() => cur.child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    }
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}
