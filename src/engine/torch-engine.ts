import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import * as path from "node:path";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { OrganelleError } from "../core/errors.ts";
import type {
  AugmentRequest,
  CheckpointInfo,
  Engine,
  EngineInfo,
  EngineOptions,
  ExportInfo,
  ExportOptions,
  LoadedCheckpoint,
  ModelInfo,
  OnnxExportInfo,
  OnnxExportOptions,
  OptimizerConfig,
  PredictionEncoding,
  PredictionOptions,
  TrainBatch,
  TrainStepResult,
} from "./engine.ts";
import { enginePython, locateEngineDir } from "./locate.ts";
import { encodeFrame, type Frame, FrameDecoder, type Header, PROTOCOL_VERSION } from "./protocol.ts";
import type { Tensor } from "./tensor.ts";

export interface TorchEngineOptions {
  /** Python with PyTorch (default: ORGANELLE_PYTHON, else /usr/bin/python3). */
  readonly python?: string;
  /** Directory holding the organelle_engine package (default: located beside this code). */
  readonly engineDir?: string;
  /** Extra environment for the engine process (e.g. ORGANELLE_ENGINE_LOG=1 logs every request to stderr). */
  readonly env?: Readonly<Record<string, string>>;
  /** Reject a request that gets no answer within this time (default: wait for ever; steps can be long). */
  readonly requestTimeoutMs?: number;
  /** Also copy the engine's stderr to ours (it is always kept for error messages). */
  readonly inheritStderr?: boolean;
}

/** A response: its header fields and buffers. */
export interface Reply {
  readonly header: Header;
  readonly buffers: ReadonlyMap<string, Tensor>;
}

interface Pending {
  readonly id: number;
  readonly type: string;
  readonly resolve: (r: Reply) => void;
  readonly reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

const STDERR_TAIL_BYTES = 4096;

/**
 * The PyTorch engine as a subprocess (`python -m organelle_engine`), speaking the framed protocol of
 * protocol.ts on its stdin/stdout. Requests are written as soon as they are made and answered in order;
 * a dead engine rejects everything pending with its exit status and the tail of its stderr.
 */
export class TorchEngine implements Engine {
  readonly python: string;
  readonly engineDir: string;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, Pending>();
  private readonly timeoutMs: number | undefined;
  private nextId = 1;
  private stderrTail = "";
  private dead: OrganelleError | null = null;
  private closed = false;
  /** What the last `hello` answered (null before the first). */
  info: EngineInfo | null = null;
  private readonly exited: Promise<void>;

