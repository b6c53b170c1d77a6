import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isOrganelleError } from "../core/errors.ts";
import { Volume } from "../store/volume.ts";
import { readJournal } from "./journal.ts";
import { RESUME_ARRAY, RESUME_SHAPE } from "./testing/resume-job.ts";
import { fillValue } from "./testing/test-tasks.ts";

const SCRIPT = fileURLToPath(new URL("./testing/resume-job.ts", import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const BLOCKS = 12;
const DELAY_MS = 120;

interface JobOutput {
  blocks: number;
  skipped: number;
  processed: number;
  sums: [number, number][];
  journal: string;
}

const children = new Set<ChildProcess>();
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-resume-"));
});
afterEach(() => {
  for (const c of children) c.kill("SIGKILL");
  children.clear();
  fs.rmSync(dir, { recursive: true, force: true });
});

function start(
  dataset: string,
  mode: string,
): {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
} {
  const child = spawn(process.execPath, ["--import", TSX, SCRIPT, dataset, mode, String(DELAY_MS)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>(
    (resolve) =>
      child.on("exit", (code, signal) => {
        children.delete(child);
        resolve({ code, signal, stdout, stderr });
      }),
  );
  return { child, done };
}

async function runToEnd(dataset: string, mode: string): Promise<JobOutput> {
  const r = await start(dataset, mode).done;
  if (r.code !== 0) throw new Error(`resume-job exited with ${r.code ?? r.signal}: ${r.stderr}`);
  return JSON.parse(r.stdout) as JobOutput;
}

/** Journaled block lines (complete lines after the header) of the dataset's only job journal. */
function journaledBlocks(dataset: string): number {
  const jobs = path.join(dataset, ".organelle", "jobs");
  if (!fs.existsSync(jobs)) return 0;
  const files = fs.readdirSync(jobs);
  if (files.length === 0) return 0;
  const text = fs.readFileSync(path.join(jobs, files[0]!), "utf8");
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter((l) => l.startsWith('{"id"')).length;
}

/** Every file under an array, by relative path, for byte comparison. */
function filesOf(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(root, p), fs.readFileSync(p));
    }
  };
  walk(root);
  return out;
}

describe.each(["workers", "in-process"])("resume after SIGKILL (%s runner)", (mode) => {
  it("skips journaled blocks and ends byte-identical to an uninterrupted run", async () => {
    const reference = path.join(dir, "reference.zarr");
    const ref = await runToEnd(reference, mode);
    expect(ref).toMatchObject({ blocks: BLOCKS, skipped: 0, processed: BLOCKS });

    // Kill the run once some, but not all, blocks are journaled.
    const killed = path.join(dir, "killed.zarr");
    const { child, done } = start(killed, mode);
    const deadline = Date.now() + 60_000;
    while (journaledBlocks(killed) < 3) {
      if (Date.now() > deadline) throw new Error("the job journaled nothing within 60 s");
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill("SIGKILL");
    const exit = await done;
    expect(exit.signal).toBe("SIGKILL");
    const journaled = journaledBlocks(killed);
    expect(journaled).toBeGreaterThanOrEqual(3);
    expect(journaled).toBeLessThan(BLOCKS);
    // The interrupted output does not look complete.
    let incomplete: unknown;
    try {
      await Volume.open(killed, RESUME_ARRAY);
    } catch (e) {
      incomplete = e;
    }
    expect(isOrganelleError(incomplete, "Incomplete")).toBe(true);

    // Same command again: only the blocks that were not journaled run.
    const resumed = await runToEnd(killed, mode);
    expect(resumed.skipped).toBe(journaled);
    expect(resumed.processed).toBe(BLOCKS - journaled);
    // Values of skipped blocks come back from the journal.
    expect(resumed.sums.sort((a, b) => a[0] - b[0])).toEqual(ref.sums.sort((a, b) => a[0] - b[0]));
    expect((await readJournal(resumed.journal))?.finished).toBe(true);

    const a = filesOf(path.join(reference, RESUME_ARRAY));
    const b = filesOf(path.join(killed, RESUME_ARRAY));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    expect(a.size).toBeGreaterThan(BLOCKS);
    for (const [name, bytes] of a) expect(b.get(name)!.equals(bytes), name).toBe(true);

    const vol = await Volume.open(killed, RESUME_ARRAY);
    const data = await vol.readBox({ begin: [0, 0, 0], shape: RESUME_SHAPE });
    let wrong = 0;
    let i = 0;
    for (let z = 0; z < RESUME_SHAPE[0]; z++)
      for (let y = 0; y < RESUME_SHAPE[1]; y++)
        for (let x = 0; x < RESUME_SHAPE[2]; x++) if (data[i++] !== fillValue(z, y, x)) wrong++;
    expect(wrong).toBe(0);
  });
});
