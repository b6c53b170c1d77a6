import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord } from "../core/coordinate.ts";
import { Rng } from "../core/random.ts";
import { Roi } from "../core/roi.ts";
import { parseTrainConfig, type SamplingConfig, type SourceConfig } from "./config.ts";
import { type RejectReason, type SampleCandidate, Sampler } from "./sampling.ts";
import { type OpenedSource, openSource, readBinaryBlock, readRawBlock } from "./sources.ts";
import { makeTinyCell, tempDir } from "./testing/datasets.ts";

const tmp = tempDir();
const SHAPE = coord(16, 16, 32);
const OUT = coord(4, 4, 4);
const defaults = parseTrainConfig("organelle: mito\nsources: [{dataset: a.zarr}]\n", "/c.yaml").sampling;

function source(dataset: string, extra: Partial<SourceConfig> = {}): SourceConfig {
  return {
    dataset,
    raw: "raw",
    labels: "labels/mito",
    rois: "training",
    mask: "auto",
    exclusion: "auto",
    name: path.basename(dataset),
    ...extra,
  };
}

let fgLeft: string; // foreground where x < 8, mask everywhere
let maskTop: string; // foreground everywhere, mask where z < 8
let small: string; // 8^3 voxels, all foreground

beforeAll(async () => {
  const whole = [{ name: "t", role: "training" as const, begin: coord(0, 0, 0), shape: SHAPE }];
  fgLeft = await makeTinyCell(path.join(tmp.dir, "fg.zarr"), SHAPE, {
    raw: (_z, _y, x) => (x * 8) % 256,
    labels: (_z, _y, x) => (x < 8 ? 1 : 0),
    mask: () => 1,
    rois: whole,
  });
  maskTop = await makeTinyCell(path.join(tmp.dir, "mask.zarr"), SHAPE, {
    raw: () => 100,
    labels: () => 1,
    mask: (z) => (z < 8 ? 1 : 0),
    rois: whole,
  });
  small = await makeTinyCell(path.join(tmp.dir, "small.zarr"), coord(8, 8, 8), {
    raw: () => 255,
    labels: () => 1,
    rois: [{ name: "t", role: "training", begin: coord(0, 0, 0), shape: coord(8, 8, 8) }],
  });
});
afterAll(() => tmp.remove());

/** Counts candidates by whether their condition holds and whether they were rejected for it. */
async function rejectionCounts(
  src: OpenedSource,
  config: SamplingConfig,
  draws: number,
  condition: (c: SampleCandidate) => boolean,
  reason: RejectReason,
  seed = 1,
) {
  const counts = { hit: 0, hitRejected: 0, miss: 0, missRejected: 0 };
  const onCandidate = (c: SampleCandidate, r: RejectReason | null) => {
    if (condition(c)) {
      counts.hit++;
      if (r === reason) counts.hitRejected++;
    } else {
      counts.miss++;
      if (r === reason) counts.missRejected++;
    }
  };
  const sampler = new Sampler([src], OUT, config, { onCandidate });
  const rng = Rng.seeded(seed, "sampling");
  for (let i = 0; i < draws; i++) await sampler.next(rng);
  return counts;
}

/** |observed - expected| within 4 binomial standard deviations. */
function expectBinomial(k: number, n: number, p: number) {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(k - n * p)).toBeLessThanOrEqual(4 * sd + 1);
}