  constructor(options: TorchEngineOptions = {}) {
    this.python = options.python ?? enginePython();
    this.engineDir = options.engineDir ?? locateEngineDir();
    this.timeoutMs = options.requestTimeoutMs;
    const inherited = process.env.PYTHONPATH;
    this.child = spawn(this.python, ["-m", "organelle_engine"], {
      env: {
        ...process.env,
        ...options.env,
        PYTHONPATH: inherited ? `${this.engineDir}${path.delimiter}${inherited}` : this.engineDir,
        PYTHONUNBUFFERED: "1",
        // no __pycache__ inside the repository's engine/ (the package is a handful of small files)
        PYTHONDONTWRITEBYTECODE: "1",
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let spawnError: Error | null = null;
    this.exited = new Promise((resolve) => {
      this.child.on("error", (e: NodeJS.ErrnoException) => {
        spawnError = e;
        // 'close' may not follow a failed spawn
        if (e.code === "ENOENT" || e.code === "EACCES") {
          this.fail(this.spawnFailure(e));
          resolve();
        }
      });
      this.child.on("close", (code, signal) => {
        this.fail(spawnError && !this.dead ? this.spawnFailure(spawnError) : this.exitFailure(code, signal));
        resolve();
      });
    });
    this.child.stdout.on("data", (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = this.decoder.push(chunk);
      } catch (e) {
        this.fail(e as OrganelleError);
        this.child.kill("SIGKILL");
        return;
      }
      for (const f of frames) this.settle(f);
    });
    this.child.stderr.on("data", (chunk: Buffer) => {
      if (options.inheritStderr) process.stderr.write(chunk);
      this.stderrTail = (this.stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL_BYTES);
    });
    // A write after the engine died fails with EPIPE; the exit handler reports why.
    this.child.stdin.on("error", () => {});
  }

  /** Starts an engine and completes the handshake. */
  static async start(
    options: TorchEngineOptions & { readonly engine?: EngineOptions } = {},
  ): Promise<TorchEngine> {
    const e = new TorchEngine(options);
    try {
      await e.hello(options.engine);
    } catch (err) {
      await e.close().catch(() => {});
      throw err;
    }
    return e;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last few kilobytes the engine wrote to stderr. */
  get stderr(): string {
    return this.stderrTail;
  }

  /** Sends one request; the typed methods below are built on this. */
  call(type: string, fields: Header = {}, buffers: Iterable<readonly [string, Tensor]> = []): Promise<Reply> {
    if (this.closed)
      return Promise.reject(new OrganelleError("Engine", `torch engine: ${type} after close()`));
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    const frame = encodeFrame({ ...fields, id, type }, buffers);
    return new Promise<Reply>((resolve, reject) => {
      const p: Pending = { id, type, resolve, reject };
      if (this.timeoutMs !== undefined) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(
            new OrganelleError(
              "Engine",
              `the torch engine did not answer ${type} #${id} within ${this.timeoutMs} ms`,
            ),
          );
        }, this.timeoutMs);
      }
      this.pending.set(id, p);
      for (const piece of frame) this.child.stdin.write(piece);
    });
  }

  async hello(options: EngineOptions = {}): Promise<EngineInfo> {
    const r = await this.call("hello", { protocol: PROTOCOL_VERSION, options });
    this.info = fields<EngineInfo>(r);
    return this.info;
  }

  async createModel(
    spec: object,
    inputShape: Coordinate,
    options: { seed?: number } = {},
  ): Promise<ModelInfo> {
    const r = await this.call("create_model", {
      spec,
      inputShape: [...inputShape],
      seed: options.seed ?? null,
    });
    const f = fields<ModelInfo & { inputShape: number[]; outputShape: number[] }>(r);
    return { ...f, inputShape: toCoord(f.inputShape), outputShape: toCoord(f.outputShape) };
  }

  async configureOptimizer(config: OptimizerConfig = {}): Promise<Required<OptimizerConfig>> {
    const r = await this.call("configure_optimizer", { ...config });
    return fields<Required<OptimizerConfig>>(r);
  }

  async trainStep(
    batch: TrainBatch,
    options: { prediction?: PredictionEncoding; channels?: readonly number[]; lr?: number } = {},
  ): Promise<TrainStepResult> {
    const buffers: [string, Tensor][] = [
      ["raw", batch.raw],
      ["labels", batch.labels],
    ];
    if (batch.weights) buffers.push(["weights", batch.weights]);
    const r = await this.call(
      "train_step",
      { prediction: options.prediction ?? null, channels: options.channels ?? null, lr: options.lr ?? null },
      buffers,
    );
    const loss = r.header.loss;
    const prediction = r.buffers.get("prediction");
    return {
      loss: typeof loss === "number" ? loss : Number.NaN,
      step: r.header.step as number,
      ...(r.header.channelLosses ? { channelLosses: r.header.channelLosses as number[] } : {}),
      ...(prediction ? { prediction } : {}),
    };
  }

  async forward(raw: Tensor<Float32Array>, options: PredictionOptions = {}): Promise<Tensor> {
    const r = await this.call(
      "forward",
      { output: options.output ?? "float32", channels: options.channels ?? null },
      [["raw", raw]],
    );
    return r.buffers.get("prediction")!;
  }

