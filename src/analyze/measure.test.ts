import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { copyBox3d } from "../core/ndarray.ts";
import { marchingCubes, meshArea, simplifyMesh, TRIANGLES } from "./marching-cubes.ts";
import {
  MEASURE_CONTEXT,
  measureBlockBelow,
  measureBlockData,
  measureBoxBelow,
  measureVolume,
  mergeRegionStats,
  STAT,
  STAT_COUNT,
} from "./region-stats.ts";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test", "fixtures", "analyze");

interface FixtureObject {
  id: number;
  voxels: number;
  centroid: [number, number, number];
  bbox: [number, number, number, number, number, number];
  meshArea: number;
  faceArea: number;
}

function fixture() {
  const index = JSON.parse(readFileSync(join(FIXTURES, "index.json"), "utf8")) as {
    shape: number[];
    voxelSize: number[];
    labels: string;
    objects: FixtureObject[];
  };
  const buf = gunzipSync(readFileSync(join(FIXTURES, index.labels)));
  const labels = new Uint32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const [z, y, x] = index.shape as [number, number, number];
  const [vz, vy, vx] = index.voxelSize as [number, number, number];
  return { labels, shape: coord(z, y, x), voxelSize: coord(vz, vy, vx), objects: index.objects };
}

function statOf(r: { ids: number[]; stats: number[] }, id: number, s: number): number {
  const k = r.ids.indexOf(id);
  if (k < 0) throw new Error(`id ${id} not measured`);
  return r.stats[k * STAT_COUNT + s]!;
}

/** A sphere/ellipsoid (radii nm) centred in a cube of n voxels of size vs, voxel centres tested. */
function ellipsoid(n: Coordinate, vs: Coordinate, radii: [number, number, number], centre?: number[]) {
  const data = new Uint8Array(n[0] * n[1] * n[2]);
  const c = centre ?? [0, 1, 2].map((d) => (n[d]! * vs[d]!) / 2);
  let i = 0;
  for (let z = 0; z < n[0]; z++)
    for (let y = 0; y < n[1]; y++)
      for (let x = 0; x < n[2]; x++, i++) {
        const dz = ((z + 0.5) * vs[0] - c[0]!) / radii[0];
        const dy = ((y + 0.5) * vs[1] - c[1]!) / radii[1];
        const dx = ((x + 0.5) * vs[2] - c[2]!) / radii[2];
        if (dz * dz + dy * dy + dx * dx <= 1) data[i] = 1;
      }
  return data;
}

function ellipsoidArea(a: number, b: number, c: number): number {
  // Knud Thomsen's approximation (relative error <= 1.1 %).
  const p = 1.6075;
  return 4 * Math.PI * (((a * b) ** p + (a * c) ** p + (b * c) ** p) / 3) ** (1 / p);
}

function isClosed(t: Uint32Array): boolean {
  const half = new Set<string>();
  for (let i = 0; i < t.length; i += 3)
    for (let k = 0; k < 3; k++) half.add(`${t[i + k]},${t[i + ((k + 1) % 3)]}`);
  for (const h of half) {
    const [a, b] = h.split(",");
    if (!half.has(`${b},${a}`)) return false;
  }
  return half.size === t.length;
}

describe("marching-cubes tables", () => {
  it("has triangles exactly for the mixed configurations, at most 5 per cube", () => {
    for (let c = 0; c < 256; c++) {
      const n = TRIANGLES[c]!.length / 3;
      expect(n === 0).toBe(c === 0 || c === 255);
      expect(n).toBeLessThanOrEqual(5);
      // complementary configurations cut the cube along the same edges
      expect(new Set(TRIANGLES[c])).toEqual(new Set(TRIANGLES[255 - c]));
    }
  });
});

