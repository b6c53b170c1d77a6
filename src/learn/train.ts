import * as fs from "node:fs";
import * as path from "node:path";
import { formatDuration } from "../blockwise/progress.ts";
import { format, scale } from "../core/coordinate.ts";
import { invalidArgument, invalidData, OrganelleError } from "../core/errors.ts";
import { Rng, type RngState } from "../core/random.ts";
import type { Engine, EngineInfo } from "../engine/engine.ts";
import { TorchEngine } from "../engine/torch-engine.ts";
import { BatchMaker, type PreparedBatch } from "./batch.ts";
import { ChunkCache } from "./chunk-cache.ts";
import { foregroundFraction } from "./class-frequency.ts";
import type { TrainConfig } from "./config.ts";
import { cpuSeconds, EngineClock, timedEngine } from "./engine-clock.ts";
import { learningRateAt } from "./lr-schedule.ts";
import { Prefetcher } from "./prefetch.ts";
import { type RunSummary, writeReport } from "./report.ts";
import {
  appendMetrics,
  checkpointPath,
  gitVersion,
  listCheckpoints,
  prepareRunDir,
  RUN_JSON,
  type RunInfo,
  readJsonFile,
  readMetrics,
  truncateMetrics,
  type ValidationRecord,
  writeFileAtomic,
} from "./run-dir.ts";
import { Sampler } from "./sampling.ts";
import { type NetworkShape, nearestValidInput, networkShape } from "./shapes.ts";
import { type OpenedSource, openSource } from "./sources.ts";
import { specsEqual, specToJson } from "./unet-spec.ts";
import { type Validation, validate } from "./validate.ts";

/*
 * The training loop (`organelle train CONFIG`). TypeScript owns it: sampling, augmentation parameters,
 * weights, checkpoints and validation; the engine runs train steps, forwards and augmentation.
 *
 * Resumable: a checkpoint stores the model, optimizer and step (engine) and, in its JSON meta, the
 * state of the random streams after the batch of that step. Running the same command again loads the
 * latest checkpoint, drops metrics logged after it and continues with exactly the batches the
 * uninterrupted run would have seen; with a deterministic engine (CPU) the weights are identical.
 */

export interface TrainOptions {
  readonly config: TrainConfig;
  /** The configuration file's text, copied into a new run directory. */
  readonly configText: string;
  /** An engine to use, as its hello answered (left open); by default one is started from the configuration and closed after. */
  readonly engine?: { readonly engine: Engine; readonly info: EngineInfo };
  /** Fine-tuning: start from these weights when the run has no checkpoint of its own yet. */
  readonly initFrom?: { readonly run: string; readonly step: number; readonly checkpoint: string };
  /** Stop after this many steps in this process (tests and benchmarks of resuming). */
  readonly stopAfter?: number;
  /** With stopAfter: also checkpoint the step stopped at (default true); false behaves like a kill. */
  readonly checkpointOnStop?: boolean;
  /** Skip validation (benchmarks of the step rate). */
  readonly noValidation?: boolean;
  readonly signal?: AbortSignal;
  /** Progress and messages (default: stderr; null: silent). */
  readonly out?: { write(text: string): void; readonly isTTY?: boolean } | null;
}

export interface TrainTiming {
  readonly steps: number;
  readonly seconds: number;
  readonly stepsPerSecond: number;
  /** Share of the loop's wall time the engine had no request to work on: it waited for data. */
  readonly engineIdleShare: number;
  /** Share of the loop's time (validation excluded) the loop waited for a batch (reading, or the engine augmenting it). */
  readonly batchWaitShare: number;
  readonly meanReadMs: number;
  readonly meanAugmentMs: number;
  readonly meanTrainStepMs: number;
  readonly validationSeconds: number;
}

