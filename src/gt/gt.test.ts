import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { differences, gtFixtures, gtU8, gtU32, shapeOf } from "../../test/helpers/gt-fixtures.ts";
import { WorkerPool } from "../blockwise/worker-pool.ts";
import { type Coordinate, coord, uniform } from "../core/coordinate.ts";
import { Roi } from "../core/roi.ts";
import { TiffWriter } from "../store/tiff-write.ts";
import { Volume } from "../store/volume.ts";
import { biasCorrect } from "./bias.ts";
import { cleanLabels } from "./clean.ts";
import { exclusionZoneOf } from "./exclusion.ts";
import { importLabels } from "./import.ts";
import { addRoi, listRois } from "./rois.ts";

/** The ground-truth operations on a dataset, block-wise (blocks of 8^3, much smaller than the objects). */

const fx = gtFixtures().labels;
const shape = shapeOf(fx.shape);
const vs: Coordinate = coord(5, 5, 5);
const origin: Coordinate = coord(0, 50, 100);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-gt-"));
const pool = new WorkerPool({ workers: 2 });
const common = { pool, progress: null, blockVoxels: 8 } as const;
afterAll(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function writeArray(
  ds: string,
  arrayPath: string,
  data: Uint8Array | Uint32Array,
  o: { kind: "intensity" | "label"; voxelSize?: Coordinate; offset?: Coordinate; s?: Coordinate } = {
    kind: "label",
  },
) {
  const s = o.s ?? shape;
  const v = await Volume.create(ds, arrayPath, {
    shape: s,
    dtype: data instanceof Uint8Array ? "uint8" : "uint32",
    voxelSize: o.voxelSize ?? vs,
    offset: o.offset ?? origin,
    chunks: uniform(8),
    kind: o.kind,
  });
  await v.writeBox({ begin: uniform(0), shape: s }, data);
  await v.markComplete();
}

/** A fresh dataset with raw, binary mito labels and instance golgi labels. */
async function dataset(name: string): Promise<string> {
  const ds = path.join(dir, name);
  await writeArray(ds, "raw", new Uint8Array(gtU8(fx.binary).map((v) => 100 + 50 * v)), {
    kind: "intensity",
  });
  await writeArray(ds, "labels/mito", gtU8(fx.binary));
  await writeArray(ds, "labels/golgi", gtU32(fx.instances));
  return ds;
}

async function readAll(ds: string, arrayPath: string) {
  const v = await Volume.open(ds, arrayPath);
  return { v, data: await v.readBox({ begin: uniform(0), shape: v.meta.shape }) };
}

let ds: string;
beforeAll(async () => {
  ds = await dataset("cell.zarr");
});

describe("gt exclusion", () => {
  it("writes labels/<organelle>_exclusion = dilate XOR erode with the preset numbers (mito 4/4)", async () => {
    const r = await exclusionZoneOf(ds, "mito", common);
    expect([r.dilate, r.erode]).toEqual([4, 4]);
    const { v, data } = await readAll(ds, "labels/mito_exclusion");
    expect(v.meta.kind).toBe("mask");
    expect(v.meta.offset).toEqual(origin);
    const want = fx.exclusion.find((e) => e.structure === "cross" && e.dilate === 4 && e.erode === 4)!;
    expect(differences(data as Uint8Array, gtU8(want.zone))).toBe(0);
  });

  it("takes overrides, a ball, and instance labels", async () => {
    await exclusionZoneOf(ds, "golgi", { ...common, dilate: 3, erode: 1, structure: "ball" });
    const want = fx.exclusion.find((e) => e.structure === "ball" && e.dilate === 3 && e.erode === 1)!;
    expect(
      differences((await readAll(ds, "labels/golgi_exclusion")).data as Uint8Array, gtU8(want.zone)),
    ).toBe(0);
    await expect(exclusionZoneOf(ds, "golgi", common)).rejects.toThrow(/already exists; pass --overwrite/);
  });

  it("needs explicit numbers where the sources give none, and known organelles", async () => {
    await expect(exclusionZoneOf(ds, "vesicle", common)).rejects.toThrow(/no vesicles labels|--dilate/);
    await expect(exclusionZoneOf(ds, "chloroplast", common)).rejects.toThrow(
      /unknown organelle 'chloroplast'/,
    );
  });
});

describe("gt clean", () => {
  it("removes small objects and fills small holes of binary labels in place, keeping ROIs", async () => {
    const d = await dataset("clean-bin.zarr");
    await addRoi(d, "mito", { roi: new Roi(coord(0, 50, 100), coord(50, 50, 50)), role: "training" });
    const r = await cleanLabels(d, "mito", {
      ...common,
      removeSmall: fx.clean.removeSmallerThan,
      fillHoles: fx.clean.fillHolesSmallerThan,
    });
    expect(r.stages.map((s) => s.stage.op)).toEqual(["removeSmall", "fillHoles"]);
    expect(r.stages[0]!.changed).toBeGreaterThan(0);
    const { v, data } = await readAll(d, "labels/mito");
    expect(differences(data as Uint8Array, gtU8(fx.clean.binaryBoth))).toBe(0);
    expect((v.attrs.rois as unknown[]).length).toBe(1);
    expect((v.attrs.gt as { op: string }[]).map((h) => h.op)).toEqual(["clean"]);
    expect(fs.readdirSync(path.join(d, ".organelle", "tmp"))).toEqual([]);
    expect(
      fs.existsSync(path.join(d, ".organelle", "trash"))
        ? fs.readdirSync(path.join(d, ".organelle", "trash"))
        : [],
    ).toEqual([]);
  });

  it("uses the preset (mito: remove < 27 voxels; ER: fill holes < 20,000) and does nothing for nuclear pores", async () => {
    const d = await dataset("clean-preset.zarr");
    await cleanLabels(d, "mito", common);
    expect(
      differences((await readAll(d, "labels/mito")).data as Uint8Array, gtU8(fx.clean.binaryRemoved)),
    ).toBe(0);
    await writeArray(d, "labels/nuclear_pore", gtU8(fx.binary));
    const r = await cleanLabels(d, "nuclear_pore", common);
    expect(r.stages).toEqual([]);
    await writeArray(d, "labels/er", gtU8(fx.binary));
    await cleanLabels(d, "er", { ...common, fillHoles: fx.clean.fillHolesSmallerThan });
    expect(differences((await readAll(d, "labels/er")).data as Uint8Array, gtU8(fx.clean.binaryFilled))).toBe(
      0,
    );
  });

  it("judges instance labels per id and fills holes with the one id around them", async () => {
    const d = await dataset("clean-inst.zarr");
    await cleanLabels(d, "golgi", { ...common, removeSmall: fx.clean.removeSmallerThan });
    const removed = (await readAll(d, "labels/golgi")).data;
    expect(removed).toBeInstanceOf(Uint32Array);
    expect(differences(removed as Uint32Array, gtU32(fx.clean.instancesRemoved))).toBe(0);
    await writeArray(d, "labels/vesicle", gtU32(fx.instances));
    await cleanLabels(d, "vesicle", { ...common, fillHoles: fx.clean.fillHolesSmallerThan });
    expect(
      differences((await readAll(d, "labels/vesicle")).data as Uint32Array, gtU32(fx.clean.instancesFilled)),
    ).toBe(0);
  });
});

describe("gt bias", () => {
  it("grows binary and instance labels in place, once", async () => {
    const d = await dataset("bias.zarr");
    const r = await biasCorrect(d, "mito", common);
    expect(r.voxels).toBe(3);
    const want = fx.bias.find((b) => b.structure === "cross" && b.n === 3)!;
    expect(differences((await readAll(d, "labels/mito")).data as Uint8Array, gtU8(want.binary))).toBe(0);
    await expect(biasCorrect(d, "mito", common)).rejects.toThrow(
      /already bias-corrected \(\+3 voxels\); pass --again/,
    );
    await biasCorrect(d, "golgi", { ...common, voxels: 2, structure: "ball" });
    const ball = fx.bias.find((b) => b.structure === "ball" && b.n === 2)!;
    expect(differences((await readAll(d, "labels/golgi")).data as Uint32Array, gtU32(ball.instances))).toBe(
      0,
    );
    expect((await biasCorrect(d, "er", common).catch((e: Error) => e.message)) as string).toMatch(
      /no endoplasmic reticulum labels/,
    );
  });
});

describe("in-place rewrites", () => {
  it("finish a swap that a killed command left half done", async () => {
    const d = await dataset("swap.zarr");
    const container = path.join(d, ".organelle", "tmp", "k.zarr");
    await writeArray(container, "labels/mito", gtU8(fx.clean.binaryRemoved));
    // as if killed right after moving the old labels away: a swap record, no labels/mito
    const trash = path.join(d, ".organelle", "trash", "labels__mito-1");
    fs.mkdirSync(path.dirname(trash), { recursive: true });
    fs.renameSync(path.join(d, "labels", "mito"), trash);
    fs.mkdirSync(path.join(d, ".organelle", "swap"), { recursive: true });
    fs.writeFileSync(
      path.join(d, ".organelle", "swap", "labels__mito.json"),
      JSON.stringify({
        source: path.join(container, "labels", "mito"),
        target: path.join(d, "labels", "mito"),
        trash,
      }),
    );
    const list = await listRois(d, "mito");
    expect(list.rois).toEqual([]);
    expect(
      differences((await readAll(d, "labels/mito")).data as Uint8Array, gtU8(fx.clean.binaryRemoved)),
    ).toBe(0);
    expect(fs.existsSync(trash)).toBe(false);
    expect(fs.readdirSync(path.join(d, ".organelle", "swap"))).toEqual([]);
  });
});

describe("gt rois", () => {
  it("adds training and validation ROIs, lists them, warns near the border and on overlap", async () => {
    const d = await dataset("rois.zarr");
    const a = await addRoi(d, "mito", {
      voxels: { begin: coord(2, 3, 4), shape: coord(10, 10, 10) },
      role: "training",
    });
    expect(a.roi.name).toBe("training-1");
    expect(a.roi.roi.offset).toEqual(coord(10, 65, 120));
    expect(a.warnings.join()).toMatch(/2 voxels from the border.*>= 47/);
    const b = await addRoi(d, "mito", {
      roi: new Roi(coord(20, 75, 130), coord(25, 25, 25)),
      role: "validation",
      name: "val-a",
    });
    expect(b.warnings.some((w) => w.includes("overlaps training ROI 'training-1'"))).toBe(true);
    const list = await listRois(d, "mito");
    expect(list.rois.map((r) => [r.name, r.role])).toEqual([
      ["training-1", "training"],
      ["val-a", "validation"],
    ]);
    expect(list.rois[1]!.voxels).toEqual({ begin: coord(4, 5, 6), shape: coord(5, 5, 5) });
  });

  it("refuses ROIs outside the labels, off the voxel grid, duplicates and unknown roles", async () => {
    await expect(
      addRoi(ds, "mito", { roi: new Roi(coord(0, 0, 0), coord(50, 50, 50)), role: "training" }),
    ).rejects.toThrow(/lies outside .*labels\/mito/);
    await expect(
      addRoi(ds, "mito", { roi: new Roi(coord(1, 50, 100), coord(5, 5, 5)), role: "training" }),
    ).rejects.toThrow(/voxel grid/);
    await expect(
      addRoi(ds, "mito", { roi: new Roi(coord(0, 50, 100), coord(5, 5, 5)), role: "test" }),
    ).rejects.toThrow(/--role test: must be training or validation/);
    await addRoi(ds, "mito", {
      roi: new Roi(coord(0, 50, 100), coord(5, 5, 5)),
      role: "training",
      name: "t",
    });
    await expect(
      addRoi(ds, "mito", { roi: new Roi(coord(0, 50, 100), coord(5, 5, 5)), role: "training", name: "t" }),
    ).rejects.toThrow(/already has a ROI named 't'/);
  });
});

describe("gt import", () => {
  const src = path.join(dir, "source.zarr");
  beforeAll(async () => {
    // instance ids in another container, on raw's grid but shifted by 2 voxels along z
    await writeArray(src, "seg", gtU32(fx.instances), { kind: "label", offset: coord(10, 50, 100) });
    await writeArray(src, "fine", gtU32(fx.instances), { kind: "label", voxelSize: coord(4, 4, 4) });
  });

  it("maps ids from a Zarr array to a binary or instance label cut to raw", async () => {
    const d = await dataset("import.zarr");
    const inst = gtU32(fx.instances);
    const ids = [...new Set(inst)].filter((v) => v !== 0).slice(0, 3);
    const r = await importLabels(src, d, "er", { ...common, array: "seg", ids });
    expect(r.dtype).toBe("uint8");
    expect(r.roi.offset).toEqual(coord(10, 50, 100));
    const { v, data } = await readAll(d, "labels/er");
    expect(v.meta.shape).toEqual(coord(shape[0] - 2, shape[1], shape[2]));
    const plane = shape[1] * shape[2];
    for (let i = 0; i < data.length; i++) expect(data[i]).toBe(ids.includes(inst[i]!) ? 1 : 0);
    void plane;

    await importLabels(src, d, "golgi", {
      ...common,
      array: "seg",
      map: [
        [ids[0]!, 7],
        [ids[1]!, 9],
      ],
      overwrite: true,
    });
    const g = (await readAll(d, "labels/golgi")).data;
    expect(g).toBeInstanceOf(Uint32Array);
    for (let i = 0; i < g.length; i++) expect(g[i]).toBe(inst[i] === ids[0] ? 7 : inst[i] === ids[1] ? 9 : 0);

    await importLabels(src, d, "vesicle", { ...common, array: "seg", instances: true });
    const all = (await readAll(d, "labels/vesicle")).data;
    for (let i = 0; i < all.length; i++) expect(all[i]).toBe(inst[i]);
  });

  it("reads TIFF slices placed at raw's origin", async () => {
    const d = await dataset("import-tiff.zarr");
    const tif = path.join(dir, "labels.tif");
    const inst = gtU32(fx.instances);
    const w = TiffWriter.create(tif, { width: shape[2], height: shape[1], dtype: "uint16", pages: shape[0] });
    const plane = shape[1] * shape[2];
    for (let z = 0; z < shape[0]; z++)
      w.writePage(Uint16Array.from(inst.subarray(z * plane, (z + 1) * plane)));
    w.close();
    const r = await importLabels(tif, d, "nucleus", common);
    expect(r.sourceKind).toBe("slices");
    expect(r.placement).toBe("raw's origin");
    const { data } = await readAll(d, "labels/nucleus");
    expect(differences(data as Uint8Array, gtU8(fx.binary))).toBe(0);
  });

  it("refuses a voxel size that differs from raw's and a missing source", async () => {
    const d = await dataset("import-bad.zarr");
    await expect(importLabels(src, d, "mito", { ...common, array: "fine" })).rejects.toThrow(
      /voxel size \(4, 4, 4\) nm differs from raw's \(5, 5, 5\) nm/,
    );
    await expect(importLabels(path.join(dir, "nope"), d, "mito", common)).rejects.toThrow(/no such file/);
    await expect(
      importLabels(src, d, "mito", { ...common, array: "seg", ids: [1], map: [[1, 2]] }),
    ).rejects.toThrow(/either --ids or --map/);
  });
});
