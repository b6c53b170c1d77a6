import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { OrganelleError } from "../core/errors.ts";

/*
 * The thread that runs ONNX Runtime. onnxruntime-node is not a context-aware addon: a process can load
 * it in one thread only, once ("Module did not self-register" in any second thread, even after the
 * first ended), and its `session.run` computes on the calling thread. So ORT lives in one host thread
 * per process, started on first use and kept for the life of the process (unref'd while idle, so it
 * never holds the process open): the main thread stays free to read and write blocks while ORT's own
 * intra-op threads use the cores. Sessions are numbered; tensors travel as transferred buffers.
 *
 * The host is evaluated from source text rather than loaded from a file, because the bundle
 * (dist/organelle.mjs) has no separate entry for it; the addon is resolved here and passed in.
 */

const HOST_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const ort = require(workerData.ort);
const sessions = new Map();
let next = 1;
const first = (e) => String((e && e.message) || e).split("\\n")[0];
parentPort.on("message", async (m) => {
  try {
    if (m.type === "open") {
      const s = await ort.InferenceSession.create(m.file, {
        intraOpNumThreads: m.threads,
        interOpNumThreads: 1,
        executionMode: "sequential",
        graphOptimizationLevel: "all",
      });
      const id = next++;
      sessions.set(id, s);
      const meta = (list) => list.map((v) => ({ name: v.name, shape: v.isTensor ? v.shape : [] }));
      parentPort.postMessage({ id: m.id, ok: true, session: id, inputs: meta(s.inputMetadata), outputs: meta(s.outputMetadata) });
    } else if (m.type === "run") {
      const s = sessions.get(m.session);
      if (!s) throw new Error("session " + m.session + " is closed");
      const input = new ort.Tensor("float32", new Float32Array(m.data), m.dims);
      const r = await s.run({ [m.input]: input });
      const out = r[m.output];
      const data = out.data;
      const copy = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
      parentPort.postMessage({ id: m.id, ok: true, data: copy.buffer, dims: out.dims }, [copy.buffer]);
    } else if (m.type === "close") {
      const s = sessions.get(m.session);
      sessions.delete(m.session);
      if (s) await s.release();
      parentPort.postMessage({ id: m.id, ok: true });
    }
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, message: first(e) });
  }
});
parentPort.postMessage({ id: 0, ok: true });
`;

interface Pending {
  readonly resolve: (m: HostReply) => void;
  readonly reject: (e: Error) => void;
}

export interface HostReply {
  readonly id: number;
  readonly ok: boolean;
  readonly message?: string;
  readonly [key: string]: unknown;
}

/** A request to the host: `type` and fields; buffers in `transfer` are moved, not copied. */
export interface HostRequest {
  readonly type: "open" | "run" | "close";
  readonly [key: string]: unknown;
}

class OnnxHost {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | null = null;
  readonly ready: Promise<void>;

  constructor(ortPath: string) {
    // Referenced while a request (start-up included) is pending, so awaiting it keeps the process alive.
    this.worker = new Worker(HOST_SOURCE, { eval: true, workerData: { ort: ortPath } });
    let started: () => void = () => undefined;
    this.ready = new Promise<void>((resolve) => {
      started = resolve;
    });
    this.pending.set(0, { resolve: () => started(), reject: () => started() });
    this.worker.on("message", (m: HostReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.ok) p.resolve(m);
      else p.reject(new OrganelleError("Engine", m.message ?? "ONNX Runtime failed without a message"));
    });
    const fail = (why: string) => {
      this.dead = new OrganelleError("Engine", `the ONNX Runtime thread ${why}`);
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
    };
    this.worker.on("error", (e) => fail(`failed: ${String(e.message).split("\n")[0]}`));
    this.worker.on("exit", (code) => fail(`exited (code ${code})`));
  }

  async request(req: HostRequest, transfer: ArrayBuffer[] = []): Promise<HostReply> {
    await this.ready;
    if (this.dead) throw this.dead;
    const id = this.nextId++;
    return new Promise<HostReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }
}

let host: OnnxHost | undefined;

/** Where onnxruntime-node is installed, or an error saying how to get it. */
export function onnxRuntimePath(): string {
  try {
    return createRequire(import.meta.url).resolve("onnxruntime-node");
  } catch (e) {
    throw new OrganelleError(
      "Engine",
      "onnxruntime-node is not installed (npm install onnxruntime-node), or use --engine torch",
      { cause: e },
    );
  }
}

/** The process's ONNX Runtime thread (started on first use; see the note at the top). */
export function onnxHost(): OnnxHost {
  host ??= new OnnxHost(onnxRuntimePath());
  return host;
}
