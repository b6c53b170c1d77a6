import { describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { Rng } from "../core/random.ts";
import type { VoxelBox } from "../core/roi.ts";
import { classIndex, ORGANELLE_CLASSES, type OrganelleClass } from "./classes.ts";
import { ellipsoidSdf, packEllipsoid, type Vec3, vadd, vlen, vscale, vsub } from "./geometry.ts";
import { DEFAULT_IMAGING, type ImagingParams } from "./imaging.ts";
import { buildCellModel, envelopeWidth, MEMBRANES } from "./model.ts";
import { labelsOf, type RenderGrid, renderBlock, renderScene } from "./render.ts";
import { KIND_CISTERNA, KIND_MITO, KIND_SPHERE, KIND_TUBE, Scene } from "./scene.ts";

const EXTENT: [number, number, number] = [2500, 2500, 2500];
const model = buildCellModel({ seed: 2, extent: EXTENT });
const scene = new Scene(model);
const imaging: ImagingParams = { ...DEFAULT_IMAGING, seed: 2 };
const iso = (v: number): RenderGrid => ({ voxelSize: coord(v, v, v) });

/** A box of `shape` voxels centred on world point `p`. */
function boxAround(p: readonly number[], grid: RenderGrid, shape: Coordinate): VoxelBox {
  const vs = grid.voxelSize;
  return {
    begin: coord(
      Math.floor(p[0]! / vs[0] - shape[0] / 2),
      Math.floor(p[1]! / vs[1] - shape[1] / 2),
      Math.floor(p[2]! / vs[2] - shape[2] / 2),
    ),
    shape,
  };
}

function voxelOf(p: readonly number[], grid: RenderGrid): VoxelBox {
  const vs = grid.voxelSize;
  return {
    begin: coord(Math.floor(p[0]! / vs[0]), Math.floor(p[1]! / vs[1]), Math.floor(p[2]! / vs[2])),
    shape: coord(1, 1, 1),
  };
}

/** Label class and id at one voxel, rendered on its own. */
function labelAtVoxel(
  p: readonly number[],
  grid: RenderGrid,
): { cls: OrganelleClass | undefined; id: number; mask: number } {
  const r = renderScene(scene, grid, voxelOf(p, grid));
  const code = r.classCode[0]!;
  return { cls: code ? ORGANELLE_CLASSES[code - 1] : undefined, id: r.instance[0]!, mask: r.mask[0]! };
}

/** Copies a sub-box (relative begin/shape) of a rendered array of `shape` into a new array. */
function pasteInto<T extends Uint8Array | Uint32Array>(
  dst: T,
  dstShape: Coordinate,
  src: T,
  at: Coordinate,
  shape: Coordinate,
) {
  for (let z = 0; z < shape[0]; z++) {
    for (let y = 0; y < shape[1]; y++) {
      const d = ((at[0] + z) * dstShape[1] + (at[1] + y)) * dstShape[2] + at[2];
      dst.set(src.subarray((z * shape[1] + y) * shape[2], (z * shape[1] + y + 1) * shape[2]), d);
    }
  }
}

const pore = model.pores[0]!;
const mito = model.mitos[0]!;

describe("renderBlock", () => {
  it("gives byte-identical raw, labels and mask for any block decomposition", () => {
    for (const [grid, centre] of [
      [iso(10), pore.center],
      [{ voxelSize: coord(5.2, 4, 4) }, vadd(mito.points[0]!, [0, 0, mito.radius])],
    ] as const) {
      const shape = coord(30, 34, 28);
      const whole = renderBlock(scene, grid, imaging, boxAround(centre, grid, shape));
      const b0 = whole.box.begin;
      const raw = new Uint8Array(whole.raw.length);
      const code = new Uint8Array(whole.raw.length);
      const inst = new Uint32Array(whole.raw.length);
      const mask = new Uint8Array(whole.raw.length);
      const cuts = [
        [0, 13, 30],
        [0, 7, 21, 34],
        [0, 11, 28],
      ];
      for (let i = 0; i + 1 < cuts[0]!.length; i++) {
        for (let j = 0; j + 1 < cuts[1]!.length; j++) {
          for (let k = 0; k + 1 < cuts[2]!.length; k++) {
            const at = coord(cuts[0]![i]!, cuts[1]![j]!, cuts[2]![k]!);
            const size = coord(cuts[0]![i + 1]! - at[0], cuts[1]![j + 1]! - at[1], cuts[2]![k + 1]! - at[2]);
            const part = renderBlock(scene, grid, imaging, {
              begin: coord(b0[0] + at[0], b0[1] + at[1], b0[2] + at[2]),
              shape: size,
            });
            pasteInto(raw, shape, part.raw, at, size);
            pasteInto(code, shape, part.classCode, at, size);
            pasteInto(inst, shape, part.instance, at, size);
            pasteInto(mask, shape, part.mask, at, size);
          }
        }
      }
      expect(Buffer.from(raw).equals(Buffer.from(whole.raw))).toBe(true);
      expect(Buffer.from(code).equals(Buffer.from(whole.classCode))).toBe(true);
      expect(Buffer.from(inst.buffer).equals(Buffer.from(whole.instance.buffer))).toBe(true);
      expect(Buffer.from(mask).equals(Buffer.from(whole.mask))).toBe(true);
      // The box is not trivial: several classes and grey levels appear.
      expect(new Set(whole.classCode).size).toBeGreaterThanOrEqual(2);
      expect(new Set(whole.raw).size).toBeGreaterThan(50);
    }
  });

  it("skips shapes per tile without changing a single voxel", () => {
    for (const centre of [pore.center, mito.points[0]!, model.cell.center]) {
      const box = boxAround(centre, iso(8), coord(20, 24, 24));
      const culled = renderScene(scene, iso(8), box);
      const full = renderScene(scene, iso(8), box, box, { cull: false });
      expect(Buffer.from(culled.density.buffer).equals(Buffer.from(full.density.buffer))).toBe(true);
      expect(Buffer.from(culled.classCode).equals(Buffer.from(full.classCode))).toBe(true);
      expect(Buffer.from(culled.instance.buffer).equals(Buffer.from(full.instance.buffer))).toBe(true);
    }
  });

  it("labels exactly what the analytic model contains", () => {
    const grid = iso(5);
    // Every mitochondrion's axis points and every pore's centre carry their ids.
    for (const m of model.mitos) {
      for (const p of m.points)
        expect(labelAtVoxel(p, grid)).toMatchObject({ cls: "mito", id: m.id, mask: 1 });
    }
    for (const p of model.pores)
      expect(labelAtVoxel(p.center, grid)).toMatchObject({ cls: "nuclear_pore", id: p.id });
    for (const v of model.vesicles.slice(0, 40)) {
      expect(labelAtVoxel(v.center, grid)).toMatchObject({ cls: "vesicle", id: v.id });
    }
    expect(labelAtVoxel(model.nucleus!.center, grid)).toMatchObject({ cls: "nucleus", id: 1 });
    // Outside the cell: nothing, and not in the mask.
    expect(labelAtVoxel([2, 2, 2], grid)).toEqual({ cls: undefined, id: 0, mask: 0 });

    // Along rays through the plasma membrane and the envelope (away from pores), bands of the documented
    // thicknesses.
    const cell = packEllipsoid(model.cell);
    const nucleus = packEllipsoid(model.nucleus!);
    const w = envelopeWidth(MEMBRANES);
    const rng = new Rng(99);
    let checkedEnvelope = 0;
    for (let i = 0; i < 40; i++) {
      const dir = rng.direction();
      const cp = crossing(cell, model.cell.center, dir);
      expect(labelAtVoxel(vadd(cp, vscale(dir, -3)), iso(1))).toMatchObject({
        cls: "plasma_membrane",
        mask: 1,
      });
      expect(labelAtVoxel(vadd(cp, vscale(dir, 3)), iso(1))).toEqual({ cls: undefined, id: 0, mask: 0 });
      const np = crossing(nucleus, model.nucleus!.center, dir);
      if (model.pores.some((p) => vlen(vsub(p.center, np)) < p.diameter / 2 + w + 40)) continue;
      checkedEnvelope++;
      const at = (depth: number) => labelAtVoxel(vadd(np, vscale(dir, -depth)), iso(0.5)).cls;
      expect(at(2)).toBe("nuclear_envelope");
      expect(at(w / 2)).toBe("nuclear_envelope");
      expect(at(w - 2)).toBe("nuclear_envelope");
      expect(at(w + 3)).toBe("nucleus");
      expect(at(-3)).toBeUndefined();
    }
    expect(checkedEnvelope).toBeGreaterThan(20);

    // Random points: the rendered label of every organelle class equals a brute-force test of every shape.
    const organelleClasses: OrganelleClass[] = ["mito", "er", "golgi", "vesicle", "lipid_droplet"];
    let labelled = 0;
    for (let i = 0; i < 1500; i++) {
      // Half the points near organelles, so the test is not mostly empty cytoplasm.
      const p: Vec3 =
        i % 2 === 0
          ? [rng.range(0, EXTENT[0]), rng.range(0, EXTENT[1]), rng.range(0, EXTENT[2])]
          : (vadd(pickSurfacePoint(rng), vscale(rng.direction(), rng.range(0, 40))) as Vec3);
      const g = iso(5);
      const voxelCentre = voxelOf(p, g).begin.map((v) => (v + 0.5) * 5) as Vec3;
      const got = labelAtVoxel(voxelCentre, g);
      for (const c of organelleClasses) {
        const want = scene.labelAt(c, ...voxelCentre);
        expect(got.cls === c ? got.id : 0).toBe(want);
        if (want) labelled++;
      }
    }
    expect(labelled).toBeGreaterThan(100);
  });

  it("never lets two organelles overlap, or an organelle leave the cytoplasm", () => {
    const cell = packEllipsoid(model.cell);
    const nucleus = packEllipsoid(model.nucleus!);
    const rng = new Rng(7);
    const b = scene.bounds;
    let inside = 0;
    for (let i = 0; i < scene.count; i++) {
      for (let s = 0; s < 12; s++) {
        // Random points in primitive i's bounds that lie inside it.
        const p: Vec3 = [
          rng.range(b[i * 6]!, b[i * 6 + 3]!),
          rng.range(b[i * 6 + 1]!, b[i * 6 + 4]!),
          rng.range(b[i * 6 + 2]!, b[i * 6 + 5]!),
        ];
        if (scene.sdf(i, ...p) >= 0) continue;
        inside++;
        expect(ellipsoidSdf(cell, ...p)).toBeLessThan(-MEMBRANES.plasma);
        expect(ellipsoidSdf(nucleus, ...p)).toBeGreaterThan(0);
        for (let j = 0; j < scene.count; j++) {
          if (j === i || (scene.cls[j] === scene.cls[i] && scene.instance[j] === scene.instance[i])) continue;
          const o = j * 6;
          if (
            p[0] < b[o]! ||
            p[1] < b[o + 1]! ||
            p[2] < b[o + 2]! ||
            p[0] > b[o + 3]! ||
            p[1] > b[o + 4]! ||
            p[2] > b[o + 5]!
          )
            continue;
          expect(scene.sdf(j, ...p)).toBeGreaterThan(0);
        }
      }
    }
    expect(inside).toBeGreaterThan(1000);
  });

  it("keeps every label inside the cell mask and draws every class", () => {
    const grid = iso(25);
    const r = renderScene(scene, grid, { begin: coord(0, 0, 0), shape: coord(100, 100, 100) });
    const seen = new Set<number>();
    for (let i = 0; i < r.classCode.length; i++) {
      if (r.classCode[i]) {
        expect(r.mask[i]).toBe(1);
        seen.add(r.classCode[i]!);
      }
    }
    const cellVoxels = r.mask.reduce((a, v) => a + v, 0);
    const expected =
      ((4 / 3) * Math.PI * model.cell.radii[0] * model.cell.radii[1] * model.cell.radii[2]) / 25 ** 3;
    expect(Math.abs(cellVoxels / expected - 1)).toBeLessThan(0.05);
    for (const c of ["plasma_membrane", "nucleus", "nuclear_envelope", "mito", "er", "vesicle"] as const) {
      expect(seen.has(classIndex(c) + 1)).toBe(true);
    }
  });

  it("gives the same physical volumes at 5 nm, 10 nm and anisotropic voxels", () => {
    // One physical region (nm) around the first pore, holding envelope, nucleus, cytoplasm and organelles.
    // Bounds are multiples of 5.2 and 10 along z, of 4 and 10 along y and x.
    const lo: Vec3 = [
      Math.floor(pore.center[0] / 260) * 260 - 260,
      Math.floor(pore.center[1] / 40) * 40 - 240,
      Math.floor(pore.center[2] / 40) * 40 - 240,
    ];
    const size: Vec3 = [520, 480, 480];
    const volumes = (grid: RenderGrid) => {
      const vs = grid.voxelSize;
      const box: VoxelBox = {
        begin: coord(Math.round(lo[0] / vs[0]), Math.round(lo[1] / vs[1]), Math.round(lo[2] / vs[2])),
        shape: coord(Math.round(size[0] / vs[0]), Math.round(size[1] / vs[1]), Math.round(size[2] / vs[2])),
      };
      for (let d = 0; d < 3; d++) expect(Math.abs(box.begin[d]! * vs[d]! - lo[d]!)).toBeLessThan(1e-6);
      const r = renderScene(scene, grid, box);
      const v: Record<string, number> = {};
      for (const c of ORGANELLE_CLASSES)
        v[c] = labelsOf(r, c).reduce((a, x) => a + (x ? 1 : 0), 0) * vs[0] * vs[1] * vs[2];
      return v;
    };
    const fine = volumes(iso(5));
    const coarse = volumes(iso(10));
    const aniso = volumes({ voxelSize: coord(5.2, 4, 4) });
    expect(fine.nucleus!).toBeGreaterThan(1e7);
    expect(fine.nuclear_envelope!).toBeGreaterThan(1e6);
    for (const c of ["nucleus", "nuclear_envelope"]) {
      expect(Math.abs(coarse[c]! / fine[c]! - 1)).toBeLessThan(0.03);
    }
    for (const c of ["nucleus", "nuclear_envelope"]) {
      expect(Math.abs(aniso[c]! / fine[c]! - 1)).toBeLessThan(0.03);
    }

    // A whole mitochondrion: its volume at 5 and 10 nm agrees with each other and with the analytic tube.
    const m = mito;
    const box = (vs: number, margin: number) => {
      const lo2 = [0, 1, 2].map((d) => Math.min(...m.points.map((p) => p[d]!)) - m.radius - margin);
      const hi2 = [0, 1, 2].map((d) => Math.max(...m.points.map((p) => p[d]!)) + m.radius + margin);
      const b = coord(...(lo2.map((v) => Math.floor(v / vs)) as [number, number, number]));
      return {
        begin: b,
        shape: coord(...(hi2.map((v, d) => Math.ceil(v / vs) - b[d]!) as [number, number, number])),
      };
    };
    const mitoVolume = (vs: number) => {
      const r = renderScene(scene, iso(vs), box(vs, 20));
      const l = labelsOf(r, "mito");
      let n = 0;
      for (let i = 0; i < l.length; i++) if (l[i] === m.id) n++;
      return n * vs ** 3;
    };
    const v5 = mitoVolume(5);
    const v10 = mitoVolume(10);
    let axis = 0;
    for (let i = 0; i + 1 < m.points.length; i++) axis += vlen(vsub(m.points[i + 1]!, m.points[i]!));
    const analytic = Math.PI * m.radius ** 2 * axis + (4 / 3) * Math.PI * m.radius ** 3;
    expect(Math.abs(v10 / v5 - 1)).toBeLessThan(0.02);
    // Bends and the +-10 nm surface noise move the volume by a few percent at most.
    expect(Math.abs(v5 / analytic - 1)).toBeLessThan(0.08);
  });

  it("renders FIB-SEM contrast: dark membranes and mitochondrial matrix on grey cytoplasm, bright resin", () => {
    const grid = iso(5);
    const box = boxAround(mito.points[0]!, grid, coord(40, 90, 90));
    const r = renderBlock(scene, grid, imaging, box);
    const stats = { membrane: [0, 0], matrix: [0, 0], cytoplasm: [0, 0], lumen: [0, 0] };
    const add = (k: keyof typeof stats, v: number) => {
      stats[k][0]! += v;
      stats[k][1]!++;
    };
    const nucleus = packEllipsoid(model.nucleus!);
    const near = new Int32Array(scene.count);
    const lo = box.begin.map((b) => b * 5) as Vec3;
    const hi = box.begin.map((b, d) => (b + box.shape[d]!) * 5) as Vec3;
    const nNear = scene.query(lo, hi, 50, near);
    for (let z = 0; z < box.shape[0]; z++) {
      for (let y = 0; y < box.shape[1]; y++) {
        for (let x = 0; x < box.shape[2]; x++) {
          const i = (z * box.shape[1] + y) * box.shape[2] + x;
          if (!r.mask[i]) continue;
          const p: Vec3 = [
            (box.begin[0] + z + 0.5) * 5,
            (box.begin[1] + y + 0.5) * 5,
            (box.begin[2] + x + 0.5) * 5,
          ];
          let nearest = Number.POSITIVE_INFINITY;
          let kind = -1;
          for (let n = 0; n < nNear; n++) {
            const k = near[n]!;
            const s = scene.sdf(k, ...p);
            if (s < nearest) {
              nearest = s;
              kind = scene.kind[k]!;
            }
          }
          if (nearest > -MEMBRANES.mito + 2 && nearest < -2) add("membrane", r.raw[i]!);
          else if (kind === KIND_MITO && nearest < -60) add("matrix", r.raw[i]!);
          else if ((kind === KIND_TUBE || kind === KIND_SPHERE || kind === KIND_CISTERNA) && nearest < -12)
            add("lumen", r.raw[i]!);
          else if (nearest > 40 && ellipsoidSdf(nucleus, ...p) > 60) add("cytoplasm", r.raw[i]!);
        }
      }
    }
    const mean = (k: keyof typeof stats) => stats[k][0]! / stats[k][1]!;
    for (const k of Object.keys(stats) as (keyof typeof stats)[]) expect(stats[k][1]).toBeGreaterThan(100);
    expect(mean("membrane")).toBeLessThan(mean("cytoplasm") - 25);
    expect(mean("matrix")).toBeLessThan(mean("cytoplasm") - 20);
    expect(mean("membrane")).toBeLessThan(mean("matrix"));
    const outside = renderBlock(scene, grid, imaging, { begin: coord(0, 0, 0), shape: coord(4, 16, 16) });
    const resin = outside.raw.reduce((a, v) => a + v, 0) / outside.raw.length;
    expect(resin).toBeGreaterThan(mean("cytoplasm") + 30);
  });

  it("depends on the seed: same seed same bytes, another seed another image", () => {
    const grid = iso(10);
    const box = boxAround(model.cell.center, grid, coord(16, 32, 32));
    const a = renderBlock(scene, grid, imaging, box);
    const b = renderBlock(new Scene(buildCellModel({ seed: 2, extent: EXTENT })), grid, imaging, box);
    expect(Buffer.from(a.raw).equals(Buffer.from(b.raw))).toBe(true);
    const otherModel = buildCellModel({ seed: 5, extent: EXTENT });
    const c = renderBlock(new Scene(otherModel), grid, { ...imaging, seed: 5 }, box);
    expect(Buffer.from(a.raw).equals(Buffer.from(c.raw))).toBe(false);
    // Imaging seed alone changes the noise but not the labels.
    const d = renderBlock(scene, grid, { ...imaging, seed: 77 }, box);
    expect(Buffer.from(a.raw).equals(Buffer.from(d.raw))).toBe(false);
    expect(Buffer.from(a.classCode).equals(Buffer.from(d.classCode))).toBe(true);
  });
});

/** Where the ray from `from` along `dir` leaves the ellipsoid. */
function crossing(e: Float64Array, from: readonly number[], dir: Vec3): Vec3 {
  let lo = 0;
  let hi = 5000;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    const p = vadd(from as Vec3, vscale(dir, mid));
    if (ellipsoidSdf(e, ...p) < 0) lo = mid;
    else hi = mid;
  }
  return vadd(from as Vec3, vscale(dir, (lo + hi) / 2));
}

/** A random point on the surface of a random organelle primitive (near its boundary). */
function pickSurfacePoint(rng: Rng): Vec3 {
  const i = rng.int(0, scene.count - 1);
  const o = i * 6;
  const b = scene.bounds;
  for (let t = 0; t < 200; t++) {
    const p: Vec3 = [
      rng.range(b[o]!, b[o + 3]!),
      rng.range(b[o + 1]!, b[o + 4]!),
      rng.range(b[o + 2]!, b[o + 5]!),
    ];
    if (Math.abs(scene.sdf(i, ...p)) < 30) return p;
  }
  return [b[o]!, b[o + 1]!, b[o + 2]!];
}