describe("sampling", () => {
  it("rejects blocks below 5 % foreground with p = 0.9 and never others", async () => {
    const src = await openSource(source(fgLeft), null);
    const c = await rejectionCounts(src, defaults, 300, (x) => x.foreground < 0.05, "foreground");
    expect(c.hit).toBeGreaterThan(300);
    expectBinomial(c.hitRejected, c.hit, 0.9);
    expect(c.missRejected).toBe(0);
  });

  it("rejects blocks at most 75 % inside the mask with p = 0.95 (ASEM's code) and never others", async () => {
    const src = await openSource(source(maskTop), null);
    const c = await rejectionCounts(src, defaults, 200, (x) => x.inside <= 0.75, "mask");
    expect(c.hit).toBeGreaterThan(200);
    expectBinomial(c.hitRejected, c.hit, 0.95);
    expect(c.missRejected).toBe(0);
    // paper's rule: always reject
    const paper: SamplingConfig = { ...defaults, rejectMaskProbability: 1 };
    const s = await rejectionCounts(src, paper, 100, (x) => x.inside <= 0.75, "mask");
    expect(s.hitRejected).toBe(s.hit);
  });

  it("chooses datasets in proportion to their ROI volume", async () => {
    const a = await openSource(source(fgLeft, { rois: [new Roi(coord(0, 0, 0), coord(40, 80, 80))] }), null);
    const b = await openSource(
      source(maskTop, { rois: [new Roi(coord(0, 0, 0), coord(80, 120, 80))] }),
      null,
    );
    const sampler = new Sampler([a, b], OUT, {
      ...defaults,
      rejectBackgroundProbability: 0,
      rejectMaskProbability: 0,
    });
    expect(sampler.itemProbabilities.map((p) => p.p)).toEqual([0.25, 0.75]);
    const rng = Rng.seeded(3, "sampling");
    let first = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) if (sampler.drawCandidate(rng).source === 0) first++;
    expectBinomial(first, n, 0.25);
  });

  it("places output blocks inside the ROI, and covers a ROI smaller than the block", async () => {
    const roi = new Roi(coord(20, 30, 40), coord(60, 60, 60));
    const src = await openSource(source(fgLeft, { rois: [roi] }), null);
    const sampler = new Sampler([src], OUT, defaults);
    const rng = Rng.seeded(4, "sampling");
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const c = sampler.drawCandidate(rng);
      expect(roi.contains(c.output)).toBe(true);
      seen.add(c.output.offset.join(","));
    }
    expect(seen.size).toBe(27); // 3 positions per axis for a 6-voxel ROI and a 4-voxel block
    const tiny = await openSource(
      source(fgLeft, { rois: [new Roi(coord(50, 50, 50), coord(20, 20, 20))] }),
      null,
    );
    const s2 = new Sampler([tiny], OUT, defaults);
    for (let i = 0; i < 50; i++) expect(s2.drawCandidate(rng).output.contains(tiny.rois[0]!.roi)).toBe(true);
  });

  it("is deterministic for a seed", async () => {
    const src = await openSource(source(fgLeft), null);
    const sampler = new Sampler([src], OUT, defaults);
    const run = async () => {
      const rng = Rng.seeded(11, "sampling");
      const out = [];
      for (let i = 0; i < 10; i++) out.push((await sampler.next(rng)).output.toString());
      return out;
    };
    expect(await run()).toEqual(await run());
  });

  it("pads beyond the data: raw 0.5, labels 0, mask 1", async () => {
    const src = await openSource(source(small), null);
    expect(src.mask).toBeNull();
    const roi = new Roi(coord(-20, 60, 70), coord(40, 40, 40)); // 4^3 voxels, partly outside 8^3
    const raw = await readRawBlock(src, roi);
    const labels = (await readBinaryBlock(src, "labels", roi))!;
    const maskSrc = await openSource(source(maskTop), null);
    const mask = (await readBinaryBlock(maskSrc, "mask", new Roi(coord(-20, 0, 0), coord(40, 10, 10))))!;
    expect(await readBinaryBlock(src, "mask", roi)).toBeNull();
    // voxel (z=2, y=0, x=0) is at z=0, y=6, x=7: inside; (0,0,0) is at z=-2: outside
    expect(raw[(2 * 4 + 0) * 4 + 0]).toBe(1);
    expect(raw[0]).toBe(0.5);
    expect(labels[(2 * 4 + 0) * 4 + 0]).toBe(1);
    expect(labels[0]).toBe(0);
    expect(labels[(2 * 4 + 2) * 4 + 0]).toBe(0); // y = 8: outside
    expect(Array.from(mask)).toEqual([1, 1, 1, 1]); // z -2, -1 outside (1), z 0, 1 inside the mask (1)
  });

  it("reads the label array's training ROIs by default and explains a missing one", async () => {
    const src = await openSource(source(fgLeft), null);
    expect(src.rois.map((r) => r.name)).toEqual(["t"]);
    await expect(openSource(source(fgLeft, { rois: "validation" }), null)).rejects.toThrow(
      /has no validation ROIs; add one with 'organelle gt add-roi/,
    );
    await expect(openSource(source(fgLeft), coord(20, 20, 20))).rejects.toThrow(
      /no level at voxel size \(20, 20, 20\)/,
    );
  });
});

describe("chunk cache", () => {
  it("reads the same blocks as the store, padding included, and serves repeats from memory", async () => {
    const { ChunkCache } = await import("./chunk-cache.ts");
    const cache = new ChunkCache(1 << 20);
    const plain = await openSource(source(fgLeft), null);
    const cached = await openSource(source(fgLeft), null, cache);
    const rois = [
      new Roi(coord(-30, 40, 250), coord(70, 90, 120)),
      new Roi(coord(0, 0, 0), coord(160, 160, 320)),
    ];
    for (const roi of rois) {
      expect(Array.from(await readRawBlock(cached, roi))).toEqual(Array.from(await readRawBlock(plain, roi)));
      expect(Array.from((await readBinaryBlock(cached, "labels", roi))!)).toEqual(
        Array.from((await readBinaryBlock(plain, "labels", roi))!),
      );
      expect(Array.from((await readBinaryBlock(cached, "mask", roi))!)).toEqual(
        Array.from((await readBinaryBlock(plain, "mask", roi))!),
      );
    }
    const misses = cache.misses;
    await readRawBlock(cached, rois[0]!);
    expect(cache.misses).toBe(misses);
    expect(cache.hits).toBeGreaterThan(0);
    // a budget smaller than one chunk keeps only the latest
    const tiny = new ChunkCache(10);
    const t = await openSource(source(fgLeft), null, tiny);
    await readRawBlock(t, rois[1]!);
    expect(tiny.size).toBeLessThanOrEqual(16 * 16 * 32);
  });
});
