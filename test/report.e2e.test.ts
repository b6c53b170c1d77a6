import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeResultTable } from "../src/analyze/results.ts";
import { Catalog } from "../src/catalog/catalog.ts";
import { expectOneLineError, organelle, tempDir } from "./helpers/cli.ts";
import { refineExactArgs, synthCell } from "./helpers/synth.ts";

/**
 * A synthetic cell through refine -> measure -> contacts -> report with the bundled CLI: the tables
 * land in tables/*.csv and in the catalogue, and the HTML report shows their numbers and plots, for
 * one cell and for two side by side.
 */

const { dir, cleanup } = tempDir("organelle-report-");
afterAll(cleanup);
const ds = path.join(dir, "cell.zarr");
const ds2 = path.join(dir, "b", "cell.zarr");

function ok(args: string[]) {
  const r = organelle(args);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

function csv(file: string): string[][] {
  return fs
    .readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(","));
}

beforeAll(() => {
  synthCell(ds);
  const opts = ["--block", "32", "--workers", "2"];
  ok(refineExactArgs(ds, "labels/mito"));
  ok(["measure", ds, "segmentations/mito", ...opts]);
  ok(["measure", ds, "labels/er", ...opts]);
  ok(["contacts", ds, "segmentations/mito", "labels/er", "--distance", "40", "--min-volume", "0", ...opts]);
  // The second cell: the same cell with vesicles measured too, in another directory.
  fs.mkdirSync(path.dirname(ds2), { recursive: true });
  fs.cpSync(ds, ds2, { recursive: true });
  ok(["measure", ds2, "labels/vesicle", ...opts]);
  ok(["measure", ds2, "labels/mito", "--table", "tables/mito_labels.csv", ...opts]);
}, 240_000);

describe("results in the catalogue", () => {
  it("records the measure, class and contact tables next to their CSV files", () => {
    const catalog = Catalog.forDir(dir);
    try {
      const tables = catalog.listTables("cell.zarr");
      expect(tables.map((t) => t.name).sort()).toEqual(["classes", "contacts_mito_er", "er", "mito"]);
      const mito = catalog.getTable("cell.zarr", "mito")!;
      const rows = csv(path.join(ds, "tables", "mito.csv"));
      expect(mito.columns).toEqual(rows[0]);
      expect(mito.rows.length).toBe(rows.length - 1);
      expect(mito.rows[0]![1]).toBe(Number(rows[1]![1]));
      expect(catalog.tableForArray("cell.zarr", "segmentations/mito")?.name).toBe("mito");
      const classes = catalog.getTable("cell.zarr", "classes")!;
      expect(classes.rows.map((r) => r[0])).toEqual(["labels/er", "segmentations/mito"]);
      expect(catalog.listTables("b/cell.zarr").map((t) => t.name)).toContain("vesicle");
    } finally {
      catalog.close();
    }
  });
});

