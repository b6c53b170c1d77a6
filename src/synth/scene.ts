import { classIndex, type OrganelleClass } from "./classes.ts";
import {
  capDistance,
  ellipsoidLipschitz,
  ellipsoidSdf,
  packEllipsoid,
  perpendicular,
  type Vec3,
  vcross,
  vdot,
  vlen,
  vnorm,
  vscale,
  vsub,
} from "./geometry.ts";
import { type CellModel, type CisternaSpec, type MitoSpec, pitCenter, type TubeSpec } from "./model.ts";
import { VALUE_NOISE_LIPSCHITZ, valueNoise3 } from "./noise.ts";

/*
 * A CellModel compiled for evaluation: every organelle becomes one or more primitives in flat typed arrays
 * (kind, class, instance id, parameters), with a uniform grid over the cell so a block of voxels only looks
 * at the primitives near it. The model's JSON is the source of truth; this is derived and rebuilt in every
 * worker thread.
 */

export const KIND_MITO = 0;
export const KIND_TUBE = 1;
export const KIND_CISTERNA = 2;
export const KIND_SPHERE = 3;
export const KIND_DROPLET = 4;

/** Tube segment record: a (3), unit direction (3), length, arc position of a, frame e1 (3), e2 (3). */
const SEG = 14;
/** Crista record: position, cos, sin, depth, tilt1, tilt2. */
const CRISTA = 6;

/** Scratch written by tubeSdf: index of the closest segment's record and the unclamped position on it. */
export const tubeHit = new Float64Array(2);

export class Scene {
  readonly model: CellModel;
  readonly cell: Float64Array;
  readonly cellLipschitz: number;
  readonly nucleus: Float64Array | undefined;
  readonly nucleusLipschitz: number;
  /** Pores: centre (3), axis (3), channel radius, per pore. */
  readonly pores: Float64Array;
  readonly poreIds: Uint32Array;
  /** Coated structures, PIT_STRIDE numbers each (see PIT). */
  readonly pits: Float64Array;
  readonly count: number;
  readonly kind: Uint8Array;
  /** Class code (1 + index in ORGANELLE_CLASSES). */
  readonly cls: Uint8Array;
  readonly instance: Uint32Array;
  readonly offset: Uint32Array;
  /** Bound on |grad sdf| of each primitive (1 for exact distances, more with noise). */
  readonly lipschitz: Float64Array;
  /** How far outside its surface a primitive still changes the image beyond antialiasing (nm). */
  readonly reach: Float64Array;
  /** Axis-aligned bounds (min z,y,x, max z,y,x) including reach and perturbations. */
  readonly bounds: Float64Array;
  readonly params: Float64Array;
  private readonly grid: SpatialGrid;

  constructor(model: CellModel) {
    this.model = model;
    this.cell = packEllipsoid(model.cell);
    this.cellLipschitz = ellipsoidLipschitz(model.cell);
    this.nucleus = model.nucleus ? packEllipsoid(model.nucleus) : undefined;
    this.nucleusLipschitz = model.nucleus ? ellipsoidLipschitz(model.nucleus) : 1;
    this.pores = new Float64Array(model.pores.length * 7);
    this.poreIds = new Uint32Array(model.pores.length);
    model.pores.forEach((p, i) => {
      this.pores.set([...p.center, ...p.axis, p.diameter / 2], i * 7);
      this.poreIds[i] = p.id;
    });

    const pits = model.pits ?? [];
    const tpm = model.membranes.plasma;
    this.pits = new Float64Array(pits.length * PIT_STRIDE);
    pits.forEach((q, i) => {
      const o = i * PIT_STRIDE;
      const shell = q.radius + tpm + q.coat;
      const vesicle = q.kind === "vesicle";
      // Invaginations are referenced to their surface point, vesicles to their centre.
      const ref = vesicle ? pitCenter(q) : q.surface;
      const reach = vesicle
        ? shell
        : Math.max(Math.abs(q.centerDepth) + shell, q.centerDepth + q.neckRadius + tpm + q.coat);
      this.pits.set(
        [
          ...q.surface,
          ...q.normal,
          q.radius,
          q.centerDepth,
          q.neckRadius,
          q.coat,
          reach,
          vesicle ? 1 : 0,
          q.id,
          ...ref,
        ],
        o,
      );
    });

    const b = new PrimitiveBuilder();
    for (const m of model.mitos) b.mito(m);
    for (const er of model.er) {
      for (const t of er.tubes) b.tube(t, er.id);
      for (const s of er.sheets) b.cisterna(s, "er", er.id, ROUGH_ER_SHELL);
    }
    for (const g of model.golgi) for (const c of g.cisternae) b.cisterna(c, "golgi", g.id, 0);
    for (const v of model.vesicles) b.sphere(KIND_SPHERE, "vesicle", v.id, v.center, v.radius, v.content);
    for (const d of model.lipidDroplets) b.sphere(KIND_DROPLET, "lipid_droplet", d.id, d.center, d.radius, 0);
    this.count = b.kind.length;
    this.kind = Uint8Array.from(b.kind);
    this.cls = Uint8Array.from(b.cls);
    this.instance = Uint32Array.from(b.instance);
    this.offset = Uint32Array.from(b.offset);
    this.lipschitz = Float64Array.from(b.lipschitz);
    this.reach = Float64Array.from(b.reach);
    this.bounds = Float64Array.from(b.bounds);
    this.params = Float64Array.from(b.params);
    this.grid = new SpatialGrid(model.extent, this.bounds, 400);
  }

