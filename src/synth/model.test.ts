import { describe, expect, it } from "vitest";
import { isOrganelleError } from "../core/errors.ts";
import { DEFAULT_CLASSES, ORGANELLE_CLASSES, parseClasses } from "./classes.ts";
import { ellipsoidSdf, packEllipsoid, vlen, vsub } from "./geometry.ts";
import { buildCellModel, envelopeWidth, GAP, MEMBRANES } from "./model.ts";

const EXTENT: [number, number, number] = [2500, 2500, 2500];
const model = buildCellModel({ seed: 2, extent: EXTENT });

describe("buildCellModel", () => {
  it("is a pure function of seed and extent", () => {
    const again = buildCellModel({ seed: 2, extent: EXTENT });
    expect(JSON.stringify(again)).toBe(JSON.stringify(model));
    const other = buildCellModel({ seed: 3, extent: EXTENT });
    expect(JSON.stringify(other)).not.toBe(JSON.stringify(model));
    // The model is plain JSON: it survives a round trip unchanged (it is stored as synth.json).
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
  });

  it("lays out every organelle class of a 2.5 um cell", () => {
    expect(model.classes).toEqual([...DEFAULT_CLASSES]);
    expect(model.nucleus).not.toBeNull();
    expect(model.pores.length).toBeGreaterThan(5);
    expect(model.mitos.length).toBeGreaterThan(2);
    expect(model.er.some((e) => e.kind === "sheets")).toBe(true);
    expect(model.er.filter((e) => e.kind === "network").length).toBeGreaterThan(10);
    expect(model.golgi.length).toBeGreaterThanOrEqual(1);
    expect(model.vesicles.length).toBeGreaterThan(100);
  });

  it("keeps organelle dimensions in their physical ranges", () => {
    for (const m of model.mitos) {
      expect(m.radius).toBeGreaterThanOrEqual(125);
      expect(m.radius).toBeLessThanOrEqual(200);
      expect(m.length).toBeGreaterThanOrEqual(2 * m.radius + 100 - 1e-9);
      expect(m.length).toBeLessThanOrEqual(2000);
      let axis = 0;
      for (let i = 0; i + 1 < m.points.length; i++) axis += vlen(vsub(m.points[i + 1]!, m.points[i]!));
      expect(axis + 2 * m.radius).toBeCloseTo(m.length, 6);
      expect(m.cristae.length).toBeGreaterThan(0);
      const positions = m.cristae.map((c) => c.position);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }
    for (const e of model.er) {
      for (const t of e.tubes) {
        expect(2 * t.radius).toBeGreaterThanOrEqual(50);
        expect(2 * t.radius).toBeLessThanOrEqual(60);
      }
      for (const s of e.sheets) {
        expect(s.thickness).toBeGreaterThanOrEqual(30);
        expect(s.thickness).toBeLessThanOrEqual(50);
      }
    }
    for (const g of model.golgi) {
      expect(g.cisternae.length).toBeGreaterThanOrEqual(3);
      expect(g.cisternae.length).toBeLessThanOrEqual(6);
    }
    for (const v of model.vesicles) {
      expect(2 * v.radius).toBeGreaterThanOrEqual(40);
      expect(2 * v.radius).toBeLessThanOrEqual(100);
    }
    expect(model.vesicles.some((v) => v.golgi !== undefined)).toBe(true);
  });

  it("puts pores in the middle of the envelope with recorded diameters", () => {
    const nucleus = packEllipsoid(model.nucleus!);
    const w = envelopeWidth(MEMBRANES);
    expect(w).toBe(46);
    for (const p of model.pores) {
      // The centre lies w/2 along the normal; the distance estimate is within 2 nm of that.
      expect(Math.abs(ellipsoidSdf(nucleus, ...p.center) + w / 2)).toBeLessThan(2);
      expect(vlen(p.axis)).toBeCloseTo(1, 9);
      expect(p.diameter).toBeGreaterThanOrEqual(65);
      expect(p.diameter).toBeLessThanOrEqual(130);
    }
    const ids = model.pores.map((p) => p.id);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
  });

  it("keeps the nucleus inside the cell and organelles' anchor points in the cytoplasm", () => {
    const cell = packEllipsoid(model.cell);
    const nucleus = packEllipsoid(model.nucleus!);
    expect(ellipsoidSdf(cell, ...model.nucleus!.center)).toBeLessThan(-300);
    for (const m of model.mitos) {
      for (const p of m.points) {
        expect(ellipsoidSdf(cell, ...p)).toBeLessThan(-(m.radius + GAP.plasma));
        expect(ellipsoidSdf(nucleus, ...p)).toBeGreaterThan(m.radius + GAP.nucleus);
      }
    }
    for (const v of model.vesicles) {
      expect(ellipsoidSdf(cell, ...v.center)).toBeLessThan(-v.radius);
      expect(ellipsoidSdf(nucleus, ...v.center)).toBeGreaterThan(v.radius);
    }
  });

  it("drops unselected classes without moving or renumbering the others", () => {
    const mitoOnly = buildCellModel({ seed: 2, extent: EXTENT, classes: ["mito"] });
    expect(mitoOnly.mitos).toEqual(model.mitos);
    expect(mitoOnly.nucleus).toBeNull();
    expect(mitoOnly.pores).toEqual([]);
    expect(mitoOnly.er).toEqual([]);
    expect(mitoOnly.vesicles).toEqual([]);
    const noPores = buildCellModel({ seed: 2, extent: EXTENT, classes: ["nucleus", "vesicle"] });
    expect(noPores.nucleus).toEqual(model.nucleus);
    expect(noPores.pores).toEqual([]);
    expect(noPores.vesicles).toEqual(model.vesicles);
  });

  it("rejects nonsense parameters with one clear line", () => {
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(isOrganelleError(e, "InvalidArgument")).toBe(true);
        expect((e as Error).message).not.toContain("\n");
        return (e as Error).message;
      }
      throw new Error("expected an error");
    };
    expect(bad(() => buildCellModel({ seed: 1, extent: [0, 100, 100] }))).toContain("extent");
    expect(bad(() => buildCellModel({ seed: 1.5, extent: EXTENT }))).toContain("seed");
    expect(bad(() => parseClasses("mito,bogus"))).toContain("bogus");
    expect(bad(() => parseClasses("nuclear_pore,mito"))).toContain("needs 'nucleus'");
    expect(parseClasses("all")).toEqual([...ORGANELLE_CLASSES]);
    expect(parseClasses("er, mito")).toEqual(["mito", "er"]);
  });
});