export interface TrainResult {
  readonly runDir: string;
  readonly engine: EngineInfo;
  readonly shape: NetworkShape;
  readonly parameters: number;
  /** The step the run continued from (0 for a new run). */
  readonly startStep: number;
  readonly endStep: number;
  readonly resumed: boolean;
  readonly losses: readonly { readonly step: number; readonly loss: number }[];
  readonly validations: readonly ValidationRecord[];
  readonly initial: ValidationRecord | null;
  readonly lastDigest: string | null;
  readonly summary: RunSummary;
  readonly timing: TrainTiming;
  /** Stopped by `stopAfter` or the signal before the configured steps. */
  readonly stopped: boolean;
}

interface CheckpointMeta {
  readonly format: "organelle-train";
  readonly step: number;
  readonly rng: { readonly sampling: RngState; readonly augment: RngState };
  readonly seed: number;
}

async function startEngine(cfg: TrainConfig): Promise<{ engine: TorchEngine; info: EngineInfo }> {
  const engine = new TorchEngine(cfg.engine.python ? { python: cfg.engine.python } : {});
  const threads = cfg.engine.threads ? { threads: cfg.engine.threads } : {};
  try {
    let info = await engine.hello({ device: cfg.engine.device, ...threads });
    // Bit-identical resumes on the CPU, where deterministic kernels cost little; on a GPU, speed.
    if (info.device === "cpu") info = await engine.hello({ device: "cpu", deterministic: true, ...threads });
    return { engine, info };
  } catch (e) {
    await engine.close().catch(() => {});
    throw e;
  }
}

function defaultOut(): { write(text: string): void; isTTY: boolean } | null {
  if (process.env.ORGANELLE_QUIET === "1") return null;
  return { write: (t) => process.stderr.write(t), isTTY: Boolean(process.stderr.isTTY) };
}