  cellSdf(z: number, y: number, x: number): number {
    return ellipsoidSdf(this.cell, z, y, x);
  }

  nucleusSdf(z: number, y: number, x: number): number {
    return this.nucleus ? ellipsoidSdf(this.nucleus, z, y, x) : Number.POSITIVE_INFINITY;
  }

  /** Signed distance (nm) of primitive `i` at a world position; negative inside. */
  sdf(i: number, z: number, y: number, x: number): number {
    const o = this.offset[i]!;
    const p = this.params;
    switch (this.kind[i]) {
      case KIND_MITO: {
        const d = tubeSdf(p, o + 5, p[o]!, z, y, x) - p[o + 1]!;
        const f = p[o + 3]!;
        return d + p[o + 2]! * valueNoise3(z * f, y * f, x * f, p[o + 4]!);
      }
      case KIND_TUBE:
        return tubeSdf(p, o + 2, p[o]!, z, y, x) - p[o + 1]!;
      case KIND_CISTERNA:
        return (
          capDistance(
            p[o]!,
            p[o + 1]!,
            p[o + 2]!,
            p[o + 3]!,
            p[o + 4]!,
            p[o + 5]!,
            p[o + 6]!,
            p[o + 7]!,
            p[o + 8]!,
            z,
            y,
            x,
          ) - p[o + 9]!
        );
      default: {
        const dz = z - p[o]!;
        const dy = y - p[o + 1]!;
        const dx = x - p[o + 2]!;
        return Math.sqrt(dz * dz + dy * dy + dx * dx) - p[o + 3]!;
      }
    }
  }

  /**
   * Primitives whose bounds meet the world box [lo, hi] (grown by `margin` nm), ascending, without
   * duplicates. Writes into `out` and returns the count.
   */
  query(lo: Vec3, hi: Vec3, margin: number, out: Int32Array): number {
    return this.grid.query(lo, hi, margin, this.bounds, out);
  }

  /** Instance of class `cls` whose primitives contain the world point, or 0 (brute force; for tests). */
  labelAt(cls: OrganelleClass, z: number, y: number, x: number): number {
    const code = classIndex(cls) + 1;
    for (let i = 0; i < this.count; i++) {
      if (this.cls[i] === code && this.sdf(i, z, y, x) < 0) return this.instance[i]!;
    }
    return 0;
  }
}

/**
 * Record of a coated structure in Scene.pits: surface point (3), inward normal (3), radius, centre depth,
 * neck radius, coat, reach (how far from the reference point it changes anything, nm), vesicle flag, id,
 * reference point (3: the surface point of an invagination, the centre of a vesicle).
 */
export const PIT = {
  radius: 6,
  centerDepth: 7,
  neck: 8,
  coat: 9,
  reach: 10,
  vesicle: 11,
  id: 12,
  ref: 13,
} as const;
export const PIT_STRIDE = 16;

/** How far (nm) a neck reaches out of the cell: far enough to open any cavity to the resin. */
export const NECK_OUTSIDE = 200;

/** Rough ER sheets carry ribosomes on their cytosolic face out to this distance (nm). */
export const ROUGH_ER_SHELL = 30;

/** Crista parameters the renderer needs: record size and where a mito's cristae start. */
export const MITO_LAYOUT = { SEG, CRISTA } as const;

/**
 * Distance from a point to a polyline whose `n` segment records start at `base`; records the closest
 * segment and the unclamped position along it in `tubeHit`.
 */
