import * as fs from "node:fs";
import * as path from "node:path";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { startTestEngine, TINY_SPEC } from "../engine/testing.ts";
import { checkpointPath, RUN_JSON, type RunInfo } from "../learn/run-dir.ts";
import { nearestValidInput, outputShape } from "../learn/shapes.ts";
import { specFromJson, specToJson } from "../learn/unet-spec.ts";

/*
 * Test models for prediction: a training run directory (run.json + one checkpoint) holding a tiny U-Net
 * with seeded random weights, made by the real torch engine. No training: prediction and its seams do
 * not care whether the weights are good.
 */

export interface TinyRunOptions {
  readonly seed?: number;
  readonly organelle?: string;
  readonly voxelSize?: Coordinate;
  readonly step?: number;
  readonly spec?: object;
}

export async function makeTinyRun(runDir: string, o: TinyRunOptions = {}): Promise<string> {
  const spec = specFromJson(o.spec ?? TINY_SPEC);
  const input = nearestValidInput(spec, coord(20, 20, 20), "up");
  const step = o.step ?? 1;
  const engine = await startTestEngine();
  try {
    const m = await engine.createModel(specToJson(spec), input, { seed: o.seed ?? 1 });
    await engine.saveCheckpoint(checkpointPath(runDir, step), { format: "organelle-test" });
    const info: RunInfo = {
      organelle: o.organelle ?? "mito",
      created: new Date(0).toISOString(),
      git: { commit: null, dirty: null },
      model: {
        preset: null,
        spec: specToJson(spec),
        inputShape: [...input],
        outputShape: [...outputShape(spec, input)],
        parameters: m.parameters,
      },
      voxelSize: [...(o.voxelSize ?? coord(10, 10, 10))],
      engine: null,
    };
    fs.writeFileSync(path.join(runDir, RUN_JSON), `${JSON.stringify(info, null, 2)}\n`);
  } finally {
    await engine.close();
  }
  return runDir;
}
