import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = path.join(REPO, "bin", "organelle.mjs");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the bundled CLI (built by test/global-setup.ts) synchronously. */
export function organelle(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, ORGANELLE_QUIET: "1", ...(opts.env ?? {}) },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = "organelle-test-"): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The CLI's contract for bad input: exactly one line on stderr starting with "organelle:". */
export function expectOneLineError(r: CliResult): string {
  if (r.code === 0) throw new Error(`expected a non-zero exit, got 0; stdout: ${r.stdout}`);
  const lines = r.stderr.trim().split("\n");
  if (lines.length !== 1 || !lines[0]!.startsWith("organelle: ")) {
    throw new Error(`expected one 'organelle: ...' line on stderr, got:\n${r.stderr}`);
  }
  return lines[0]!;
}
