import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as zlib from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { coord, uniform } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import type { VoxelArray } from "./dtype.ts";
import { decodeN5Block, N5Reader, parseN5ArrayHeader, readN5Levels } from "./n5.ts";
import { openReader } from "./reader.ts";

// Written by python3-zarr's N5Store and hand-packed Java-style blocks: scripts/fixtures/make_n5_fixture.py
const FIXTURE = fileURLToPath(new URL("../../test/fixtures/n5/", import.meta.url));
const CONTAINER = path.join(FIXTURE, "cosem.n5");

interface Expected {
  shape: number[];
  chunks: number[];
  dtype: string;
  sha256: string;
  samples: [number, number, number, number][];
  compression: string;
  voxelSize?: number[];
  offset?: number[];
}
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE, "expected.json"), "utf8")).arrays as Record<
  string,
  Expected & { unsupported?: string }
>;

function sha256(a: VoxelArray): string {
  return createHash("sha256")
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest("hex");
}

const readable = Object.entries(expected).filter(([, e]) => !e.unsupported);

describe("N5 fixture written by python3-zarr and Java-style blocks", () => {
  it("covers every compression and layout the script wrote", () => {
    expect(readable.map(([n]) => n).sort()).toEqual(
      [
        "blosc_u32",
        "cosem/fibsem-uint8/s0",
        "cosem/fibsem-uint8/s1",
        "gzip_u16",
        "java_u16",
        "raw_u8",
        "viewer/s0",
        "viewer/s1",
        "zlib_f32",
        "zstd_u8",
      ].sort(),
    );
  });

  it.each(readable)("reads %s exactly (checksum and voxel values)", async (name, e) => {
    const r = await openReader(CONTAINER, { array: name });
    expect([...r.meta.shape]).toEqual(e.shape);
    expect([...r.meta.chunks]).toEqual(e.chunks);
    expect(r.meta.dtype).toBe(e.dtype);
    expect(r.meta.compressor).toBe(e.compression === "raw" ? "none" : e.compression);
    const all = await r.readBox({ begin: uniform(0), shape: r.meta.shape });
    expect(sha256(all)).toBe(e.sha256);
    const [, sy, sx] = r.meta.shape;
    for (const [z, y, x, v] of e.samples) expect(Number(all[(z * sy + y) * sx + x])).toBeCloseTo(v, 6);
    if (e.voxelSize) expect([...r.meta.voxelSize]).toEqual(e.voxelSize);
    if (e.offset) expect([...r.meta.offset]).toEqual(e.offset);
  });

  it("reads partial boxes across block borders with fill outside and 0 in missing blocks", async () => {
    const e = expected.java_u16!;
    const r = await openReader(path.join(CONTAINER, "java_u16"));
    const full = await r.readBox({ begin: uniform(0), shape: r.meta.shape });
    const box = { begin: coord(-1, 2, 3), shape: coord(5, 4, 6) };
    const part = await r.readBox(box, { fill: 7 });
    const [SZ, SY, SX] = e.shape as [number, number, number];
    for (let z = 0; z < 5; z++)
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 6; x++) {
          const [gz, gy, gx] = [z - 1, y + 2, x + 3];
          const inside = gz >= 0 && gz < SZ && gy < SY && gx < SX;
          const want = inside ? full[(gz * SY + gy) * SX + gx] : 7;
          expect(part[(z * 4 + y) * 6 + x]).toBe(want);
        }
    // block (z=1, y=1, x=1) has no file: its voxels are 0 even with a non-zero fill
    const missing = await r.readBox({ begin: coord(2, 4, 4), shape: coord(1, 1, 3) }, { fill: 9 });
    expect([...missing]).toEqual([0, 0, 0]);
  });

  it("maps COSEM transforms to voxel size and corner offset on every level", async () => {
    const levels = await readN5Levels(path.join(CONTAINER, "cosem/fibsem-uint8"));
    expect(levels.map((l) => [l.path, [...l.voxelSize], [...l.offset]])).toEqual([
      ["s0", [6, 4, 4], [60, 40, 20]],
      ["s1", [12, 8, 8], [60, 40, 20]],
    ]);
    const s1 = await openReader(path.join(CONTAINER, "cosem/fibsem-uint8"), { scale: 1 });
    expect(s1.scale).toBe(1);
    expect(s1.roi.equals((await openReader(path.join(CONTAINER, "cosem/fibsem-uint8"))).roi)).toBe(true);
    // opened by its own path, a level still knows its pyramid
    const direct = await openReader(path.join(CONTAINER, "cosem/fibsem-uint8/s1"));
    expect(direct.scale).toBe(1);
    expect(direct.levels).toHaveLength(2);
  });

  it("derives n5-viewer levels from group scales, pixelResolution and downsamplingFactors", async () => {
    const levels = await readN5Levels(path.join(CONTAINER, "viewer"));
    expect(levels.map((l) => [...l.voxelSize])).toEqual([
      [8, 4, 4],
      [8, 8, 8],
    ]);
  });

  it("says clearly that bzip2 is unsupported", async () => {
    await expect(openReader(CONTAINER, { array: "bzip2_u8" })).rejects.toSatisfy(
      (e) => isOrganelleError(e, "Unsupported") && /compression 'bzip2' is not supported/.test(e.message),
    );
  });

  it("names the group's arrays when given the container", async () => {
    await expect(openReader(CONTAINER)).rejects.toThrow(
      /a group, not an array; name one of its arrays: .*raw_u8/,
    );
  });
});