describe("measurements against skimage (test/fixtures/analyze)", () => {
  const f = fixture();
  const whole = measureVolume(f.labels, f.shape, f.voxelSize);

  it("finds every id with regionprops' voxel count, centroid and bbox, and the voxel-face area", () => {
    expect(whole.ids).toEqual(f.objects.map((o) => o.id).sort((a, b) => a - b));
    for (const o of f.objects) {
      const n = statOf(whole, o.id, STAT.count);
      expect(n).toBe(o.voxels);
      expect(statOf(whole, o.id, STAT.sumZ) / n).toBeCloseTo(o.centroid[0], 9);
      expect(statOf(whole, o.id, STAT.sumY) / n).toBeCloseTo(o.centroid[1], 9);
      expect(statOf(whole, o.id, STAT.sumX) / n).toBeCloseTo(o.centroid[2], 9);
      expect([STAT.minZ, STAT.minY, STAT.minX].map((s) => statOf(whole, o.id, s))).toEqual(
        o.bbox.slice(0, 3),
      );
      expect([STAT.maxZ, STAT.maxY, STAT.maxX].map((s) => statOf(whole, o.id, s) + 1)).toEqual(
        o.bbox.slice(3),
      );
      expect(statOf(whole, o.id, STAT.faceArea)).toBeCloseTo(o.faceArea, 6);
    }
  });

  it("gives marching_cubes + mesh_surface_area within 1 % for every id, from the tables and from the mesh", () => {
    for (const o of f.objects) {
      const tableArea = statOf(whole, o.id, STAT.binaryArea);
      expect(Math.abs(tableArea / o.meshArea - 1)).toBeLessThan(0.01);
      const mesh = marchingCubes(f.labels, f.shape, o.id, f.voxelSize);
      expect(meshArea(mesh)).toBeCloseTo(tableArea, 6);
      expect(isClosed(mesh.triangles)).toBe(true);
    }
  });

  it("block-wise equals whole-volume (blocks of 7 x 16 x 11 voxels)", () => {
    const block = coord(7, 16, 11);
    const c = MEASURE_CONTEXT;
    const parts = [];
    for (let z = 0; z < f.shape[0]; z += block[0])
      for (let y = 0; y < f.shape[1]; y += block[1])
        for (let x = 0; x < f.shape[2]; x += block[2]) {
          const begin = coord(z, y, x);
          const size = coord(
            Math.min(block[0], f.shape[0] - z),
            Math.min(block[1], f.shape[1] - y),
            Math.min(block[2], f.shape[2] - x),
          );
          parts.push(
            measureBlockData(readPadded(f.labels, f.shape, begin, size, c), begin, size, f.voxelSize),
          );
        }
    const merged = mergeRegionStats(parts);
    expect(merged.ids).toEqual(whole.ids);
    for (let i = 0; i < whole.stats.length; i++) {
      expect(merged.stats[i]).toBeCloseTo(whole.stats[i]!, 6);
    }
  });

  it("block-wise with the ownership shifted down (3 voxels read below, none above) equals whole-volume", () => {
    // 7 x 16 x 11 leaves short last blocks; 1-voxel blocks on one axis test the narrowest case.
    for (const block of [coord(7, 16, 11), coord(f.shape[0], 1, 9), coord(5, f.shape[1], f.shape[2])]) {
      const parts = blocksOf(f.shape, block).map(({ begin, size }) =>
        measureBlockBelow(
          readBox(f.labels, f.shape, measureBoxBelow(begin, size, f.shape)),
          begin,
          size,
          f.shape,
          f.voxelSize,
        ),
      );
      const merged = mergeRegionStats(parts);
      expect(merged.ids).toEqual(whole.ids);
      for (let i = 0; i < whole.stats.length; i++) {
        expect(merged.stats[i]).toBeCloseTo(whole.stats[i]!, 6);
      }
    }
    expect(() =>
      measureBlockBelow(new Uint32Array(8), coord(0, 0, 0), coord(2, 2, 2), f.shape, f.voxelSize),
    ).toThrow(/write box \+ 3 below/);
  });
});

/** Every block of `block` voxels (the last ones on an axis smaller) of a volume. */
function blocksOf(shape: Coordinate, block: Coordinate): { begin: Coordinate; size: Coordinate }[] {
  const out = [];
  for (let z = 0; z < shape[0]; z += block[0])
    for (let y = 0; y < shape[1]; y += block[1])
      for (let x = 0; x < shape[2]; x += block[2])
        out.push({
          begin: coord(z, y, x),
          size: coord(
            Math.min(block[0], shape[0] - z),
            Math.min(block[1], shape[1] - y),
            Math.min(block[2], shape[2] - x),
          ),
        });
  return out;
}

