import { describe, expect, it } from "vitest";
import { coord } from "../core/coordinate.ts";
import { GraphCutSession, graphCut, SEED_BACKGROUND, SEED_FOREGROUND } from "./graphcut.ts";
import { cleanUpWithMixture, fitMixture2 } from "./mixture.ts";
import { f1Score, organelleCrop, simulateStrokes } from "./testing.ts";

describe("graph cut on synthetic organelles (strokes on a few planes)", () => {
  const mito = organelleCrop("mito", coord(64, 64, 64), 10, 1);
  const mitoPlanes = [
    [0, 20],
    [0, 44],
    [1, 32],
    [2, 32],
  ] as const;

  it("mito, 4 planes on 3 axes: F1 >= 0.9", () => {
    const seeds = simulateStrokes(mito, { planes: mitoPlanes });
    // default settings: 4,000 supervoxels, compactness 25, lambda 10
    const { mask, session } = graphCut(mito.raw, mito.shape, seeds, { voxelSize: mito.voxelSize });
    const f1 = f1Score(mask, mito.truth);
    expect(f1).toBeGreaterThanOrEqual(0.9);
    // the Gaussian-mixture clean-up drops dark membrane voxels wrongly taken in
    const cleaned = session.solve({ mixtureCleanUp: true });
    expect(f1Score(cleaned.mask, mito.truth)).toBeGreaterThanOrEqual(f1);
  });

  it("incremental: strokes added to a session give the same cut as a fresh session with all strokes", () => {
    const seeds = simulateStrokes(mito, { planes: mitoPlanes });
    const first = new Uint8Array(seeds.length);
    const second = new Uint8Array(seeds.length);
    // the first two planes now, the other strokes later
    for (let i = 0; i < seeds.length; i++) {
      const z = Math.floor(i / (64 * 64));
      if (z === 20 || z === 44) first[i] = seeds[i]!;
      else second[i] = seeds[i]!;
    }
    const session = GraphCutSession.create(mito.raw, mito.shape, {
      voxelSize: mito.voxelSize,
      slic: { nSegments: 2000 },
    });
    session.addStrokes(first);
    const early = session.solve();
    session.addStrokes(second);
    const late = session.solve();
    const fresh = new GraphCutSession(mito.raw, session.supervoxels, { voxelSize: mito.voxelSize });
    fresh.addStrokes(seeds);
    const again = fresh.solve();
    expect(late.energy).toBeCloseTo(again.energy, 9);
    expect(Buffer.from(late.mask).equals(Buffer.from(again.mask))).toBe(true);
    expect(early.energy).not.toBeCloseTo(late.energy, 3);
    // and the full one-shot path recomputes the same supervoxels
    const oneShot = graphCut(mito.raw, mito.shape, seeds, {
      voxelSize: mito.voxelSize,
      slic: { nSegments: 2000 },
    });
    expect(Buffer.from(oneShot.mask).equals(Buffer.from(late.mask))).toBe(true);
  });

  it("seeds are honoured voxel by voxel, and erasing restores the earlier cut", () => {
    const seeds = simulateStrokes(mito, { planes: mitoPlanes });
    const session = GraphCutSession.create(mito.raw, mito.shape, {
      voxelSize: mito.voxelSize,
      slic: { nSegments: 2000 },
    });
    session.addStrokes(seeds);
    const before = session.solve();
    for (let i = 0; i < seeds.length; i++) {
      if (seeds[i] === SEED_FOREGROUND) expect(before.mask[i]).toBe(1);
      if (seeds[i] === SEED_BACKGROUND) expect(before.mask[i]).toBe(0);
    }
    // a background dab inside the organelle, then erased
    const inside: number[] = [];
    for (let i = 0; i < seeds.length && inside.length < 20; i++)
      if (mito.truth[i] && !seeds[i]) inside.push(i);
    session.paint(inside, SEED_BACKGROUND);
    const dabbed = session.solve();
    for (const i of inside) expect(dabbed.mask[i]).toBe(0);
    session.paint(inside, 0);
    const after = session.solve();
    expect(Buffer.from(after.mask).equals(Buffer.from(before.mask))).toBe(true);
  });

  it("needs both kinds of seeds", () => {
    const session = GraphCutSession.create(mito.raw, mito.shape, { slic: { nSegments: 500 } });
    session.paint([0, 1, 2], SEED_FOREGROUND);
    expect(() => session.solve()).toThrow(/at least one foreground \(1\) and one background \(2\)/);
    expect(() => session.paint([0], 3)).toThrow(/seed value 3/);
  });
});

describe("Gaussian-mixture clean-up", () => {
  it("fits two well separated components", () => {
    const centre = new Float64Array(256).map((_, i) => i);
    const count = new Float64Array(256);
    for (let i = 0; i < 256; i++) {
      count[i] = 1000 * Math.exp(-((i - 60) ** 2) / 200) + 300 * Math.exp(-((i - 180) ** 2) / 450);
    }
    const m = fitMixture2(centre, count);
    const [a, b] = m.mean[0] < m.mean[1] ? ([0, 1] as const) : ([1, 0] as const);
    expect(m.mean[a]).toBeCloseTo(60, 0);
    expect(m.mean[b]).toBeCloseTo(180, 0);
    expect(m.variance[a]).toBeCloseTo(100, -1);
    expect(m.weight[a] / m.weight[b]).toBeCloseTo((1000 * Math.sqrt(200)) / (300 * Math.sqrt(450)), 1);
  });

  it("drops the foreground voxels of the component away from the seeds", () => {
    const image = new Uint8Array(1000);
    const mask = new Uint8Array(1000).fill(1);
    const seeds = new Uint8Array(1000);
    for (let i = 0; i < 1000; i++) image[i] = i < 800 ? 50 + (i % 11) : 200 + (i % 7);
    seeds[3] = 1;
    seeds[900] = 1;
    seeds[5] = 1;
    const removed = cleanUpWithMixture(image, mask, seeds);
    expect(removed).toBe(199);
    expect(mask[900]).toBe(1);
    expect(mask[901]).toBe(0);
    expect(mask[10]).toBe(1);
  });
});