/** Opens sources and fails early, naming the source, when a block could never be sampled. */
async function openAll(cfg: TrainConfig): Promise<{ train: OpenedSource[]; val: OpenedSource[] }> {
  const cache = cfg.training.cacheMb > 0 ? new ChunkCache(cfg.training.cacheMb * 2 ** 20) : null;
  const train = await Promise.all(cfg.sources.map((s) => openSource(s, cfg.voxelSize, cache)));
  const vs = train[0]!.voxelSize;
  for (const s of train) {
    if (format(s.voxelSize) !== format(vs)) {
      throw invalidArgument(
        `training sources have different voxel sizes (${s.name}: ${format(s.voxelSize)} nm, ${train[0]!.name}: ${format(vs)} nm); set voxel_size to train at one resolution`,
      );
    }
  }
  const val = await Promise.all(cfg.validation.map((s) => openSource(s, vs, cache)));
  return { train, val };
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  const cfg = o.config;
  const out = o.out === undefined ? defaultOut() : o.out;
  const say = (line: string) => out?.write(`${out.isTTY ? "\r\x1b[K" : ""}${line}\n`);
  const { train: sources, val: valSources } = await openAll(cfg);
  const voxelSize = sources[0]!.voxelSize;
  const shape = networkShape(cfg.model.spec, cfg.model.inputShape);
  const { existing } = prepareRunDir(cfg.runDir, o.configText, cfg.resolved);
  const owned = o.engine ? null : await startEngine(cfg);
  const { engine: bare, info } = o.engine ?? owned!;
  const clock = new EngineClock();
  const enginePid = bare instanceof TorchEngine ? bare.pid : undefined;
  const cpu0 = cpuSeconds(enginePid);
  const cpuNow = () => {
    const c = cpuSeconds(enginePid);
    return c === null || cpu0 === null ? null : c - cpu0;
  };
  const engine = timedEngine(bare, clock);
  try {
    const steps = cfg.training.steps;
    const done = listCheckpoints(cfg.runDir);
    let start = 0;
    let rngState: CheckpointMeta["rng"] | null = null;
    let parameters: number;
    let initial: ValidationRecord | null = null;
    let resumed = false;
    const valOptions = {
      threshold: cfg.evaluation.threshold,
      // Validation tiles default to 1.5x the training input: less context overhead, memory still bounded.
      maxInput:
        cfg.evaluation.maxInputShape ?? nearestValidInput(cfg.model.spec, scale(shape.input, 1.5), "down"),
      // The fit regime compares validation losses: the same weighting as the training loss.
      balanced: cfg.loss.balance !== "none",
      ...(o.signal ? { signal: o.signal } : {}),
    };
    if (done.length > 0) {
      const last = done.at(-1)!;
      const loaded = await engine.loadCheckpoint(checkpointPath(cfg.runDir, last));
      const meta = loaded.meta as CheckpointMeta | null;
      if (meta?.format !== "organelle-train" || meta.step !== last) {
        throw invalidData(
          `${checkpointPath(cfg.runDir, last)}: not a checkpoint of organelle train (no RNG state); remove it or the run directory`,
        );
      }
      if (!specsEqual(loaded.spec, cfg.model.spec)) {
        throw invalidData(`${checkpointPath(cfg.runDir, last)}: its model differs from the configuration's`);
      }
      parameters = loaded.parameters;
      start = last;
      rngState = meta.rng;
      resumed = true;
      truncateMetrics(cfg.runDir, last);
      if (last >= steps) say(`run ${cfg.runDir} already trained ${last} steps (of ${steps})`);
      else say(`resuming ${cfg.runDir} from step ${last}`);
    } else {
      if (existing) truncateMetrics(cfg.runDir, 0);
      if (o.initFrom) {
        const loaded = await engine.loadCheckpoint(o.initFrom.checkpoint, { optimizer: false });
        if (!specsEqual(loaded.spec, cfg.model.spec)) {
          throw invalidArgument(`${o.initFrom.checkpoint}: its model differs from the one being fine-tuned`);
        }
        parameters = loaded.parameters;
      } else {
        const m = await engine.createModel(specToJson(cfg.model.spec), shape.input, { seed: cfg.seed });
        if (format(m.outputShape) !== format(shape.output)) {
          throw new OrganelleError(
            "Engine",
            `the engine's network gives output ${format(m.outputShape)} for input ${format(shape.input)}; the shape arithmetic says ${format(shape.output)}`,
          );
        }
        parameters = m.parameters;
      }
      await engine.configureOptimizer({
        lr: cfg.training.learningRate,
        weightDecay: cfg.training.weightDecay,
      });
    }
    const runInfo: RunInfo = {
      organelle: cfg.organelle,
      created: fs.existsSync(path.join(cfg.runDir, RUN_JSON))
        ? readJsonFile<RunInfo>(path.join(cfg.runDir, RUN_JSON)).created
        : new Date().toISOString(),
      git: gitVersion(),
      model: {
        preset: cfg.model.preset,
        spec: specToJson(cfg.model.spec),
        inputShape: [...shape.input],
        outputShape: [...shape.output],
        parameters,
      },
      voxelSize: [...voxelSize],
      engine: info,
      ...(o.initFrom ? { from: o.initFrom } : {}),
    };
    writeFileAtomic(path.join(cfg.runDir, RUN_JSON), `${JSON.stringify(runInfo, null, 2)}\n`);
    const title = `${cfg.organelle} — ${path.basename(cfg.runDir)}`;

    const validations: ValidationRecord[] = [];
    let validationSeconds = 0;
    const runValidation = async (step: number, label?: string): Promise<Validation | null> => {
      if (valSources.length === 0 || o.noValidation) return null;
      const v = await validate(engine, cfg.model.spec, valSources, valOptions);
      validationSeconds += v.seconds;
      const rec: ValidationRecord = {
        type: "validation",
        step,
        loss: v.loss,
        f1: v.f1,
        precision: v.precision,
        recall: v.recall,
        seconds: v.seconds,
        time: (performance.now() - started) / 1000,
        cpu: cpuNow(),
        rois: v.rois,
        ...(label ? { label } : {}),
      };
      appendMetrics(cfg.runDir, rec);
      if (label === "initial") initial = rec;
      else validations.push(rec);
      return v;
    };
    if (o.initFrom && start === 0) {
      const v = await runValidation(0, "initial");
      if (v)
        say(
          `starting weights (${o.initFrom.run} step ${o.initFrom.step}): validation F1 ${v.f1.toFixed(3)}, loss ${v.loss.toFixed(4)}`,
        );
    }
    // Killed between a checkpoint and its validation: validate the checkpoint resumed from first.
    if (resumed && (start % cfg.training.validateEvery === 0 || start === steps)) {
      const validated = readMetrics(cfg.runDir).some(
        (r) => r.type === "validation" && r.step === start && !r.label,
      );
      if (!validated && (await runValidation(start)))
        writeReport(cfg.runDir, cfg.evaluation.plateauTolerance, title);
    }

    const samplingRng = rngState
      ? Rng.fromState(rngState.sampling, "checkpoint RNG state")
      : Rng.seeded(cfg.seed, "sampling");
    const augmentRng = rngState
      ? Rng.fromState(rngState.augment, "checkpoint RNG state")
      : Rng.seeded(cfg.seed, "augment");
    const sampler = new Sampler(sources, shape.output, cfg.sampling);
    let balanceFraction: number | null = null;
    if (cfg.loss.balance === "dataset") {
      const f = await foregroundFraction(sources, o.signal);
      if (!(f.foreground > 0)) {
        throw invalidArgument(
          `${cfg.file}: loss.balance dataset: the training ROIs hold no foreground voxels inside their masks`,
        );
      }
      balanceFraction = f.fraction;
      out?.write(
        `class balance over the training ROIs: ${(100 * f.fraction).toFixed(2)} % foreground of ${f.counted.toLocaleString("en-US")} voxels\n`,
      );
    }
    const maker = new BatchMaker(
      {
        sources,
        sampler,
        engine,
        shape,
        augment: cfg.augment,
        batchSize: cfg.training.batchSize,
        foregroundFraction: balanceFraction,
        balance: cfg.loss.balance !== "none",
      },
      samplingRng,
      augmentRng,
    );
    const last = o.stopAfter !== undefined ? Math.min(steps, start + o.stopAfter) : steps;
    const prefetcher = new Prefetcher<PreparedBatch>(
      (i) => maker.make(i, o.signal),
      start + 1,
      last,
      cfg.training.prefetch,
    );
    const losses: { step: number; loss: number }[] = [];
    let lastDigest: string | null = null;
    let lastCheckpoint = start;
    let readMs = 0;
    let augmentMs = 0;
    let stepMs = 0;
    const t0 = performance.now();
    const busy0 = clock.busy;
    let lastDraw = 0;
    let lastVal: Validation | null = null;
    let step = start;
    const saveCheckpoint = async (batch: PreparedBatch) => {
      const meta: CheckpointMeta = {
        format: "organelle-train",
        step: batch.step,
        rng: batch.rng,
        seed: cfg.seed,
      };
      const file = checkpointPath(cfg.runDir, batch.step);
      const c = await engine.saveCheckpoint(file, meta);
      lastDigest = c.digest;
      lastCheckpoint = batch.step;
      appendMetrics(cfg.runDir, {
        type: "checkpoint",
        step: batch.step,
        file: path.relative(cfg.runDir, file),
        digest: c.digest,
      });
    };
    const progress = (force: boolean) => {
      if (!out) return;
      const now = performance.now();
      if (!force && now - lastDraw < (out.isTTY ? 200 : 10_000)) return;
      lastDraw = now;
      const n = step - start;
      const secs = (now - t0 - validationSeconds * 1000) / 1000;
      const rate = n > 0 && secs > 0 ? n / secs : 0;
      const recent = losses.slice(-20);
      const loss = recent.length ? recent.reduce((a, b) => a + b.loss, 0) / recent.length : Number.NaN;
      const eta = rate > 0 ? formatDuration((last - step) / rate) : "--";
      const val = lastVal ? ` val F1 ${lastVal.f1.toFixed(3)}` : "";
      const line = `train ${path.basename(cfg.runDir)} step ${step}/${steps} ${rate.toFixed(2)} it/s loss ${Number.isFinite(loss) ? loss.toFixed(4) : "--"}${val} ETA ${eta}`;
      out.write(out.isTTY ? `\r${line}\x1b[K` : `${line}\n`);
    };
    let lastBatch: PreparedBatch | null = null;
    try {
      while (step < last && !o.signal?.aborted) {
        const waitBefore = prefetcher.waitedMs;
        let batch: PreparedBatch;
        try {
          batch = await prefetcher.next();
        } catch (e) {
          // Interrupted while the next batch was being read: stop cleanly.
          if (o.signal?.aborted) break;
          throw e;
        }
        const wait = prefetcher.waitedMs - waitBefore;
        readMs += batch.readMs;
        augmentMs += batch.augmentMs;
        const ts = performance.now();
        const lr = learningRateAt(cfg.training.lrSchedule, cfg.training.learningRate, batch.step, steps);
        const r = await engine.trainStep(
          { raw: batch.raw, labels: batch.labels, weights: batch.weights },
          cfg.training.lrSchedule === "constant" ? {} : { lr },
        );
        stepMs += performance.now() - ts;
        step = batch.step;
        lastBatch = batch;
        if (!Number.isFinite(r.loss)) {
          throw new OrganelleError(
            "Engine",
            `step ${step}: the loss is ${r.loss}; training diverged (lower training.learning_rate?)`,
          );
        }
        losses.push({ step, loss: r.loss });
        const fg = batch.foreground.reduce((a, b) => a + b, 0) / batch.foreground.length;
        appendMetrics(cfg.runDir, {
          type: "train",
          step,
          loss: r.loss,
          lr,
          time: (performance.now() - started) / 1000,
          cpu: cpuNow(),
          foreground: fg,
          wait: wait / 1000,
        });
        const stopping = step === last && last < steps;
        if (
          step % cfg.training.checkpointEvery === 0 ||
          step === steps ||
          (stopping && o.checkpointOnStop !== false)
        ) {
          await saveCheckpoint(batch);
        }
        if (step % cfg.training.validateEvery === 0 || step === steps) {
          lastVal = await runValidation(step);
          if (lastVal) {
            writeReport(cfg.runDir, cfg.evaluation.plateauTolerance, title);
            say(
              `step ${step}: validation F1 ${lastVal.f1.toFixed(3)} (precision ${lastVal.precision.toFixed(3)}, recall ${lastVal.recall.toFixed(3)}), loss ${lastVal.loss.toFixed(4)} [${lastVal.seconds.toFixed(1)} s]`,
            );
          }
        }
        progress(false);
      }
      // Interrupted (Ctrl-C): keep what was trained.
      if (o.signal?.aborted && lastBatch && step > lastCheckpoint) await saveCheckpoint(lastBatch);
    } finally {
      await prefetcher.stop();
    }
    progress(true);
    if (out?.isTTY) out.write("\n");
    const seconds = (performance.now() - t0) / 1000;
    const engineBusy = (clock.busy - busy0) / 1000;
    const n = step - start;
    const loopSeconds = Math.max(1e-9, seconds - validationSeconds);
    const summary = writeReport(cfg.runDir, cfg.evaluation.plateauTolerance, title);
    const stopped = step < steps;
    return {
      runDir: cfg.runDir,
      engine: info,
      shape,
      parameters,
      startStep: start,
      endStep: step,
      resumed,
      losses,
      validations,
      initial,
      lastDigest,
      summary,
      stopped,
      timing: {
        steps: n,
        seconds,
        stepsPerSecond: n / loopSeconds,
        engineIdleShare: n > 0 ? Math.max(0, 1 - engineBusy / seconds) : 0,
        batchWaitShare: n > 0 ? prefetcher.waitedMs / 1000 / loopSeconds : 0,
        meanReadMs: n ? readMs / n : 0,
        meanAugmentMs: n ? augmentMs / n : 0,
        meanTrainStepMs: n ? stepMs / n : 0,
        validationSeconds,
      },
    };
  } finally {
    if (owned) await owned.engine.close();
  }
}