export function tubeSdf(p: Float64Array, base: number, n: number, z: number, y: number, x: number): number {
  let best = Number.POSITIVE_INFINITY;
  let bestSeg = base;
  let bestT = 0;
  for (let s = 0; s < n; s++) {
    const o = base + s * SEG;
    const vz = z - p[o]!;
    const vy = y - p[o + 1]!;
    const vx = x - p[o + 2]!;
    const t = vz * p[o + 3]! + vy * p[o + 4]! + vx * p[o + 5]!;
    const len = p[o + 6]!;
    const tc = t < 0 ? 0 : Math.min(t, len);
    const dz = vz - tc * p[o + 3]!;
    const dy = vy - tc * p[o + 4]!;
    const dx = vx - tc * p[o + 5]!;
    const d2 = dz * dz + dy * dy + dx * dx;
    if (d2 < best) {
      best = d2;
      bestSeg = o;
      bestT = t;
    }
  }
  tubeHit[0] = bestSeg;
  tubeHit[1] = bestT;
  return Math.sqrt(best);
}

class PrimitiveBuilder {
  readonly kind: number[] = [];
  readonly cls: number[] = [];
  readonly instance: number[] = [];
  readonly offset: number[] = [];
  readonly lipschitz: number[] = [];
  readonly reach: number[] = [];
  readonly bounds: number[] = [];
  readonly params: number[] = [];

  private add(kind: number, cls: OrganelleClass, id: number, lip: number, reach: number, lo: Vec3, hi: Vec3) {
    this.kind.push(kind);
    this.cls.push(classIndex(cls) + 1);
    this.instance.push(id);
    this.offset.push(this.params.length);
    this.lipschitz.push(lip);
    this.reach.push(reach);
    this.bounds.push(
      lo[0] - reach,
      lo[1] - reach,
      lo[2] - reach,
      hi[0] + reach,
      hi[1] + reach,
      hi[2] + reach,
    );
  }

  mito(m: MitoSpec): void {
    const n = m.noise;
    const lip = 1 + (n.amplitude * VALUE_NOISE_LIPSCHITZ) / n.wavelength;
    const [lo, hi] = polylineBounds(m.points, m.radius + n.amplitude);
    this.add(KIND_MITO, "mito", m.id, lip, 0, lo, hi);
    this.params.push(m.points.length - 1, m.radius, n.amplitude, 1 / n.wavelength, n.seed >>> 0);
    this.segments(m.points);
    this.params.push(m.cristae.length);
    for (const c of m.cristae) {
      this.params.push(c.position, Math.cos(c.angle), Math.sin(c.angle), c.depth, c.tilt[0], c.tilt[1]);
    }
  }

  tube(t: TubeSpec, id: number): void {
    const [lo, hi] = polylineBounds(t.points, t.radius);
    this.add(KIND_TUBE, "er", id, 1, 0, lo, hi);
    this.params.push(t.points.length - 1, t.radius);
    this.segments(t.points);
  }

  /** Segment records with frames transported along the polyline, so crista angles turn with the tube. */
  private segments(points: readonly Vec3[]): void {
    let cum = 0;
    let e1: Vec3 | undefined;
    for (let i = 0; i + 1 < points.length; i++) {
      const a = points[i]!;
      const d = vsub(points[i + 1]!, a);
      const len = vlen(d);
      const dir = vnorm(d);
      // Project the previous frame onto the new cross-section (parallel transport for gentle bends).
      e1 = e1 === undefined ? perpendicular(dir) : vnorm(vsub(e1, vscale(dir, vdot(e1, dir))));
      const e2 = vcross(dir, e1);
      this.params.push(...a, ...dir, len, cum, ...e1, ...e2);
      cum += len;
    }
  }

  cisterna(c: CisternaSpec, cls: "er" | "golgi", id: number, reach: number): void {
    const lo: Vec3 = [Infinity, Infinity, Infinity];
    const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
    // The cap lies within the sphere's ball and within the cone around the axis; bound it by its rim
    // circle, its apex and the thickness.
    const R = c.curvatureRadius;
    const u = perpendicular(c.axis);
    const v = vcross(c.axis, u);
    for (let k = 0; k < 64; k++) {
      const phi = (2 * Math.PI * k) / 64;
      for (const th of [0, c.halfAngle / 2, c.halfAngle]) {
        const dir: Vec3 = [0, 1, 2].map(
          (d) => c.axis[d]! * Math.cos(th) + (u[d]! * Math.cos(phi) + v[d]! * Math.sin(phi)) * Math.sin(th),
        ) as Vec3;
        for (let d = 0; d < 3; d++) {
          const q = c.sphereCenter[d]! + dir[d]! * R;
          lo[d] = Math.min(lo[d]!, q);
          hi[d] = Math.max(hi[d]!, q);
        }
      }
    }
    // Chords between sampled rim points can bow outwards by up to R (1 - cos(pi/64)) and R (1 - cos(th/2)).
    const slack =
      c.thickness / 2 + R * (1 - Math.cos(Math.PI / 64)) + R * (1 - Math.cos(c.halfAngle / 2)) + 1;
    for (let d = 0; d < 3; d++) {
      lo[d] = lo[d]! - slack;
      hi[d] = hi[d]! + slack;
    }
    this.add(KIND_CISTERNA, cls, id, 1, reach, lo, hi);
    this.params.push(
      ...c.sphereCenter,
      ...c.axis,
      R,
      Math.cos(c.halfAngle),
      Math.sin(c.halfAngle),
      c.thickness / 2,
    );
  }

