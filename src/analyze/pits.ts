import * as path from "node:path";
import { coord } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import type { VoxelBox } from "../core/roi.ts";
import { distanceTransform } from "../ops/edt.ts";
import { Volume } from "../store/volume.ts";
import { quantile, writeFileAtomic } from "./measure.ts";
import { sameGrid } from "./pores.ts";
import {
  Crop,
  cross,
  dot,
  frameOf,
  instanceMoments,
  normalize,
  pointMoments,
  solve,
  symmetricEigen,
  type Vec3,
} from "./pores-geometry.ts";
import { median } from "./stats.ts";

/*
 * `organelle pits`: ASEM's clathrin-coated pit and vesicle analysis. Each coated structure (an instance
 * of the segmentation) is classified by its distance to the plasma membrane — the boundary of the cell
 * mask: touching it, an invagination (a pit, or a caveola when small and flask-shaped); within 400 nm, an
 * endocytic coated vesicle; farther, secretory. For invaginations the membrane's surface around the pit is
 * fitted (a quadric over a ring of cell-mask boundary just outside the object), and the cavity the pit
 * carves into the mask gives the depth (deepest boundary below that surface) and the width at half depth
 * (equivalent diameter of the cavity's cross-section there); the neck is the narrowest level above the
 * widest. An ellipse fitted to the object's section through its axis gives major/minor axes and ASEM's
 * eccentricity (major / minor).
 */

export const PIT_COLUMNS = [
  "Object ID",
  "Class",
  "Volume (nm^3)",
  "COM X (nm)",
  "COM Y (nm)",
  "COM Z (nm)",
  "Distance to PM (nm)",
  "Depth (nm)",
  "Width at Half Depth (nm)",
  "Neck (nm)",
  "Major Axis (nm)",
  "Minor Axis (nm)",
  "Eccentricity",
] as const;

export type PitClass = "pit" | "caveola" | "vesicle" | "secretory";

export interface PitsOptions {
  /** Coated-structure instances (default labels/ccp). */
  objects?: string;
  /** Cell mask whose boundary is the plasma membrane (default masks/cell). */
  mask?: string;
  /** Endocytic vs secretory cut (nm from the membrane; default 400). */
  distance?: number;
  /** Objects closer than this (nm) touch the membrane: invaginations (default 20). */
  touch?: number;
  /** Caveolae: invaginations at most this wide at half depth and this deep (nm; default 90, 80). */
  caveola?: readonly [number, number];
  /** Objects with fewer voxels are left out (default 5). */
  minVoxels?: number;
  table?: string;
  signal?: AbortSignal;
}

export interface PitRow {
  readonly id: number;
  readonly cls: PitClass;
  readonly voxels: number;
  readonly volume: number;
  readonly centroid: Vec3;
  /** nm from the object to the nearest voxel outside the cell mask; Infinity beyond the search. */
  readonly distance: number;
  readonly depth: number;
  readonly width: number;
  readonly neck: number;
  readonly major: number;
  readonly minor: number;
  readonly eccentricity: number;
}

export interface PitsSummary {
  readonly counts: Readonly<Record<PitClass, number>>;
  /** Median depth / width / eccentricity of the coated pits (caveolae left out). */
  readonly pitDepth: number;
  readonly pitWidth: number;
  readonly eccentricity: number;
  readonly depthQuartiles: readonly [number, number];
  readonly widthQuartiles: readonly [number, number];
}

export interface PitsResult {
  readonly rows: PitRow[];
  readonly summary: PitsSummary;
  readonly csvPath: string;
  readonly seconds: number;
}

/** Ring of membrane (nm beyond the object's reach) the surface fit uses. */
const RING = [15, 135] as const;

