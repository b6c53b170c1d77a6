import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord } from "../core/coordinate.ts";
import { Volume } from "../store/volume.ts";
import { Catalog } from "./catalog.ts";
import type { DatasetDetail } from "./dataset-summary.ts";
import { scanDirectory } from "./scan.ts";

let dir: string;
let cat: Catalog;

async function makeDataset(ds: string, format: "0.4" | "0.5") {
  const raw = await Volume.create(ds, "raw", {
    shape: coord(8, 16, 16),
    dtype: "uint8",
    voxelSize: coord(10, 8, 8),
    chunks: coord(8, 8, 8),
    format,
    kind: "intensity",
  });
  await raw.writeBox({ begin: coord(0, 0, 0), shape: coord(8, 16, 16) }, new Uint8Array(8 * 16 * 16).fill(7));
  await raw.markComplete();
  const lab = await Volume.create(ds, "segmentations/mito", {
    shape: coord(8, 16, 16),
    dtype: "uint32",
    voxelSize: coord(10, 8, 8),
    chunks: coord(8, 8, 8),
    format,
    kind: "label",
  });
  await lab.markComplete();
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-scan-"));
  await makeDataset(path.join(dir, "a.zarr"), "0.4");
  await makeDataset(path.join(dir, "group", "b.zarr"), "0.5");
  fs.mkdirSync(path.join(dir, "a.zarr", "tables"));
  fs.writeFileSync(
    path.join(dir, "a.zarr", "tables", "mito.csv"),
    "Object ID,Volume (nm^3)\n1,640\n2,1280\n",
  );
  const model = path.join(dir, "models", "mito-small");
  fs.mkdirSync(model, { recursive: true });
  fs.writeFileSync(
    path.join(model, "model.json"),
    JSON.stringify({
      format: "organelle-model",
      version: 1,
      name: "mito-small",
      organelle: "mito",
      voxelSize: [8, 8, 8],
      spec: {},
    }),
  );
  cat = Catalog.forDir(dir);
});
afterAll(() => {
  cat.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("scanDirectory", () => {
  it("indexes datasets (0.4 and 0.5), their CSV tables and model packages; a second scan reads nothing", async () => {
    const first = await scanDirectory(cat);
    expect(first).toMatchObject({ datasets: 2, models: 1, tables: 1, removed: 0, errors: [] });
    expect(first.updated).toBe(4);
    const ds = cat.listDatasets<DatasetDetail>();
    expect(ds.map((d) => d.id)).toEqual(["a.zarr", "group/b.zarr"]);
    const b = ds[1]!.summary;
    expect(b.format).toMatch(/OME-Zarr 0.5/);
    expect(b.arrays.map((x) => [x.path, x.group, x.kind, x.url])).toEqual([
      ["raw", "em", "intensity", "/data/group/b.zarr/raw"],
      ["segmentations/mito", "segmentations", "label", "/data/group/b.zarr/segmentations/mito"],
    ]);
    expect(b).toMatchObject({ voxelSize: [10, 8, 8], shape: [8, 16, 16], arrayCount: 2 });
    expect(cat.getTable("a.zarr", "mito")).toEqual({
      columns: ["Object ID", "Volume (nm^3)"],
      rows: [
        [1, 640],
        [2, 1280],
      ],
    });
    expect(cat.listModels()[0]!.summary).toMatchObject({
      name: "mito-small",
      organelle: "mito",
      source: "package",
    });

    const again = await scanDirectory(cat);
    expect(again.updated).toBe(0);
  });

  it("re-reads a changed CSV and drops what vanished from disk", async () => {
    const csv = path.join(dir, "a.zarr", "tables", "mito.csv");
    fs.writeFileSync(csv, "Object ID,Volume (nm^3)\n5,1\n");
    const t = new Date(Date.now() + 5000);
    fs.utimesSync(csv, t, t);
    const r = await scanDirectory(cat);
    expect(r.updated).toBe(1);
    expect(cat.findRow("a.zarr", "mito", 5)).toEqual({ "Object ID": 5, "Volume (nm^3)": 1 });
    fs.rmSync(csv);
    fs.rmSync(path.join(dir, "group"), { recursive: true });
    const gone = await scanDirectory(cat);
    expect(gone.removed).toBe(2);
    expect(cat.listDatasets().map((d) => d.id)).toEqual(["a.zarr"]);
    expect(cat.listTables()).toEqual([]);
  });
});
