import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enginePython, locateEngineDir } from "./locate.ts";
import { encodeFrame, type Frame, FrameDecoder, PREFIX_BYTES } from "./protocol.ts";
import { tensor } from "./tensor.ts";

function concat(pieces: Uint8Array[]): Buffer {
  return Buffer.concat(pieces.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}

describe("frame encoding", () => {
  it("round-trips a header and buffers of several types, whatever the chunking", () => {
    const a = tensor(Float32Array.from([1.5, -2, 3.25]), [3]);
    const b = tensor(Uint8Array.from([1, 2, 3, 4, 5]), [5]);
    const c = tensor(Uint32Array.from([0xffffffff, 7]), [1, 2]);
    const bytes = concat([
      ...encodeFrame({ id: 7, type: "x" }, [
        ["a", a],
        ["b", b],
        ["c", c],
      ]),
      ...encodeFrame({ id: 8 }),
    ]);
    for (const size of [1, 3, 13, bytes.length]) {
      const d = new FrameDecoder();
      const frames: Frame[] = [];
      for (let i = 0; i < bytes.length; i += size) frames.push(...d.push(bytes.subarray(i, i + size)));
      expect(frames.map((f) => f.header.id)).toEqual([7, 8]);
      const f = frames[0]!;
      expect(Array.from(f.buffers.get("a")!.data)).toEqual([1.5, -2, 3.25]);
      expect(Array.from(f.buffers.get("b")!.data)).toEqual([1, 2, 3, 4, 5]);
      // c follows 17 bytes: misaligned for uint32, so it is copied into an aligned array
      expect(f.buffers.get("c")!.data).toBeInstanceOf(Uint32Array);
      expect(Array.from(f.buffers.get("c")!.data)).toEqual([0xffffffff, 7]);
      expect(f.buffers.get("c")!.shape).toEqual([1, 2]);
    }
  });

  it("puts the header and body lengths in a 12-byte prefix", () => {
    const [head, body] = encodeFrame({ id: 1 }, [["v", tensor(new Float64Array(3), [3])]]);
    const h = Buffer.from(head!);
    const json = JSON.parse(h.subarray(PREFIX_BYTES).toString("utf8"));
    expect(h.readUInt32LE(0)).toBe(h.length - PREFIX_BYTES);
    expect(Number(h.readBigUInt64LE(4))).toBe(24);
    expect(json.buffers).toEqual([{ name: "v", dtype: "float64", shape: [3], bytes: 24 }]);
    expect(body!.byteLength).toBe(24);
  });

  it("rejects a frame whose buffers do not add up", () => {
    const json = Buffer.from(
      JSON.stringify({ id: 1, buffers: [{ name: "v", dtype: "float32", shape: [2], bytes: 8 }] }),
    );
    const prefix = Buffer.alloc(PREFIX_BYTES);
    prefix.writeUInt32LE(json.length, 0);
    prefix.writeBigUInt64LE(4n, 4);
    expect(() => new FrameDecoder().push(Buffer.concat([prefix, json]))).toThrow(
      /list 8 bytes but the frame body has 4/,
    );
  });
});

/** The engine process spoken to frame by frame, to send what the client never would. */
class RawEngine {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly decoder = new FrameDecoder();
  private readonly frames: Frame[] = [];
  private waiting: ((f: Frame) => void) | null = null;

  constructor() {
    this.child = spawn(enginePython(), ["-m", "organelle_engine"], {
      env: { ...process.env, PYTHONPATH: locateEngineDir(), PYTHONDONTWRITEBYTECODE: "1" },
    });
    this.child.stdout.on("data", (chunk: Buffer) => {
      for (const f of this.decoder.push(chunk)) {
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = null;
          w(f);
        } else this.frames.push(f);
      }
    });
  }

  send(bytes: Uint8Array): void {
    this.child.stdin.write(bytes);
  }

  raw(header: string, body: Uint8Array = new Uint8Array(0), bodyLength = body.byteLength): void {
    const json = Buffer.from(header, "utf8");
    const prefix = Buffer.alloc(PREFIX_BYTES);
    prefix.writeUInt32LE(json.length, 0);
    prefix.writeBigUInt64LE(BigInt(bodyLength), 4);
    this.send(Buffer.concat([prefix, json, body]));
  }

  next(): Promise<Frame> {
    const f = this.frames.shift();
    if (f) return Promise.resolve(f);
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  async close(): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => this.child.on("close", (code) => resolve(code)));
    this.send(concat(encodeFrame({ id: 999, type: "shutdown" })));
    return exited;
  }
}