export async function runPits(datasetPath: string, opts: PitsOptions = {}): Promise<PitsResult> {
  const t0 = performance.now();
  const cut = opts.distance ?? 400;
  const touch = opts.touch ?? 20;
  const [cavWidth, cavDepth] = opts.caveola ?? [90, 80];
  if (!(cut > 0)) throw invalidArgument(`--distance ${cut}: must be a positive number of nm`);
  if (!(touch >= 0 && touch < cut))
    throw invalidArgument(`--touch ${touch}: must lie within 0..--distance nm`);
  if (!(cavWidth >= 0 && cavDepth >= 0))
    throw invalidArgument("--caveola: give WIDTH,DEPTH in nm, both >= 0");
  const objects = await Volume.open(datasetPath, opts.objects ?? "labels/ccp");
  const mask = await Volume.open(datasetPath, opts.mask ?? "masks/cell");
  sameGrid(mask, objects);
  const vs = objects.meta.voxelSize;
  const voxelVolume = vs[0] * vs[1] * vs[2];
  const vmax = Math.max(...vs);
  const moments = (await instanceMoments(objects, opts.signal)).filter(
    (m) => m.voxels >= (opts.minVoxels ?? 5),
  );
  const rows: PitRow[] = [];
  for (const m of moments) {
    opts.signal?.throwIfAborted();
    const grown = (nm: number): VoxelBox => {
      const g = [0, 1, 2].map((d) => Math.ceil(nm / vs[d]!));
      return {
        begin: coord(m.box.begin[0] - g[0]!, m.box.begin[1] - g[1]!, m.box.begin[2] - g[2]!),
        shape: coord(m.box.shape[0] + 2 * g[0]!, m.box.shape[1] + 2 * g[1]!, m.box.shape[2] + 2 * g[2]!),
      };
    };
    // A crop just big enough for the membrane ring decides touching objects; only the others need the
    // wider one that reaches the endocytic cut. Outside the array counts as inside the cell: a cell cut
    // by the volume's edge has no membrane there.
    const near = grown(Math.max(touch, RING[1]) + 2 * vmax);
    let maskCrop = await Crop.read(mask, near, 1);
    let geo = pitGeometry(m.id, await Crop.read(objects, near, 0), maskCrop, touch + vmax);
    if (!(geo.distance <= touch)) {
      const far = grown(cut + 2 * vmax);
      maskCrop = await Crop.read(mask, far, 1);
      geo = pitGeometry(m.id, await Crop.read(objects, far, 0), maskCrop, cut);
    }
    let cls: PitClass = geo.distance <= touch ? "pit" : geo.distance <= cut ? "vesicle" : "secretory";
    let depth = Number.NaN;
    let width = Number.NaN;
    let neck = Number.NaN;
    let axis: Vec3 | undefined;
    if (cls === "pit") {
      const inv = invagination(geo.points, geo.centroid, maskCrop);
      if (inv) {
        ({ depth, width, neck } = inv);
        axis = inv.normal;
        if (width <= cavWidth && depth <= cavDepth && depth >= 0.5 * width) cls = "caveola";
      }
    }
    const ellipse = sectionEllipse(geo.points, geo.centroid, axis, vmax);
    rows.push({
      id: m.id,
      cls,
      voxels: m.voxels,
      volume: m.voxels * voxelVolume,
      centroid: m.centroid,
      distance: geo.distance,
      depth,
      width,
      neck,
      major: ellipse?.major ?? Number.NaN,
      minor: ellipse?.minor ?? Number.NaN,
      eccentricity: ellipse ? ellipse.major / ellipse.minor : Number.NaN,
    });
  }
  const summary = summarizePits(rows);
  const csvPath = path.join(datasetPath, opts.table ?? path.join("tables", "coated_pits.csv"));
  await writeFileAtomic(csvPath, pitsCsv(rows));
  return { rows, summary, csvPath, seconds: (performance.now() - t0) / 1000 };
}

/** The object's voxel centres (nm, packed z,y,x), centroid and distance to the outside of the cell. */
function pitGeometry(id: number, ids: Crop, mask: Crop, cut: number) {
  const n = ids.data.length;
  const inside = new Uint8Array(n);
  for (let i = 0; i < n; i++) inside[i] = mask.data[i] !== 0 ? 1 : 0;
  const edt = distanceTransform(inside, ids.box.shape, { voxelSize: ids.voxelSize, maxDistance: cut + 1 });
  const [, sy, sx] = ids.box.shape;
  const points: number[] = [];
  let nearest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    if (ids.data[i] !== id) continue;
    const x = i % sx;
    const y = Math.floor(i / sx) % sy;
    const z = Math.floor(i / (sx * sy));
    points.push(...ids.world(z, y, x));
    nearest = Math.min(nearest, edt[i]!);
  }
  const vmin = Math.min(...ids.voxelSize);
  // A voxel next to the outside has distance one voxel: the membrane lies at the face between them.
  const distance = nearest === 0 ? 0 : Math.max(0, nearest - vmin / 2);
  return { points, centroid: pointMoments(points).mean, distance };
}

/**
 * Depth, width at half depth and neck of the cavity an invagination carves into the cell mask, measured
 * from a quadric fitted to the mask's boundary on a ring around the object.
 */
