import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Catalog } from "../src/catalog/catalog.ts";
import type { CellModel } from "../src/synth/model.ts";
import { expectOneLineError, organelle, tempDir } from "./helpers/cli.ts";

/**
 * ASEM's nuclear-pore and coated-pit analyses end to end through the bundled CLI on one small synthetic
 * cell with pores of known diameters and coated pits, caveolae and vesicles of known depth and width:
 * what `organelle pores` and `organelle pits` measure is compared with synth.json, within the voxel size.
 */

const VOXEL = 10;
const { dir, cleanup } = tempDir("organelle-asem-");
afterAll(cleanup);
const ds = path.join(dir, "cell.zarr");
let model: CellModel;

function csv(file: string): Record<string, string>[] {
  const [head, ...lines] = fs.readFileSync(file, "utf8").trim().split("\n");
  const cols = head!.split(",");
  return lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [cols[i]!, v])));
}

beforeAll(() => {
  const r = organelle([
    "synth",
    ds,
    "--voxel-size",
    String(VOXEL),
    "--size-um",
    "1.6",
    "--seed",
    "2",
    "--organelles",
    "plasma_membrane,nucleus,nuclear_envelope,nuclear_pore,ccp",
    "--pits",
    "12",
    "--pore-diameter",
    "95,15,60,130",
    "--no-pyramid",
  ]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/labels\/ccp: \d+ instances/);
  model = (JSON.parse(fs.readFileSync(path.join(ds, "synth.json"), "utf8")) as { model: CellModel }).model;
}, 180_000);

describe("organelle pores", () => {
  it("recovers every pore's membrane diameter within the voxel size and tests the distribution", () => {
    const r = organelle(["pores", ds]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Shapiro-Wilk W [\d.]+, p [\d.e-]+; KS vs N/);
    const rows = csv(path.join(ds, "tables", "nuclear_pores.csv"));
    expect(rows.length).toBe(model.pores.length);
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (const row of rows) {
      const truth = model.pores.find((p) => p.id === Number(row["Pore ID"]))!;
      // Peak to peak runs between the membranes' middles: the channel plus one membrane thickness.
      const expected = truth.diameter + model.membranes.nuclear;
      expect(Math.abs(Number(row["Diameter (nm)"]) - expected), `pore ${truth.id}`).toBeLessThan(VOXEL);
      expect(row["Normal Source"]).toBe("nucleus");
      const n = [row["Normal Z"], row["Normal Y"], row["Normal X"]].map(Number);
      expect(Math.abs(n[0]! * truth.axis[0] + n[1]! * truth.axis[1] + n[2]! * truth.axis[2])).toBeGreaterThan(
        0.99,
      );
    }
    const summary = fs.readFileSync(path.join(ds, "tables", "nuclear_pores_summary.csv"), "utf8");
    expect(summary).toMatch(/Shapiro-Wilk p,0\.\d+/);
    expect(summary).toMatch(/KS reference sd \(nm\),6\n/);
    // Both tables in the catalogue; the pore table answers the viewer's segment look-up.
    expect(r.stdout).toMatch(/catalogue .*organelle-catalog\.sqlite/);
    const catalog = Catalog.forDir(dir);
    try {
      expect(catalog.tableForArray("cell.zarr", "labels/nuclear_pore")?.name).toBe("nuclear_pores");
      const first = rows[0]!;
      const row = catalog.findRow("cell.zarr", "nuclear_pores", Number(first["Pore ID"]));
      expect(row?.["Diameter (nm)"]).toBe(Number(first["Diameter (nm)"]));
      expect(catalog.getTable("cell.zarr", "nuclear_pores_summary")?.rows.length).toBe(15);
    } finally {
      catalog.close();
    }
  }, 60_000);

  it("refuses a missing pore array and a bad option with one line", () => {
    expect(expectOneLineError(organelle(["pores", ds, "--pores", "labels/nope"]))).toMatch(/labels\/nope/);
    expect(expectOneLineError(organelle(["pores", ds, "--search", "50"]))).toMatch(/--search/);
    expect(expectOneLineError(organelle(["pores", ds, "--pores", "raw"]))).toMatch(/intensity image/);
  });
});

describe("organelle pits", () => {
  it("classifies coated structures and recovers pit depths and widths within the voxel size", () => {
    const r = organelle(["pits", ds]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\d+ pits, \d+ caveolae, \d+ endocytic vesicles/);
    const rows = csv(path.join(ds, "tables", "coated_pits.csv"));
    const pits = model.pits ?? [];
    expect(rows.length).toBe(pits.length);
    const kinds = new Set(pits.map((p) => p.kind));
    expect(kinds.has("pit") && kinds.has("caveola")).toBe(true);
    for (const row of rows) {
      const truth = pits.find((p) => p.id === Number(row["Object ID"]))!;
      const cls = row.Class!;
      if (truth.kind === "vesicle") {
        expect(cls).toBe(truth.distance! <= 400 ? "vesicle" : "secretory");
        expect(Math.abs(Number(row["Distance to PM (nm)"]) - truth.distance!)).toBeLessThan(3 * VOXEL);
        // A sphere's section is a circle: ASEM's eccentricity near 1.
        expect(Number(row.Eccentricity)).toBeLessThan(1.2);
        continue;
      }
      expect(cls, `object ${truth.id}`).toBe(truth.kind);
      expect(Math.abs(Number(row["Depth (nm)"]) - truth.depth!), `depth of ${truth.id}`).toBeLessThan(VOXEL);
      expect(
        Math.abs(Number(row["Width at Half Depth (nm)"]) - truth.width!),
        `width of ${truth.id}`,
      ).toBeLessThan(VOXEL);
    }
    const catalog = Catalog.forDir(dir);
    try {
      expect(catalog.tableForArray("cell.zarr", "labels/ccp")?.name).toBe("coated_pits");
      const first = rows[0]!;
      const row = catalog.findRow("cell.zarr", "coated_pits", Number(first["Object ID"]));
      expect(row?.Class).toBe(first.Class);
      expect(catalog.getTable("cell.zarr", "coated_pits")?.rows.length).toBe(rows.length);
    } finally {
      catalog.close();
    }
  }, 60_000);

  it("refuses bad input with one line", () => {
    expect(expectOneLineError(organelle(["pits", ds, "--mask", "masks/none"]))).toMatch(/masks\/none/);
    expect(expectOneLineError(organelle(["pits", ds, "--caveola", "90"]))).toMatch(/--caveola/);
    expect(expectOneLineError(organelle(["pits", ds, "--touch", "500"]))).toMatch(/--touch/);
  });
});
