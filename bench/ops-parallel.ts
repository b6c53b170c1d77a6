/**
 * The volume algorithms of src/ops with both cores: each one on a 256^3 volume
 *   - single-threaded in memory (the src/ops call, as in bench/ops-exact.ts and bench/ops-filters.ts);
 *   - block-wise on 2 worker threads, compute only: the same block plan, block kernels and runner as
 *     below, inputs and outputs in SharedArrayBuffers (bench/ops-memory-tasks.ts);
 *   - block-wise on 2 worker threads through organelle's task table on an OME-Zarr dataset on disk
 *     (zstd chunks of 128^3), the way organelle runs them on whole cells: reading, decompressing,
 *     compressing and writing every chunk is part of the time (src/preprocess/ops.ts runLocalOp,
 *     components.ts runComponentLabelling and runComponentStage, clahe.ts runClahe);
 *   - scipy/skimage single-threaded on the same data in the same run (these scipy.ndimage and
 *     skimage functions have no threads).
 * Checks that both 2-worker outputs equal the single-thread output and that one equals scipy's, and
 * prints a table.
 *
 *   NODE_OPTIONS=--expose-gc npx tsx bench/ops-parallel.ts [--size 256] [--rounds 3] [--only edt,clahe_k32]
 *
 * Per algorithm the runs alternate (ours 1 thread, peer, ours 2 workers in memory, ours 2 workers on
 * disk) for --rounds rounds and the best of each is kept, with its process CPU time (all threads) in
 * brackets; the JS heap is collected before each of our runs when --expose-gc is given (Python frees
 * each result at once). Both pools' threads are started before the first run.
 *
 * Block plans: local operations (EDT, morphology, Gaussian) on z-slabs one chunk thick (128 x 256 x
 * 256 voxels: one block per worker) with the operation's context; component steps on 128^3 cubes;
 * CLAHE on `organelle clahe`'s default blocks (whole chunks, at least two kernels per axis: 128^3 for
 * kernel 32, the whole 256^3 volume for kernel 128). Inputs: the cell-like mask of
 * bench/ops-exact.py (made by the peer with its generator) and the EM-like uint8 volume of
 * bench/ops-data.ts; voxel size 5.2 x 4 x 4 nm. Needs /usr/bin/python3 with numpy, scipy and skimage
 * (Debian python3-numpy python3-scipy python3-skimage).
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { runInWorkers, WorkerPool } from "../src/blockwise/worker-pool.ts";
import { type Coordinate, coord, uniform } from "../src/core/coordinate.ts";
import { claheVolume } from "../src/ops/clahe.ts";
import { connectedComponents } from "../src/ops/connected-components.ts";
import { distanceTransform } from "../src/ops/edt.ts";
import { fillHoles } from "../src/ops/fill-holes.ts";
import { gaussianSmooth } from "../src/ops/gaussian.ts";
import { binaryClosing, binaryDilation, binaryErosion, binaryOpening } from "../src/ops/morphology.ts";
import { removeSmallObjects } from "../src/ops/remove-small.ts";
import { runClahe } from "../src/preprocess/clahe.ts";
import type { ArrayRef } from "../src/preprocess/clahe-task.ts";
import {
  type ComponentStage,
  runComponentLabelling,
  runComponentStage,
} from "../src/preprocess/components.ts";
import { cleanupJob, type JobContext, newRunId, runKey, withJob } from "../src/preprocess/jobs.ts";
import { arrayBlockSpec, type LocalOp, runLocalOp } from "../src/preprocess/ops.ts";
import type { DType, VoxelArray } from "../src/store/dtype.ts";
import { Volume } from "../src/store/volume.ts";
import { emLike, SIGMA_NM, VOXEL_NM } from "./ops-data.ts";
import {
  type ComponentOp,
  memoryClahe,
  memoryComponents,
  memoryLocalOp,
  type Run,
  type SharedVolume,
  sharedVolume,
} from "./ops-memory-tasks.ts";

const PYTHON = process.env.ORGANELLE_REFERENCE_PYTHON ?? "/usr/bin/python3";
const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORKERS = 2;
/** Local operations run on z-slabs one chunk thick (one block per worker on 256^3). */
const SLAB = (n: number): Coordinate => coord(128, n, n);
/** Component steps tile the volume into chunk-sized cubes. */
const EDGE = 128;
/** The distance bound of the block-wise EDT (sets its context); the mask's largest distance is below it. */
const EDT_BOUND_NM = 64;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const N = Number(arg("size", "256"));
const ROUNDS = Number(arg("rounds", "3"));
const ONLY = arg("only", "")
  .split(",")
  .filter((s) => s.length > 0);