/** The box [begin, begin + shape) of `data` with zeros outside. */
function readBox(data: Uint32Array, shape: Coordinate, box: { begin: Coordinate; shape: Coordinate }) {
  const out = new Uint32Array(box.shape[0] * box.shape[1] * box.shape[2]);
  const lo = [0, 1, 2].map((d) => Math.max(0, box.begin[d]!));
  const hi = [0, 1, 2].map((d) => Math.min(shape[d]!, box.begin[d]! + box.shape[d]!));
  if (hi.some((h, d) => h <= lo[d]!)) return out;
  copyBox3d(
    data,
    shape,
    coord(lo[0]!, lo[1]!, lo[2]!),
    out,
    box.shape,
    coord(lo[0]! - box.begin[0], lo[1]! - box.begin[1], lo[2]! - box.begin[2]),
    coord(hi[0]! - lo[0]!, hi[1]! - lo[1]!, hi[2]! - lo[2]!),
  );
  return out;
}

/** The box [begin - c, begin + size + c) of `data` with zeros outside. */
function readPadded(data: Uint32Array, shape: Coordinate, begin: Coordinate, size: Coordinate, c: number) {
  const g = coord(size[0] + 2 * c, size[1] + 2 * c, size[2] + 2 * c);
  const out = new Uint32Array(g[0] * g[1] * g[2]);
  const lo = [0, 1, 2].map((d) => Math.max(0, begin[d]! - c));
  const hi = [0, 1, 2].map((d) => Math.min(shape[d]!, begin[d]! + size[d]! + c));
  copyBox3d(
    data,
    shape,
    coord(lo[0]!, lo[1]!, lo[2]!),
    out,
    g,
    coord(lo[0]! - begin[0] + c, lo[1]! - begin[1] + c, lo[2]! - begin[2] + c),
    coord(hi[0]! - lo[0]!, hi[1]! - lo[1]!, hi[2]! - lo[2]!),
  );
  return out;
}

describe("analytic shapes", () => {
  it("sphere r = 100 nm at 5 nm: volume within 2 %, smoothed surface within 5 %, binary mesh area known to overshoot", () => {
    const vs = coord(5, 5, 5);
    const data = ellipsoid(coord(48, 48, 48), vs, [100, 100, 100]);
    const r = measureVolume(data, coord(48, 48, 48), vs);
    expect(r.ids).toEqual([1]);
    const vol = statOf(r, 1, STAT.count) * 125;
    expect(Math.abs(vol / ((4 / 3) * Math.PI * 100 ** 3) - 1)).toBeLessThan(0.02);
    const truth = 4 * Math.PI * 100 ** 2;
    expect(Math.abs(statOf(r, 1, STAT.smoothArea) / truth - 1)).toBeLessThan(0.05);
    const binary = statOf(r, 1, STAT.binaryArea) / truth;
    expect(binary).toBeGreaterThan(1.03);
    expect(binary).toBeLessThan(1.12);
    // centre of mass at the centre (voxel centres at (i + 0.5) * 5 nm)
    expect((statOf(r, 1, STAT.sumX) / statOf(r, 1, STAT.count) + 0.5) * 5).toBeCloseTo(120, 6);
  });

  it("ellipsoid 120 x 80 x 60 nm at anisotropic 8 x 6 x 5 nm: volume within 2 %, surface within 5 %", () => {
    const vs = coord(8, 6, 5);
    const n = coord(36, 36, 56);
    const data = ellipsoid(n, vs, [120, 80, 60], [140, 105, 139]);
    const r = measureVolume(data, n, vs);
    const vol = statOf(r, 1, STAT.count) * 240;
    expect(Math.abs(vol / ((4 / 3) * Math.PI * 120 * 80 * 60) - 1)).toBeLessThan(0.02);
    expect(Math.abs(statOf(r, 1, STAT.smoothArea) / ellipsoidArea(120, 80, 60) - 1)).toBeLessThan(0.05);
  });

  it("simplified meshes have fewer triangles and an area within 5 % of the sphere's", () => {
    const vs = coord(5, 5, 5);
    const data = ellipsoid(coord(40, 40, 40), vs, [80, 80, 80]);
    const mesh = marchingCubes(data, coord(40, 40, 40), 1, vs);
    const simple = simplifyMesh(mesh, 12);
    expect(simple.triangles.length).toBeLessThan(mesh.triangles.length / 3);
    // clustering flattens the staircase of the binary mesh, so the area moves towards the truth
    expect(Math.abs(meshArea(simple) / (4 * Math.PI * 80 ** 2) - 1)).toBeLessThan(0.05);
    expect(isClosed(simple.triangles)).toBe(true);
  });
});
