import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkerPool } from "../blockwise/worker-pool.ts";
import { coord } from "../core/coordinate.ts";
import { exportTiff } from "./export.ts";
import { importStack } from "./import.ts";
import { TiffFile } from "./tiff-read.ts";
import { TiffWriter } from "./tiff-write.ts";
import { Volume } from "./volume.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-export-"));
// One pool for the file: threads start once (from TypeScript sources, which takes a moment).
const pool = new WorkerPool({ workers: 2 });
const shape: [number, number, number] = [9, 14, 17];
const stack = path.join(tmp, "stack");
const dataset = path.join(tmp, "cell.zarr");
const value = (z: number, y: number, x: number) => 1 + ((z * 37 + y * 11 + x) % 250);

beforeAll(async () => {
  fs.mkdirSync(stack);
  for (let z = 0; z < shape[0]; z++) {
    const plane = new Uint8Array(shape[1] * shape[2]);
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[2]; x++) plane[y * shape[2] + x] = value(z, y, x);
    const w = TiffWriter.create(path.join(stack, `s${z}.tif`), {
      width: shape[2],
      height: shape[1],
      dtype: "uint8",
      pages: 1,
    });
    w.writePage(plane);
    w.close();
  }
  // Imported with a crop: z 2..7, y 3..12, x 4..14 of the stack.
  await importStack(stack, dataset, {
    voxelSize: coord(6, 4, 4),
    cropOffset: coord(2, 3, 4),
    cropShape: coord(5, 9, 10),
    chunks: coord(4, 8, 8),
    progress: null,
    pool,
  });
});
afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function readTiffStack(files: string[]): Promise<{ shape: number[]; data: number[] }> {
  const data: number[] = [];
  let shape: number[] = [];
  let z = 0;
  for (const f of files) {
    const t = await TiffFile.open(f);
    for await (const p of t.pages()) {
      const a =
        p.bitsPerSample === 8 ? new Uint8Array(p.width * p.height) : new Uint16Array(p.width * p.height);
      await t.readPage(p, a);
      data.push(...a);
      shape = [++z, p.height, p.width];
    }
    t.close();
  }
  return { shape, data };
}

describe("exportTiff", () => {
  it("un-crops by default: the original stack's frame, zeros outside the crop", async () => {
    const out = path.join(tmp, "uncropped.tif");
    const r = await exportTiff(dataset, out, { progress: null });
    expect(r).toMatchObject({ layout: "multipage", shape: shape, uncropped: true, dtype: "uint8", files: 1 });
    const { shape: s, data } = await readTiffStack([out]);
    expect(s).toEqual(shape);
    for (let z = 0; z < shape[0]; z++)
      for (let y = 0; y < shape[1]; y++)
        for (let x = 0; x < shape[2]; x++) {
          const inside = z >= 2 && z < 7 && y >= 3 && y < 12 && x >= 4 && x < 14;
          expect(data[(z * shape[1] + y) * shape[2] + x]).toBe(inside ? value(z, y, x) : 0);
        }
  });

  it("--no-uncrop exports the array's own extent as zero-padded slice files", async () => {
    const out = path.join(tmp, "slices");
    const r = await exportTiff(dataset, out, { uncrop: false, progress: null });
    expect(r).toMatchObject({ layout: "slices", shape: [5, 9, 10], files: 5, uncropped: false });
    const names = fs.readdirSync(out).sort();
    expect(names).toEqual(["raw_0000.tif", "raw_0001.tif", "raw_0002.tif", "raw_0003.tif", "raw_0004.tif"]);
    const { data } = await readTiffStack(names.map((n) => path.join(out, n)));
    expect(data[0]).toBe(value(2, 3, 4));
    expect(data[data.length - 1]).toBe(value(6, 11, 13));
    expect(fs.existsSync(`${out}.partial`)).toBe(false);
  });

  it("places a label array of part of raw into the original frame too", async () => {
    const labels = await Volume.create(dataset, "labels/mito", {
      shape: coord(2, 3, 4),
      dtype: "uint32",
      voxelSize: coord(6, 4, 4),
      // world position of source voxel (3, 5, 6)
      offset: coord(18, 20, 24),
      kind: "label",
    });
    await labels.writeBox({ begin: coord(0, 0, 0), shape: coord(2, 3, 4) }, new Uint32Array(24).fill(70000));
    await labels.markComplete();
    const out = path.join(tmp, "mito.tif");
    const r = await exportTiff(dataset, out, { array: "labels/mito", progress: null });
    expect(r).toMatchObject({ shape, dtype: "uint32", uncropped: true });
    const script = `
import sys, json, tifffile, numpy as np
a = tifffile.imread(sys.argv[1])
nz = np.argwhere(a)
print(json.dumps({"shape": list(a.shape), "dtype": str(a.dtype), "values": sorted(set(a[a > 0].tolist())),
                  "count": int((a > 0).sum()), "lo": nz.min(0).tolist(), "hi": nz.max(0).tolist()}))`;
    const got = JSON.parse(execFileSync("/usr/bin/python3", ["-c", script, out], { encoding: "utf8" }));
    expect(got).toEqual({ shape, dtype: "uint32", values: [70000], count: 24, lo: [3, 5, 6], hi: [4, 7, 9] });
  });

  it("refuses what TIFF export cannot write and leaves nothing behind", async () => {
    const ids = await Volume.create(dataset, "segmentations/ids", {
      shape: coord(1, 2, 2),
      dtype: "uint64",
      voxelSize: coord(6, 4, 4),
      kind: "label",
    });
    await ids.markComplete();
    const out = path.join(tmp, "ids.tif");
    await expect(exportTiff(dataset, out, { array: "segmentations/ids", progress: null })).rejects.toThrow(
      /segmentations\/ids is uint64; TIFF export writes uint8, uint16, uint32, int32 or float32 arrays/,
    );
    const existing = path.join(tmp, "exists.tif");
    fs.writeFileSync(existing, "x");
    await expect(exportTiff(dataset, existing, { progress: null })).rejects.toThrow(
      `${existing} already exists; choose another name or pass --overwrite`,
    );
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(`${out}.partial`)).toBe(false);
  });
});
