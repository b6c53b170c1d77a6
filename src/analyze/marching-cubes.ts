import type { Coordinate } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";

/*
 * Marching cubes on binary masks (and on each id of an instance array), iso-level 0.5: every vertex
 * is the midpoint of a cube edge whose two voxels differ, as skimage.measure.marching_cubes gives on
 * 0/1 input. The case tables are generated here rather than typed in: for each of the 256 corner
 * configurations the isoline of every cube face is traced (on a face whose inside corners sit on a
 * diagonal, each inside corner is cut off on its own — a rule that depends only on the face, so two
 * cubes sharing a face agree and surfaces are closed), the face segments are chained into loops and
 * each loop is fanned into triangles. Cube corner k sits at (x, y, z) = (k & 1, k >> 1 & 1, k >> 2 & 1).
 *
 * Because every vertex is an edge midpoint, a case's surface area depends only on the voxel size:
 * `caseAreas` tabulates it, and surface areas are sums over cells of table entries (no mesh built).
 */

/** Cube edges as corner pairs [a, b] with b = a + one axis bit; index = edge id. */
export const EDGES: readonly (readonly [number, number])[] = (() => {
  const e: [number, number][] = [];
  for (const bit of [1, 2, 4]) {
    for (let a = 0; a < 8; a++) if (!(a & bit)) e.push([a, a | bit]);
  }
  return e;
})();

function edgeOf(a: number, b: number): number {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  const i = EDGES.findIndex(([p, q]) => p === lo && q === hi);
  if (i < 0) throw new Error(`corners ${a} and ${b} share no edge`);
  return i;
}

const cornerPos = (k: number): [number, number, number] => [k & 1, (k >> 1) & 1, (k >> 2) & 1];

/** The six faces' corners in counter-clockwise order seen from outside the cube. */
const FACES: readonly (readonly number[])[] = (() => {
  const faces: number[][] = [];
  for (let axis = 0; axis < 3; axis++) {
    const [a, b] = [0, 1, 2].filter((d) => d !== axis) as [number, number];
    for (const side of [0, 1]) {
      const corner = (u: number, v: number) => (side << axis) | (u << a) | (v << b);
      let ring = [corner(0, 0), corner(1, 0), corner(1, 1), corner(0, 1)];
      const p = ring.map(cornerPos);
      const d1 = [0, 1, 2].map((d) => p[1]![d]! - p[0]![d]!);
      const d2 = [0, 1, 2].map((d) => p[2]![d]! - p[1]![d]!);
      const n = cross(d1, d2);
      const outward = side === 1 ? 1 : -1;
      if (n[axis]! * outward < 0) ring = ring.reverse();
      faces.push(ring);
    }
  }
  return faces;
})();

function cross(u: readonly number[], v: readonly number[]): number[] {
  return [u[1]! * v[2]! - u[2]! * v[1]!, u[2]! * v[0]! - u[0]! * v[2]!, u[0]! * v[1]! - u[1]! * v[0]!];
}

/**
 * Triangles (as edge-id triples, flattened) of every configuration; triangles face away from the
 * inside corners (normals point out of the object).
 */
export const TRIANGLES: readonly Int8Array[] = (() => {
  const out: Int8Array[] = [];
  for (let c = 0; c < 256; c++) out.push(trianglesOf(c));
  return out;
})();

function trianglesOf(config: number): Int8Array {
  const inside = (k: number) => (config >> k) & 1;
  const next = new Int32Array(12).fill(-1);
  for (const ring of FACES) {
    for (let i = 0; i < 4; i++) {
      const prev = ring[(i + 3) % 4]!;
      if (!inside(ring[i]!) || inside(prev)) continue;
      let j = i;
      while (inside(ring[(j + 1) % 4]!)) j = (j + 1) % 4;
      const enter = edgeOf(prev, ring[i]!);
      const leave = edgeOf(ring[j]!, ring[(j + 1) % 4]!);
      next[enter] = leave;
    }
  }
  const tris: number[] = [];
  const seen = new Uint8Array(12);
  for (let e = 0; e < 12; e++) {
    if (next[e]! < 0 || seen[e]) continue;
    const loop: number[] = [];
    for (let k = e; !seen[k]; k = next[k]!) {
      seen[k] = 1;
      loop.push(k);
    }
    // Walking the cube's faces counter-clockwise from outside makes each loop run counter-clockwise
    // around the surface normal pointing out of the object, so the fan keeps the loop's order.
    for (let i = 1; i + 1 < loop.length; i++) tris.push(loop[0]!, loop[i]!, loop[i + 1]!);
  }
  return Int8Array.from(tris);
}

