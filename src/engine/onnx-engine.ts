import * as fs from "node:fs";
import * as os from "node:os";
import { invalidArgument, invalidData, isOrganelleError, notFound } from "../core/errors.ts";
import type { InferenceEngine, PredictionOptions } from "./engine.ts";
import { type HostReply, onnxHost } from "./onnx-host.ts";
import { type Tensor, tensor } from "./tensor.ts";

/*
 * The inference engine on ONNX Runtime (onnxruntime-node, CPU), for models exported by the torch
 * engine's `export_onnx` (input "raw" float32 [batch, inChannels, z, y, x], output "prediction" =
 * activated network output, optionally a subset of channels). ORT runs in the process's ORT thread
 * (onnx-host.ts); this object is a handle to one session there. Requests run one after another with
 * `threads` intra-op threads each (default: every core), so one session keeps the CPU busy while the
 * main thread reads and writes blocks.
 */

export interface OnnxEngineOptions {
  /** Intra-op threads (default: the cores this process may use). */
  readonly threads?: number;
  /**
   * The model channels the file's output holds, in order (the `channels` it was exported with);
   * default: all, 0..C-1. `forward`'s `channels` name model channels and are mapped through this.
   */
  readonly exportedChannels?: readonly number[];
  /** The network's head, for the uint8 encoding: tanh-distance maps -1..1 to 0..255, others 0..1. */
  readonly head?: "sigmoid" | "softmax2" | "tanh-distance";
}

export interface OnnxTensorInfo {
  readonly name: string;
  /** Dimensions; a symbolic axis (e.g. a dynamic batch) is its name. */
  readonly shape: readonly (number | string)[];
}

export class OnnxEngine implements InferenceEngine {
  readonly file: string;
  readonly threads: number;
  readonly input: OnnxTensorInfo;
  readonly output: OnnxTensorInfo;
  private readonly session: number;
  private readonly exported: readonly number[] | undefined;
  private readonly head: OnnxEngineOptions["head"];
  private closed = false;

  private constructor(
    file: string,
    session: number,
    threads: number,
    input: OnnxTensorInfo,
    output: OnnxTensorInfo,
    o: OnnxEngineOptions,
  ) {
    this.file = file;
    this.session = session;
    this.threads = threads;
    this.input = input;
    this.output = output;
    this.exported = o.exportedChannels;
    this.head = o.head;
  }

  /** Opens an ONNX model; an unreadable or foreign file is one line naming it. */
  static async open(file: string, o: OnnxEngineOptions = {}): Promise<OnnxEngine> {
    if (!fs.existsSync(file)) throw notFound(`${file}: no such ONNX model file`);
    const threads = o.threads ?? os.availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) {
      throw invalidArgument(`ONNX Runtime threads must be a whole number >= 1, got ${threads}`);
    }
    let r: HostReply;
    try {
      r = await onnxHost().request({ type: "open", file, threads });
    } catch (e) {
      if (isOrganelleError(e, "Engine") && !/ONNX Runtime thread/.test(e.message)) {
        throw invalidData(`${file}: not a readable ONNX model (${e.message}); export it again`, e);
      }
      throw e;
    }
    const inputs = r.inputs as OnnxTensorInfo[];
    const outputs = r.outputs as OnnxTensorInfo[];
    if (inputs.length !== 1 || outputs.length < 1 || inputs[0]!.shape.length !== 5) {
      await onnxHost().request({ type: "close", session: r.session });
      throw invalidData(
        `${file}: expected one 5-D input [batch, channels, z, y, x] (a U-Net exported by organelle), found inputs ${inputs.map((i) => `${i.name}[${i.shape.join(",")}]`).join(", ")}`,
      );
    }
    return new OnnxEngine(file, r.session as number, threads, inputs[0]!, outputs[0]!, o);
  }

  /** Spatial input shape (z, y, x) the graph was exported for, when fixed. */
  get inputShape(): readonly number[] | undefined {
    const s = this.input.shape.slice(2);
    return s.every((v) => typeof v === "number") ? (s as number[]) : undefined;
  }

  async forward(raw: Tensor<Float32Array>, options: PredictionOptions = {}): Promise<Tensor> {
    if (this.closed) throw invalidArgument(`${this.file}: forward after close()`);
    if (raw.shape.length !== 5) {
      throw invalidArgument(`forward: raw must be [batch, channels, z, y, x], got [${raw.shape.join(", ")}]`);
    }
    for (let d = 1; d < 5; d++) {
      const want = this.input.shape[d];
      if (typeof want === "number" && want !== raw.shape[d]) {
        throw invalidArgument(
          `${this.file}: input of shape [${raw.shape.join(", ")}] does not fit the exported [${this.input.shape.join(", ")}]`,
        );
      }
    }
    // The buffer is moved to the ORT thread: copy, so the caller's tensor stays intact.
    const data = raw.data.slice();
    const r = await onnxHost().request(
      {
        type: "run",
        session: this.session,
        input: this.input.name,
        output: this.output.name,
        data: data.buffer,
        dims: [...raw.shape],
      },
      [data.buffer as ArrayBuffer],
    );
    const dims = r.dims as number[];
    let out: Float32Array = new Float32Array(r.data as ArrayBuffer);
    let shape = dims;
    if (options.channels) {
      const sel = options.channels.map((c) => this.outputIndex(c, dims[1]!));
      out = selectChannels(out, dims, sel);
      shape = [dims[0]!, sel.length, ...dims.slice(2)];
    }
    if (options.output === "uint8") return tensor(encodeUint8(out, this.head), shape);
    return tensor(out, shape);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await onnxHost().request({ type: "close", session: this.session });
  }

  private outputIndex(channel: number, count: number): number {
    const i = this.exported ? this.exported.indexOf(channel) : channel;
    if (!Number.isInteger(i) || i < 0 || i >= count) {
      throw invalidArgument(
        `${this.file}: channel ${channel} is not among the exported channels (${(this.exported ?? [...Array(count).keys()]).join(", ")})`,
      );
    }
    return i;
  }
}

/** Channels `sel` of a [batch, C, ...] tensor. */
function selectChannels(data: Float32Array, dims: readonly number[], sel: readonly number[]): Float32Array {
  const c = dims[1]!;
  const inner = dims.slice(2).reduce((a, b) => a * b, 1);
  const batch = dims[0]!;
  const out = new Float32Array(batch * sel.length * inner);
  for (let b = 0; b < batch; b++)
    sel.forEach((ch, j) => {
      const from = (b * c + ch) * inner;
      out.set(data.subarray(from, from + inner), (b * sel.length + j) * inner);
    });
  return out;
}

/** Probabilities as round(p * 255) (tanh distances as round((d + 1) * 127.5)), like the torch engine. */
export function encodeUint8(p: Float32Array, head?: OnnxEngineOptions["head"]): Uint8Array {
  const out = new Uint8Array(p.length);
  const scale = head === "tanh-distance" ? 127.5 : 255;
  const shift = head === "tanh-distance" ? 1 : 0;
  for (let i = 0; i < p.length; i++) {
    const v = Math.round((p[i]! + shift) * scale);
    out[i] = v < 0 ? 0 : Math.min(v, 255);
  }
  return out;
}
