import { describe, expect, it } from "vitest";
import {
  countDifferences,
  cutBox,
  fixtureU8,
  opsFixtures,
  pasteBox,
  randomMask,
  rng,
  tileBlocks,
} from "../../test/helpers/ops-fixtures.ts";
import type { Coordinate } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import {
  ballContext,
  ballMask,
  ballRows,
  binaryClosing,
  binaryDilation,
  binaryErosion,
  binaryOpening,
  type MorphologyOp,
  morphologyBlock,
} from "./morphology.ts";

const OPS = {
  dilation: binaryDilation,
  erosion: binaryErosion,
  opening: binaryOpening,
  closing: binaryClosing,
} as const;

/**
 * scipy's definition, literally: dilation sets a voxel if any ball offset lands on foreground,
 * erosion keeps it if every ball offset lands on foreground; outside the array reads as borderValue.
 */
function naive(
  mask: Uint8Array,
  shape: Coordinate,
  r: number,
  vs: Coordinate,
  erosion: boolean,
  borderValue: 0 | 1,
): Uint8Array {
  const [nz, ny, nx] = shape;
  const R = [0, 1, 2].map((a) => Math.floor(r / vs[a]!) + 1);
  const out = new Uint8Array(mask.length);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        let hit = false;
        for (let oz = -R[0]!; oz <= R[0]! && !hit; oz++) {
          for (let oy = -R[1]!; oy <= R[1]! && !hit; oy++) {
            for (let ox = -R[2]!; ox <= R[2]! && !hit; ox++) {
              if ((oz * vs[0]) ** 2 + (oy * vs[1]) ** 2 + (ox * vs[2]) ** 2 > r * r) continue;
              const zz = z + oz;
              const yy = y + oy;
              const xx = x + ox;
              const inside = zz >= 0 && zz < nz && yy >= 0 && yy < ny && xx >= 0 && xx < nx;
              const v = inside ? mask[(zz * ny + yy) * nx + xx]! !== 0 : borderValue === 1;
              hit = erosion ? !v : v;
            }
          }
        }
        out[(z * ny + y) * nx + x] = erosion ? (hit ? 0 : 1) : hit ? 1 : 0;
      }
    }
  }
  return out;
}

describe("ball", () => {
  it("has the voxel count and extent of the scipy fixtures' balls", () => {
    for (const c of opsFixtures().cases) {
      for (const m of c.morphology) {
        const b = ballRows(m.radius, c.voxelSize);
        const dense = ballMask(b);
        expect([...dense.shape]).toEqual(m.ballShape);
        expect(dense.data.reduce((s, v) => s + v, 0)).toBe(m.ballVoxels);
      }
    }
  });

  it("radius 0 is the centre voxel; morphology with it is the identity", () => {
    const b = ballRows(0, [5.2, 4, 4]);
    expect([b.rz, b.ry, b.rx, ...b.widths]).toEqual([0, 0, 0, 0]);
    const mask = randomMask(60, 0.5, rng(1));
    expect([...binaryErosion(mask, [3, 4, 5], 0)]).toEqual([...mask]);
  });

  it("ballContext doubles for opening and closing", () => {
    expect([...ballContext("dilation", 12, [5.2, 4, 4])]).toEqual([2, 3, 3]);
    expect([...ballContext("closing", 12, [5.2, 4, 4])]).toEqual([4, 6, 6]);
  });
});

describe("binary morphology against scipy.ndimage (structure = ball)", () => {
  for (const c of opsFixtures().cases) {
    for (const m of c.morphology) {
      it(`${c.name} r=${m.radius} nm (ball of ${m.ballVoxels} voxels)`, () => {
        const mask = fixtureU8(c.mask);
        for (const bv of [0, 1] as const) {
          const want = bv === 0 ? m.border0 : m.border1;
          for (const op of ["dilation", "erosion", "opening", "closing"] as const) {
            const ref = fixtureU8(want[op]);
            for (const method of ["bits", "edt", "auto"] as const) {
              const got = OPS[op](mask, c.shape, m.radius, {
                voxelSize: c.voxelSize,
                borderValue: bv,
                method,
              });
              expect(countDifferences(got, ref), `${op} border ${bv} method ${method}`).toBe(0);
            }
          }
        }
      });
    }
  }
});