/** Midpoint of edge `e` in cube units (x, y, z). */
export function edgeMidpoint(e: number): [number, number, number] {
  const [a, b] = EDGES[e]!;
  const p = cornerPos(a);
  const q = cornerPos(b);
  return [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2, (p[2] + q[2]) / 2];
}

/** Surface area of each configuration's triangles in nm^2 for voxel size (z, y, x) nm. */
export function caseAreas(voxelSize: Coordinate): Float64Array {
  const s = [voxelSize[2], voxelSize[1], voxelSize[0]];
  const mid = EDGES.map((_, e) => edgeMidpoint(e).map((v, d) => v * s[d]!));
  const areas = new Float64Array(256);
  for (let c = 0; c < 256; c++) {
    const t = TRIANGLES[c]!;
    let a = 0;
    for (let i = 0; i < t.length; i += 3) {
      const p = mid[t[i]!]!;
      const q = mid[t[i + 1]!]!;
      const r = mid[t[i + 2]!]!;
      const n = cross(
        [q[0]! - p[0]!, q[1]! - p[1]!, q[2]! - p[2]!],
        [r[0]! - p[0]!, r[1]! - p[1]!, r[2]! - p[2]!],
      );
      a += 0.5 * Math.hypot(n[0]!, n[1]!, n[2]!);
    }
    areas[c] = a;
  }
  return areas;
}

export type IdArray = Uint8Array | Uint16Array | Uint32Array | Int32Array;

export interface CellRange {
  /** First and one-past-last cell (lower corner voxel index) per axis (z, y, x) in `data`'s box. */
  readonly begin: Coordinate;
  readonly end: Coordinate;
}

/** Per-id sums with a one-entry cache, keeping each id's additions in cell order. */
export class AreaSums {
  private readonly slotOf = new Map<number, number>();
  private sums = new Float64Array(64);
  private lastId = Number.NaN;
  private lastSlot = -1;

  add(id: number, a: number): void {
    if (id !== this.lastId) {
      let slot = this.slotOf.get(id);
      if (slot === undefined) {
        slot = this.slotOf.size;
        this.slotOf.set(id, slot);
        if (slot >= this.sums.length) {
          const grown = new Float64Array(this.sums.length * 2);
          grown.set(this.sums);
          this.sums = grown;
        }
      }
      this.lastId = id;
      this.lastSlot = slot;
    }
    this.sums[this.lastSlot] = this.sums[this.lastSlot]! + a;
  }

  toMap(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [id, slot] of this.slotOf) out.set(id, this.sums[slot]!);
    return out;
  }
}

/**
 * Adds the marching-cubes surface area of every non-zero id of `data` (shape z,y,x) into `area`
 * (a Map from id to nm^2), over the cells whose lower corner voxel lies in `cells` (every such cell
 * needs its upper corner inside `data`). `areas` is caseAreas(voxel size). Each id's surface is that
 * of the binary mask `data == id`: where two objects touch, both get the shared surface. (measure
 * takes these areas from surface-areas.ts, one pass with the smoothed areas; its tests compare.)
 */
