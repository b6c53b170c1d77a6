/**
 * What the network trains on against what it predicts on, measured on real training batches (the
 * BatchMaker of `organelle train`, same sampler and engine augmentation). Numbers in bench/README-train.md.
 *
 *   npx tsx bench/train-augment-gap.ts noise CONFIG [linear|nearest]
 *     12 batches without and with elastic augmentation: RMS of neighbouring-voxel differences of raw (how
 *     much noise survives the resampling) and the raw contrast inside minus outside the labels at label
 *     shifts of up to 2 voxels (the maximum at 0,0,0 means labels and raw stay aligned).
 *   npx tsx bench/train-augment-gap.ts eval CONFIG CHECKPOINT
 *     precision/recall/F1 at 0.5 of the checkpoint in prediction (eval) mode on 10 training batches,
 *     un-augmented and augmented: with batch normalisation at batch size 1 the second shows how far the
 *     running statistics are from the per-block statistics the network trained with.
 */
import { Rng } from "../src/core/random.ts";
import type { TorchEngine } from "../src/engine/index.ts";
import { startTestEngine } from "../src/engine/testing.ts";
import { BatchMaker } from "../src/learn/batch.ts";
import { ChunkCache } from "../src/learn/chunk-cache.ts";
import { type AugmentConfig, loadTrainConfig, type TrainConfig } from "../src/learn/config.ts";
import { Sampler } from "../src/learn/sampling.ts";
import { networkShape } from "../src/learn/shapes.ts";
import { openSource } from "../src/learn/sources.ts";

async function batchMaker(cfg: TrainConfig, augment: AugmentConfig, engine: TorchEngine, seed: number) {
  const sources = await Promise.all(
    cfg.sources.map((s) => openSource(s, cfg.voxelSize, new ChunkCache(512 * 2 ** 20))),
  );
  const shape = networkShape(cfg.model.spec, cfg.model.inputShape);
  const setup = {
    sources,
    sampler: new Sampler(sources, shape.output, cfg.sampling),
    engine,
    shape,
    augment,
    batchSize: 1,
    foregroundFraction: null,
    balance: true,
  };
  return { shape, maker: new BatchMaker(setup, Rng.seeded(seed, "sampling"), Rng.seeded(seed, "augment")) };
}

async function noise(cfg: TrainConfig, interpolation: "linear" | "nearest", engine: TorchEngine) {
  for (const elastic of [false, true]) {
    const augment = {
      ...cfg.augment,
      elastic: { ...cfg.augment.elastic, enabled: elastic, rawInterpolation: interpolation },
    };
    const { shape, maker } = await batchMaker(cfg, augment, engine, 5);
    const [I, O, C] = [shape.input, shape.output, shape.contextBefore];
    const contrast = new Map<string, number>();
    let rms = 0;
    const batches = 12;
    for (let b = 0; b < batches; b++) {
      const batch = await maker.make(b + 1);
      const raw = batch.raw.data as Float32Array;
      const lab = batch.labels.data as Uint8Array;
      const w = batch.weights.data as Float32Array;
      for (const [dz, dy, dx] of SHIFTS) {
        let inside = 0;
        let nIn = 0;
        let outside = 0;
        let nOut = 0;
        for (let z = 2; z < O[0] - 2; z++)
          for (let y = 2; y < O[1] - 2; y++)
            for (let x = 2; x < O[2] - 2; x++) {
              const i = (z * O[1] + y) * O[2] + x;
              if (w[i] === 0) continue;
              const r = raw[((z + C[0] + dz) * I[1] + (y + C[1] + dy)) * I[2] + (x + C[2] + dx)]!;
              if (lab[i]) {
                inside += r;
                nIn++;
              } else {
                outside += r;
                nOut++;
              }
            }
        if (nIn > 100) {
          const k = `${dz},${dy},${dx}`;
          contrast.set(k, (contrast.get(k) ?? 0) + (outside / nOut - inside / nIn) / batches);
        }
      }
      let d = 0;
      let n = 0;
      for (let i = 1; i < raw.length; i++) {
        if (i % I[2] === 0) continue;
        d += (raw[i]! - raw[i - 1]!) ** 2;
        n++;
      }
      rms += Math.sqrt(d / n) / batches;
    }
    const best = [...contrast].sort((a, b) => b[1] - a[1]);
    console.log(
      `elastic ${elastic ? `on (${interpolation})` : "off"}: neighbour-difference RMS ${rms.toFixed(4)}; ` +
        `contrast by label shift, best first: ${best
          .slice(0, 4)
          .map(([k, v]) => `${k} ${v.toFixed(4)}`)
          .join(", ")}`,
    );
  }
}

/** No shift and shifts of 1 and 2 voxels along one axis. */
const SHIFTS: [number, number, number][] = [[0, 0, 0]];
for (const d of [-2, -1, 1, 2]) SHIFTS.push([d, 0, 0], [0, d, 0], [0, 0, d]);

async function evalGap(cfg: TrainConfig, checkpoint: string, engine: TorchEngine) {
  await engine.loadCheckpoint(checkpoint, { optimizer: false });
  for (const augmented of [false, true]) {
    const augment = {
      ...cfg.augment,
      mirror: augmented,
      transpose: augmented,
      elastic: { ...cfg.augment.elastic, enabled: augmented },
      intensity: { ...cfg.augment.intensity, enabled: augmented },
    };
    const { maker } = await batchMaker(cfg, augment, engine, 9);
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let b = 0; b < 10; b++) {
      const batch = await maker.make(b + 1);
      const p = (await engine.forward(batch.raw, { channels: [1] })).data as Float32Array;
      const lab = batch.labels.data as Uint8Array;
      const w = batch.weights.data as Float32Array;
      for (let i = 0; i < lab.length; i++) {
        if (w[i] === 0) continue;
        const called = p[i]! >= 0.5;
        if (called && lab[i]) tp++;
        else if (called) fp++;
        else if (lab[i]) fn++;
      }
    }
    console.log(
      `${augmented ? "augmented" : "un-augmented"} training blocks, eval mode: precision ${(tp / (tp + fp)).toFixed(3)}, recall ${(tp / (tp + fn)).toFixed(3)}, F1 ${((2 * tp) / (2 * tp + fp + fn)).toFixed(3)}`,
    );
  }
}

const [mode, file, arg] = process.argv.slice(2);
if (!file || (mode !== "noise" && mode !== "eval") || (mode === "eval" && !arg)) {
  console.error("usage: train-augment-gap.ts noise CONFIG [linear|nearest] | eval CONFIG CHECKPOINT");
  process.exit(2);
}
const cfg = loadTrainConfig(file);
const engine = await startTestEngine();
try {
  if (mode === "noise") await noise(cfg, arg === "nearest" ? "nearest" : "linear", engine);
  else await evalGap(cfg, arg!, engine);
} finally {
  await engine.close();
}
