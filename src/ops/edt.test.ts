import { describe, expect, it } from "vitest";
import {
  cutBox,
  fixtureF64,
  fixtureU8,
  opsFixtures,
  randomMask,
  rng,
  tileBlocks,
} from "../../test/helpers/ops-fixtures.ts";
import type { Coordinate } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import { distanceTransform, distanceTransformBlock } from "./edt.ts";

/** Largest |a-b| / max(|b|, tiny) over the arrays; Infinity must match Infinity exactly. */
function maxRelativeError(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (!Number.isFinite(x) || !Number.isFinite(y)) return Number.POSITIVE_INFINITY;
    worst = Math.max(worst, Math.abs(x - y) / Math.max(Math.abs(y), 1e-300));
  }
  return worst;
}

/** Brute force: for each voxel, the minimum over all source voxels of the per-axis squared sum. */
function bruteSquared(
  mask: Uint8Array,
  shape: Coordinate,
  vs: Coordinate,
  sourcesNonZero: boolean,
  outsideSources: boolean,
): Float64Array {
  const [nz, ny, nx] = shape;
  const out = new Float64Array(mask.length).fill(Number.POSITIVE_INFINITY);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        let best = Number.POSITIVE_INFINITY;
        for (let i = 0; i < mask.length; i++) {
          if ((mask[i] !== 0) !== sourcesNonZero) continue;
          const qz = Math.floor(i / (ny * nx));
          const qy = Math.floor(i / nx) % ny;
          const qx = i % nx;
          const d = ((z - qz) * vs[0]) ** 2 + ((y - qy) * vs[1]) ** 2 + ((x - qx) * vs[2]) ** 2;
          if (d < best) best = d;
        }
        if (outsideSources) {
          for (const d of [
            ((z + 1) * vs[0]) ** 2,
            ((nz - z) * vs[0]) ** 2,
            ((y + 1) * vs[1]) ** 2,
            ((ny - y) * vs[1]) ** 2,
            ((x + 1) * vs[2]) ** 2,
            ((nx - x) * vs[2]) ** 2,
          ]) {
            if (d < best) best = d;
          }
        }
        out[(z * ny + y) * nx + x] = best;
      }
    }
  }
  return out;
}

describe("distanceTransform against scipy.ndimage.distance_transform_edt", () => {
  for (const c of opsFixtures().cases) {
    it(`${c.name} ${c.shape.join("x")} voxel size ${c.voxelSize.join(",")}`, () => {
      const mask = fixtureU8(c.mask);
      const vs = c.voxelSize;
      const fg = distanceTransform(mask, c.shape, { voxelSize: vs });
      const bg = distanceTransform(mask, c.shape, { voxelSize: vs, of: "background" });
      const pad = distanceTransform(mask, c.shape, { voxelSize: vs, outside: "sources" });
      // Same per-axis summation order as scipy: equal to the last bit except at exact ties.
      expect(maxRelativeError(fg, fixtureF64(c.edt.foreground))).toBeLessThan(1e-12);
      expect(maxRelativeError(bg, fixtureF64(c.edt.background))).toBeLessThan(1e-12);
      expect(maxRelativeError(pad, fixtureF64(c.edt.foregroundOutsideSources))).toBeLessThan(1e-12);
      let positive = 0;
      for (const v of fg) if (v > 0) positive++;
      expect(positive).toBeGreaterThan(100);
    });
  }
});