describe("binary morphology against the literal definition", () => {
  it("matches on random small volumes with random anisotropic balls, both methods, both borders", () => {
    const rand = rng(11);
    const sizes = [1, 4, 5.2, 8, 3.3];
    for (let t = 0; t < 40; t++) {
      const shape: Coordinate = [
        1 + Math.floor(rand() * 7),
        1 + Math.floor(rand() * 8),
        1 + Math.floor(rand() * 9),
      ];
      const vs: Coordinate = [
        sizes[Math.floor(rand() * sizes.length)]!,
        sizes[Math.floor(rand() * sizes.length)]!,
        sizes[Math.floor(rand() * sizes.length)]!,
      ];
      const r = rand() * 14;
      const mask = randomMask(shape[0] * shape[1] * shape[2], [0.15, 0.5, 0.85][t % 3]!, rand);
      for (const bv of [0, 1] as const) {
        const dil = naive(mask, shape, r, vs, false, bv);
        const ero = naive(mask, shape, r, vs, true, bv);
        for (const method of ["bits", "edt"] as const) {
          const o = { voxelSize: vs, borderValue: bv, method };
          const what = `${shape} ${vs} r=${r} border ${bv} ${method}`;
          expect(countDifferences(binaryDilation(mask, shape, r, o), dil), `dilation ${what}`).toBe(0);
          expect(countDifferences(binaryErosion(mask, shape, r, o), ero), `erosion ${what}`).toBe(0);
          const open = naive(ero, shape, r, vs, false, bv);
          expect(countDifferences(binaryOpening(mask, shape, r, o), open), `opening ${what}`).toBe(0);
          const close = naive(dil, shape, r, vs, true, bv);
          expect(countDifferences(binaryClosing(mask, shape, r, o), close), `closing ${what}`).toBe(0);
        }
      }
    }
  });

  it("handles rows of several words, wide balls and unaligned output buffers", () => {
    const rand = rng(13);
    for (let t = 0; t < 6; t++) {
      const shape: Coordinate = [3, 4, 40 + Math.floor(rand() * 90)];
      const vs: Coordinate = [50, 30, 1 + rand()];
      const r = 5 + rand() * 80; // up to ~80 voxels along x: shifts of more than one 32-bit word
      const n = shape[0] * shape[1] * shape[2];
      const mask = randomMask(n, 0.02 + 0.9 * (t % 2), rand);
      for (const bv of [0, 1] as const) {
        const backing = new Uint8Array(n + 3);
        const out = backing.subarray(1 + (t % 3), 1 + (t % 3) + n);
        const o = { voxelSize: vs, borderValue: bv, method: "bits" as const, out };
        const what = `${shape} r=${r} border ${bv}`;
        expect(
          countDifferences(binaryDilation(mask, shape, r, o), naive(mask, shape, r, vs, false, bv)),
          what,
        ).toBe(0);
        expect(
          countDifferences(binaryErosion(mask, shape, r, o), naive(mask, shape, r, vs, true, bv)),
          what,
        ).toBe(0);
      }
    }
  });

  it("is exact where the ball's surface passes exactly through voxel centres (ties)", () => {
    // isotropic integer radii: offsets such as (3,4,0) and (5,0,0) lie exactly on the sphere
    const rand = rng(5);
    const shape: Coordinate = [12, 13, 14];
    const mask = randomMask(12 * 13 * 14, 0.04, rand);
    for (const [r, vs] of [
      [5, [1, 1, 1]],
      [40, [8, 8, 8]],
      [3 * 5.2, [5.2, 5.2, 5.2]],
      [Math.hypot(5.2, 4), [5.2, 4, 4]],
    ] as [number, Coordinate][]) {
      for (const bv of [0, 1] as const) {
        const want = naive(mask, shape, r, vs, false, bv);
        for (const method of ["bits", "edt"] as const) {
          const got = binaryDilation(mask, shape, r, { voxelSize: vs, method, borderValue: bv });
          expect(countDifferences(got, want), `r=${r} ${method} border ${bv}`).toBe(0);
        }
      }
    }
  });

  it("works in place (out = mask)", () => {
    const c = opsFixtures().cases[1]!;
    for (const method of ["bits", "edt"] as const) {
      for (const op of ["dilation", "erosion", "opening", "closing"] as const) {
        const o = { voxelSize: c.voxelSize, method };
        const want = OPS[op](fixtureU8(c.mask), c.shape, 24, o);
        const mask = fixtureU8(c.mask);
        const got = OPS[op](mask, c.shape, 24, { ...o, out: mask });
        expect(got).toBe(mask);
        expect(countDifferences(got, want), `${op} ${method}`).toBe(0);
      }
    }
  });

  it("rejects a bad radius, border value or method", () => {
    const m = new Uint8Array(8);
    const s: Coordinate = [2, 2, 2];
    for (const f of [
      () => binaryDilation(m, s, -1),
      () => binaryDilation(m, s, Number.NaN),
      () => binaryDilation(m, s, 1, { borderValue: 2 as 0 }),
      () => binaryDilation(m, s, 1, { method: "fft" as "edt" }),
      () => binaryDilation(m, [2, 2, 3], 1),
    ]) {
      expect(f).toThrow();
      try {
        f();
      } catch (e) {
        expect(isOrganelleError(e, "InvalidArgument")).toBe(true);
      }
    }
  });
});

