import { describe, expect, it } from "vitest";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { inputStep, networkShape } from "../learn/shapes.ts";
import { getModelPreset, specFromJson, type UNetSpec } from "../learn/unet-spec.ts";
import { activationBytes, forwardFlops } from "./cost.ts";
import { blockReadBox, blockTiles, chooseTiling, largestInputWithin, tileStarts } from "./tiling.ts";

const tiny = getModelPreset("tiny").spec;
const small = getModelPreset("small").spec;
const asem = getModelPreset("asem").spec;
const aniso = specFromJson({
  fmaps: 4,
  downsample: [
    [1, 2, 2],
    [2, 2, 2],
  ],
  kernels: [
    [
      [1, 3, 3],
      [1, 3, 3],
    ],
    [
      [3, 3, 3],
      [3, 3, 3],
    ],
    [
      [3, 3, 3],
      [3, 3, 3],
    ],
  ],
});

describe("cost", () => {
  it("counts the FLOPs the PyTorch peer counts (bench/engine: small 68^3 8.9, ASEM 204^3 1612.8 GFLOP)", () => {
    expect(forwardFlops(small, coord(68, 68, 68)) / 1e9).toBeCloseTo(8.9, 1);
    expect(forwardFlops(asem, coord(204, 204, 204)) / 1e9).toBeCloseTo(1612.8, 1);
  });

  it("bounds activation memory, growing with the input", () => {
    const a = activationBytes(asem, coord(140, 140, 140));
    const b = activationBytes(asem, coord(204, 204, 204));
    // at least the first convolution's output: 32 channels of float32 over (input - 2)^3 voxels
    expect(a).toBeGreaterThan(32 * 4 * 138 ** 3);
    expect(b).toBeGreaterThan(a);
    const n = largestInputWithin(asem, 2 * 2 ** 30);
    expect(activationBytes(asem, n)).toBeLessThanOrEqual(2 * 2 ** 30);
    const next = coord(n[0] + 8, n[1] + 8, n[2] + 8);
    expect(activationBytes(asem, next)).toBeGreaterThan(2 * 2 ** 30);
    expect(networkShape(asem, n).input).toEqual(n);
  });
});

/** Every voxel of the box is covered by a tile whose output starts on the pooling grid. */
function checkCovers(
  spec: UNetSpec,
  box: { begin: Coordinate; shape: Coordinate },
  plan: ReturnType<typeof chooseTiling>,
) {
  const t = plan.models[0]!;
  const p = inputStep(spec);
  const tiles = blockTiles(box, t);
  for (const s of tiles) for (let d = 0; d < 3; d++) expect(s[d]! % p[d]!).toBe(0);
  for (let d = 0; d < 3; d++) {
    const starts = tileStarts(
      box.begin[d]!,
      box.begin[d]! + box.shape[d]!,
      t.network.output[d]!,
      t.stride[d]!,
      p[d]!,
    );
    expect(starts[0]!).toBeLessThanOrEqual(box.begin[d]!);
    expect(starts.at(-1)! + t.network.output[d]!).toBeGreaterThanOrEqual(box.begin[d]! + box.shape[d]!);
    for (let i = 1; i < starts.length; i++) {
      expect(starts[i]! - starts[i - 1]!).toBe(t.stride[d]);
      expect(t.stride[d]!).toBeLessThanOrEqual(t.network.output[d]!); // no gaps
    }
  }
  const read = blockReadBox(box, plan.models);
  for (const s of tiles)
    for (let d = 0; d < 3; d++) {
      expect(s[d]! - t.network.contextBefore[d]!).toBeGreaterThanOrEqual(read.begin[d]!);
      expect(s[d]! + t.network.output[d]! + t.network.contextAfter[d]!).toBeLessThanOrEqual(
        read.begin[d]! + read.shape[d]!,
      );
    }
}

