/**
 * Benchmark of our Lee thinning (src/analyze/skeletonize.ts) against skimage.morphology.skeletonize_3d
 * on the same volumes, single-threaded on both sides.
 *
 *   npx tsx bench/analyze-skeleton.ts [--sizes 128,192,256] [--repeat 2]
 *
 * Per size N (an N^3 volume) two inputs: "blobs" (Gaussian-smoothed noise thresholded: thick branched
 * objects with holes, 27 % foreground) and "tubes" (40 random tubes of radius 3-6 voxels, a mito/ER-like
 * foreground of a few %). Each is written as a raw file; /usr/bin/python3 times skeletonize_3d
 * (perf_counter around the call, best of --repeat) and writes its result, then ours runs (after a
 * warm-up on a small volume, best of --repeat) and the two skeletons are compared voxel for voxel.
 * Prints a table of best wall times and the ratio skimage / ours.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { skeletonize3d } from "../src/analyze/skeletonize.ts";
import { type Coordinate, coord } from "../src/core/coordinate.ts";
import { gaussianSmooth } from "../src/ops/gaussian.ts";
import { tube } from "../test/helpers/skeleton-shapes.ts";

const PYTHON = process.env.ORGANELLE_PYTHON ?? "/usr/bin/python3";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const SIZES = arg("sizes", "128,192,256").split(",").map(Number);
const REPEAT = Number(arg("repeat", "2"));

/** Deterministic uniform [0, 1) (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function blobs(n: number): Uint8Array {
  const r = rng(n);
  const shape = coord(n, n, n);
  const noise = new Float32Array(n * n * n);
  for (let i = 0; i < noise.length; i++) noise[i] = r() - 0.5;
  const s = gaussianSmooth(noise, shape, { sigma: coord(3, 3, 3), voxelSize: coord(1, 1, 1) });
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s[i]! > 0.01 ? 1 : 0;
  return out;
}

function tubes(n: number): Uint8Array {
  const r = rng(1000 + n);
  const shape: Coordinate = coord(n, n, n);
  const out = new Uint8Array(n * n * n);
  for (let k = 0; k < 40; k++) {
    const pts: number[][] = [];
    let p = [r() * n, r() * n, r() * n];
    for (let j = 0; j < 4; j++) {
      pts.push(p);
      p = p.map((v) => Math.max(4, Math.min(n - 4, v + (r() - 0.5) * n * 0.5)));
    }
    const m = tube(shape, coord(1, 1, 1), pts, 3 + 3 * r());
    for (let i = 0; i < out.length; i++) out[i] = out[i]! | m[i]!;
  }
  return out;
}

const PEER = `
import sys, time, numpy as np
from skimage.morphology import skeletonize_3d
f, n, reps, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
a = np.fromfile(f, np.uint8).reshape(n, n, n)
best = 1e30
for _ in range(reps):
    t = time.perf_counter(); s = skeletonize_3d(a); best = min(best, time.perf_counter() - t)
(s > 0).astype(np.uint8).tofile(out)
print(best * 1000)
`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-bench-skeleton-"));
try {
  skeletonize3d(blobs(32), coord(32, 32, 32)); // warm-up: JIT
  const rows: string[] = [];
  for (const n of SIZES) {
    for (const [name, make] of [
      ["blobs", blobs],
      ["tubes", tubes],
    ] as const) {
      const vol = make(n);
      const fg = vol.reduce((s, v) => s + v, 0);
      const file = path.join(dir, `${name}-${n}.bin`);
      const peerOut = path.join(dir, `${name}-${n}-peer.bin`);
      fs.writeFileSync(file, vol);
      const py = spawnSync(PYTHON, ["-c", PEER, file, String(n), String(REPEAT), peerOut], {
        encoding: "utf8",
      });
      if (py.status !== 0) throw new Error(`skimage peer failed: ${py.stderr}`);
      const peerMs = Number(py.stdout.trim());
      let oursMs = Number.POSITIVE_INFINITY;
      let ours: Uint8Array = new Uint8Array(0);
      for (let k = 0; k < REPEAT; k++) {
        const t = performance.now();
        ours = skeletonize3d(vol, coord(n, n, n));
        oursMs = Math.min(oursMs, performance.now() - t);
      }
      const peer = fs.readFileSync(peerOut);
      let diff = 0;
      let sk = 0;
      for (let i = 0; i < ours.length; i++) {
        if (ours[i] !== peer[i]) diff++;
        sk += ours[i]!;
      }
      rows.push(
        `| ${name} | ${n}^3 | ${((100 * fg) / vol.length).toFixed(1)} % | ${sk} | ${peerMs.toFixed(0)} | ${oursMs.toFixed(0)} | ${(peerMs / oursMs).toFixed(2)} | ${diff} |`,
      );
      process.stderr.write(`${rows.at(-1)}\n`);
    }
  }
  process.stdout.write(
    `${[
      `skeletonize_3d (skimage ${spawnSync(PYTHON, ["-c", "import skimage; print(skimage.__version__)"], { encoding: "utf8" }).stdout.trim()}) vs ours, best of ${REPEAT}, node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"}`,
      "",
      "| input | size | foreground | skeleton voxels | skimage ms | ours ms | skimage / ours | voxels differing |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
      ...rows,
    ].join("\n")}\n`,
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