describe("N5 block decoding", () => {
  const header = parseN5ArrayHeader(
    {
      dimensions: [3, 2, 1],
      blockSize: [3, 2, 1],
      dataType: "uint16",
      compression: { type: "gzip", useZlib: true },
    },
    "attributes.json",
  );

  function block(mode: number, dims: number[], payload: Uint8Array, count?: number): Uint8Array {
    const head = Buffer.alloc(4 + 4 * dims.length + (mode === 1 ? 4 : 0));
    head.writeUInt16BE(mode, 0);
    head.writeUInt16BE(dims.length, 2);
    for (const [i, d] of dims.entries()) head.writeUInt32BE(d, 4 + 4 * i);
    if (mode === 1) head.writeUInt32BE(count ?? 0, 4 + 4 * dims.length);
    return new Uint8Array(Buffer.concat([head, payload]));
  }

  it("swaps big-endian values and reads zlib streams", async () => {
    const be = Buffer.alloc(12);
    for (const [i, v] of [1, 258, 65535, 4096, 7, 0].entries()) be.writeUInt16BE(v, 2 * i);
    const b = await decodeN5Block(block(0, [3, 2, 1], zlib.deflateSync(be)), header, "0/0/0");
    expect([...b.shape]).toEqual([1, 2, 3]);
    expect([...b.data]).toEqual([1, 258, 65535, 4096, 7, 0]);
  });

  it("rejects truncated and object-mode blocks with the block's name", async () => {
    const short = block(0, [3, 2, 1], zlib.deflateSync(Buffer.alloc(6)));
    await expect(decodeN5Block(short, header, "a/0/0/0")).rejects.toThrow(/a\/0\/0\/0: corrupt N5 block/);
    await expect(decodeN5Block(block(2, [], new Uint8Array(4)), header, "b")).rejects.toSatisfy((e) =>
      isOrganelleError(e, "Unsupported"),
    );
    await expect(decodeN5Block(new Uint8Array([0, 0]), header, "c")).rejects.toThrow(
      /shorter than its header/,
    );
  });
});

describe("N5 metadata errors", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-n5-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("refuses int16 data and unknown units with the file named", async () => {
    const dir = path.join(tmp, "i16");
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, "attributes.json"),
      JSON.stringify({
        dimensions: [2, 2, 2],
        blockSize: [2, 2, 2],
        dataType: "int16",
        compression: { type: "raw" },
      }),
    );
    await expect(N5Reader.open(dir)).rejects.toThrow(
      /i16.attributes\.json: N5 dataType 'int16' is not supported/,
    );
    const dir2 = path.join(tmp, "furlong");
    fs.mkdirSync(dir2);
    fs.writeFileSync(
      path.join(dir2, "attributes.json"),
      JSON.stringify({
        dimensions: [2, 2, 2],
        blockSize: [2, 2, 2],
        dataType: "uint8",
        compression: { type: "raw" },
        pixelResolution: { dimensions: [1, 1, 1], unit: "furlong" },
      }),
    );
    await expect(N5Reader.open(dir2)).rejects.toThrow(/unknown length unit 'furlong'/);
  });

  it("reads micrometre pixelResolution as nm", async () => {
    const dir = path.join(tmp, "um");
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, "attributes.json"),
      JSON.stringify({
        dimensions: [2, 2, 2],
        blockSize: [2, 2, 2],
        dataType: "uint8",
        compression: { type: "raw" },
        pixelResolution: { dimensions: [0.004, 0.004, 0.008], unit: "um" },
      }),
    );
    const r = await N5Reader.open(dir);
    expect([...r.meta.voxelSize]).toEqual([8, 4, 4]);
    // no blocks written at all: zeros
    expect([...(await r.readBox({ begin: uniform(0), shape: uniform(2) }))]).toEqual(new Array(8).fill(0));
  });
});