  sphere(kind: number, cls: OrganelleClass, id: number, center: Vec3, radius: number, content: number): void {
    const lo: Vec3 = [center[0] - radius, center[1] - radius, center[2] - radius];
    const hi: Vec3 = [center[0] + radius, center[1] + radius, center[2] + radius];
    this.add(kind, cls, id, 1, 0, lo, hi);
    this.params.push(...center, radius, content);
  }
}

function polylineBounds(points: readonly Vec3[], r: number): [Vec3, Vec3] {
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const p of points) {
    for (let d = 0; d < 3; d++) {
      lo[d] = Math.min(lo[d]!, p[d]! - r);
      hi[d] = Math.max(hi[d]!, p[d]! + r);
    }
  }
  return [lo, hi];
}

/** Uniform grid of primitive bounds (compressed rows: cell -> primitive indices). */
class SpatialGrid {
  private readonly cell: number;
  private readonly dims: Vec3;
  private readonly start: Int32Array;
  private readonly items: Int32Array;
  private readonly stamp: Int32Array;
  private epoch = 0;

  constructor(extent: Vec3, bounds: Float64Array, cell: number) {
    this.cell = cell;
    this.dims = extent.map((e) => Math.max(1, Math.ceil(e / cell))) as Vec3;
    const n = this.dims[0] * this.dims[1] * this.dims[2];
    const count = new Int32Array(n + 1);
    const prims = bounds.length / 6;
    this.stamp = new Int32Array(prims);
    const visit = (i: number, fn: (c: number) => void) => {
      const [lz, ly, lx] = this.cellOf(bounds[i * 6]!, bounds[i * 6 + 1]!, bounds[i * 6 + 2]!);
      const [hz, hy, hx] = this.cellOf(bounds[i * 6 + 3]!, bounds[i * 6 + 4]!, bounds[i * 6 + 5]!);
      for (let z = lz; z <= hz; z++)
        for (let y = ly; y <= hy; y++)
          for (let x = lx; x <= hx; x++) fn((z * this.dims[1] + y) * this.dims[2] + x);
    };
    for (let i = 0; i < prims; i++) {
      visit(i, (c) => {
        count[c + 1]!++;
      });
    }
    for (let c = 0; c < n; c++) count[c + 1]! += count[c]!;
    this.start = count;
    this.items = new Int32Array(count[n]!);
    const fill = count.slice(0, n);
    for (let i = 0; i < prims; i++) {
      visit(i, (c) => {
        this.items[fill[c]!++] = i;
      });
    }
  }

  private cellOf(z: number, y: number, x: number): Vec3 {
    const c = (v: number, d: number) => Math.min(this.dims[d]! - 1, Math.max(0, Math.floor(v / this.cell)));
    return [c(z, 0), c(y, 1), c(x, 2)];
  }

  query(lo: Vec3, hi: Vec3, margin: number, bounds: Float64Array, out: Int32Array): number {
    this.epoch++;
    const [lz, ly, lx] = this.cellOf(lo[0] - margin, lo[1] - margin, lo[2] - margin);
    const [hz, hy, hx] = this.cellOf(hi[0] + margin, hi[1] + margin, hi[2] + margin);
    let n = 0;
    for (let z = lz; z <= hz; z++) {
      for (let y = ly; y <= hy; y++) {
        for (let x = lx; x <= hx; x++) {
          const c = (z * this.dims[1] + y) * this.dims[2] + x;
          for (let k = this.start[c]!; k < this.start[c + 1]!; k++) {
            const i = this.items[k]!;
            if (this.stamp[i] === this.epoch) continue;
            this.stamp[i] = this.epoch;
            const o = i * 6;
            if (
              bounds[o]! > hi[0] + margin ||
              bounds[o + 1]! > hi[1] + margin ||
              bounds[o + 2]! > hi[2] + margin ||
              bounds[o + 3]! < lo[0] - margin ||
              bounds[o + 4]! < lo[1] - margin ||
              bounds[o + 5]! < lo[2] - margin
            )
              continue;
            out[n++] = i;
          }
        }
      }
    }
    out.subarray(0, n).sort();
    return n;
  }
}
