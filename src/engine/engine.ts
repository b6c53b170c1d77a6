import type { Coordinate } from "../core/coordinate.ts";
import type { Tensor } from "./tensor.ts";

/*
 * What the rest of organelle sees of a deep-learning engine. TypeScript owns the loop (sampling,
 * augmentation parameters, weights, checkpoints, validation); an engine owns only tensors. The torch
 * engine (torch-engine.ts) runs PyTorch in a subprocess; an ONNX Runtime engine implements the inference
 * part. Requests may be issued without awaiting the previous one: they run in order, and keeping a few
 * in flight keeps a GPU busy while TypeScript prepares the next batch. Tensors handed to a request must
 * not be modified until its promise settles (they are written to the engine without copying).
 */

export type Device = "auto" | "cpu" | "cuda" | `cuda:${number}`;
export type Autocast = "bf16" | "fp16" | "off";

/** How the engine runs; sent with `hello`. */
export interface EngineOptions {
  /** "auto" (default): CUDA when PyTorch sees a GPU, else the CPU. */
  readonly device?: Device;
  /** CPU threads (default: the cores this process may use). */
  readonly threads?: number;
  /** Deterministic algorithms (CPU: bit-identical reruns and resumes; slower on a GPU). */
  readonly deterministic?: boolean;
  /** Mixed precision on CUDA (default bf16, fp16 where bf16 is unsupported); must be "off" on the CPU. */
  readonly autocast?: Autocast;
}

export interface EngineInfo {
  readonly protocol: number;
  readonly engine: string;
  readonly torch: string;
  readonly python: string;
  readonly executable: string;
  readonly device: "cpu" | "cuda";
  readonly deviceName: string;
  readonly threads: number;
  readonly cudnn: number | null;
  readonly cuda: string | null;
  readonly cudaDevices: readonly {
    readonly index: number;
    readonly name: string;
    readonly memoryBytes: number;
  }[];
  readonly mkldnn: boolean;
  readonly deterministic: boolean;
  readonly autocast: Autocast;
}

export interface ModelInfo {
  readonly parameters: number;
  /** The spec with every default filled in, as the engine built it. */
  readonly spec: Record<string, unknown>;
  readonly inputShape: Coordinate;
  /** Measured by running the network on a zero input of `inputShape`. */
  readonly outputShape: Coordinate;
  readonly outChannels: number;
}

export interface OptimizerConfig {
  /** Adam learning rate (default 3e-5, SPEC §4). */
  readonly lr?: number;
  /** Adam (L2) weight decay (default 3e-5, SPEC §4). */
  readonly weightDecay?: number;
  readonly betas?: readonly [number, number];
  readonly eps?: number;
}

export type PredictionEncoding = "float32" | "uint8";

/**
 * One training batch. raw: float32 [batch, inChannels, z, y, x] (the network input). labels, at the
 * network output's shape: softmax2 — class 0/1 [batch, z, y, x] (any integer type); sigmoid — 0..1
 * [batch, z, y, x] or [batch, 1, z, y, x]; tanh-distance — float32 [batch, channels, z, y, x].
 * weights (optional, float32, same layout; one channel broadcasts over tanh-distance channels): the loss
 * is mean(weights * per-voxel loss) over all voxels (summed over channels for tanh-distance), so zero
 * weights remove voxels and the caller chooses the normalisation.
 */
export interface TrainBatch {
  readonly raw: Tensor<Float32Array>;
  readonly labels: Tensor;
  readonly weights?: Tensor<Float32Array>;
}

export interface PredictionOptions {
  /** float32 probabilities/distances, or uint8 (p * 255; tanh-distance (d + 1) * 127.5), rounded. */
  readonly output?: PredictionEncoding;
  /** Output channels to return (default all); e.g. [1] for softmax2's foreground. */
  readonly channels?: readonly number[];
}

export interface TrainStepResult {
  readonly loss: number;
  /** tanh-distance: the loss of each channel (the loss is their sum). */
  readonly channelLosses?: readonly number[];
  /** Optimizer steps taken by this model so far (restored by loadCheckpoint). */
  readonly step: number;
  /** The prediction of the weights before this step (when asked for). */
  readonly prediction?: Tensor;
}

export type Matrix3 = readonly [Coordinate, Coordinate, Coordinate];

export interface Sampling {
  readonly mode?: "linear" | "nearest";
  /** Value for positions outside the source array (default 0). */
  readonly fill?: number;
}