function invagination(points: readonly number[], c: Vec3, mask: Crop) {
  let reach = 0;
  for (let i = 0; i < points.length; i += 3) {
    reach = Math.max(reach, Math.hypot(points[i]! - c[0], points[i + 1]! - c[1], points[i + 2]! - c[2]));
  }
  const [sz, sy, sx] = mask.box.shape;
  const d = mask.data;
  const vs = mask.voxelSize;
  const strides = [sy * sx, sx, 1];
  const ring: number[] = [];
  const inward: Vec3 = [0, 0, 0];
  const faces: number[] = []; // boundary faces near the object: the cavity's walls
  for (let z = 0; z < sz; z++) {
    for (let y = 0; y < sy; y++) {
      for (let x = 0; x < sx; x++) {
        const i = (z * sy + y) * sx + x;
        const a = d[i] !== 0;
        for (let ax = 0; ax < 3; ax++) {
          if ((ax === 0 && z + 1 >= sz) || (ax === 1 && y + 1 >= sy) || (ax === 2 && x + 1 >= sx)) continue;
          if (a === (d[i + strides[ax]!] !== 0)) continue;
          const p = mask.world(z, y, x);
          p[ax]! += vs[ax]! / 2;
          const r = Math.hypot(p[0] - c[0], p[1] - c[1], p[2] - c[2]);
          if (r > reach + RING[0] && r < reach + RING[1]) {
            ring.push(p[0], p[1], p[2]);
            inward[ax]! += a ? -1 : 1;
          } else if (r <= reach + RING[0]) {
            faces.push(p[0], p[1], p[2]);
          }
        }
      }
    }
  }
  if (ring.length < 3 * 12) return undefined;
  const fit = pointMoments(ring);
  let n = symmetricEigen(fit.covariance).vectors[0];
  if (dot(n, inward) < 0) n = [-n[0], -n[1], -n[2]];
  const [e1, e2] = frameOf(n);
  const o = fit.mean;
  // Height of the membrane over the tangent plane: h(u, v) = a + b u + c v + d u^2 + e uv + f v^2.
  const AtA = Array.from({ length: 6 }, () => new Array<number>(6).fill(0));
  const Atb = new Array<number>(6).fill(0);
  const local = (p: Vec3) => {
    const q: Vec3 = [p[0] - o[0], p[1] - o[1], p[2] - o[2]];
    return [dot(q, e1), dot(q, e2), dot(q, n)] as const;
  };
  for (let i = 0; i < ring.length; i += 3) {
    const [u, v, w] = local([ring[i]!, ring[i + 1]!, ring[i + 2]!]);
    const row = [1, u, v, u * u, u * v, v * v];
    for (let j = 0; j < 6; j++) {
      Atb[j]! += row[j]! * w;
      for (let k = 0; k < 6; k++) AtA[j]![k]! += row[j]! * row[k]!;
    }
  }
  const coef = solve(AtA, Atb) ?? [Atb[0]! / Math.max(1, AtA[0]![0]!), 0, 0, 0, 0, 0];
  const below = (p: Vec3) => {
    const [u, v, w] = local(p);
    return (
      w - (coef[0]! + coef[1]! * u + coef[2]! * v + coef[3]! * u * u + coef[4]! * u * v + coef[5]! * v * v)
    );
  };
  let depth = 0;
  for (let i = 0; i < faces.length; i += 3)
    depth = Math.max(depth, below([faces[i]!, faces[i + 1]!, faces[i + 2]!]));
  if (!(depth > 0)) return undefined;
  // Cavity voxels: outside the mask, near the object, below the membrane surface.
  const levels: number[] = [];
  for (let z = 0; z < sz; z++) {
    for (let y = 0; y < sy; y++) {
      for (let x = 0; x < sx; x++) {
        if (d[(z * sy + y) * sx + x] !== 0) continue;
        const p = mask.world(z, y, x);
        if (Math.hypot(p[0] - c[0], p[1] - c[1], p[2] - c[2]) > reach + RING[0]) continue;
        const t = below(p);
        if (t > 0) levels.push(t);
      }
    }
  }
  const voxelVolume = vs[0] * vs[1] * vs[2];
  const vmax = Math.max(...vs);
  const widthAt = (t: number, half: number) => {
    let count = 0;
    for (const l of levels) if (Math.abs(l - t) < half) count++;
    return 2 * Math.sqrt((count * voxelVolume) / (2 * half) / Math.PI);
  };
  const width = widthAt(depth / 2, vmax);
  const profile: [number, number][] = [];
  for (let t = vmax / 2; t < depth - vmax / 2; t += vmax / 2) profile.push([t, widthAt(t, vmax / 2)]);
  let neck = width;
  if (profile.length > 0) {
    let widest = 0;
    for (let k = 1; k < profile.length; k++) if (profile[k]![1] > profile[widest]![1]) widest = k;
    neck = Math.min(...profile.slice(0, widest + 1).map((p) => p[1]));
  }
  return { depth, width, neck, normal: n };
}

