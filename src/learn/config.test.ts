import { describe, expect, it } from "vitest";
import { parseTrainConfig } from "./config.ts";
import { closest } from "./schema.ts";

const FILE = "/data/exp/mito.yaml";

const minimal = `
organelle: mitochondria
model: small
sources:
  - dataset: cell1.zarr
validation:
  - dataset: cell1.zarr
  - dataset: ../naive.zarr
    rois: all
`;

describe("training configuration", () => {
  it("fills in the ASEM defaults and resolves paths relative to the file", () => {
    const c = parseTrainConfig(minimal, FILE);
    expect(c.organelle).toBe("mito");
    expect(c.model.preset).toBe("small");
    expect(c.model.inputShape).toEqual([68, 68, 68]);
    expect(c.training).toMatchObject({
      batchSize: 1,
      learningRate: 3e-5,
      lrSchedule: "constant",
      weightDecay: 3e-5,
      checkpointEvery: 1000,
    });
    expect(c.sampling).toMatchObject({
      foregroundMin: 0.05,
      rejectBackgroundProbability: 0.9,
      maskMinInside: 0.75,
      rejectMaskProbability: 0.95,
    });
    expect(c.augment.elastic).toMatchObject({
      controlPointSpacing: 32,
      jitterSigma: 2,
      subsample: 4,
      rawInterpolation: "linear",
    });
    expect(c.augment.elastic.rotation[1]).toBeCloseTo(Math.PI / 2, 12);
    expect(c.augment.intensity).toMatchObject({ scale: [0.85, 1.15], shift: [-0.15, 0.15] });
    expect(c.sources[0]).toMatchObject({
      dataset: "/data/exp/cell1.zarr",
      labels: "labels/mito",
      rois: "training",
      mask: "auto",
      exclusion: "auto",
      name: "cell1",
    });
    expect(c.validation[0]!.rois).toBe("validation");
    expect(c.validation[1]).toMatchObject({ dataset: "/data/naive.zarr", rois: "all", name: "naive" });
    expect(c.runDir).toBe("/data/exp/runs/mito");
    expect((c.resolved.training as Record<string, unknown>).learning_rate).toBe(3e-5);
  });

  it("rejects a typo in a key naming it, its section and the closest valid key", () => {
    const text = `${minimal}\ntraining:\n  lerning_rate: 0.001\n`;
    expect(() => parseTrainConfig(text, FILE)).toThrow(
      "/data/exp/mito.yaml: unknown key 'lerning_rate' in training; did you mean 'learning_rate'?",
    );
    expect(() => parseTrainConfig(`${minimal}\nsampels: {}\n`, FILE)).toThrow(
      /unknown key 'sampels' in the top level; did you mean 'sampling'\?/,
    );
    expect(() => parseTrainConfig(minimal.replace("rois: all", "rios: all"), FILE)).toThrow(
      /unknown key 'rios' in validation\[1\]; did you mean 'rois'\?/,
    );
  });

  it("takes a cosine schedule and nearest raw interpolation, and names the choices of a wrong one", () => {
    const c = parseTrainConfig(
      `${minimal}training: { lr_schedule: cosine }\naugment: { elastic: { raw_interpolation: nearest } }\n`,
      FILE,
    );
    expect(c.training.lrSchedule).toBe("cosine");
    expect(c.augment.elastic.rawInterpolation).toBe("nearest");
    expect(() => parseTrainConfig(`${minimal}training: { lr_schedule: step }\n`, FILE)).toThrow(
      /training\.lr_schedule.*constant, cosine/,
    );
  });

  it("names the path of a type error", () => {
    expect(() => parseTrainConfig(`${minimal}\ntraining:\n  steps: many\n`, FILE)).toThrow(
      "/data/exp/mito.yaml: training.steps: expected a whole number, got 'many'",
    );
    expect(() =>
      parseTrainConfig(`${minimal}\naugment:\n  intensity:\n    scale: [1.2, 0.8]\n`, FILE),
    ).toThrow(/augment.intensity.scale: expected \[low, high\] with low <= high/);
    expect(() =>
      parseTrainConfig(`${minimal}\nsampling:\n  reject_background_probability: 2\n`, FILE),
    ).toThrow(/sampling.reject_background_probability: must be <= 1, got 2/);
    expect(() => parseTrainConfig(minimal.replace("model: small", "model: smal"), FILE)).toThrow(
      /model: 'smal' is not one of asem, cosem-few, small, tiny; did you mean 'small'\?/,
    );
    expect(() => parseTrainConfig("organelle: mito\n", FILE)).toThrow(/sources is missing/);
    expect(() => parseTrainConfig("organelle: [", FILE)).toThrow(/not valid YAML/);
  });

  it("accepts explicit ROIs, a spec with an input shape, and rejects an invalid input shape", () => {
    const text = `
organelle: mito
model:
  spec: { fmaps: 4, downsample: [[2, 2, 2]] }
  input_shape: [36, 36, 36]
sources:
  - dataset: a.zarr
    rois: [{ offset: [0, 0, 0], shape: [100, 200, 300] }]
    mask: none
`;
    const c = parseTrainConfig(text, "/x/c.yml");
    expect(c.model.preset).toBeNull();
    expect(c.model.spec.fmaps).toBe(4);
    expect(c.sources[0]!.mask).toBeNull();
    const rois = c.sources[0]!.rois;
    expect(Array.isArray(rois) && rois[0]!.shape).toEqual([100, 200, 300]);
    expect(() => parseTrainConfig(text.replace("[36, 36, 36]", "[37, 36, 36]"), "/x/c.yml")).toThrow(
      /model.input_shape: input shape \(37, 36, 36\) is not valid for this network: axis z/,
    );
  });

  it("reads JSON too", () => {
    const c = parseTrainConfig(
      JSON.stringify({ organelle: "mito", sources: [{ dataset: "c.zarr" }] }),
      "/j/run.json",
    );
    expect(c.model.preset).toBe("small");
    expect(c.runDir).toBe("/j/runs/run");
  });

  it("suggests only plausible keys", () => {
    expect(closest("lerning_rate", ["learning_rate", "steps"])).toBe("learning_rate");
    expect(closest("zzz", ["learning_rate", "steps"])).toBeUndefined();
  });
});