export function accumulateSurfaceAreas(
  data: IdArray,
  shape: Coordinate,
  cells: CellRange,
  areas: Float64Array,
  area: Map<number, number>,
): void {
  const [, ny, nx] = shape;
  const sy = nx;
  const sz = ny * nx;
  for (let d = 0; d < 3; d++) {
    if (cells.begin[d]! < 0 || cells.end[d]! > shape[d]! - 1) {
      throw invalidArgument(`marching cubes: cell range exceeds the data (axis ${d})`);
    }
  }
  const sums = new AreaSums();
  const ids = new Float64Array(8);
  for (let z = cells.begin[0]; z < cells.end[0]; z++) {
    for (let y = cells.begin[1]; y < cells.end[1]; y++) {
      let i = z * sz + y * sy + cells.begin[2];
      for (let x = cells.begin[2]; x < cells.end[2]; x++, i++) {
        const v0 = data[i]!;
        const v1 = data[i + 1]!;
        const v2 = data[i + sy]!;
        const v3 = data[i + sy + 1]!;
        const v4 = data[i + sz]!;
        const v5 = data[i + sz + 1]!;
        const v6 = data[i + sz + sy]!;
        const v7 = data[i + sz + sy + 1]!;
        if (v0 === v1 && v0 === v2 && v0 === v3 && v0 === v4 && v0 === v5 && v0 === v6 && v0 === v7) continue;
        ids[0] = v0;
        ids[1] = v1;
        ids[2] = v2;
        ids[3] = v3;
        ids[4] = v4;
        ids[5] = v5;
        ids[6] = v6;
        ids[7] = v7;
        for (let k = 0; k < 8; k++) {
          const config = cornerConfig(ids, k);
          if (config !== 0) sums.add(ids[k]!, areas[config]!);
        }
      }
    }
  }
  for (const [id, a] of sums.toMap()) area.set(id, (area.get(id) ?? 0) + a);
}

/**
 * The marching-cubes case (bit q set where corner q holds the id) of the id at corner `k` of a cube's
 * 8 corner ids, or 0 when that id is background or already met at an earlier corner: so each id of
 * a cube is counted once.
 */
export function cornerConfig(ids: Float64Array, k: number): number {
  const id = ids[k]!;
  if (id === 0) return 0;
  for (let j = 0; j < k; j++) if (ids[j] === id) return 0;
  let config = 0;
  for (let j = k; j < 8; j++) if (ids[j] === id) config |= 1 << j;
  return config;
}

export interface Mesh {
  /** Vertex positions (x, y, z) in nm, flattened. */
  readonly vertices: Float32Array;
  /** Triangles as vertex indices, flattened; counter-clockwise seen from outside. */
  readonly triangles: Uint32Array;
}

/**
 * The mesh of `data == id` (shape z,y,x, voxel size z,y,x nm), closed at the array border (as if
 * padded with zeros): vertices in nm with voxel centres at `origin + (index + 0.5) * voxelSize`.
 * Vertices are shared between triangles (one per crossed voxel edge).
 */
export function marchingCubes(
  data: IdArray,
  shape: Coordinate,
  id: number,
  voxelSize: Coordinate,
  origin: Coordinate = [0, 0, 0] as unknown as Coordinate,
): Mesh {
  const [nz, ny, nx] = shape;
  if (data.length !== nz * ny * nx) throw invalidArgument(`marching cubes: data length does not match shape`);
  const at = (z: number, y: number, x: number) =>
    z < 0 || y < 0 || x < 0 || z >= nz || y >= ny || x >= nx ? 0 : data[(z * ny + y) * nx + x] === id ? 1 : 0;
  const vertexOf = new Map<number, number>();
  const verts: number[] = [];
  const tris: number[] = [];
  // Cells (lower corners) from -1 so the surface closes at the border; edges keyed on the padded grid.
  const px = nx + 2;
  const py = ny + 2;
  const edgeVertex = (z: number, y: number, x: number, e: number): number => {
    const [a, b] = EDGES[e]!;
    const axis = b - a === 1 ? 0 : b - a === 2 ? 1 : 2;
    const cz = z + ((a >> 2) & 1);
    const cy = y + ((a >> 1) & 1);
    const cx = x + (a & 1);
    const key = (((cz + 1) * py + (cy + 1)) * px + (cx + 1)) * 3 + axis;
    let v = vertexOf.get(key);
    if (v === undefined) {
      v = verts.length / 3;
      vertexOf.set(key, v);
      const hx = axis === 0 ? 0.5 : 0;
      const hy = axis === 1 ? 0.5 : 0;
      const hz = axis === 2 ? 0.5 : 0;
      verts.push(
        origin[2] + (cx + hx + 0.5) * voxelSize[2],
        origin[1] + (cy + hy + 0.5) * voxelSize[1],
        origin[0] + (cz + hz + 0.5) * voxelSize[0],
      );
    }
    return v;
  };
  for (let z = -1; z < nz; z++) {
    for (let y = -1; y < ny; y++) {
      for (let x = -1; x < nx; x++) {
        const c =
          at(z, y, x) |
          (at(z, y, x + 1) << 1) |
          (at(z, y + 1, x) << 2) |
          (at(z, y + 1, x + 1) << 3) |
          (at(z + 1, y, x) << 4) |
          (at(z + 1, y, x + 1) << 5) |
          (at(z + 1, y + 1, x) << 6) |
          (at(z + 1, y + 1, x + 1) << 7);
        if (c === 0 || c === 255) continue;
        const t = TRIANGLES[c]!;
        for (let i = 0; i < t.length; i++) tris.push(edgeVertex(z, y, x, t[i]!));
      }
    }
  }
  return { vertices: Float32Array.from(verts), triangles: Uint32Array.from(tris) };
}

