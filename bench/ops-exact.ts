/**
 * Exact volume algorithms (src/ops) against scipy.ndimage / skimage.morphology on the same 256^3
 * anisotropic blobby mask in the same run, single-threaded on both sides. Each side times only the
 * algorithm call; runs alternate between the two sides (ours, scipy, ours, scipy, ...) so both see
 * the same machine load, and the best of N is kept. Outputs are compared voxel for voxel (EDT within
 * 1e-12 relative).
 *
 *   NODE_OPTIONS=--expose-gc npx tsx bench/ops-exact.ts [--size 256] [--repeats 5]
 *
 * Each operation runs at least --repeats rounds, and more (up to 4x) while a round takes under a
 * second, so short operations get enough samples on a busy machine. With --expose-gc the JS heap is
 * collected before each timed run, as Python frees each result at once.
 *
 * Needs /usr/bin/python3 with numpy, scipy and skimage (Debian: python3-numpy python3-scipy
 * python3-skimage); installs them with apt-get when missing and running as root.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Coordinate } from "../src/core/coordinate.ts";
import { connectedComponents } from "../src/ops/connected-components.ts";
import { distanceTransform } from "../src/ops/edt.ts";
import { fillHoles } from "../src/ops/fill-holes.ts";
import { binaryClosing, binaryDilation, binaryErosion, binaryOpening } from "../src/ops/morphology.ts";
import { removeSmallLabels, removeSmallObjects } from "../src/ops/remove-small.ts";

const PYTHON = process.env.ORGANELLE_REFERENCE_PYTHON ?? "/usr/bin/python3";
const HERE = dirname(fileURLToPath(import.meta.url));

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer`);
  return v;
}

function ensurePython(): void {
  const probe = () =>
    spawnSync(PYTHON, ["-c", "import numpy, scipy.ndimage, skimage.morphology"], { encoding: "utf8" })
      .status === 0;
  if (probe()) return;
  if (process.getuid?.() === 0) {
    console.error("installing python3-numpy python3-scipy python3-skimage with apt-get ...");
    execFileSync("apt-get", ["install", "-y", "python3-numpy", "python3-scipy", "python3-skimage"], {
      stdio: "inherit",
    });
    if (probe()) return;
  }
  throw new Error(
    `${PYTHON} lacks numpy/scipy/skimage: install python3-numpy python3-scipy python3-skimage (apt-get) or set ORGANELLE_REFERENCE_PYTHON`,
  );
}

function load(dir: string, name: string): Buffer {
  return readFileSync(join(dir, name));
}
const u8 = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const u32 = (b: Buffer) => new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
const f64 = (b: Buffer) => new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

const collectGarbage = (globalThis as { gc?: () => void }).gc;

function timed<T>(fn: () => T): { ms: number; result: T } {
  collectGarbage?.();
  const t0 = performance.now();
  const result = fn();
  return { ms: performance.now() - t0, result };
}

function differences(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

function maxRelative(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), 1e-300));
  }
  return worst;
}

interface PyReady {
  voxelSize: [number, number, number];
  radius: number;
  radiusLarge: number;
  minSize: number;
  holeSize: number;
  foreground: number;
  ops: string[];
}

/** The reference process: sends operation names, receives {op, ms} lines. */
class Reference {
  private readonly lines: AsyncIterator<string>;
  private readonly proc;
  constructor(dir: string, size: number) {
    this.proc = spawn(PYTHON, [join(HERE, "ops-exact.py"), dir, String(size)], {
      env: { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" },
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  async next(): Promise<unknown> {
    const r = await this.lines.next();
    if (r.done) throw new Error("reference script ended early (see its error above)");
    return JSON.parse(r.value);
  }
  async time(op: string): Promise<number> {
    this.proc.stdin.write(`${op}\n`);
    const r = (await this.next()) as { op: string; ms: number };
    if (r.op !== op) throw new Error(`reference answered ${r.op} for ${op}`);
    return r.ms;
  }
  close(): void {
    this.proc.stdin.end("\n");
  }
}

type Check = (ours: unknown, dir: string, op: string) => string;

const sameBytes: Check = (ours, dir, op) => {
  const d = differences(ours as Uint8Array, u8(load(dir, `${op}.out`)));
  return d === 0 ? "identical" : `${d} voxels differ`;
};
const sameLabels: Check = (ours, dir, op) => {
  const d = differences(ours as Uint32Array, u32(load(dir, `${op}.out`)));
  return d === 0 ? "identical" : `${d} voxels differ`;
};
const closeFloats: Check = (ours, dir, op) => {
  const e = maxRelative(ours as Float64Array, f64(load(dir, `${op}.out`)));
  return e === 0
    ? "identical"
    : e < 1e-12
      ? `max rel. diff ${e.toExponential(1)}`
      : `differs: max rel. ${e.toExponential(1)}`;
};

const REFERENCE_CALL: Record<string, string> = {
  edt: "distance_transform_edt(m, sampling)",
  edt_bg: "distance_transform_edt(~m, sampling)",
  dilation: "binary_dilation(m, ball)",
  erosion: "binary_erosion(m, ball)",
  opening: "binary_opening(m, ball)",
  closing: "binary_closing(m, ball)",
  dilation_large: "binary_dilation(m, ball)",
  erosion_large: "binary_erosion(m, ball)",
  fill_holes: "binary_fill_holes(m)",
  fill_small_holes: "skimage remove_small_holes(m, N)",
  label6: "label(m)",
  label26: "label(m, ones((3,3,3)))",
  remove_small: "skimage remove_small_objects(m, N)",
  remove_small_labels: "skimage remove_small_objects(labels, N)",
};

async function main(): Promise<void> {
  const size = arg("size", 256);
  const repeats = arg("repeats", 5);
  ensurePython();
  const dir = mkdtempSync(join(tmpdir(), "organelle-bench-ops-"));
  const ref = new Reference(dir, size);
  try {
    console.error(`making the ${size}^3 volume ...`);
    const meta = (await ref.next()) as PyReady;
    const shape: Coordinate = [size, size, size];
    const vs = meta.voxelSize as unknown as Coordinate;
    const mask = u8(load(dir, "mask.u8"));
    const labels26 = u32(load(dir, "labels26.u32"));
    const o = { voxelSize: vs };
    const r = meta.radius;
    const rl = meta.radiusLarge;
    // Each function runs with a fresh output (as the scipy call does) and with a reused one (as a
    // block-wise worker would): fresh large outputs cost page faults, which numpy avoids with
    // transparent huge pages (madvise) and Node cannot ask for.
    const outU8 = new Uint8Array(mask.length);
    const outU32 = new Uint32Array(mask.length);
    const outF64 = new Float64Array(mask.length);
    type Fn = (reuse: boolean) => unknown;
    const u8o = (reuse: boolean) => (reuse ? outU8 : undefined);
    const u32o = (reuse: boolean) => (reuse ? outU32 : undefined);
    const f64o = (reuse: boolean) => (reuse ? outF64 : undefined);
    const ours: Record<string, [string, Fn, Check]> = {
      edt: ["foreground", (k) => distanceTransform(mask, shape, { ...o, out: f64o(k) }), closeFloats],
      edt_bg: [
        "background",
        (k) => distanceTransform(mask, shape, { ...o, of: "background", out: f64o(k) }),
        closeFloats,
      ],
      dilation: [`ball ${r} nm`, (k) => binaryDilation(mask, shape, r, { ...o, out: u8o(k) }), sameBytes],
      erosion: [`ball ${r} nm`, (k) => binaryErosion(mask, shape, r, { ...o, out: u8o(k) }), sameBytes],
      opening: [`ball ${r} nm`, (k) => binaryOpening(mask, shape, r, { ...o, out: u8o(k) }), sameBytes],
      closing: [`ball ${r} nm`, (k) => binaryClosing(mask, shape, r, { ...o, out: u8o(k) }), sameBytes],
      dilation_large: [
        `ball ${rl} nm`,
        (k) => binaryDilation(mask, shape, rl, { ...o, out: u8o(k) }),
        sameBytes,
      ],
      erosion_large: [
        `ball ${rl} nm`,
        (k) => binaryErosion(mask, shape, rl, { ...o, out: u8o(k) }),
        sameBytes,
      ],
      fill_holes: ["6-conn.", (k) => fillHoles(mask, shape, { out: u8o(k) }), sameBytes],
      fill_small_holes: [
        `N = ${meta.holeSize}`,
        (k) => fillHoles(mask, shape, { smallerThan: meta.holeSize, includeBorder: true, out: u8o(k) }),
        sameBytes,
      ],
      label6: [
        "6-conn.",
        (k) => connectedComponents(mask, shape, { connectivity: 6, out: u32o(k) }).labels,
        sameLabels,
      ],
      label26: [
        "26-conn.",
        (k) => connectedComponents(mask, shape, { connectivity: 26, out: u32o(k) }).labels,
        sameLabels,
      ],
      remove_small: [
        `N = ${meta.minSize}`,
        (k) => removeSmallObjects(mask, shape, meta.minSize, { out: u8o(k) }),
        sameBytes,
      ],
      remove_small_labels: [
        `N = ${meta.minSize}`,
        (k) => removeSmallLabels(labels26, meta.minSize, u32o(k)),
        sameLabels,
      ],
    };
    const load0 = loadavg()[0]!;
    type Row = {
      op: string;
      params: string;
      fresh: number;
      reused: number;
      scipy: number;
      check: string;
      rounds: number;
    };
    const rows: Row[] = [];
    for (const op of meta.ops) {
      const entry = ours[op];
      if (entry === undefined) throw new Error(`no organelle counterpart for reference op ${op}`);
      const [params, fn, check] = entry;
      let fresh = Number.POSITIVE_INFINITY;
      let reused = Number.POSITIVE_INFINITY;
      let scipy = Number.POSITIVE_INFINITY;
      let verdict = "";
      let rounds = 0;
      for (let k = 0; k < 4 * repeats; k++) {
        const t = timed(() => fn(false));
        fresh = Math.min(fresh, t.ms);
        scipy = Math.min(scipy, await ref.time(op));
        if (k === 0) verdict = check(t.result, dir, op); // the reference wrote its output in round 0
        const u = timed(() => fn(true));
        reused = Math.min(reused, u.ms);
        if (k === 0 && check(u.result, dir, op) !== verdict) verdict += " (reused output differs!)";
        rounds++;
        // very slow references: one round is enough; quick ones: more rounds
        if (scipy > 4000 || (k + 1 >= repeats && Math.max(fresh, scipy) > 1000)) break;
      }
      console.error(
        `  ${op}: ${fresh.toFixed(0)} / ${reused.toFixed(0)} ms vs ${scipy.toFixed(0)} ms, ${rounds} rounds (${verdict})`,
      );
      rows.push({ op, params, fresh, reused, scipy, check: verdict, rounds });
    }
    const load1 = loadavg()[0]!;
    console.log(
      `\n${size}^3 mask (${(meta.foreground * 100).toFixed(1)} % foreground), voxel size ${vs.join(" x ")} nm; best of alternating runs (rounds column), one thread each; load average ${load0.toFixed(1)} -> ${load1.toFixed(1)}\n`,
    );
    console.log(
      "| algorithm | scipy / skimage call | params | scipy ms | ours ms | scipy/ours | ours ms, out reused | scipy/ours | rounds | result |",
    );
    console.log("|---|---|---|---:|---:|---:|---:|---:|---:|---|");
    for (const row of rows) {
      console.log(
        `| ${row.op} | ${REFERENCE_CALL[row.op] ?? row.op} | ${row.params} | ${row.scipy.toFixed(0)} | ${row.fresh.toFixed(0)} | ${(row.scipy / row.fresh).toFixed(1)}x | ${row.reused.toFixed(0)} | ${(row.scipy / row.reused).toFixed(1)}x | ${row.rounds} | ${row.check} |`,
      );
    }
    const bad = rows.filter((row) => /voxels differ|differs:|reused output differs/.test(row.check));
    if (bad.length > 0) {
      console.error(`\nresults differ from the reference for: ${bad.map((b) => b.op).join(", ")}`);
      process.exitCode = 1;
    }
  } finally {
    ref.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