/**
 * Ellipse fitted to the object's section through its centroid: the plane holding the membrane normal
 * and the object's widest direction across it (invaginations), else its two widest principal axes.
 */
function sectionEllipse(points: readonly number[], c: Vec3, normal: Vec3 | undefined, vmax: number) {
  const eig = symmetricEigen(pointMoments(points).covariance);
  let a1: Vec3;
  let a2: Vec3;
  if (normal) {
    // The widest direction across the normal.
    const v = eig.vectors[2];
    a2 = normalize([
      v[0] - dot(v, normal) * normal[0],
      v[1] - dot(v, normal) * normal[1],
      v[2] - dot(v, normal) * normal[2],
    ]);
    if (Number.isNaN(a2[0]) || Math.hypot(...a2) < 0.5) a2 = frameOf(normal)[0];
    a1 = normal;
  } else {
    a1 = eig.vectors[2];
    a2 = eig.vectors[1];
  }
  const s = normalize(cross(a1, a2));
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < points.length; i += 3) {
    const q: Vec3 = [points[i]! - c[0], points[i + 1]! - c[1], points[i + 2]! - c[2]];
    if (Math.abs(dot(q, s)) > vmax / 2) continue;
    xs.push(dot(q, a1));
    ys.push(dot(q, a2));
  }
  return fitEllipse(xs, ys);
}

/**
 * Least-squares ellipse through points (Halir & Flusser's numerically stable form of Fitzgibbon's
 * direct fit). Returns the full axis lengths, or undefined when the points fit no ellipse.
 */
export function fitEllipse(
  xs: readonly number[],
  ys: readonly number[],
): { major: number; minor: number; center: [number, number] } | undefined {
  const n = xs.length;
  if (n < 6) return undefined;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(xs[i]! - mx), Math.abs(ys[i]! - my));
  if (!(scale > 0)) return undefined;
  const S1 = Array.from({ length: 3 }, () => [0, 0, 0]);
  const S2 = Array.from({ length: 3 }, () => [0, 0, 0]);
  const S3 = Array.from({ length: 3 }, () => [0, 0, 0]);
  for (let i = 0; i < n; i++) {
    const x = (xs[i]! - mx) / scale;
    const y = (ys[i]! - my) / scale;
    const d1 = [x * x, x * y, y * y];
    const d2 = [x, y, 1];
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 3; k++) {
        S1[j]![k]! += d1[j]! * d1[k]!;
        S2[j]![k]! += d1[j]! * d2[k]!;
        S3[j]![k]! += d2[j]! * d2[k]!;
      }
    }
  }
  // T = -S3^-1 S2^T, column by column.
  const T = Array.from({ length: 3 }, () => [0, 0, 0]);
  for (let k = 0; k < 3; k++) {
    const col = solve(S3, [-S2[k]![0]!, -S2[k]![1]!, -S2[k]![2]!]);
    if (!col) return undefined;
    for (let j = 0; j < 3; j++) T[j]![k] = col[j]!;
  }
  const M = Array.from({ length: 3 }, (_, j) =>
    [0, 1, 2].map((k) => S1[j]![k]! + [0, 1, 2].reduce((s, l) => s + S2[j]![l]! * T[l]![k]!, 0)),
  );
  // Premultiply by the inverse of the constraint matrix C1 = [[0,0,2],[0,-1,0],[2,0,0]].
  const R = [M[2]!.map((v) => v / 2), M[1]!.map((v) => -v), M[0]!.map((v) => v / 2)];
  let best: number[] | undefined;
  for (const lambda of cubicRoots(R)) {
    const A = R.map((row, i) => row.map((v, j) => v - (i === j ? lambda : 0)));
    // Eigenvector: the largest cross product of two rows of (R - lambda I).
    const cands = [crossRows(A[0]!, A[1]!), crossRows(A[0]!, A[2]!), crossRows(A[1]!, A[2]!)];
    const norm = (r: number[]) => Math.hypot(r[0]!, r[1]!, r[2]!);
    const v = cands.reduce((p, q) => (norm(q) > norm(p) ? q : p));
    if (4 * v[0]! * v[2]! - v[1]! ** 2 > 0) best = v;
  }
  if (!best) return undefined;
  const a2 = [0, 1, 2].map((j) => T[j]![0]! * best![0]! + T[j]![1]! * best![1]! + T[j]![2]! * best![2]!);
  const [A, B, C] = best as [number, number, number];
  const [D, E, F] = a2 as [number, number, number];
  const den = B * B - 4 * A * C;
  if (!(den < 0)) return undefined;
  const x0 = (2 * C * D - B * E) / den;
  const y0 = (2 * A * E - B * D) / den;
  const F0 = F + A * x0 * x0 + B * x0 * y0 + C * y0 * y0 + D * x0 + E * y0;
  const tr = A + C;
  const disc = Math.sqrt(((A - C) / 2) ** 2 + (B / 2) ** 2);
  const l1 = tr / 2 - disc;
  const l2 = tr / 2 + disc;
  const r1 = Math.sqrt(-F0 / l1);
  const r2 = Math.sqrt(-F0 / l2);
  if (!(Number.isFinite(r1) && Number.isFinite(r2))) return undefined;
  return {
    major: 2 * scale * Math.max(r1, r2),
    minor: 2 * scale * Math.min(r1, r2),
    center: [mx + scale * x0, my + scale * y0],
  };
}

