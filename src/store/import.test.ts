import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkerPool } from "../blockwise/worker-pool.ts";
import { coord } from "../core/coordinate.ts";
import { importProvenance, importStack } from "./import.ts";
import { TiffWriter } from "./tiff-write.ts";
import { Volume } from "./volume.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-import-"));
// One pool for the file: threads start once (from TypeScript sources, which takes a moment).
const pool = new WorkerPool({ workers: 2 });
afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Voxel value of the test stacks: distinct per position, covers the high byte of uint16. */
const value = (z: number, y: number, x: number, bits: 8 | 16) =>
  bits === 8 ? (z * 31 + y * 7 + x * 3) & 0xff : (z * 4099 + y * 257 + x * 13) & 0xffff;

function writeStack(dir: string, shape: [number, number, number], bits: 8 | 16): void {
  fs.mkdirSync(dir, { recursive: true });
  const [nz, ny, nx] = shape;
  for (let z = 0; z < nz; z++) {
    const plane = bits === 8 ? new Uint8Array(ny * nx) : new Uint16Array(ny * nx);
    for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) plane[y * nx + x] = value(z, y, x, bits);
    const w = TiffWriter.create(path.join(dir, `slice_${String(z).padStart(3, "0")}.tif`), {
      width: nx,
      height: ny,
      dtype: bits === 8 ? "uint8" : "uint16",
      pages: 1,
    });
    w.writePage(plane);
    w.close();
  }
}

const quiet = { progress: null, pool } as const;

