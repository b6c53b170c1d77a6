import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, uniform } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import { N5Reader } from "./n5.ts";
import { buildPyramid } from "./pyramid.ts";
import { openReader, type VolumeReader } from "./reader.ts";
import { type OmeVersion, Volume } from "./volume.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-reader-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.each(["0.4", "0.5"] as const)("openReader on OME-Zarr %s", (format: OmeVersion) => {
  const ds = path.join(tmp, `cell-${format}.zarr`);
  const shape = coord(10, 12, 14);
  const data = new Uint16Array(10 * 12 * 14).map((_, i) => (i * 31) % 4099);

  beforeAll(async () => {
    const v = await Volume.create(ds, "raw", {
      shape,
      dtype: "uint16",
      voxelSize: coord(8, 4, 4),
      offset: coord(16, 4, 0),
      chunks: uniform(4),
      format,
    });
    await v.writeBox({ begin: uniform(0), shape }, data);
    await v.markComplete();
    await buildPyramid(ds, "raw", { runner: "in-process", progress: false });
  });

  it("opens the array from the container, from its own path and from a level's path alike", async () => {
    const a: VolumeReader = await openReader(ds, { array: "raw" });
    const b = await openReader(path.join(ds, "raw"));
    expect(a).toBeInstanceOf(Volume);
    expect(a.meta).toEqual(b.meta);
    const all = await a.readBox({ begin: uniform(0), shape });
    expect(Buffer.from(all.buffer).equals(Buffer.from(data.buffer))).toBe(true);
    const s1 = await openReader(path.join(ds, "raw", "s1"));
    expect(s1.scale).toBe(1);
    expect([...s1.meta.voxelSize]).toEqual([8, 8, 8]);
    expect([...s1.meta.offset]).toEqual([16, 4, 0]);
    expect((await openReader(ds, { array: "raw", scale: 1 })).meta).toEqual(s1.meta);
  });

  it("fills outside the array with the requested value", async () => {
    const r = await openReader(ds, { array: "raw" });
    const box = await r.readBox({ begin: coord(-1, 0, 0), shape: coord(2, 1, 2) }, { fill: 5 });
    expect([...box]).toEqual([5, 5, data[0], data[1]]);
  });

  it("refuses contradictions and groups with one line each", async () => {
    await expect(openReader(path.join(ds, "raw", "s1"), { scale: 2 })).rejects.toThrow(
      /is scale level 1; --scale 2/,
    );
    await expect(openReader(ds)).rejects.toThrow(/a group, not an array; name one of its arrays: raw$/);
    await expect(openReader(ds, { array: "labels/x" })).rejects.toSatisfy((e) =>
      isOrganelleError(e, "NotFound"),
    );
    await expect(openReader(ds, { array: "raw", scale: 9 })).rejects.toThrow(/has no scale level 9/);
  });
});

describe("openReader on other inputs", () => {
  it("reads a plain Zarr v2 array with funlib resolution/offset attributes", async () => {
    const dir = path.join(tmp, "plain.zarr", "volumes", "raw");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(tmp, "plain.zarr", ".zgroup"), '{"zarr_format": 2}');
    fs.writeFileSync(path.join(tmp, "plain.zarr", "volumes", ".zgroup"), '{"zarr_format": 2}');
    fs.writeFileSync(
      path.join(dir, ".zarray"),
      JSON.stringify({
        zarr_format: 2,
        shape: [2, 2, 3],
        chunks: [2, 2, 3],
        dtype: "|u1",
        compressor: null,
        fill_value: 0,
        order: "C",
        filters: null,
      }),
    );
    fs.writeFileSync(
      path.join(dir, ".zattrs"),
      JSON.stringify({ resolution: [40, 4, 4], offset: [80, 8, 0] }),
    );
    fs.writeFileSync(path.join(dir, "0.0.0"), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    const r = await openReader(path.join(tmp, "plain.zarr"), { array: "volumes/raw" });
    expect([...r.meta.voxelSize]).toEqual([40, 4, 4]);
    expect([...r.meta.offset]).toEqual([80, 8, 0]);
    expect(r.meta.compressor).toBe("none");
    expect(r.meta.kind).toBe("intensity");
    expect([...(await r.readBox({ begin: coord(1, 1, 0), shape: coord(1, 1, 3) }))]).toEqual([10, 11, 12]);
    await expect(openReader(dir, { scale: 1 })).rejects.toThrow(/single array without scale levels/);
  });

  it("opens N5 through the same interface", async () => {
    const n5 = path.join(import.meta.dirname, "../../test/fixtures/n5/cosem.n5");
    const r = await openReader(n5, { array: "cosem/fibsem-uint8", scale: 1 });
    expect(r).toBeInstanceOf(N5Reader);
    expect(r.levels.map((l) => l.path)).toEqual(["s0", "s1"]);
  });

  it("names the path in one line for a file, a missing path and a directory without metadata", async () => {
    const file = path.join(tmp, "slice.tif");
    fs.writeFileSync(file, "II*\0");
    await expect(openReader(file)).rejects.toThrow(/slice\.tif: is a file; expected an OME-Zarr/);
    await expect(openReader(path.join(tmp, "missing.zarr"))).rejects.toThrow(
      /missing\.zarr: no such file or directory/,
    );
    const empty = path.join(tmp, "empty");
    fs.mkdirSync(empty);
    await expect(openReader(empty)).rejects.toThrow(/empty: not an OME-Zarr or N5 volume/);
  });
});