function crossRows(a: readonly number[], b: readonly number[]): number[] {
  return [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
}

/** Real eigenvalues of a 3x3 matrix (roots of its characteristic cubic). */
function cubicRoots(m: number[][]): number[] {
  const [a, b, c] = m[0] as [number, number, number];
  const [d, e, f] = m[1] as [number, number, number];
  const [g, h, i] = m[2] as [number, number, number];
  // lambda^3 + p2 lambda^2 + p1 lambda + p0 = 0
  const p2 = -(a + e + i);
  const p1 = a * e - b * d + a * i - c * g + e * i - f * h;
  const p0 = -(a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g));
  const q = (3 * p1 - p2 * p2) / 9;
  const r = (9 * p2 * p1 - 27 * p0 - 2 * p2 ** 3) / 54;
  const disc = q ** 3 + r * r;
  if (disc > 0) {
    const s = Math.cbrt(r + Math.sqrt(disc));
    const t = Math.cbrt(r - Math.sqrt(disc));
    return [s + t - p2 / 3];
  }
  const th = Math.acos(Math.max(-1, Math.min(1, r / Math.sqrt(-(q ** 3) || 1e-300))));
  const k = 2 * Math.sqrt(-q);
  return [0, 1, 2].map((j) => k * Math.cos((th + 2 * Math.PI * j) / 3) - p2 / 3);
}

export function summarizePits(rows: readonly PitRow[]): PitsSummary {
  const counts: Record<PitClass, number> = { pit: 0, caveola: 0, vesicle: 0, secretory: 0 };
  for (const r of rows) counts[r.cls]++;
  const pits = rows.filter((r) => r.cls === "pit");
  const vals = (f: (r: PitRow) => number) =>
    pits
      .map(f)
      .filter((v) => !Number.isNaN(v))
      .sort((a, b) => a - b);
  const depth = vals((r) => r.depth);
  const width = vals((r) => r.width);
  return {
    counts,
    pitDepth: median(depth),
    pitWidth: median(width),
    eccentricity: median(rows.filter((r) => r.cls !== "caveola").map((r) => r.eccentricity)),
    depthQuartiles: [quantile(depth, 0.25), quantile(depth, 0.75)],
    widthQuartiles: [quantile(width, 0.25), quantile(width, 0.75)],
  };
}

const fmt = (v: number) =>
  Number.isNaN(v) ? "" : !Number.isFinite(v) ? "inf" : Number.isInteger(v) ? String(v) : v.toFixed(3);

export function pitsCsv(rows: readonly PitRow[]): string {
  const lines = [PIT_COLUMNS.join(",")];
  for (const r of rows) {
    lines.push(
      [
        fmt(r.id),
        r.cls,
        fmt(r.volume),
        fmt(r.centroid[2]),
        fmt(r.centroid[1]),
        fmt(r.centroid[0]),
        fmt(r.distance),
        fmt(r.depth),
        fmt(r.width),
        fmt(r.neck),
        fmt(r.major),
        fmt(r.minor),
        fmt(r.eccentricity),
      ].join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}