describe("importStack", () => {
  const shape: [number, number, number] = [21, 37, 45];
  const src16 = path.join(tmp, "stack16");
  const src8 = path.join(tmp, "stack8");
  beforeAll(() => {
    writeStack(src16, shape, 16);
    writeStack(src8, shape, 8);
  });

  it("writes raw with every voxel of the stack, its pyramid and the import record", async () => {
    const out = path.join(tmp, "a.zarr");
    const r = await importStack(src16, out, {
      ...quiet,
      voxelSize: coord(8, 4, 4),
      chunks: coord(8, 16, 16),
    });
    expect(r.shape).toEqual(shape);
    expect(r.dtype).toBe("uint16");
    expect(r.slabs).toBe(3);
    expect(r.pyramidLevels).toBeGreaterThan(1);
    expect(fs.existsSync(`${out}.partial`)).toBe(false);
    const vol = await Volume.open(out, "raw");
    expect(vol.meta.voxelSize).toEqual([8, 4, 4]);
    expect(vol.meta.chunks).toEqual([8, 16, 16]);
    expect(vol.levels.length).toBe(r.pyramidLevels);
    const data = await vol.readBox({ begin: coord(0, 0, 0), shape: coord(...shape) });
    let wrong = 0;
    for (let z = 0; z < shape[0]; z++)
      for (let y = 0; y < shape[1]; y++)
        for (let x = 0; x < shape[2]; x++)
          if (data[(z * shape[1] + y) * shape[2] + x] !== value(z, y, x, 16)) wrong++;
    expect(wrong).toBe(0);
    expect(importProvenance(vol.attrs)).toEqual({
      source: src16,
      sourceKind: "slices",
      sourceShape: shape,
      cropOffset: [0, 0, 0],
      cropShape: shape,
      invert: false,
      dtype: "uint16",
    });
  });

  it("crops and inverts; the crop's position is the array's offset in nm", async () => {
    const out = path.join(tmp, "crop.zarr");
    const r = await importStack(src8, out, {
      ...quiet,
      voxelSize: coord(5, 4, 4),
      cropOffset: coord(3, 5, 7),
      cropShape: coord(10, 20, 30),
      invert: true,
      chunks: coord(4, 8, 16),
      pyramid: false,
    });
    expect(r.shape).toEqual([10, 20, 30]);
    const vol = await Volume.open(out, "raw");
    expect(vol.meta.offset).toEqual([15, 20, 28]);
    expect(vol.levels.length).toBe(1);
    const data = await vol.readBox({ begin: coord(0, 0, 0), shape: coord(10, 20, 30) });
    for (let z = 0; z < 10; z++)
      for (let y = 0; y < 20; y++)
        for (let x = 0; x < 30; x++)
          expect(data[(z * 20 + y) * 30 + x]).toBe(255 - value(z + 3, y + 5, x + 7, 8));
    expect(importProvenance(vol.attrs)).toMatchObject({
      cropOffset: [3, 5, 7],
      cropShape: [10, 20, 30],
      invert: true,
    });
  });

  it("writes the same voxels through zarrita for blosc and gzip, and as OME-Zarr 0.5", async () => {
    for (const [compressor, format] of [
      ["blosc", "0.4"],
      ["gzip", "0.5"],
      ["zstd", "0.5"],
      ["none", "0.4"],
    ] as const) {
      const out = path.join(tmp, `c-${compressor}-${format}.zarr`);
      await importStack(src16, out, {
        ...quiet,
        voxelSize: coord(4, 4, 4),
        compressor,
        format,
        chunks: coord(8, 16, 32),
        pyramid: false,
      });
      const vol = await Volume.open(out, "raw");
      expect(vol.meta.compressor).toBe(compressor);
      expect(vol.meta.format).toBe(format);
      const data = await vol.readBox({ begin: coord(0, 0, 0), shape: coord(...shape) });
      let wrong = 0;
      for (let z = 0; z < shape[0]; z++)
        for (let y = 0; y < shape[1]; y++)
          for (let x = 0; x < shape[2]; x++)
            if (data[(z * shape[1] + y) * shape[2] + x] !== value(z, y, x, 16)) wrong++;
      expect(wrong).toBe(0);
    }
  });

  it("opens in python3-zarr with the values of the stack", async () => {
    const out = path.join(tmp, "py.zarr");
    await importStack(src8, out, { ...quiet, voxelSize: coord(4, 4, 4), chunks: coord(8, 16, 16) });
    const script = `
import sys, zarr, numpy as np
a = zarr.open(sys.argv[1] + "/raw/s0", "r")[:]
z, y, x = np.meshgrid(*[np.arange(n) for n in a.shape], indexing="ij")
print(a.shape, a.dtype, bool(np.array_equal(a, ((z * 31 + y * 7 + x * 3) & 255).astype(np.uint8))))`;
    expect(execFileSync("/usr/bin/python3", ["-c", script, out], { encoding: "utf8" }).trim()).toBe(
      `(21, 37, 45) uint8 True`,
    );
  });

  it("holds two slabs at most, however many slices the stack has", async () => {
    const small = path.join(tmp, "mem1");
    const large = path.join(tmp, "mem4");
    writeStack(small, [16, 32, 32], 8);
    writeStack(large, [64, 32, 32], 8);
    const allocations = async (src: string) => {
      const sizes: number[] = [];
      await importStack(src, path.join(tmp, `${path.basename(src)}.zarr`), {
        ...quiet,
        voxelSize: coord(4, 4, 4),
        chunks: coord(4, 16, 16),
        pyramid: false,
        onSlabAllocated: (b) => sizes.push(b),
      });
      return sizes;
    };
    const a = await allocations(small);
    const b = await allocations(large);
    // two buffers, each one slab of 4 slices plus one slice as read from its file
    expect(a).toEqual([5 * 32 * 32, 5 * 32 * 32]);
    expect(b).toEqual(a);
  });

  it("refuses what it cannot do before reading any pixel, in one line", async () => {
    const out = path.join(tmp, "bad.zarr");
    await expect(importStack(src8, out, { ...quiet })).rejects.toThrow(
      `${src8}: the images do not record a voxel size organelle trusts; give it with --voxel-size Z,Y,X in nm (e.g. --voxel-size 5,4,4)`,
    );
    await expect(importStack(src8, out, { ...quiet, voxelSize: coord(0, 4, 4) })).rejects.toThrow(
      "--voxel-size (0, 4, 4): every value must be a positive number of nm",
    );
    await expect(importStack(src8, out, { ...quiet, voxelSize: coord(5e6, 4, 4) })).rejects.toThrow(
      /--voxel-size \(5000000, 4, 4\): values are in nm and must lie within 0.01..100000/,
    );
    await expect(
      importStack(src8, out, {
        ...quiet,
        voxelSize: coord(4, 4, 4),
        cropOffset: coord(0, 30, 0),
        cropShape: coord(5, 10, 10),
      }),
    ).rejects.toThrow(
      "--crop-offset 0,30,0 with --crop-shape 5,10,10 reaches past the stack (shape z,y,x 21,37,45)",
    );
    await expect(importStack(src8, out, { ...quiet, voxelSize: coord(4, 4, 4), level: 30 })).rejects.toThrow(
      "--level 30: zstd levels are whole numbers from 1 to 22",
    );
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(`${out}.partial`)).toBe(false);
  });

  it("never replaces an existing dataset or another import's partial output unless told to", async () => {
    const out = path.join(tmp, "exists.zarr");
    await importStack(src8, out, { ...quiet, voxelSize: coord(4, 4, 4), pyramid: false });
    await expect(importStack(src8, out, { ...quiet, voxelSize: coord(4, 4, 4) })).rejects.toThrow(
      `${out} already exists; choose another name or pass --overwrite`,
    );
    const other = path.join(tmp, "other.zarr");
    fs.mkdirSync(`${other}.partial/raw`, { recursive: true });
    await expect(importStack(src8, other, { ...quiet, voxelSize: coord(4, 4, 4) })).rejects.toThrow(
      `${other}.partial holds an interrupted import of another stack or with other options; remove it or pass --overwrite`,
    );
    const r = await importStack(src8, other, {
      ...quiet,
      voxelSize: coord(4, 4, 4),
      overwrite: true,
      pyramid: false,
    });
    expect(r.resumedSlabs).toBe(0);
    expect(fs.existsSync(`${other}.partial`)).toBe(false);
    await importStack(src16, out, { ...quiet, voxelSize: coord(4, 4, 4), overwrite: true, pyramid: false });
    expect((await Volume.open(out, "raw")).meta.dtype).toBe("uint16");
    // the same path again with other chunks and codec, on the same threads: nothing of the last run is reused
    await importStack(src16, out, {
      ...quiet,
      voxelSize: coord(4, 4, 4),
      overwrite: true,
      pyramid: false,
      chunks: coord(4, 8, 8),
      compressor: "gzip",
    });
    const again = await Volume.open(out, "raw");
    expect([again.meta.compressor, again.meta.chunks]).toEqual(["gzip", [4, 8, 8]]);
    const v = await again.readBox({ begin: coord(20, 36, 44), shape: coord(1, 1, 1) });
    expect(v[0]).toBe(value(20, 36, 44, 16));
  });
});