const collectGarbage = (globalThis as { gc?: () => void }).gc;

interface Timing {
  ms: number;
  cpu: number;
}
const best = (a: Timing, b: Timing): Timing => ({ ms: Math.min(a.ms, b.ms), cpu: Math.min(a.cpu, b.cpu) });
const NONE: Timing = { ms: Number.POSITIVE_INFINITY, cpu: Number.POSITIVE_INFINITY };

async function timed<T>(fn: () => T | Promise<T>): Promise<{ t: Timing; result: T }> {
  collectGarbage?.();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await fn();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { t: { ms, cpu: (c.user + c.system) / 1000 }, result };
}

// ---------------------------------------------------------------------------------------------
// The reference process

interface PeerReady {
  voxelSize: [number, number, number];
  radius: number;
  minSize: number;
  foreground: number;
  ops: Record<string, string>;
}

class Peer {
  private readonly lines: AsyncIterator<string>;
  private readonly proc;
  constructor(dir: string, size: number) {
    this.proc = spawn(PYTHON, [path.join(HERE, "ops-parallel-peer.py"), dir, String(size)], {
      env: { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" },
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  async next(): Promise<unknown> {
    const r = await this.lines.next();
    if (r.done) throw new Error("the reference script ended early (see its error above)");
    return JSON.parse(r.value);
  }
  async time(op: string): Promise<Timing> {
    this.proc.stdin.write(`${op}\n`);
    const r = (await this.next()) as { op: string; wall_ms: number; cpu_ms: number };
    if (r.op !== op) throw new Error(`reference answered ${r.op} for ${op}`);
    return { ms: r.wall_ms, cpu: r.cpu_ms };
  }
  close(): void {
    this.proc.stdin.end("\n");
  }
}

function ensurePython(): void {
  const ok = spawnSync(PYTHON, ["-c", "import numpy, scipy.ndimage, skimage.morphology, skimage.exposure"]);
  if (ok.status !== 0) {
    throw new Error(
      `${PYTHON} lacks numpy/scipy/skimage: install python3-numpy python3-scipy python3-skimage (apt-get) or set ORGANELLE_REFERENCE_PYTHON`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The on-disk dataset

interface Store {
  readonly datasetPath: string;
  readonly pool: WorkerPool;
}

async function makeStore(
  datasetPath: string,
  inputs: Record<string, Uint8Array>,
  pool: WorkerPool,
): Promise<Store> {
  const shape = uniform(N);
  for (const [name, data] of Object.entries(inputs)) {
    const v = await Volume.create(datasetPath, name, {
      shape,
      dtype: "uint8",
      voxelSize: VOXEL_NM,
      chunks: uniform(128),
    });
    await v.writeBox({ begin: uniform(0), shape }, data);
    await v.markComplete();
  }
  return { datasetPath, pool };
}

const ref = (store: Store, arrayPath: string): ArrayRef => ({ datasetPath: store.datasetPath, arrayPath });

async function inJob(store: Store, body: (job: JobContext) => Promise<void>): Promise<void> {
  const key = runKey({ bench: newRunId() });
  await withJob(store.datasetPath, key, newRunId(), { pool: store.pool, progress: null }, body);
}

/** A fresh output array (zstd, chunks 128^3, like the inputs); returns its path. */
async function createOutput(store: Store, name: string, dtype: DType): Promise<string> {
  const arrayPath = `out/${name}`;
  await Volume.create(store.datasetPath, arrayPath, {
    shape: uniform(N),
    dtype,
    voxelSize: VOXEL_NM,
    chunks: uniform(128),
    overwrite: true,
  });
  return arrayPath;
}

async function readAll(store: Store, arrayPath: string): Promise<VoxelArray> {
  const v = await Volume.open(store.datasetPath, arrayPath, { allowIncomplete: true });
  return v.readBox({ begin: uniform(0), shape: v.meta.shape });
}

// ---------------------------------------------------------------------------------------------
// The algorithms

type Output = Uint8Array | Uint32Array | Float64Array;

interface Inputs {
  readonly mask: Uint8Array;
  readonly em: Uint8Array;
  readonly shared: { readonly mask: SharedVolume; readonly em: SharedVolume };
}

interface Case {
  readonly name: string;
  readonly label: string;
  /** The src/ops call on the whole volume in memory. */
  readonly single: () => Output;
  /** Block-wise on the workers, shared memory in and out; returns the output. */
  readonly memory: (run: Run) => Promise<Output>;
  /** Block-wise on the workers through organelle's tasks on the dataset; returns the array written. */
  readonly disk: (store: Store) => Promise<string>;
  /** How our output compares with the reference's. */
  readonly compare: "exact" | "float" | "grey";
}

function sharedOutput(dtype: DType) {
  return sharedVolume(undefined, dtype, uniform(N), VOXEL_NM);
}

function localCase(
  name: string,
  label: string,
  input: "mask" | "em",
  op: LocalOp,
  dtype: DType,
  inputs: Inputs,
  single: () => Output,
  compare: Case["compare"],
): Case {
  return {
    name,
    label,
    single,
    compare,
    memory: async (run) => {
      const out = sharedOutput(dtype);
      await memoryLocalOp(run, op, inputs.shared[input], out.volume, SLAB(N));
      return out.view as Output;
    },
    disk: async (store) => {
      const out = await createOutput(store, name, dtype);
      const vol = await Volume.open(store.datasetPath, input);
      await inJob(store, async (job) => {
        const phase = await runLocalOp(job, op, vol, ref(store, input), ref(store, out), SLAB(N));
        await cleanupJob(job, [phase]);
      });
      return out;
    },
  };
}

function componentCase(
  name: string,
  label: string,
  memoryOp: ComponentOp,
  inputs: Inputs,
  single: () => Output,
  disk: (store: Store, job: JobContext, vol: Volume, out: string) => Promise<{ phases: Phases }>,
): Case {
  const dtype: DType = memoryOp.how === "relabel" ? "uint32" : "uint8";
  return {
    name,
    label,
    single,
    compare: "exact",
    memory: async (run) => {
      const out = sharedOutput(dtype);
      await memoryComponents(run, memoryOp, inputs.shared.mask, out.volume, EDGE);
      return out.view as Output;
    },
    disk: async (store) => {
      const out = await createOutput(store, name, dtype);
      const vol = await Volume.open(store.datasetPath, "mask");
      await inJob(store, async (job) => {
        const r = await disk(store, job, vol, out);
        await cleanupJob(job, r.phases);
      });
      return out;
    },
  };
}

type Phases = Parameters<typeof cleanupJob>[1];

function cases(inputs: Inputs, meta: PeerReady): Case[] {
  const { mask, em } = inputs;
  const shape = uniform(N);
  const vs = VOXEL_NM;
  const r = meta.radius;
  const morph = {
    dilation: binaryDilation,
    erosion: binaryErosion,
    opening: binaryOpening,
    closing: binaryClosing,
  };
  const stage = (st: ComponentStage) => (store: Store, job: JobContext, vol: Volume, out: string) =>
    runComponentStage(job, st, vol, ref(store, "mask"), ref(store, out), EDGE, st.op);
  const list: Case[] = [
    localCase(
      "edt",
      `EDT inside (block-wise: exact up to ${EDT_BOUND_NM} nm)`,
      "mask",
      { op: "distance", maxDistance: EDT_BOUND_NM },
      "float64",
      inputs,
      () => distanceTransform(mask, shape, { voxelSize: vs }),
      "float",
    ),
    ...(["dilation", "erosion", "opening", "closing"] as const).map((operation) =>
      localCase(
        operation,
        `binary ${operation}, ball ${r} nm`,
        "mask",
        { op: "morphology", operation, radius: r },
        "uint8",
        inputs,
        () => morph[operation](mask, shape, r, { voxelSize: vs }),
        "exact",
      ),
    ),
    componentCase(
      "fill_holes",
      "fill holes (6-conn.)",
      { how: "fill", connectivity: 6 },
      inputs,
      () => fillHoles(mask, shape),
      stage({
        op: "fillHoles",
        smallerThan: Number.POSITIVE_INFINITY,
        includeBorder: false,
        connectivity: 6,
        instances: false,
      }),
    ),
    componentCase(
      "remove_small",
      `remove small objects < ${meta.minSize}`,
      { how: "keep", connectivity: 6, minSize: meta.minSize },
      inputs,
      () => removeSmallObjects(mask, shape, meta.minSize),
      stage({ op: "removeSmall", minSize: meta.minSize, connectivity: 6, instances: false }),
    ),
    componentCase(
      "label26",
      "connected components, 26-conn.",
      { how: "relabel", connectivity: 26 },
      inputs,
      () => connectedComponents(mask, shape, { connectivity: 26 }).labels,
      (store, job, vol, out) =>
        runComponentLabelling(job, vol, ref(store, "mask"), ref(store, out), 26, EDGE, "cc"),
    ),
    localCase(
      "gaussian",
      `Gaussian sigma ${SIGMA_NM[0]} nm, uint8`,
      "em",
      { op: "gaussian", sigma: SIGMA_NM },
      "uint8",
      inputs,
      () => gaussianSmooth(em, shape, { sigma: SIGMA_NM, voxelSize: vs }),
      "exact",
    ),
    ...(
      [
        [32, 0.01],
        [128, 0.02],
      ] as const
    ).map(([k, clip]): Case => {
      const params = { kernelSize: uniform(k), clipLimit: clip, nbins: 256 };
      // organelle clahe's default blocks: whole chunks, at least two kernels per axis.
      const edge = Math.ceil((2 * k) / 128) * 128;
      return {
        name: `clahe_k${k}`,
        label: `CLAHE kernel ${k}, clip ${clip} -> uint8`,
        compare: "grey",
        single: () => claheVolume(em, shape, params, "uint8"),
        memory: async (run) => {
          const out = sharedOutput("uint8");
          await memoryClahe(run, params, inputs.shared.em, out.volume, edge);
          return out.view as Output;
        },
        disk: async (store) => {
          const out = `out/clahe_k${k}`;
          await runClahe(store.datasetPath, {
            array: "em",
            output: out,
            kernel: k,
            clipLimit: clip,
            nbins: 256,
            pyramid: false,
            overwrite: true,
            pool: store.pool,
            progress: null,
          });
          return out;
        },
      };
    }),
  ];
  return list.filter((c) => ONLY.length === 0 || ONLY.includes(c.name));
}

// ---------------------------------------------------------------------------------------------
// Checks

function loadPeer(dir: string, name: string, like: Output): Output {
  const b = fs.readFileSync(path.join(dir, `${name}.out`));
  const buf = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  if (like instanceof Float64Array) return new Float64Array(buf);
  if (like instanceof Uint32Array) return new Uint32Array(buf);
  return new Uint8Array(buf);
}

/**
 * How two outputs differ: "identical", or the count and largest difference. `ok` when they agree as
 * the issue asks: exact results identical (distances within 1e-12 relative), grey values within 1.
 */
function difference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  how: Case["compare"],
): { text: string; ok: boolean } {
  if (a.length !== b.length) return { text: `length ${a.length} vs ${b.length}`, ok: false };
  let n = 0;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    n++;
    worst = Math.max(
      worst,
      how === "float" ? Math.abs(x - y) / Math.max(Math.abs(y), 1e-300) : Math.abs(x - y),
    );
  }
  if (n === 0) return { text: "identical", ok: true };
  if (how === "float") return { text: `max rel. diff ${worst.toExponential(1)}`, ok: worst < 1e-12 };
  return { text: `${n} voxels differ by up to ${worst}`, ok: how === "grey" && worst <= 1 };
}

// ---------------------------------------------------------------------------------------------

const fmt = (ms: number) => (ms < 100 ? ms.toFixed(1) : ms.toFixed(0));
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
const cell = (t: Timing) => `${fmt(t.ms)} (${fmt(t.cpu)})`;

async function main(): Promise<void> {
  ensurePython();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-bench-parallel-"));
  const diskPool = new WorkerPool({ workers: WORKERS });
  const memoryPool = new WorkerPool({
    workers: WORKERS,
    workerUrl: new URL("./ops-parallel-worker.ts", import.meta.url),
  });
  const run: Run = async (spec, call) => (await memoryPool.run(spec, call, { progress: false })).values;
  let peer: Peer | undefined;
  try {
    console.error(`making the ${N}^3 inputs ...`);
    const em = emLike(N, 7);
    fs.writeFileSync(path.join(work, "em.u8"), em);
    peer = new Peer(work, N);
    const meta = (await peer.next()) as PeerReady;
    const mask = new Uint8Array(fs.readFileSync(path.join(work, "mask.u8")));
    const share = (a: Uint8Array) => sharedVolume(a, "uint8", uniform(N), VOXEL_NM).volume;
    const inputs: Inputs = { mask, em, shared: { mask: share(mask), em: share(em) } };
    const store = await makeStore(path.join(work, "cell.zarr"), { mask, em }, diskPool);
    await Promise.all([diskPool.start(), memoryPool.start()]);
    const list = cases(inputs, meta);
    const load0 = os.loadavg()[0]!;
    const rows: string[][] = [];
    let failed = false;
    for (const c of list) {
      let one = NONE;
      let peerT = NONE;
      let mem = NONE;
      let disk = NONE;
      const problems: string[] = [];
      let peerCheck = { text: "", ok: false };
      for (let round = 0; round < ROUNDS; round++) {
        const s = await timed(() => c.single());
        one = best(one, s.t);
        peerT = best(peerT, await peer.time(c.name));
        const m = await timed(() => c.memory(run));
        mem = best(mem, m.t);
        const d = await timed(() => c.disk(store));
        disk = best(disk, d.t);
        if (round === 0) {
          peerCheck = difference(s.result, loadPeer(work, c.name, s.result), c.compare);
          const dm = difference(m.result, s.result, "exact");
          if (!dm.ok) problems.push(`in memory: ${dm.text}`);
          const dd = difference((await readAll(store, d.result)) as Output, s.result, "exact");
          if (!dd.ok) problems.push(`on disk: ${dd.text}`);
        }
        console.error(
          `  ${c.name} round ${round + 1}: 1 thread ${fmt(s.t.ms)} ms, peer ${fmt(peerT.ms)} ms, 2 workers ${fmt(m.t.ms)} ms in memory, ${fmt(d.t.ms)} ms on disk`,
        );
      }
      if (problems.length > 0 || !peerCheck.ok) failed = true;
      rows.push([
        c.label,
        meta.ops[c.name] ?? c.name,
        cell(peerT),
        cell(one),
        cell(mem),
        cell(disk),
        ratio(peerT.ms, one.ms),
        ratio(peerT.ms, mem.ms),
        ratio(peerT.ms, disk.ms),
        ratio(one.ms, mem.ms),
        `${problems.length === 0 ? "2 workers = 1 thread" : problems.join("; ")}; 1 thread vs peer: ${peerCheck.text}`,
      ]);
    }
    // What the store alone costs: the mask copied block by block (same slabs as the local
    // operations) by the crop task, no algorithm.
    let copy = NONE;
    const vol = await Volume.open(store.datasetPath, "mask");
    for (let round = 0; round < ROUNDS; round++) {
      const out = await createOutput(store, "copy", "uint8");
      const spec = arrayBlockSpec("copy mask", vol, SLAB(N), uniform(0));
      const call = { fn: "crop.copy", params: { source: ref(store, "mask"), target: ref(store, out) } };
      copy = best(copy, (await timed(() => runInWorkers(spec, call, { pool: diskPool, progress: false }))).t);
    }
    const load1 = os.loadavg()[0]!;
    console.log(
      `\nops-parallel: ${N}^3, voxel size ${VOXEL_NM.join(" x ")} nm, ${os.cpus().length} x ${os.cpus()[0]?.model}, node ${process.version}, ${WORKERS} workers, best of ${ROUNDS} alternating rounds, load average ${load0.toFixed(1)} -> ${load1.toFixed(1)}; ms (CPU ms, all threads)\n`,
    );
    const header = [
      "algorithm",
      "peer call",
      "peer",
      "ours 1 thread",
      "ours 2 workers, in memory",
      "ours 2 workers, zstd dataset",
      "peer / 1 thread",
      "peer / 2 workers (memory)",
      "peer / 2 workers (dataset)",
      "1 thread / 2 workers (memory)",
      "outputs",
    ];
    console.log(
      `| ${header.join(" | ")} |\n|${header.map((_, i) => (i < 2 || i === 10 ? "---" : "---:")).join("|")}|`,
    );
    for (const r of rows) console.log(`| ${r.join(" | ")} |`);
    console.log(
      `\nstore I/O alone: the ${N}^3 uint8 mask copied through the zstd dataset (crop.copy, 2 workers, the slabs above): ${cell(copy)} ms`,
    );
    if (failed) {
      console.error("\nsome outputs differ (see the last column)");
      process.exitCode = 1;
    }
  } finally {
    peer?.close();
    await Promise.all([diskPool.close(), memoryPool.close()]);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
