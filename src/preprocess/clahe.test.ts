import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { coord, uniform } from "../core/coordinate.ts";
import { claheVolume } from "../ops/clahe.ts";
import { Volume } from "../store/volume.ts";
import { runClahe } from "./clahe.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-clahe-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A smooth field with noise, so tiles have different histograms. */
function phantom(shape: [number, number, number], max: number): Uint8Array | Uint16Array {
  const n = shape[0] * shape[1] * shape[2];
  const out = max > 255 ? new Uint16Array(n) : new Uint8Array(n);
  let s = 12345;
  for (let z = 0, i = 0; z < shape[0]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[2]; x++, i++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        const base = 0.5 + 0.35 * Math.sin(z / 6) * Math.cos(y / 9) + 0.1 * Math.sin(x / 4);
        out[i] = Math.max(0, Math.min(max, Math.round(base * max * 0.8 + ((s >>> 16) % 40) - 20)));
      }
  return out;
}

describe("runClahe (block-wise CLAHE)", () => {
  it.each([
    ["uint8", 255, [37, 45, 50] as [number, number, number]],
    ["uint16", 4000, [30, 33, 41] as [number, number, number]],
  ] as const)(
    "equals the whole-volume CLAHE for %s with blocks smaller than the kernel tiles",
    async (dtype, max, shape) => {
      const ds = path.join(dir, `${dtype}.zarr`);
      const vol = await Volume.create(ds, "raw", {
        shape: coord(...shape),
        dtype,
        voxelSize: coord(5, 4, 4),
        offset: coord(100, 0, 40),
        chunks: uniform(8),
      });
      const data = phantom(shape, max);
      await vol.writeBox({ begin: uniform(0), shape: coord(...shape) }, data);
      await vol.markComplete();
      const params = { kernelSize: coord(12, 10, 14), clipLimit: 0.02, nbins: 64 };
      const r = await runClahe(ds, {
        kernel: params.kernelSize,
        clipLimit: params.clipLimit,
        nbins: params.nbins,
        blockVoxels: 8,
        workers: 2,
        progress: null,
      });
      expect(r.blocks).toBeGreaterThan(20);
      const out = await Volume.open(ds, "raw_clahe");
      expect(out.meta.dtype).toBe(dtype);
      expect(out.meta.offset).toEqual(vol.meta.offset);
      const got = await out.readBox({ begin: uniform(0), shape: coord(...shape) });
      const want = claheVolume(data, coord(...shape), params, dtype);
      let diff = 0;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) diff++;
      expect(diff).toBe(0);
      // the intermediate container and the journals are gone
      expect(
        fs.existsSync(path.join(ds, ".organelle", "tmp"))
          ? fs.readdirSync(path.join(ds, ".organelle", "tmp"))
          : [],
      ).toEqual([]);
      await expect(runClahe(ds, { kernel: 12, progress: null })).rejects.toThrow(
        /already exists; pass --overwrite/,
      );
    },
  );
});
