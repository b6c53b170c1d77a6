import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { coord, uniform } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import { Volume } from "./volume.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-volume-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.each(["0.4", "0.5"] as const)("Volume (OME-Zarr %s)", (format) => {
  for (const compressor of ["zstd", "blosc", "gzip", "none"] as const) {
    it(`round-trips uint16 data with ${compressor}, partial boxes and zero fill outside`, async () => {
      const ds = path.join(tmp, `cell-${format}-${compressor}.zarr`);
      const shape = coord(20, 33, 17);
      const vol = await Volume.create(ds, "raw", {
        shape,
        dtype: "uint16",
        voxelSize: coord(5.2, 4, 4),
        offset: coord(52, 40, 0),
        chunks: uniform(8),
        compressor,
        format,
      });
      const data = new Uint16Array(20 * 33 * 17).map((_, i) => (i * 7919) % 65536);
      await vol.writeBox({ begin: uniform(0), shape }, data);
      await vol.markComplete();
      const re = await Volume.open(ds, "raw");
      expect(re.meta.shape).toEqual([20, 33, 17]);
      expect(re.meta.voxelSize).toEqual([5.2, 4, 4]);
      expect(re.meta.offset).toEqual([52, 40, 0]);
      expect(re.meta.compressor).toBe(compressor);
      const all = await re.readBox({ begin: uniform(0), shape });
      expect(Buffer.from(all.buffer, all.byteOffset, all.byteLength).equals(Buffer.from(data.buffer))).toBe(
        true,
      );
      const part = await re.readBox({ begin: coord(-2, 30, 10), shape: coord(4, 5, 3) });
      expect(part[0]).toBe(0);
      // voxel (0,30,10) is at index 2*15 + 0*3 in the box (z=2,y=0,x=0)
      expect(part[2 * 15]).toBe(data[30 * 17 + 10]);
      expect(part[2 * 15 + 3 * 3]).toBe(0); // y=33 is outside
      const roi = re.roi;
      expect(roi.equals(new Roi(coord(52, 40, 0), coord(104, 132, 68)))).toBe(true);
    });
  }

  it("refuses an incomplete array unless asked", async () => {
    const ds = path.join(tmp, `incomplete-${format}.zarr`);
    await Volume.create(ds, "raw", { shape: uniform(4), dtype: "uint8", voxelSize: uniform(5), format });
    await expect(Volume.open(ds, "raw")).rejects.toSatisfy((e) => isOrganelleError(e, "Incomplete"));
    const v = await Volume.open(ds, "raw", { allowIncomplete: true });
    expect(v.meta.dtype).toBe("uint8");
  });

  it("registers label arrays in the OME labels group", async () => {
    const ds = path.join(tmp, `labels-${format}.zarr`);
    await Volume.create(ds, "raw", { shape: uniform(4), dtype: "uint8", voxelSize: uniform(5), format });
    const l = await Volume.create(ds, "labels/mito", {
      shape: uniform(4),
      dtype: "uint32",
      voxelSize: uniform(5),
      format,
      kind: "label",
    });
    expect(l.meta.kind).toBe("label");
    const file = format === "0.4" ? "labels/.zattrs" : "labels/zarr.json";
    expect(fs.readFileSync(path.join(ds, file), "utf8")).toContain('"mito"');
  });
});