  async augment(request: AugmentRequest): Promise<Record<string, Tensor>> {
    const buffers: [string, Tensor][] = Object.entries(request.arrays);
    if (request.displacement) buffers.push(["displacement", request.displacement]);
    const r = await this.call(
      "augment",
      {
        outputShape: [...request.outputShape],
        matrix: request.matrix ?? null,
        translation: request.translation ? [...request.translation] : null,
        sampling: request.sampling ?? null,
        intensity: request.intensity ?? null,
        rescale: request.rescale ?? null,
      },
      buffers,
    );
    return Object.fromEntries(r.buffers);
  }

  async saveCheckpoint(file: string, meta: unknown = null): Promise<CheckpointInfo> {
    return fields<CheckpointInfo>(await this.call("save_checkpoint", { path: file, meta }));
  }

  async loadCheckpoint(file: string, options: { optimizer?: boolean } = {}): Promise<LoadedCheckpoint> {
    return fields<LoadedCheckpoint>(
      await this.call("load_checkpoint", { path: file, optimizer: options.optimizer ?? true }),
    );
  }

  async exportOnnx(file: string, options: OnnxExportOptions): Promise<OnnxExportInfo> {
    const r = await this.call("export_onnx", { ...options, inputShape: [...options.inputShape], path: file });
    return fields<OnnxExportInfo>(r);
  }

  async exportTorchScript(file: string, options: ExportOptions): Promise<ExportInfo> {
    const r = await this.call("export_torchscript", {
      ...options,
      inputShape: [...options.inputShape],
      path: file,
    });
    return fields<ExportInfo>(r);
  }

  /** Asks the engine to finish (after everything pending) and waits for it to exit; kills it if it hangs. */
  async close(): Promise<void> {
    if (!this.dead && !this.closed) {
      const bye = this.call("shutdown").catch(() => {});
      this.closed = true;
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 30_000);
      await bye;
      await this.exited;
      clearTimeout(timer);
    }
    this.closed = true;
    await this.exited;
  }

  private settle(frame: Frame): void {
    const id = frame.header.id;
    // Answers come in order: an answer without an id (a frame the engine could not read) is the oldest's.
    const p = typeof id === "number" ? this.pending.get(id) : this.pending.values().next().value;
    if (!p) return;
    this.pending.delete(p.id);
    if (p.timer) clearTimeout(p.timer);
    if (frame.header.ok === true) {
      p.resolve({ header: frame.header, buffers: frame.buffers });
      return;
    }
    const err = (frame.header.error ?? {}) as { type?: string; message?: string; traceback?: string };
    const kind = err.type === "InvalidArgument" ? "InvalidArgument" : "Engine";
    const prefix =
      err.type === "InvalidArgument" || err.type === "TorchMissing"
        ? ""
        : `torch engine ${p.type}: ${err.type}: `;
    const e = new OrganelleError(kind, `${prefix}${err.message ?? "failed without a message"}`);
    (e as OrganelleError & { engineTraceback?: string }).engineTraceback = err.traceback;
    p.reject(e);
  }

  private fail(e: OrganelleError): void {
    if (!this.dead) this.dead = e;
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(this.dead);
    }
    this.pending.clear();
  }

  private exitFailure(code: number | null, signal: NodeJS.Signals | null): OrganelleError {
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const tail = this.stderrTail.trim();
    const last = tail
      ? `; its stderr ended with: ${tail.split("\n").slice(-12).join(" | ")}`
      : "; it wrote nothing to stderr";
    return new OrganelleError(
      "Engine",
      `the torch engine (${this.python} -m organelle_engine) ${how}${last}`,
    );
  }

  private spawnFailure(e: NodeJS.ErrnoException): OrganelleError {
    return new OrganelleError(
      "Engine",
      `cannot start the torch engine: ${this.python}: ${e.code === "ENOENT" ? "not found" : e.message}; set ORGANELLE_PYTHON to a Python 3 with PyTorch (Debian/Ubuntu: apt-get install python3-torch)`,
    );
  }
}

function fields<T>(r: Reply): T {
  const { id: _id, ok: _ok, type: _type, buffers: _b, ...rest } = r.header;
  return rest as T;
}

function toCoord(v: readonly number[]): Coordinate {
  return coord(v[0]!, v[1]!, v[2]!);
}