/**
 * Geometric + intensity augmentation, applied on the engine's device. Each output voxel p (z,y,x index
 * in an output block of `outputShape`) reads the source position q = matrix (p + d(p)) + translation of
 * every array (spatial axes last; leading axes share the transform), where d is `displacement` —
 * control points float32 [3, gz, gy, gx] in voxels, spanning the output block corner to corner,
 * upsampled trilinearly. float32 arrays are sampled linearly, integer arrays nearest (override per
 * array with `sampling`). Identity, mirror and transpose are exact.
 */
export interface AugmentRequest {
  readonly arrays: Readonly<Record<string, Tensor>>;
  readonly outputShape: Coordinate;
  /** Row-major 3x3 (default identity). */
  readonly matrix?: Matrix3;
  readonly translation?: Coordinate;
  readonly displacement?: Tensor<Float32Array>;
  readonly sampling?: Readonly<Record<string, Sampling>>;
  /** gunpowder's IntensityAugment on linearly sampled arrays: mean + (a - mean) * scale + shift, then clip. */
  readonly intensity?: {
    readonly scale: number;
    readonly shift: number;
    readonly clip?: readonly [number, number];
  };
  /** Finally a * scale + shift on linearly sampled arrays (e.g. [0, 1] -> [-1, 1]: scale 2, shift -1). */
  readonly rescale?: { readonly scale: number; readonly shift: number };
}

export interface CheckpointInfo {
  readonly path: string;
  readonly step: number;
  /** sha256 over the model's weights: equal digests, identical weights. */
  readonly digest: string;
}

export interface LoadedCheckpoint extends CheckpointInfo {
  readonly spec: Record<string, unknown>;
  readonly parameters: number;
  /** The caller's JSON saved with the checkpoint (RNG state, config, ...). */
  readonly meta: unknown;
  /** The optimizer's configuration, null when the checkpoint has none. */
  readonly optimizer: Required<OptimizerConfig> | null;
}

export interface ExportOptions {
  /** Network input (z,y,x) the exported graph is traced at; must be a valid input of the network. */
  readonly inputShape: Coordinate;
  readonly batch?: number;
  /** Output channels to keep (default all). */
  readonly channels?: readonly number[];
}

export interface OnnxExportOptions extends ExportOptions {
  /** ONNX opset, >= 13 (default 13). */
  readonly opset?: number;
  /** Leave the batch axis dynamic (default true). */
  readonly dynamicBatch?: boolean;
}

export interface ExportInfo {
  readonly path: string;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly bytes: number;
}

export interface OnnxExportInfo extends ExportInfo {
  readonly opset: number;
  readonly inputName: string;
  readonly outputName: string;
  /** Which checker validated the file (python3-onnx), null when none was available. */
  readonly checked: string | null;
}

/** Inference only: what every engine can do (the ONNX Runtime engine included). */
export interface InferenceEngine {
  /** Probabilities (or tanh distances) of raw float32 [batch, inChannels, z, y, x]. */
  forward(raw: Tensor<Float32Array>, options?: PredictionOptions): Promise<Tensor>;
  /** Ends the engine; pending requests finish first. */
  close(): Promise<void>;
}

export interface Engine extends InferenceEngine {
  hello(options?: EngineOptions): Promise<EngineInfo>;
  /** Builds a model from a U-Net spec (src/learn/unet-spec.ts) and measures its output shape. */
  createModel(spec: object, inputShape: Coordinate, options?: { seed?: number }): Promise<ModelInfo>;
  configureOptimizer(config?: OptimizerConfig): Promise<Required<OptimizerConfig>>;
  /** One optimizer step; `lr` sets the learning rate from this step on (a schedule's value). */
  trainStep(
    batch: TrainBatch,
    options?: { prediction?: PredictionEncoding; channels?: readonly number[]; lr?: number },
  ): Promise<TrainStepResult>;
  augment(request: AugmentRequest): Promise<Record<string, Tensor>>;
  /** Model, optimizer, step and `meta`; written to a temporary name and renamed. */
  saveCheckpoint(path: string, meta?: unknown): Promise<CheckpointInfo>;
  loadCheckpoint(path: string, options?: { optimizer?: boolean }): Promise<LoadedCheckpoint>;
  exportOnnx(path: string, options: OnnxExportOptions): Promise<OnnxExportInfo>;
  exportTorchScript(path: string, options: ExportOptions): Promise<ExportInfo>;
}
