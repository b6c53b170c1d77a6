import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { skeletonize3d } from "./skeletonize.ts";

const DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test", "fixtures", "skeleton");

interface Case {
  name: string;
  shape: number[];
  mask: string;
  skeleton: string;
  skeletonVoxels: number;
}

const index = JSON.parse(readFileSync(join(DIR, "index.json"), "utf8")) as { cases: Case[] };
const load = (file: string) => new Uint8Array(gunzipSync(readFileSync(join(DIR, file))));

function components26(a: Uint8Array, shape: Coordinate): number {
  const [nz, ny, nx] = shape;
  const seen = new Uint8Array(a.length);
  const stack: number[] = [];
  let n = 0;
  for (let s = 0; s < a.length; s++) {
    if (!a[s] || seen[s]) continue;
    n++;
    seen[s] = 1;
    stack.push(s);
    while (stack.length) {
      const i = stack.pop()!;
      const z = Math.trunc(i / (ny * nx));
      const y = Math.trunc(i / nx) % ny;
      const x = i % nx;
      for (let dz = -1; dz <= 1; dz++)
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const zz = z + dz;
            const yy = y + dy;
            const xx = x + dx;
            if (zz < 0 || yy < 0 || xx < 0 || zz >= nz || yy >= ny || xx >= nx) continue;
            const j = (zz * ny + yy) * nx + xx;
            if (a[j] && !seen[j]) {
              seen[j] = 1;
              stack.push(j);
            }
          }
    }
  }
  return n;
}

describe("skeletonize3d (Lee 1994) against skimage.morphology.skeletonize_3d", () => {
  for (const c of index.cases) {
    it(`${c.name}: voxel for voxel equal (${c.skeletonVoxels} skeleton voxels)`, () => {
      const shape = coord(c.shape[0]!, c.shape[1]!, c.shape[2]!);
      const mask = load(c.mask);
      const expected = load(c.skeleton);
      const got = skeletonize3d(mask, shape);
      let diff = 0;
      for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) diff++;
      expect(diff).toBe(0);
      expect(got.reduce((s, v) => s + v, 0)).toBe(c.skeletonVoxels);
    });
  }

  it("medial surface of a slab is a one-voxel plate in one piece", () => {
    const shape = coord(12, 30, 30);
    const slab = new Uint8Array(12 * 30 * 30);
    for (let z = 3; z < 9; z++)
      for (let y = 2; y < 28; y++) for (let x = 2; x < 28; x++) slab[(z * 30 + y) * 30 + x] = 1;
    const surface = skeletonize3d(slab, shape, { mode: "surface" });
    const nSurface = surface.reduce((s, v) => s + v, 0);
    // a 26 x 26 x 6 plate thins to one layer that stops about half the thickness short of the rim
    // (20 x 20 in the middle). (Its curve skeleton is empty: skimage's is too, for a solid box.)
    expect(nSurface).toBeGreaterThanOrEqual(20 * 20);
    expect(nSurface).toBeLessThanOrEqual(2 * 26 * 26);
    // one voxel thick: no voxel of the medial surface has both z-neighbours in it
    let thick = 0;
    for (let i = 0; i < surface.length; i++) if (surface[i] && surface[i + 900]) thick++;
    expect(thick).toBe(0);
    expect(components26(surface, shape)).toBe(1);
  });
});