describe("organelle report", () => {
  it("writes one cell's counts, volumes, fractions, contacts and plots into a self-contained page", async () => {
    // A table of another verb (as skeleton would write it) through the shared helper.
    {
      const r = await writeResultTable(
        ds,
        "skeleton_mito",
        ["Object ID", "Length (nm)", "Mean Radius (nm)"],
        Array.from({ length: 50 }, (_, i) => [i + 1, 500 + 20 * i, 120 + (i % 7)]),
        { array: "segmentations/mito" },
      );
      expect(r.warning).toBeUndefined();
      expect(fs.readFileSync(r.csvPath, "utf8").split("\n")[0]).toBe(
        "Object ID,Length (nm),Mean Radius (nm)",
      );
      const out = path.join(dir, "one.html");
      const stdout = ok(["report", ds, "--out", out]);
      expect(stdout).toMatch(/report of 1 dataset \(5 tables\)/);
      const html = fs.readFileSync(out, "utf8");
      expect(html.startsWith("<!doctype html>")).toBe(true);
      expect(html).not.toMatch(/<link|<script|src="http/);
      const classes = csv(path.join(ds, "tables", "classes.csv"));
      const head = classes[0]!;
      const mito = classes.find((r) => r[0] === "segmentations/mito")!;
      const count = Number(mito[head.indexOf("Count")]);
      const fraction = Number(mito[head.indexOf("Cell Fraction")]);
      expect(count).toBe(csv(path.join(ds, "tables", "mito.csv")).length - 1);
      expect(fraction).toBeGreaterThan(0);
      // The organelle row: count, total volume in um^3 and the fraction of the cell.
      const total = Number(mito[head.indexOf("Total Volume (nm^3)")]) / 1e9;
      const row = new RegExp(
        `<tr><th>mito</th><td>${count}</td><td>${Number(total.toPrecision(3))}</td><td>${(100 * fraction).toFixed(2)} %</td>`,
      );
      expect(html).toMatch(row);
      // Plots: fractions and counts bars, a volume and an area histogram per class, contact plots.
      expect(html).toContain('aria-label="Volume fraction of the cell"');
      expect(html).toContain('aria-label="mito: volume"');
      expect(html).toContain('aria-label="er: surface area"');
      const bars = [...html.matchAll(/data-group="mito" data-value="([\d.e+-]+)"/g)].map((m) => Number(m[1]));
      expect(bars).toContain(count);
      const histogram = html.slice(html.indexOf('aria-label="mito: volume"'));
      const counted = [...histogram.slice(0, histogram.indexOf("</svg>")).matchAll(/data-count="(\d+)"/g)];
      expect(counted.reduce((s, m) => s + Number(m[1]), 0)).toBe(count);
      // Contacts: the number of sites in the table.
      const contacts = csv(path.join(ds, "tables", "contacts_mito_er.csv")).length - 1;
      expect(html).toMatch(new RegExp(`<tr><th>mito – er</th><td>${contacts}</td>`));
      // The skeleton table: per-column statistics and a length histogram.
      expect(html).toContain("<h3>skeleton_mito</h3>");
      expect(html).toMatch(
        /<tr><th>Length \(nm\)<\/th><td>50<\/td><td>990<\/td><td>990<\/td><td>500<\/td><td>1,480<\/td>/,
      );
      expect(html).toContain('aria-label="skeleton_mito: Length (nm)"');
      // Dataset metadata of the synthetic cell.
      expect(html).toContain("synthetic cell (organelle synth, seed 4)");
      expect(html).toContain("<tr><th>voxel size (nm, z y x)</th><td>20 × 20 × 20</td>");
    }
  }, 60_000);

  it("puts two cells side by side, telling same-named containers apart by their directory", () => {
    const out = path.join(dir, "two.html");
    ok(["report", ds, ds2, "--out", out, "--title", "Two cells"]);
    const html = fs.readFileSync(out, "utf8");
    expect(html).toContain("<title>Two cells</title>");
    expect(html).toContain("<th>organelle</th><th>");
    const name1 = `${path.basename(dir)}/cell`;
    expect(html).toContain(`${name1}: count`);
    expect(html).toContain("b/cell: count");
    // Vesicles were measured in the second cell only.
    const vesicles = csv(path.join(ds2, "tables", "vesicle.csv")).length - 1;
    expect(html).toMatch(
      new RegExp(`<tr><th>vesicle</th><td>–</td><td>–</td><td>–</td><td>–</td><td>${vesicles}</td>`),
    );
    expect(html).toContain('data-series="b/cell" data-group="vesicle"');
    // The second cell measured mito twice (labels and the refined segmentation): one row each.
    const labelled = csv(path.join(ds2, "tables", "mito_labels.csv")).length - 1;
    expect(html).toMatch(
      new RegExp(
        `<tr><th>mito \\(labels\\)</th><td>–</td><td>–</td><td>–</td><td>–</td><td>${labelled}</td>`,
      ),
    );
    const refined = csv(path.join(ds, "tables", "mito.csv")).length - 1;
    expect(html).toMatch(new RegExp(`<tr><th>mito \\(segmentations\\)</th><td>${refined}</td>`));
  }, 60_000);

  it("says in one line what is wrong", () => {
    expect(
      expectOneLineError(
        organelle(["report", path.join(dir, "nothing.zarr"), "--out", path.join(dir, "x.html")]),
      ),
    ).toMatch(/nothing\.zarr/);
    expect(expectOneLineError(organelle(["report", ds, "--out", path.join(dir, "x.txt")]))).toMatch(/--out/);
  });
});
