import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isOrganelleError } from "../core/errors.ts";
import { tempDir } from "../engine/testing.ts";
import { checkpointPath, RUN_JSON } from "../learn/run-dir.ts";
import { getModelPreset, specToJson } from "../learn/unet-spec.ts";
import { checkCheckpointFile, resolveModel, safeName, TRAINING_NORMALIZATION } from "./model-ref.ts";

/* Model references without running an engine: layouts, choices and one-line errors. */

const tmp = tempDir("organelle-model-ref-");
afterAll(() => tmp.cleanup());

// The smallest archive torch.load would open as a zip: a local header and an end-of-central-directory record.
const ZIP = Buffer.concat([
  Buffer.from("PK\x03\x04", "latin1"),
  Buffer.alloc(26),
  Buffer.from("PK\x05\x06", "latin1"),
  Buffer.alloc(18),
]);
const spec = specToJson(getModelPreset("tiny").spec);

function makeRun(name: string, steps: number[], metrics = ""): string {
  const dir = path.join(tmp.dir, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const s of steps) {
    fs.mkdirSync(path.dirname(checkpointPath(dir, s)), { recursive: true });
    fs.writeFileSync(checkpointPath(dir, s), Buffer.concat([ZIP, Buffer.from(String(s))]));
  }
  fs.writeFileSync(
    path.join(dir, RUN_JSON),
    JSON.stringify({ organelle: "mito", model: { spec }, voxelSize: [5.2, 4, 4] }),
  );
  fs.writeFileSync(path.join(dir, "metrics.jsonl"), metrics);
  return dir;
}

const val = (step: number, f1: number) =>
  `${JSON.stringify({ type: "validation", step, loss: 1 / f1, f1, precision: f1, recall: f1, seconds: 1, rois: [] })}\n${JSON.stringify({ type: "checkpoint", step, file: "x", digest: "d" })}\n`;

describe("resolveModel", () => {
  it("takes a run's best checkpoint by validation F1, or the step asked for", async () => {
    const dir = makeRun("mito small", [100, 200, 300], val(100, 0.5) + val(200, 0.8) + val(300, 0.7));
    const m = await resolveModel(dir);
    expect(m.name).toBe("mito_small-step200");
    expect(m.checkpoint).toBe(checkpointPath(dir, 200));
    expect(m.organelle).toBe("mito");
    expect([...m.voxelSize]).toEqual([5.2, 4, 4]);
    expect(m.channel).toBe(1);
    expect(m.normalization).toEqual(TRAINING_NORMALIZATION);
    expect(m.digest).toMatch(/^[0-9a-f]{16}$/);
    expect((await resolveModel(`${dir}:300`)).name).toBe("mito_small-step300");
    expect((await resolveModel(checkpointPath(dir, 100))).name).toBe("mito_small-step100");
    await expect(resolveModel(`${dir}:7`)).rejects.toThrow(
      /has no checkpoint at step 7; it has 100, 200, 300$/,
    );
  });

  it("takes the latest checkpoint of a run never validated", async () => {
    expect((await resolveModel(makeRun("plain", [5, 10]))).name).toBe("plain-step10");
    await expect(resolveModel(makeRun("empty", []))).rejects.toThrow(/has no checkpoints \(train it first\)/);
  });

  it("reads a model package and an ONNX file with its description", async () => {
    const dir = path.join(tmp.dir, "pkg");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "net.onnx"), "graph");
    const desc = {
      format: "organelle-model",
      version: 1,
      name: "er 1",
      organelle: "er",
      spec,
      voxelSize: [8, 8, 8],
      normalization: { scale: 1, shift: 0 },
      onnx: { file: "net.onnx", inputShape: [36, 36, 36], channels: [1] },
    };
    fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(desc));
    const m = await resolveModel(dir);
    expect(m.name).toBe("er_1");
    expect(m.checkpoint).toBeUndefined();
    expect(m.onnx).toEqual({ file: path.join(dir, "net.onnx"), inputShape: [36, 36, 36], channels: [1] });
    expect(m.normalization).toEqual({ scale: 1, shift: 0, padding: 0.5 });
    expect((await resolveModel(path.join(dir, "net.onnx"))).organelle).toBe("er");
    fs.writeFileSync(
      path.join(dir, "model.json"),
      JSON.stringify({ ...desc, onnx: { ...desc.onnx, channels: [0] } }),
    );
    await expect(resolveModel(dir)).rejects.toThrow(/does not output channel 1, the organelle's probability/);
    fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify({ ...desc, format: "other" }));
    await expect(resolveModel(dir)).rejects.toThrow(/not an organelle model description/);
  });

  it("refuses what it cannot use, in one line", async () => {
    const loose = path.join(tmp.dir, "loose.pt");
    fs.writeFileSync(loose, ZIP);
    await expect(resolveModel(loose)).rejects.toThrow(/a checkpoint outside a training run directory/);
    await expect(resolveModel(path.join(tmp.dir, "nowhere"))).rejects.toThrow(
      /no such run directory, model package or file/,
    );
    fs.mkdirSync(path.join(tmp.dir, "bare"));
    await expect(resolveModel(path.join(tmp.dir, "bare"))).rejects.toThrow(
      /neither a training run \(no run\.json\) nor a model package/,
    );
    const cut = path.join(tmp.dir, "cut.pt");
    fs.writeFileSync(cut, ZIP.subarray(0, 20));
    const e = (() => {
      try {
        checkCheckpointFile(cut);
      } catch (err) {
        return err;
      }
    })();
    expect(isOrganelleError(e, "InvalidData")).toBe(true);
    expect((e as Error).message).toMatch(/cut\.pt: not a PyTorch checkpoint \(truncated; 20 bytes\)/);
    fs.writeFileSync(cut, "hello world");
    expect(() => checkCheckpointFile(cut)).toThrow(/\(unknown format; 11 bytes\)/);
  });

  it("keeps output names to safe characters", () => {
    expect(safeName("run 1/../x")).toBe("run_1_.._x");
  });
});
