import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Coordinate, coord, uniform } from "../src/core/coordinate.ts";
import type { DType, VoxelArray } from "../src/store/dtype.ts";
import type { ArrayKind } from "../src/store/multiscale.ts";
import { type OmeVersion, Volume } from "../src/store/volume.ts";
import { expectOneLineError, organelle, REPO, tempDir } from "./helpers/cli.ts";

/** End to end through the bundled CLI: `organelle info` and `organelle pyramid`. */

const { dir, cleanup } = tempDir("organelle-info-");
afterAll(cleanup);

async function write(
  ds: string,
  arrayPath: string,
  o: { dtype: DType; kind: ArrayKind; format?: OmeVersion; shape?: Coordinate; complete?: boolean },
): Promise<void> {
  const shape = o.shape ?? coord(12, 20, 18);
  const vol = await Volume.create(ds, arrayPath, {
    shape,
    dtype: o.dtype,
    voxelSize: coord(5, 4, 4),
    offset: coord(10, 20, 30),
    chunks: uniform(8),
    format: o.format ?? "0.4",
    kind: o.kind,
    compressor: o.dtype === "uint32" ? "blosc" : "zstd",
  });
  const data = (await vol.readBox({ begin: uniform(0), shape })) as Exclude<VoxelArray, BigUint64Array>;
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % (o.kind === "intensity" ? 200 : 3);
  await vol.writeBox({ begin: uniform(0), shape }, data);
  if (o.complete ?? true) await vol.markComplete();
}

/** Sum of file sizes under d, computed here independently of the CLI. */
function du(d: string): number {
  let n = 0;
  for (const e of fs.readdirSync(d, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) n += fs.statSync(path.join(e.parentPath, e.name)).size;
  }
  return n;
}

const ds = path.join(dir, "cell.zarr");

beforeAll(async () => {
  await write(ds, "raw", { dtype: "uint8", kind: "intensity" });
  await write(ds, "masks/cell", { dtype: "uint8", kind: "mask" });
  await write(ds, "labels/mito", { dtype: "uint32", kind: "label" });
  await write(ds, "labels/er", { dtype: "uint8", kind: "label", complete: false });
  await write(ds, "predictions/unet1/mito/prob", { dtype: "uint8", kind: "intensity" });
  await write(ds, "segmentations/mito", { dtype: "uint32", kind: "label" });
});