describe("chooseTiling", () => {
  it.each([
    ["tiny", tiny, coord(64, 64, 64)],
    ["small", small, coord(64, 64, 64)],
    ["small, chunks off the pooling grid", small, coord(10, 10, 10)],
    ["anisotropic", aniso, coord(8, 32, 32)],
  ] as const)(
    "%s: blocks of whole chunks, tiles on the pooling grid covering every block",
    (_n, spec, chunk) => {
      const plan = chooseTiling([{ spec, maxInput: coord(100, 100, 100) }], {
        chunk,
        maxBlock: coord(128, 128, 128),
        extent: coord(300, 300, 300),
      });
      for (let d = 0; d < 3; d++) {
        expect(plan.block[d]! % chunk[d]!).toBe(0);
        expect(plan.block[d]!).toBeLessThanOrEqual(128);
        expect(plan.models[0]!.network.input[d]!).toBeLessThanOrEqual(100);
      }
      expect(networkShape(spec, plan.models[0]!.network.input)).toEqual(plan.models[0]!.network);
      for (const begin of [
        coord(0, 0, 0),
        coord(chunk[0], 3 * chunk[1], 7 * chunk[2]),
        coord(5 * chunk[0], chunk[1], 2 * chunk[2]),
      ]) {
        checkCovers(spec, { begin, shape: plan.block }, plan);
        checkCovers(spec, { begin, shape: coord(1, 2, 3) }, plan); // a border block
      }
    },
  );

  it("prefers large tiles (less context per output voxel) within the memory limit", () => {
    const big = chooseTiling([{ spec: small, maxInput: coord(200, 200, 200) }], {
      chunk: coord(64, 64, 64),
      maxBlock: coord(128, 128, 128),
      extent: coord(1000, 1000, 1000),
    });
    const little = chooseTiling([{ spec: small, maxInput: coord(80, 80, 80) }], {
      chunk: coord(64, 64, 64),
      maxBlock: coord(128, 128, 128),
      extent: coord(1000, 1000, 1000),
    });
    const ratio = (p: typeof big) => {
      const t = p.models[0]!;
      const n = blockTiles({ begin: coord(0, 0, 0), shape: p.block }, t).length;
      return (n * t.network.input[0] ** 3) / p.block[0] ** 3;
    };
    expect(ratio(big)).toBeLessThan(ratio(little));
    expect(big.models[0]!.network.input[0]).toBeGreaterThan(little.models[0]!.network.input[0]);
  });

  it("uses a fixed input (an ONNX graph without checkpoint) and a requested block", () => {
    const plan = chooseTiling(
      [{ spec: tiny, maxInput: coord(100, 100, 100), fixedInput: coord(36, 36, 36) }],
      {
        chunk: coord(16, 16, 16),
        maxBlock: coord(128, 128, 128),
        extent: coord(100, 100, 100),
        block: coord(40, 40, 40),
      },
    );
    expect(plan.block).toEqual(coord(48, 48, 48));
    expect(plan.models[0]!.network.input).toEqual(coord(36, 36, 36));
    expect(() =>
      chooseTiling([{ spec: tiny, maxInput: coord(100, 100, 100), fixedInput: coord(35, 36, 36) }], {
        chunk: coord(16, 16, 16),
        maxBlock: coord(128, 128, 128),
        extent: coord(100, 100, 100),
      }),
    ).toThrow(/tile input 35 is not a valid input size/);
  });

  it("plans several models on one block grid, reading their inputs' union", () => {
    const plan = chooseTiling(
      [
        { spec: tiny, maxInput: coord(60, 60, 60) },
        { spec: small, maxInput: coord(120, 120, 120) },
      ],
      { chunk: coord(32, 32, 32), maxBlock: coord(128, 128, 128), extent: coord(256, 256, 256) },
    );
    expect(plan.models).toHaveLength(2);
    const box = { begin: coord(32, 64, 96), shape: plan.block };
    const read = blockReadBox(box, plan.models);
    const own = blockReadBox(box, [plan.models[1]!]);
    for (let d = 0; d < 3; d++) {
      expect(read.begin[d]!).toBeLessThanOrEqual(own.begin[d]!);
      expect(read.begin[d]! + read.shape[d]!).toBeGreaterThanOrEqual(own.begin[d]! + own.shape[d]!);
    }
  });
});