/** Area of the triangle whose corners start at offsets p, q, r of `v` (x, y, z triples). */
export function triangleArea(v: Float32Array | Float64Array, p: number, q: number, r: number): number {
  const ux = v[q]! - v[p]!;
  const uy = v[q + 1]! - v[p + 1]!;
  const uz = v[q + 2]! - v[p + 2]!;
  const wx = v[r]! - v[p]!;
  const wy = v[r + 1]! - v[p + 1]!;
  const wz = v[r + 2]! - v[p + 2]!;
  const cx = uy * wz - uz * wy;
  const cy = uz * wx - ux * wz;
  const cz = ux * wy - uy * wx;
  return 0.5 * Math.sqrt(cx * cx + cy * cy + cz * cz);
}

/** Total area of a mesh's triangles (as skimage.measure.mesh_surface_area). */
export function meshArea(mesh: Mesh): number {
  const t = mesh.triangles;
  let a = 0;
  for (let i = 0; i < t.length; i += 3)
    a += triangleArea(mesh.vertices, t[i]! * 3, t[i + 1]! * 3, t[i + 2]! * 3);
  return a;
}

/**
 * Vertex-clustering simplification: vertices in the same cube of edge `cell` nm are merged into their
 * mean; triangles that collapse are dropped. Keeps shape to about `cell` nm.
 */
export function simplifyMesh(mesh: Mesh, cell: number): Mesh {
  if (!(cell > 0)) throw invalidArgument(`mesh simplification: cell size ${cell} nm must be > 0`);
  const v = mesh.vertices;
  const n = v.length / 3;
  const clusterOf = new Map<string, number>();
  const remap = new Uint32Array(n);
  const sums: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < n; i++) {
    const key = `${Math.floor(v[3 * i]! / cell)},${Math.floor(v[3 * i + 1]! / cell)},${Math.floor(v[3 * i + 2]! / cell)}`;
    let c = clusterOf.get(key);
    if (c === undefined) {
      c = counts.length;
      clusterOf.set(key, c);
      counts.push(0);
      sums.push(0, 0, 0);
    }
    remap[i] = c;
    counts[c]!++;
    sums[3 * c] = sums[3 * c]! + v[3 * i]!;
    sums[3 * c + 1] = sums[3 * c + 1]! + v[3 * i + 1]!;
    sums[3 * c + 2] = sums[3 * c + 2]! + v[3 * i + 2]!;
  }
  const vertices = new Float32Array(counts.length * 3);
  for (let c = 0; c < counts.length; c++) {
    for (let d = 0; d < 3; d++) vertices[3 * c + d] = sums[3 * c + d]! / counts[c]!;
  }
  const t = mesh.triangles;
  const kept: number[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < t.length; i += 3) {
    const a = remap[t[i]!]!;
    const b = remap[t[i + 1]!]!;
    const c = remap[t[i + 2]!]!;
    if (a === b || b === c || a === c) continue;
    const key = [a, b, c].sort((p, q) => p - q).join(",");
    if (seen.has(key)) continue;
    seen.add(key);
    kept.push(a, b, c);
  }
  return { vertices, triangles: Uint32Array.from(kept) };
}
