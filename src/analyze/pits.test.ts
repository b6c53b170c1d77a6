import { describe, expect, it } from "vitest";
import { fitEllipse } from "./pits.ts";
import { symmetricEigen } from "./pores-geometry.ts";

describe("ellipse fit (ASEM's eccentricity)", () => {
  it("recovers the axes of a rotated, shifted ellipse from a partial arc", () => {
    const xs: number[] = [];
    const ys: number[] = [];
    const rot = 0.6;
    // Three quarters of the outline, like a coated pit's U-shaped profile.
    for (let t = 0; t < 1.5 * Math.PI; t += 0.05) {
      const x = 60 * Math.cos(t);
      const y = 40 * Math.sin(t);
      xs.push(12 + x * Math.cos(rot) - y * Math.sin(rot));
      ys.push(-7 + x * Math.sin(rot) + y * Math.cos(rot));
    }
    const e = fitEllipse(xs, ys)!;
    expect(e.major).toBeCloseTo(120, 6);
    expect(e.minor).toBeCloseTo(80, 6);
    expect(e.center[0]).toBeCloseTo(12, 6);
    expect(e.center[1]).toBeCloseTo(-7, 6);
  });

  it("gives no ellipse for collinear points or too few", () => {
    expect(fitEllipse([1, 2, 3], [1, 2, 3])).toBeUndefined();
    expect(fitEllipse([0, 1, 2, 3, 4, 5, 6], [0, 2, 4, 6, 8, 10, 12])).toBeUndefined();
  });
});

describe("symmetric 3x3 eigen-decomposition", () => {
  it("orders eigenvalues ascending with orthonormal vectors", () => {
    // diag(1, 4, 9) rotated about x by 30 degrees (zz, yy, xx, zy, zx, yx)
    const c = Math.cos(Math.PI / 6);
    const s = Math.sin(Math.PI / 6);
    const zz = 1 * c * c + 4 * s * s;
    const yy = 1 * s * s + 4 * c * c;
    const zy = (1 - 4) * c * s;
    const e = symmetricEigen([zz, yy, 9, zy, 0, 0]);
    expect(e.values[0]).toBeCloseTo(1, 12);
    expect(e.values[1]).toBeCloseTo(4, 12);
    expect(e.values[2]).toBeCloseTo(9, 12);
    expect(Math.abs(e.vectors[0][0] * c + e.vectors[0][1] * s)).toBeCloseTo(1, 12);
    expect(Math.abs(e.vectors[2][2])).toBeCloseTo(1, 12);
  });
});
