import Zstd from "numcodecs/zstd";
import { describe, expect, it } from "vitest";
import { ZstdCodec, ZstdWorkspace, zstdCompress, zstdDecompress, zstdIsDirect } from "./zstd-codec.ts";

/** EM-like bytes: smooth structure plus noise, so zstd finds both matches and literals. */
function sample(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = (128 + 60 * Math.sin(i / 700) + (s >>> 28)) & 0xff;
  }
  return a;
}

describe("zstd through numcodecs' WebAssembly module, called directly", () => {
  it("is active in this thread", async () => {
    expect(await zstdIsDirect()).toBe(true);
  });

  it("writes the same frames numcodecs writes, at several levels and sizes", async () => {
    for (const [n, level] of [
      [0, 3],
      [1, 1],
      [100_000, 3],
      [2_097_152, 1],
      [3_000_001, 5],
    ] as const) {
      const data = sample(n, n + level);
      const mine = await zstdCompress(data, level);
      const theirs = await Zstd.fromConfig({ level }).encode(data);
      expect(Buffer.from(mine).equals(Buffer.from(theirs))).toBe(true);
      expect(Buffer.from(await zstdDecompress(mine)).equals(Buffer.from(data))).toBe(true);
      expect(Buffer.from(await Zstd.fromConfig({}).decode(mine)).equals(Buffer.from(data))).toBe(true);
    }
  });

  it("compresses in place from a workspace area, repeatedly", async () => {
    const ws = await ZstdWorkspace.create(2, 1 << 20);
    expect(ws).toBeDefined();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) {
        const data = sample(1 << 20, round * 10 + i);
        ws!.area(i).set(data);
        const frame = ws!.compress(i, data.length, 3, (f) => f.slice());
        expect(Buffer.from(await zstdDecompress(frame)).equals(Buffer.from(data))).toBe(true);
      }
    }
    ws!.dispose();
  });

  it("zarr codec: level from the config, clamped like numcodecs", async () => {
    expect(ZstdCodec.fromConfig({ level: 3 }).level).toBe(3);
    expect(ZstdCodec.fromConfig({ level: 0 }).level).toBe(1);
    expect(ZstdCodec.fromConfig({ level: 99 }).level).toBe(22);
    const codec = ZstdCodec.fromConfig({ level: 3 });
    const data = sample(5000, 9);
    expect(Buffer.from(await codec.decode(await codec.encode(data))).equals(Buffer.from(data))).toBe(true);
  });

  it("reports a corrupt frame with numcodecs' message", async () => {
    await expect(zstdDecompress(new Uint8Array([40, 181, 47, 253, 0, 1, 2]))).rejects.toThrow(/zstd/i);
  });
});