describe("engine protocol errors", () => {
  let e: RawEngine;
  beforeAll(() => {
    e = new RawEngine();
  });
  afterAll(async () => {
    expect(await e.close()).toBe(0);
  });

  const hello = async (id: number) => {
    e.send(concat(encodeFrame({ id, type: "hello", protocol: 1, options: { device: "cpu" } })));
    const r = await e.next();
    expect(r.header).toMatchObject({ id, ok: true, type: "hello", protocol: 1 });
  };

  it("answers a malformed header with an error and keeps serving", async () => {
    e.raw("{not json", Buffer.from("abc"));
    const r = await e.next();
    expect(r.header.ok).toBe(false);
    expect(r.header.id).toBe(null);
    expect(r.header.error).toMatchObject({ type: "ProtocolError" });
    expect((r.header.error as { message: string }).message).toMatch(/malformed header/);
    await hello(1);
  });

  it("answers an unknown message type with the known ones", async () => {
    e.send(concat(encodeFrame({ id: 2, type: "train_stpe" })));
    const r = await e.next();
    expect(r.header).toMatchObject({ id: 2, ok: false, error: { type: "ProtocolError" } });
    expect((r.header.error as { message: string }).message).toMatch(
      /unknown message type 'train_stpe'; known: augment, .*train_step/,
    );
    await hello(3);
  });

  it("answers buffers of the wrong size with an error that echoes the id, and keeps serving", async () => {
    const listed = JSON.stringify({
      id: 4,
      type: "forward",
      buffers: [{ name: "raw", dtype: "float32", shape: [1, 1, 2, 2, 2], bytes: 12 }],
    });
    e.raw(listed, new Uint8Array(12));
    let r = await e.next();
    expect(r.header).toMatchObject({ id: 4, ok: false, error: { type: "ProtocolError" } });
    expect((r.header.error as { message: string }).message).toMatch(
      /12 bytes listed, but float32 \[1, 1, 2, 2, 2\] needs 32/,
    );

    const short = JSON.stringify({
      id: 5,
      type: "forward",
      buffers: [{ name: "raw", dtype: "float32", shape: [2], bytes: 8 }],
    });
    e.raw(short, new Uint8Array(20));
    r = await e.next();
    expect(r.header).toMatchObject({ id: 5, ok: false });
    expect((r.header.error as { message: string }).message).toMatch(/list 8 bytes but the frame body has 20/);

    e.raw(
      JSON.stringify({
        id: 6,
        type: "hello",
        buffers: [{ name: "x", dtype: "complex64", shape: [1], bytes: 8 }],
      }),
      new Uint8Array(8),
    );
    r = await e.next();
    expect((r.header.error as { message: string }).message).toMatch(/dtype 'complex64' is not one of/);
    await hello(7);
  });

  it("refuses a protocol version it does not speak", async () => {
    e.send(concat(encodeFrame({ id: 8, type: "hello", protocol: 99 })));
    const r = await e.next();
    expect(r.header).toMatchObject({ id: 8, ok: false, error: { type: "InvalidArgument" } });
    expect((r.header.error as { message: string }).message).toMatch(
      /protocol version 99 requested; this engine speaks 1/,
    );
  });
});