describe("morphologyBlock", () => {
  it("block-wise results equal the whole-volume result (blocks smaller than the objects)", () => {
    const c = opsFixtures().cases[0]!;
    const mask = fixtureU8(c.mask);
    const r = 16;
    for (const bv of [0, 1] as const) {
      for (const op of ["dilation", "erosion", "opening", "closing"] as MorphologyOp[]) {
        const whole = OPS[op](mask, c.shape, r, { voxelSize: c.voxelSize, borderValue: bv });
        const ctx = ballContext(op, r, c.voxelSize);
        const assembled = new Uint8Array(mask.length);
        for (const b of tileBlocks(c.shape, [6, 8, 7])) {
          const begin: Coordinate = [b.begin[0] - ctx[0], b.begin[1] - ctx[1], b.begin[2] - ctx[2]];
          const size: Coordinate = [
            b.shape[0] + 2 * ctx[0],
            b.shape[1] + 2 * ctx[1],
            b.shape[2] + 2 * ctx[2],
          ];
          // zero-filled outside the volume, as a block runner reads it
          const read = cutBox(mask, c.shape, begin, size, (n) => new Uint8Array(n));
          const got = morphologyBlock(
            read,
            { volumeShape: c.shape, read: { begin, shape: size }, write: b },
            op,
            r,
            {
              voxelSize: c.voxelSize,
              borderValue: bv,
            },
          );
          pasteBox(assembled, c.shape, b.begin, b.shape, got);
        }
        expect(countDifferences(assembled, whole), `${op} border ${bv}`).toBe(0);
      }
    }
  });

  it("names the missing context when the read box is too small", () => {
    const geometry = {
      volumeShape: [20, 20, 20] as Coordinate,
      read: { begin: [4, 4, 4] as Coordinate, shape: [10, 10, 10] as Coordinate },
      write: { begin: [6, 6, 6] as Coordinate, shape: [6, 6, 6] as Coordinate },
    };
    expect(() => morphologyBlock(new Uint8Array(1000), geometry, "closing", 2)).toThrow(/lacks context/);
    expect(morphologyBlock(new Uint8Array(1000), geometry, "closing", 1).length).toBe(216);
  });
});
