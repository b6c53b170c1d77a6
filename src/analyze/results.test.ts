import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Catalog } from "../catalog/catalog.ts";
import { parseCsv } from "../catalog/csv.ts";
import { barChartSvg, histogramSvg } from "./report-svg.ts";
import {
  catalogDirFor,
  csvText,
  recordResultTable,
  updateClassSummary,
  writeResultTable,
} from "./results.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-results-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("result tables", () => {
  it("writes RFC 4180 CSV that the catalogue's parser reads back", () => {
    const text = csvText(
      ["Name", "Value"],
      [
        ["a,b", 1.5],
        ['say "hi"', null],
        ["x", Number.NaN],
      ],
    );
    expect(text).toBe('Name,Value\n"a,b",1.5\n"say ""hi""",\nx,\n');
    expect(parseCsv(text, "t.csv").rows).toEqual([
      ["a,b", 1.5],
      ['say "hi"', null],
      ["x", null],
    ]);
  });

  it("records tables in the nearest catalogue up the tree, else next to the dataset", async () => {
    const ds = path.join(dir, "group", "cells", "a.zarr");
    fs.mkdirSync(ds, { recursive: true });
    expect(catalogDirFor(ds)).toBe(path.join(dir, "group", "cells"));
    Catalog.forDir(path.join(dir, "group")).close();
    expect(catalogDirFor(ds)).toBe(path.join(dir, "group"));
    const r = await writeResultTable(
      ds,
      "skeleton_mito",
      ["Object ID", "Length (nm)"],
      [
        [1, 800],
        [2, 1200],
      ],
      {
        array: "segmentations/mito",
      },
    );
    expect(r.catalog).toBe(path.join(dir, "group", "organelle-catalog.sqlite"));
    expect(fs.readFileSync(r.csvPath, "utf8")).toBe("Object ID,Length (nm)\n1,800\n2,1200\n");
    const c = Catalog.forDir(path.join(dir, "group"));
    try {
      expect(c.getTable("cells/a.zarr", "skeleton_mito")?.rows).toEqual([
        [1, 800],
        [2, 1200],
      ]);
      expect(c.findRow("cells/a.zarr", "skeleton_mito", 2)).toBeTruthy();
    } finally {
      c.close();
    }
  });

  it("keeps the CSV and warns when the catalogue cannot take the table", async () => {
    const ds = path.join(dir, "b.zarr");
    fs.mkdirSync(ds, { recursive: true });
    const r = await recordResultTable(
      ds,
      "bad name!",
      ["Object ID"],
      [[1]],
      path.join(ds, "tables", "x.csv"),
      {
        quiet: true,
      },
    );
    expect(r.catalog).toBeUndefined();
    expect(r.warning).toMatch(/table bad name! is in .*x\.csv but not in the catalogue .*: table name/);
  });

  it("keeps one row per measured array in tables/classes.csv", async () => {
    const ds = path.join(dir, "c.zarr");
    fs.mkdirSync(ds, { recursive: true });
    const summary = (count: number) => ({
      count,
      totalVolume: count * 1e6,
      cellVolume: 1e9,
      cellFraction: (count * 1e6) / 1e9,
      volumeQuantiles: [0, 0, 0, 1e6, 0, 0, 0],
    });
    await updateClassSummary(ds, "segmentations/mito", summary(3), "mito", { quiet: true });
    await updateClassSummary(ds, "labels/er", summary(5), "er", { quiet: true });
    const r = await updateClassSummary(ds, "segmentations/mito", summary(4), "mito", { quiet: true });
    const t = parseCsv(fs.readFileSync(r.csvPath, "utf8"), r.csvPath);
    expect(t.rows.map((x) => [x[0], x[2], x[5]])).toEqual([
      ["labels/er", 5, 0.005],
      ["segmentations/mito", 4, 0.004],
    ]);
  });
});

describe("report plots", () => {
  it("bins every finite value once (log bins skip values <= 0) and draws a bar per group and series", () => {
    const values = [1e3, 2e3, 5e3, 1e4, 3e4, 1e5, 1e6, 0, Number.NaN];
    const svg = histogramSvg({
      title: "t <x>",
      xLabel: "v",
      log: true,
      series: [{ name: "a", color: "#f00", values }],
    });
    expect(svg).toContain("t &lt;x&gt;");
    const counts = [...svg.matchAll(/data-count="(\d+)"/g)].map((m) => Number(m[1]));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(7);
    const bars = barChartSvg({
      title: "b",
      yLabel: "n",
      groups: ["mito", "er"],
      series: [
        { name: "x", color: "#00f", values: [3, null] },
        { name: "y", color: "#0f0", values: [1, 2] },
      ],
    });
    expect([...bars.matchAll(/class="bar"/g)]).toHaveLength(3);
    expect(bars).toContain('data-series="y" data-group="er" data-value="2"');
  });
});
