import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord } from "../src/core/coordinate.ts";
import { makeTinyCell } from "../src/learn/testing/datasets.ts";
import { BIN, expectOneLineError, organelle, tempDir } from "./helpers/cli.ts";

/*
 * `organelle train`, `finetune` and `models` through the bundled CLI on a tiny cell: a typo in the
 * configuration is one line naming the key; a run killed with SIGKILL and started again ends with the
 * very weights of an uninterrupted run; fine-tuning reports F1 before and after; models lists the runs.
 */

const tmp = tempDir("organelle-train-e2e-");
const ball = (z: number, y: number, x: number) =>
  (z - 10) ** 2 + (y - 12) ** 2 + (x - 14) ** 2 < 36 || (z - 19) ** 2 + (y - 17) ** 2 + (x - 8) ** 2 < 25
    ? 1
    : 0;

function writeConfig(name: string, runDir: string, dataset: string, steps: number): string {
  const file = path.join(tmp.dir, name);
  fs.writeFileSync(
    file,
    `organelle: mito
model: { preset: tiny, input_shape: [20, 20, 20] }
run_dir: ${runDir}
seed: 3
training: { steps: ${steps}, checkpoint_every: 2, validate_every: 4, learning_rate: 0.001 }
sources: [{ dataset: ${dataset} }]
validation: [{ dataset: ${dataset} }]
engine: { device: cpu }
`,
  );
  return file;
}

function lastDigest(runDir: string): string {
  const lines = fs
    .readFileSync(path.join(tmp.dir, runDir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  return lines.filter((r) => r.type === "checkpoint").at(-1).digest;
}

beforeAll(async () => {
  const rois = [
    { name: "t1", role: "training" as const, begin: coord(0, 0, 0), shape: coord(28, 28, 18) },
    { name: "v1", role: "validation" as const, begin: coord(0, 0, 18), shape: coord(28, 28, 10) },
  ];
  await makeTinyCell(path.join(tmp.dir, "a.zarr"), coord(28, 28, 28), {
    raw: (z, y, x) => (ball(z, y, x) ? 170 : 90) + ((z * 7 + y * 13 + x * 17) % 9),
    labels: ball,
    rois,
  });
  // the same cell with lower contrast and more noise: a target for fine-tuning
  await makeTinyCell(path.join(tmp.dir, "b.zarr"), coord(28, 28, 28), {
    raw: (z, y, x) => (ball(z, y, x) ? 140 : 110) + ((z * 11 + y * 5 + x * 23) % 25),
    labels: ball,
    rois,
  });
});
afterAll(() => tmp.cleanup());

describe("organelle train / finetune / models (CLI)", () => {
  it("rejects a typo in the configuration with one line naming the key", () => {
    const file = writeConfig("typo.yaml", "run-typo", "a.zarr", 4);
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("learning_rate", "lerning_rate"));
    const line = expectOneLineError(organelle(["train", file]));
    expect(line).toContain("unknown key 'lerning_rate' in training; did you mean 'learning_rate'?");
  });

  it("continues after SIGKILL to the weights of an uninterrupted run", async () => {
    const full = organelle(["train", writeConfig("full.yaml", "run-full", "a.zarr", 10)]);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toMatch(/best checkpoint by validation F1: step \d+/);
    const file = writeConfig("killed.yaml", "run-killed", "a.zarr", 10);
    const child = spawn(process.execPath, [BIN, "train", file], {
      cwd: tmp.dir,
      env: { ...process.env, ORGANELLE_QUIET: "1" },
      stdio: "ignore",
    });
    const first = path.join(tmp.dir, "run-killed", "checkpoints", "step-00000004.pt");
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(first) && Date.now() < deadline && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(fs.existsSync(first)).toBe(true);
    const resumed = organelle(["train", file], { cwd: tmp.dir });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/resumed from step \d+/);
    expect(lastDigest("run-killed")).toBe(lastDigest("run-full"));
  });

  it("fine-tunes on another cell and reports F1 before and after", () => {
    const file = writeConfig("ft.yaml", "run-ft", "b.zarr", 4);
    const r = organelle(["finetune", "--from", path.join(tmp.dir, "run-full"), file, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.from.step).toBeGreaterThan(0);
    expect(typeof out.before).toBe("number");
    expect(typeof out.after).toBe("number");
    const run = JSON.parse(fs.readFileSync(path.join(tmp.dir, "run-ft", "run.json"), "utf8"));
    expect(run.from.step).toBe(out.from.step);
    const bad = organelle(["finetune", "--from", `${path.join(tmp.dir, "run-full")}:3`, file]);
    expect(expectOneLineError(bad)).toMatch(/has no checkpoint at step 3; it has 2, 4, 6, 8, 10/);
  });

  it("lists runs with their checkpoints and validation scores", () => {
    const r = organelle(["models", tmp.dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /run-full {2}mito {2}tiny 20x20x20 -> 4x4x4 {2}10 steps {2}best \d+ \(F1 [\d.]+\)/,
    );
    expect(r.stdout).toMatch(/run-ft .*fine-tuned from .*run-full:\d+/);
    expect(r.stdout).toContain("start     F1");
    expect(r.stdout).toMatch(/\n {2}4 {10}/);
  });
});