describe("distanceTransform against brute force", () => {
  it("matches on random small anisotropic volumes, all modes", () => {
    const rand = rng(7);
    const sizes = [1, 4, 5.2, 0.7, 13];
    for (let t = 0; t < 60; t++) {
      const shape: Coordinate = [
        1 + Math.floor(rand() * 6),
        1 + Math.floor(rand() * 7),
        1 + Math.floor(rand() * 8),
      ];
      const vs: Coordinate = [
        sizes[Math.floor(rand() * sizes.length)]!,
        sizes[Math.floor(rand() * sizes.length)]!,
        sizes[Math.floor(rand() * sizes.length)]!,
      ];
      const n = shape[0] * shape[1] * shape[2];
      const mask = randomMask(n, [0.1, 0.5, 0.9][t % 3]!, rand);
      for (const of of ["foreground", "background"] as const) {
        for (const outside of ["nothing", "sources"] as const) {
          const got = distanceTransform(mask, shape, { voxelSize: vs, of, outside, squared: true });
          const want = bruteSquared(mask, shape, vs, of === "background", outside === "sources");
          expect(maxRelativeError(got, want), `${shape} ${vs} ${of} ${outside}`).toBeLessThan(1e-12);
        }
      }
    }
  });

  it("plain distances are the square roots of the squared ones", () => {
    const rand = rng(3);
    const shape: Coordinate = [6, 7, 9];
    const mask = randomMask(6 * 7 * 9, 0.6, rand);
    const sq = distanceTransform(mask, shape, { voxelSize: [5.2, 4, 4], squared: true });
    const d = distanceTransform(mask, shape, { voxelSize: [5.2, 4, 4] });
    for (let i = 0; i < d.length; i++) expect(d[i]).toBe(Math.sqrt(sq[i]!));
  });

  it("gives Infinity where no voxel is measured to, and 0 on sources", () => {
    const shape: Coordinate = [2, 3, 4];
    const all = new Uint8Array(24).fill(1);
    expect([...distanceTransform(all, shape)].every((v) => v === Number.POSITIVE_INFINITY)).toBe(true);
    const withOutside = distanceTransform(all, shape, { outside: "sources", voxelSize: [10, 1, 1] });
    expect(withOutside[0]).toBe(1);
    expect([...distanceTransform(new Uint8Array(24), shape)].every((v) => v === 0)).toBe(true);
  });

  it("reports distances beyond maxDistance as Infinity and leaves the rest exact", () => {
    const mask = fixtureU8(opsFixtures().cases[0]!.mask);
    const c = opsFixtures().cases[0]!;
    const full = distanceTransform(mask, c.shape, { voxelSize: c.voxelSize });
    const capped = distanceTransform(mask, c.shape, { voxelSize: c.voxelSize, maxDistance: 10 });
    let beyond = 0;
    let wrong = 0;
    for (let i = 0; i < full.length; i++) {
      const want = full[i]! > 10 ? Number.POSITIVE_INFINITY : full[i];
      if (full[i]! > 10) beyond++;
      if (capped[i] !== want) wrong++;
    }
    expect(wrong).toBe(0);
    expect(beyond).toBeGreaterThan(0);
  });

  it("rejects bad input with one clear line", () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(isOrganelleError(e, "InvalidArgument")).toBe(true);
        return (e as Error).message;
      }
      throw new Error("expected an error");
    };
    expect(err(() => distanceTransform(new Uint8Array(5), [1, 2, 3]))).toMatch(/5 elements but shape/);
    expect(err(() => distanceTransform(new Uint8Array(6), [1, 2, 3], { voxelSize: [0, 1, 1] }))).toMatch(
      /voxel size/,
    );
    expect(err(() => distanceTransform(new Uint8Array(6), [1, 2, 3], { maxDistance: -1 }))).toMatch(
      /maxDistance/,
    );
  });
});

describe("distanceTransformBlock", () => {
  it("equals the whole-volume transform within the context, Infinity beyond", () => {
    const c = opsFixtures().cases[0]!;
    const mask = fixtureU8(c.mask);
    const vs = c.voxelSize;
    const ctx: Coordinate = [3, 4, 4]; // 3*5.2 nm along z, 16 nm along y/x -> exact up to 3*5.2 nm
    const reach = 3 * 5.2;
    for (const outside of ["nothing", "sources"] as const) {
      const whole = distanceTransform(mask, c.shape, { voxelSize: vs, outside });
      let checked = 0;
      let inf = 0;
      let wrong = 0;
      for (const b of tileBlocks(c.shape, [7, 9, 10])) {
        const begin: Coordinate = [b.begin[0] - ctx[0], b.begin[1] - ctx[1], b.begin[2] - ctx[2]];
        const size: Coordinate = [b.shape[0] + 2 * ctx[0], b.shape[1] + 2 * ctx[1], b.shape[2] + 2 * ctx[2]];
        const read = cutBox(mask, c.shape, begin, size, (n) => new Uint8Array(n));
        const got = distanceTransformBlock(
          read,
          { volumeShape: c.shape, read: { begin, shape: size }, write: b },
          { voxelSize: vs, outside },
        );
        for (let z = 0; z < b.shape[0]; z++) {
          for (let y = 0; y < b.shape[1]; y++) {
            for (let x = 0; x < b.shape[2]; x++) {
              const w =
                whole[((b.begin[0] + z) * c.shape[1] + b.begin[1] + y) * c.shape[2] + b.begin[2] + x]!;
              const g = got[(z * b.shape[1] + y) * b.shape[2] + x]!;
              if (w > reach) inf++;
              if (g !== (w > reach ? Number.POSITIVE_INFINITY : w)) wrong++;
              checked++;
            }
          }
        }
      }
      expect(wrong).toBe(0);
      expect(checked).toBe(mask.length);
      expect(inf).toBeGreaterThan(0);
    }
  });

  it("refuses a maxDistance the context cannot support", () => {
    const geometry = {
      volumeShape: [10, 10, 10] as Coordinate,
      read: { begin: [2, 2, 2] as Coordinate, shape: [6, 6, 6] as Coordinate },
      write: { begin: [3, 3, 3] as Coordinate, shape: [4, 4, 4] as Coordinate },
    };
    expect(() => distanceTransformBlock(new Uint8Array(216), geometry, { maxDistance: 5 })).toThrow(
      /needs more context/,
    );
  });
});
