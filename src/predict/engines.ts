import * as fs from "node:fs";
import * as os from "node:os";
import { type Coordinate, format } from "../core/coordinate.ts";
import { invalidArgument, OrganelleError } from "../core/errors.ts";
import type { Device, EngineInfo, InferenceEngine } from "../engine/engine.ts";
import { TorchEngine } from "../engine/torch-engine.ts";
import { type ModelRef, openOnnxEngine } from "./model-ref.ts";

/*
 * Which engine predicts: `onnx` (ONNX Runtime in this process, CPU, no Python once the graph is
 * exported) is the default unless the machine has an NVIDIA GPU, where `torch` (the engine subprocess,
 * CUDA) is. Each model gets its own engine: one ORT session, or one torch subprocess with the model
 * loaded; requests queue in the engine, so several blocks in flight keep it busy.
 */

export type EngineKind = "onnx" | "torch";
export const ENGINE_KINDS: readonly EngineKind[] = ["onnx", "torch"];

/** A GPU is present when the NVIDIA driver lists one (no Python needed to know). */
export function hasNvidiaGpu(): boolean {
  try {
    return fs.readdirSync("/proc/driver/nvidia/gpus").length > 0;
  } catch {
    return false;
  }
}

export function defaultEngineKind(): EngineKind {
  return hasNvidiaGpu() ? "torch" : "onnx";
}

export interface EngineSettings {
  readonly kind: EngineKind;
  /** torch: the device (default auto: CUDA when present). */
  readonly device?: Device;
  /** CPU threads (ORT intra-op threads, torch threads); default: every core. */
  readonly threads?: number;
  /** Python with PyTorch (torch engine, and exporting ONNX from a checkpoint). */
  readonly python?: string;
}

export interface ModelEngine {
  readonly engine: InferenceEngine;
  /** e.g. "onnxruntime (cpu, 2 threads)" or "torch cuda (NVIDIA A100)". */
  readonly label: string;
  /** True when an ONNX graph was exported for this run. */
  readonly exported: boolean;
}

/** Starts a torch engine with the model's checkpoint loaded (tiles of any valid shape). */
export async function openTorchModel(
  model: ModelRef,
  s: EngineSettings,
): Promise<{ engine: TorchEngine; info: EngineInfo }> {
  if (!model.checkpoint) {
    throw invalidArgument(
      `model ${model.ref} has no PyTorch checkpoint (only an ONNX graph); predict it with --engine onnx`,
    );
  }
  const engine = await TorchEngine.start({
    ...(s.python ? { python: s.python } : {}),
    engine: { device: s.device ?? "auto", ...(s.threads ? { threads: s.threads } : {}) },
  });
  try {
    await engine.loadCheckpoint(model.checkpoint, { optimizer: false });
    return { engine, info: engine.info! };
  } catch (e) {
    await engine.close().catch(() => {});
    throw e;
  }
}

/** The ONNX Runtime engine for a model at one tile input shape (exported from its checkpoint if needed). */
export async function openOnnxModel(
  model: ModelRef,
  input: Coordinate,
  s: EngineSettings,
): Promise<ModelEngine> {
  const threads = s.threads ?? os.availableParallelism();
  try {
    const { engine, exported } = await openOnnxEngine(model, input, {
      threads,
      ...(s.python ? { python: s.python } : {}),
    });
    return { engine, label: `onnxruntime (cpu, ${threads} thread${threads === 1 ? "" : "s"})`, exported };
  } catch (e) {
    if (e instanceof OrganelleError && e.kind === "Engine" && /PyTorch cannot be imported/.test(e.message)) {
      throw new OrganelleError(
        "Engine",
        `exporting ${model.ref} to ONNX at ${format(input)} needs PyTorch once: ${e.message}`,
        { cause: e },
      );
    }
    throw e;
  }
}

export function torchLabel(info: EngineInfo): string {
  return `torch ${info.device} (${info.deviceName}, ${info.threads} threads)`;
}
