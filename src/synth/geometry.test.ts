import { describe, expect, it } from "vitest";
import { Rng } from "../core/random.ts";
import {
  capDistance,
  type EllipsoidSpec,
  ellipsoidLipschitz,
  ellipsoidSdf,
  packEllipsoid,
  perpendicular,
  type Vec3,
  vcross,
} from "./geometry.ts";

describe("ellipsoidSdf", () => {
  it("is the exact distance for a sphere and zero on an ellipsoid's surface", () => {
    const sphere = packEllipsoid({
      center: [100, 200, 300],
      radii: [50, 50, 50],
      rotation: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      noise: { amplitude: 0, wavelength: 1, octaves: 1, seed: 0 },
    });
    expect(ellipsoidSdf(sphere, 100, 200, 380)).toBeCloseTo(30, 9);
    expect(ellipsoidSdf(sphere, 100, 230, 300)).toBeCloseTo(-20, 9);
    const e = packEllipsoid({
      center: [0, 0, 0],
      radii: [30, 40, 60],
      rotation: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      noise: { amplitude: 0, wavelength: 1, octaves: 1, seed: 0 },
    });
    expect(ellipsoidSdf(e, 30, 0, 0)).toBeCloseTo(0, 9);
    expect(ellipsoidSdf(e, 0, 40, 0)).toBeCloseTo(0, 9);
    expect(ellipsoidSdf(e, 0, 0, 61)).toBeCloseTo(1, 6);
    expect(ellipsoidSdf(e, 0, 0, 0)).toBeLessThan(0);
  });

  it("stays within its Lipschitz bound for the elongations and perturbations the layout uses", () => {
    const r = new Rng(5);
    for (let trial = 0; trial < 12; trial++) {
      const rmin = r.range(300, 1200);
      const radii: Vec3 = [rmin, rmin * r.range(1, 1.5), rmin * r.range(1, 1.5)];
      const spec: EllipsoidSpec = {
        center: [0, 0, 0],
        radii,
        rotation: r.rotation(),
        noise: { amplitude: 0.03 * rmin, wavelength: 0.8 * rmin, octaves: 2, seed: r.next() },
      };
      const packed = packEllipsoid(spec);
      const bound = ellipsoidLipschitz(spec);
      const reach = Math.max(...radii) * 1.6;
      let worst = 0;
      for (let i = 0; i < 3000; i++) {
        const z = r.range(-reach, reach);
        const y = r.range(-reach, reach);
        const x = r.range(-reach, reach);
        const h = 1e-3;
        const g = Math.hypot(
          ellipsoidSdf(packed, z + h, y, x) - ellipsoidSdf(packed, z - h, y, x),
          ellipsoidSdf(packed, z, y + h, x) - ellipsoidSdf(packed, z, y - h, x),
          ellipsoidSdf(packed, z, y, x + h) - ellipsoidSdf(packed, z, y, x - h),
        );
        worst = Math.max(worst, g / (2 * h));
      }
      expect(worst).toBeLessThan(bound);
    }
  });
});

describe("capDistance", () => {
  it("equals the distance to densely sampled points of the spherical cap", () => {
    const r = new Rng(8);
    for (let trial = 0; trial < 3; trial++) {
      const c: Vec3 = [r.range(-100, 100), r.range(-100, 100), r.range(-100, 100)];
      const n = r.direction();
      const R = r.range(200, 2000);
      const half = r.range(0.1, 1.2);
      const u = perpendicular(n);
      const v = vcross(n, u);
      const samples: Vec3[] = [];
      for (let i = 0; i <= 120; i++) {
        const th = (half * i) / 120;
        for (let k = 0; k < 240; k++) {
          const ph = (2 * Math.PI * k) / 240;
          samples.push(
            [0, 1, 2].map(
              (d) =>
                c[d]! +
                R * (n[d]! * Math.cos(th) + (u[d]! * Math.cos(ph) + v[d]! * Math.sin(ph)) * Math.sin(th)),
            ) as Vec3,
          );
        }
      }
      for (let q = 0; q < 30; q++) {
        const p: Vec3 = [0, 1, 2].map((d) => c[d]! + r.range(-1.5 * R, 1.5 * R)) as Vec3;
        let best = Number.POSITIVE_INFINITY;
        for (const s of samples) best = Math.min(best, Math.hypot(p[0] - s[0], p[1] - s[1], p[2] - s[2]));
        const d = capDistance(c[0], c[1], c[2], n[0], n[1], n[2], R, Math.cos(half), Math.sin(half), ...p);
        // Samples are at most ~R * 2 pi / 240 apart: the sampled minimum overestimates by less than that.
        expect(d).toBeLessThanOrEqual(best + 1e-6);
        expect(best - d).toBeLessThan((R * 2 * Math.PI) / 240);
      }
    }
  });
});