describe("organelle pyramid", () => {
  it("builds the levels of an array on worker threads and reports them", () => {
    const r = organelle(["pyramid", ds, "raw"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("raw: 3 levels, mean downsampling");
    expect(r.stdout).toMatch(/s1 {2}6 x 10 x 9 voxels {2}@ 10 x 8 x 8 nm/);
    const again = organelle(["pyramid", ds, "raw"]);
    expect(expectOneLineError(again)).toMatch(/already has 3 scale levels; pass --overwrite/);
    expect(again.code).toBe(2);
    expect(organelle(["pyramid", ds, "labels/mito", "--levels", "2"]).stdout).toContain(
      "2 levels, mode downsampling",
    );
  });

  it("says which argument is wrong", () => {
    expect(expectOneLineError(organelle(["pyramid", ds, "labels/nope"]))).toMatch(
      /labels\/nope: no such array/,
    );
    expect(expectOneLineError(organelle(["pyramid", ds, "labels/er"]))).toMatch(/not completely written/);
    expect(expectOneLineError(organelle(["pyramid", ds, "raw", "--levels", "0"]))).toMatch(/--levels/);
  });
});

describe("organelle info", () => {
  it("lists every array of a dataset in layout order, with labels, scales, INCOMPLETE and sizes", () => {
    const r = organelle(["info", ds]);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/cell\.zarr: OME-Zarr 0\.4 \(Zarr v2\) container, 6 arrays, .* on disk/);
    expect(out).toContain("label arrays: er, mito");
    const order = [
      "raw",
      "masks/cell",
      "labels/er",
      "labels/mito",
      "predictions/unet1/mito/prob",
      "segmentations/mito",
    ].map((a) => out.indexOf(`\n${a}  `));
    expect(order.every((i, k) => i > 0 && (k === 0 || i > order[k - 1]!))).toBe(true);
    expect(out).toMatch(/\nlabels\/er {2}uint8 label {2}INCOMPLETE/);
    expect(out).toMatch(/\nlabels\/mito {2}uint32 label\n/);
    expect(out).toContain("  shape        12 x 20 x 18 voxels (z,y,x)");
    expect(out).toContain("  voxel size   5 x 4 x 4 nm");
    expect(out).toContain("  offset       10, 20, 30 nm");
    expect(out).toContain("  compression  zstd (level 3)");
    expect(out).toContain("  compression  blosc (zstd, clevel 5, shuffle)");
    expect(out).toContain("  scales       3 levels");
    expect(out).toMatch(/ {4}s2 {3}3 x 5 x 5 +@ 20 x 16 x 16 nm/);
  });

  it("--json gives the same facts as a structure, with exact sizes on disk", () => {
    const r = organelle(["info", ds, "--json"]);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.type).toBe("container");
    expect(info.labels).toEqual(["er", "mito"]);
    expect(info.bytes).toBe(du(ds));
    const raw = info.arrays.find((a: { path: string }) => a.path === "raw");
    expect(raw).toMatchObject({
      format: "OME-Zarr 0.4 (Zarr v2)",
      shape: [12, 20, 18],
      dtype: "uint8",
      voxelSize: [5, 4, 4],
      voxelSizeRecorded: true,
      offset: [10, 20, 30],
      chunks: [8, 8, 8],
      kind: "intensity",
      complete: true,
      bytes: du(path.join(ds, "raw")),
    });
    expect(
      raw.levels.map((l: { path: string; shape: number[]; voxelSize: number[] }) => [
        l.path,
        l.shape,
        l.voxelSize,
      ]),
    ).toEqual([
      ["s0", [12, 20, 18], [5, 4, 4]],
      ["s1", [6, 10, 9], [10, 8, 8]],
      ["s2", [3, 5, 5], [20, 16, 16]],
    ]);
    expect(raw.levels[1].bytes).toBe(du(path.join(ds, "raw", "s1")));
    const er = info.arrays.find((a: { path: string }) => a.path === "labels/er");
    expect(er.complete).toBe(false);
  });

  it("describes one array by its path, and OME-Zarr 0.5", async () => {
    const v5 = path.join(dir, "v5.zarr");
    await write(v5, "raw", { dtype: "uint16", kind: "intensity", format: "0.5", shape: coord(3, 4, 5) });
    const one = JSON.parse(organelle(["info", path.join(v5, "raw"), "--json"]).stdout);
    expect(one.type).toBe("array");
    expect(one.format).toBe("OME-Zarr 0.5 (Zarr v3)");
    expect(one.arrays).toHaveLength(1);
    expect(one.arrays[0]).toMatchObject({
      path: "",
      dtype: "uint16",
      shape: [3, 4, 5],
      compression: "zstd (level 3)",
    });
  });

  it("reads N5 containers (COSEM layout) and reports unreadable arrays without failing", () => {
    const n5 = path.join(REPO, "test/fixtures/n5/cosem.n5");
    const r = organelle(["info", n5, "--json"]);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.format).toBe("N5");
    const em = info.arrays.find((a: { path: string }) => a.path === "cosem/fibsem-uint8");
    expect(em).toMatchObject({
      voxelSize: [6, 4, 4],
      offset: [60, 40, 20],
      compression: "gzip",
      kind: "intensity",
    });
    expect(em.levels).toHaveLength(2);
    const bz = info.arrays.find((a: { path: string }) => a.path === "bzip2_u8");
    expect(bz.error).toMatch(/compression 'bzip2' is not supported/);
    const text = organelle(["info", n5]).stdout;
    expect(text).toContain("bzip2_u8  UNREADABLE (N5)");
    expect(text).toContain("voxel size   1 x 1 x 1 nm (not recorded in the metadata; assumed)");
  });

  it("gives one clear line and exit code 2 for a missing path, a file and a non-Zarr directory", () => {
    const missing = organelle(["info", path.join(dir, "nope.zarr")]);
    expect(missing.code).toBe(2);
    expect(expectOneLineError(missing)).toMatch(/nope\.zarr: no such file or directory/);
    const file = path.join(dir, "notes.txt");
    fs.writeFileSync(file, "hello");
    const f = organelle(["info", file]);
    expect(f.code).toBe(2);
    expect(expectOneLineError(f)).toMatch(
      /notes\.txt: is a file; expected an OME-Zarr \(\.zarr\) or N5 \(\.n5\) directory/,
    );
    const plain = path.join(dir, "plain");
    fs.mkdirSync(plain);
    const p = organelle(["info", plain]);
    expect(p.code).toBe(2);
    expect(expectOneLineError(p)).toMatch(/plain: not an OME-Zarr or N5 directory/);
  });
});
