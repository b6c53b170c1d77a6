import { createHash, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { canonicalJson } from "../blockwise/job-key.ts";
import { Journal, jobJournalPath, readJournal } from "../blockwise/journal.ts";
import { Progress, type ProgressSink } from "../blockwise/progress.ts";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { WorkerPool } from "../blockwise/worker-pool.ts";
import { type Coordinate, coord, min, mul, uniform } from "../core/coordinate.ts";
import { fromFsError, invalidArgument, OrganelleError } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import { validateVoxelSize } from "../core/voxel-size.ts";
import { type SlabParams, scatterSlice, slabLayout, slabVoxels } from "./import-slab.ts";
import { buildPyramid } from "./pyramid.ts";
import { SliceStack, type StackKind } from "./slices.ts";
import type { SliceDType } from "./tiff-read.ts";
import { type Compressor, DEFAULT_CHUNK, type OmeVersion, Volume } from "./volume.ts";
import { registerZstdCodec } from "./zstd-codec.ts";

/*
 * `organelle import`: a stack of 2D slices (directory or multi-page TIFF) -> `raw` of a dataset.
 *
 * Streaming: slices are read into a slab of `chunkZ` slices held in a SharedArrayBuffer; a full slab
 * goes to the worker pool (task `import.writeSlab`), which cuts it into chunks, compresses and writes
 * them, while this thread reads the next slab into the other buffer. Memory is two slabs plus the
 * workers' chunk buffers, whatever the number of slices.
 *
 * Never complete by accident: everything is written under OUT.partial, finished slabs are journaled
 * there (a rerun of the same command skips them), and OUT.partial becomes OUT by one rename once the
 * array and its pyramid are complete.
 */

export const RAW = "raw";

/** Where an imported array came from; kept in its `organelle.import` attributes (export un-crops with it). */
export interface ImportProvenance {
  readonly source: string;
  readonly sourceKind: StackKind;
  /** The whole source stack, z,y,x voxels. */
  readonly sourceShape: [number, number, number];
  /** The part imported, in voxels of the source stack. */
  readonly cropOffset: [number, number, number];
  readonly cropShape: [number, number, number];
  readonly invert: boolean;
  readonly dtype: SliceDType;
}

/** The import record of an array's attributes, if it was imported by organelle. */
export function importProvenance(attrs: Record<string, unknown>): ImportProvenance | undefined {
  const p = attrs.import as Partial<ImportProvenance> | undefined;
  const is3 = (v: unknown) =>
    Array.isArray(v) && v.length === 3 && v.every((n) => Number.isInteger(n) && n >= 0);
  if (!p || !is3(p.sourceShape) || !is3(p.cropOffset) || !is3(p.cropShape)) return undefined;
  return p as ImportProvenance;
}

export interface ImportOptions {
  /** Voxel size in nm (z,y,x); required unless the stack's metadata records one we trust. */
  voxelSize?: Coordinate;
  /** Store max - value (for stacks with bright membranes). */
  invert?: boolean;
  /** Part of the source stack to import, in voxels (z,y,x). */
  cropOffset?: Coordinate;
  cropShape?: Coordinate;
  /** Chunk shape (default 128^3). Its z is also the slab depth. */
  chunks?: Coordinate;
  compressor?: Compressor;
  level?: number;
  format?: OmeVersion;
  /** Regular expression for slice numbers in file names (one capture group). */
  pattern?: string;
  /** Replace an existing OUT (and discard an interrupted OUT.partial). */
  overwrite?: boolean;
  /** Build the multiscale pyramid (default true). */
  pyramid?: boolean;
  /** Worker threads (default: one per core). */
  workers?: number;
  /** Use these worker threads instead of starting a pool. */
  pool?: WorkerPool;
  /** Progress output; null for none (default: stderr unless ORGANELLE_QUIET=1). */
  progress?: ProgressSink | null;
  signal?: AbortSignal;
  /** Told the size of every slab buffer allocated (memory tests). */
  onSlabAllocated?: (bytes: number) => void;
}

export interface ImportResult {
  readonly dataset: string;
  readonly shape: Coordinate;
  readonly dtype: SliceDType;
  readonly voxelSize: Coordinate;
  readonly voxelSizeFrom: string;
  readonly chunks: Coordinate;
  readonly slabs: number;
  /** Slabs an interrupted run had already written. */
  readonly resumedSlabs: number;
  /** Bytes of voxel data written by this run (uncompressed). */
  readonly bytes: number;
  /** Seconds spent reading, compressing and writing s0 (this run). */
  readonly writeSeconds: number;
  readonly pyramidLevels: number;
  readonly pyramidSeconds: number;
  readonly seconds: number;
}

function checkChunks(chunks: Coordinate): void {
  if (!chunks.every((c) => Number.isInteger(c) && c >= 1 && c <= 4096)) {
    throw invalidArgument(`--chunks ${chunks.join(",")}: every value must be a whole number from 1 to 4096`);
  }
}

function checkLevel(compressor: Compressor, level: number | undefined): void {
  if (level === undefined) return;
  const max = compressor === "zstd" ? 22 : compressor === "none" ? 0 : 9;
  if (compressor === "none") throw invalidArgument("--level has no meaning with --compressor none");
  if (!Number.isInteger(level) || level < 1 || level > max) {
    throw invalidArgument(`--level ${level}: ${compressor} levels are whole numbers from 1 to ${max}`);
  }
}

/** The crop as offset/shape in source voxels, checked against the stack. */
function resolveCrop(
  stack: Coordinate,
  offset?: Coordinate,
  shape?: Coordinate,
): { offset: Coordinate; shape: Coordinate } {
  const o = offset ?? uniform(0);
  if (!o.every((v) => Number.isInteger(v) && v >= 0)) {
    throw invalidArgument(`--crop-offset ${o.join(",")}: values are whole numbers of voxels >= 0 (z,y,x)`);
  }
  const s = shape ?? coord(stack[0] - o[0], stack[1] - o[1], stack[2] - o[2]);
  if (!s.every((v) => Number.isInteger(v) && v >= 1)) {
    throw invalidArgument(
      shape
        ? `--crop-shape ${s.join(",")}: values are whole numbers of voxels >= 1 (z,y,x)`
        : `--crop-offset ${o.join(",")} lies outside the stack (shape z,y,x ${stack.join(",")})`,
    );
  }
  if (s.some((v, d) => o[d]! + v > stack[d]!)) {
    throw invalidArgument(
      `--crop-offset ${o.join(",")} with --crop-shape ${s.join(",")} reaches past the stack (shape z,y,x ${stack.join(",")})`,
    );
  }
  return { offset: o, shape: s };
}

/**
 * Creates the parent directory of an output and checks that files can be created there, before any
 * work starts; failures name the output and say what is wrong with its location.
 */
export function prepareOutputLocation(out: string, action: string): void {
  let existing = path.dirname(out);
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  if (fs.existsSync(existing) && !fs.statSync(existing).isDirectory()) {
    throw new OrganelleError(
      "Io",
      `${out}: ${existing} is a file, not a directory (while ${action}); choose another output location`,
    );
  }
  const parent = path.dirname(out);
  try {
    fs.mkdirSync(parent, { recursive: true });
    const probe = path.join(parent, `.organelle-write-test-${process.pid}`);
    fs.writeFileSync(probe, "");
    fs.rmSync(probe);
  } catch (e) {
    throw fromFsError(e, out, action);
  }
}

/** Flips every bit: max - v for unsigned 8- and 16-bit values alike. */
function invertBytes(bytes: Uint8Array): void {
  const head = Math.min(bytes.length, (4 - (bytes.byteOffset & 3)) & 3);
  for (let i = 0; i < head; i++) bytes[i] = ~bytes[i]! & 0xff;
  const words = (bytes.length - head) >> 2;
  const w = new Int32Array(bytes.buffer, bytes.byteOffset + head, words);
  for (let i = 0; i < words; i++) w[i] = ~w[i]!;
  for (let i = head + words * 4; i < bytes.length; i++) bytes[i] = ~bytes[i]! & 0xff;
}

/**
 * Blocks of a slab: runs of chunks along x within one chunk row. Chunks lie in one piece in the slab,
 * so small blocks cost nothing extra; they are kept small (at least 8 per worker) so that at the end
 * of a slab no worker idles long while another finishes a large block.
 */
function slabBlockShape(chunks: Coordinate, shape: Coordinate, workers: number): Coordinate {
  const ny = Math.ceil(shape[1] / chunks[1]);
  const nx = Math.ceil(shape[2] / chunks[2]);
  let k = Math.min(8, nx);
  while (k > 1 && ny * Math.ceil(nx / k) < 8 * workers) k--;
  return coord(chunks[0], chunks[1], chunks[2] * k);
}

/** Imports a stack of slices into `out` (a dataset container, e.g. cell.zarr) as `raw`. */
export async function importStack(src: string, out: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const started = performance.now();
  registerZstdCodec();
  const dataset = path.resolve(out);
  const partial = `${dataset}.partial`;
  const compressor = opts.compressor ?? "zstd";
  const formatVersion = opts.format ?? "0.4";
  const chunkRequest = opts.chunks ?? uniform(DEFAULT_CHUNK);
  checkChunks(chunkRequest);
  checkLevel(compressor, opts.level);
  if (opts.voxelSize) validateVoxelSize(opts.voxelSize, "--voxel-size");
  if (fs.existsSync(dataset) && !opts.overwrite) {
    throw invalidArgument(`${out} already exists; choose another name or pass --overwrite`);
  }
  prepareOutputLocation(dataset, "preparing the output");

  const stack = await SliceStack.open(src, { pattern: opts.pattern });
  try {
    const info = stack.info;
    let voxelSize: Coordinate;
    let voxelSizeFrom: string;
    if (opts.voxelSize) {
      voxelSize = opts.voxelSize;
      voxelSizeFrom = "--voxel-size";
    } else if (info.voxelSize) {
      voxelSize = validateVoxelSize(info.voxelSize.value, `voxel size in ${info.files[0]}`);
      voxelSizeFrom = info.voxelSize.from;
    } else {
      throw invalidArgument(
        `${src}: the images do not record a voxel size organelle trusts; give it with --voxel-size Z,Y,X in nm (e.g. --voxel-size 5,4,4)`,
      );
    }
    const crop = resolveCrop(info.shape, opts.cropOffset, opts.cropShape);
    const shape = crop.shape;
    const chunks = min(chunkRequest, shape);
    const provenance: ImportProvenance = {
      source: info.path,
      sourceKind: info.kind,
      sourceShape: [...info.shape],
      cropOffset: [...crop.offset],
      cropShape: [...crop.shape],
      invert: opts.invert ?? false,
      dtype: info.dtype,
    };
    const pyramid = opts.pyramid ?? true;
    const key = createHash("sha256")
      .update(
        canonicalJson({
          v: 1,
          fingerprint: info.fingerprint,
          provenance,
          voxelSize,
          chunks,
          compressor,
          level: opts.level,
          format: formatVersion,
          pyramid,
        }),
      )
      .digest("hex")
      .slice(0, 24);
    const journalPath = jobJournalPath(partial, `import-${key}`);

    if (fs.existsSync(partial)) {
      if (opts.overwrite) {
        await fs.promises.rm(partial, { recursive: true, force: true });
      } else if (!(await readJournal(journalPath))) {
        throw invalidArgument(
          `${partial} holds an interrupted import of another stack or with other options; remove it or pass --overwrite`,
        );
      }
    }

    const slabs = Math.ceil(shape[0] / chunks[0]);
    const journal = await Journal.open(journalPath, {
      key: `import-${key}`,
      task: "import",
      fn: "import.writeSlab",
      blocks: slabs,
    });
    let volume: Volume | undefined;
    try {
      if (journal.done.size > 0 || journal.finished) {
        volume = await Volume.open(partial, RAW, { allowIncomplete: true });
      } else {
        volume = await Volume.create(partial, RAW, {
          shape,
          dtype: info.dtype,
          voxelSize,
          // World position of the crop in the original stack, so the stack's frame is world origin 0.
          offset: mul(crop.offset, voxelSize),
          chunks,
          compressor,
          level: opts.level,
          format: formatVersion,
          kind: "intensity",
          attrs: { import: provenance },
          overwrite: true,
        });
      }
    } catch (e) {
      await journal.close();
      throw e;
    }

    const workers = opts.pool?.size ?? opts.workers ?? os.availableParallelism();
    const pool = opts.pool ?? new WorkerPool({ workers });
    let writeSeconds = 0;
    let bytes = 0;
    let pyramidLevels = 1;
    let pyramidSeconds = 0;
    try {
      const t0 = performance.now();
      bytes = await writeSlabs(stack, volume, {
        crop,
        chunks,
        slabs,
        journal,
        pool,
        workers,
        invert: provenance.invert,
        format: formatVersion,
        progress: opts.progress,
        signal: opts.signal,
        onSlabAllocated: opts.onSlabAllocated,
      });
      writeSeconds = (performance.now() - t0) / 1000;
      await journal.markFinished();
      const t1 = performance.now();
      if (pyramid) {
        const r = await buildPyramid(partial, RAW, {
          allowIncomplete: true,
          complete: true,
          pool,
          signal: opts.signal,
          progress: opts.progress === null ? false : undefined,
        });
        pyramidLevels = r.levels.length;
      } else {
        await volume.markComplete();
      }
      pyramidSeconds = (performance.now() - t1) / 1000;
    } finally {
      await journal.close();
      if (!opts.pool) await pool.close();
    }

    await fs.promises.rm(journalPath, { force: true });
    await fs.promises.rm(path.join(partial, ".organelle"), { recursive: true, force: true });
    if (fs.existsSync(dataset)) await fs.promises.rm(dataset, { recursive: true, force: true });
    try {
      await fs.promises.rename(partial, dataset);
    } catch (e) {
      throw fromFsError(e, dataset, "moving the finished import into place");
    }
    return {
      dataset,
      shape,
      dtype: info.dtype,
      voxelSize,
      voxelSizeFrom,
      chunks,
      slabs,
      resumedSlabs: journal.done.size,
      bytes,
      writeSeconds,
      pyramidLevels,
      pyramidSeconds,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    stack.close();
  }
}

interface SlabRun {
  crop: { offset: Coordinate; shape: Coordinate };
  chunks: Coordinate;
  slabs: number;
  journal: Journal;
  pool: WorkerPool;
  workers: number;
  invert: boolean;
  format: OmeVersion;
  progress: ProgressSink | null | undefined;
  signal: AbortSignal | undefined;
  onSlabAllocated: ((bytes: number) => void) | undefined;
}

/**
 * Reads slab after slab and hands each to the pool; reading slab k+1 overlaps writing slab k, so
 * at most two slab buffers exist. Returns the bytes of voxel data written.
 */
async function writeSlabs(stack: SliceStack, volume: Volume, r: SlabRun): Promise<number> {
  const [nz, ny, nx] = r.crop.shape;
  const cz = r.chunks[0];
  const bpp = stack.bytesPerPixel;
  const plane = ny * nx;
  const window = { y: r.crop.offset[1], x: r.crop.offset[2], height: ny, width: nx };
  const blockShape = slabBlockShape(r.chunks, r.crop.shape, r.workers);
  const todo: number[] = [];
  for (let s = 0; s < r.slabs; s++) if (!r.journal.done.has(s)) todo.push(s);
  const doneSlices = nz - todo.reduce((n, s) => n + Math.min(cz, nz - s * cz), 0);
  const progress = new Progress({
    label: "import",
    total: nz,
    unit: "slices",
    rateUnit: "MB",
    rateScale: (plane * bpp) / 1e6,
    initial: doneSlices,
    ...(r.progress === undefined ? {} : { sink: r.progress }),
  });
  const layout = slabLayout([r.chunks[0], r.chunks[1], r.chunks[2]], ny, nx);
  const runId = randomUUID();
  // Each buffer: the slab, chunk by chunk, then one slice as read from the file (scattered from there).
  const slabBytes = slabVoxels(layout) * bpp;
  const buffers: { slab: Uint8Array | Uint16Array; bytes: Uint8Array; staging: Uint8Array | Uint16Array }[] =
    [];
  const buffer = (i: number) => {
    if (!buffers[i]) {
      const sab = new SharedArrayBuffer(slabBytes + plane * bpp);
      const slab = bpp === 1 ? new Uint8Array(sab, 0, slabBytes) : new Uint16Array(sab, 0, slabBytes / 2);
      const staging =
        bpp === 1 ? new Uint8Array(sab, slabBytes, plane) : new Uint16Array(sab, slabBytes, plane);
      buffers[i] = { slab, bytes: new Uint8Array(sab), staging };
      r.onSlabAllocated?.(sab.byteLength);
    }
    return buffers[i]!;
  };
  let pending: { slab: number; depth: number; run: Promise<unknown> } | undefined;
  const finish = async () => {
    if (!pending) return;
    const p = pending;
    pending = undefined;
    await p.run;
    await r.journal.append(p.slab);
    progress.tick(p.depth);
  };
  let bytes = 0;
  try {
    for (let i = 0; i < todo.length; i++) {
      r.signal?.throwIfAborted();
      const s = todo[i]!;
      const z0 = s * cz;
      const depth = Math.min(cz, nz - z0);
      const buf = buffer(i % 2);
      const stagingBytes = new Uint8Array(buf.staging.buffer, buf.staging.byteOffset, buf.staging.byteLength);
      for (let z = 0; z < depth; z++) {
        await stack.readSlice(r.crop.offset[0] + z0 + z, buf.staging, window);
        if (r.invert) invertBytes(stagingBytes);
        scatterSlice(buf.bytes, slabBytes, z, layout, bpp);
      }
      // The previous slab must be written before its buffer is read into again (two slabs from now).
      await finish();
      const params: SlabParams = {
        run: runId,
        datasetPath: volume.datasetPath,
        arrayPath: `${volume.arrayPath}/${volume.levels[0]!.path}`,
        format: r.format,
        slab: buf.slab,
        layout,
        z0,
        depth,
      };
      const spec: BlockwiseTaskSpec = {
        name: `import slab ${s + 1}/${r.slabs}`,
        totalWriteRoi: new Roi(coord(z0, 0, 0), coord(depth, ny, nx)),
        blockShape,
        context: uniform(0),
      };
      const call: TaskCall<SlabParams> = { fn: "import.writeSlab", params };
      const run = r.pool.run(spec, call, { progress: false, signal: r.signal });
      run.catch(() => undefined); // awaited in finish(); a rejection before that is not unhandled
      pending = { slab: s, depth, run };
      bytes += depth * plane * bpp;
    }
    await finish();
  } catch (e) {
    // Let a running slab settle before reporting: its buffer may be in use by the workers.
    await pending?.run.catch(() => undefined);
    await r.journal.sync().catch(() => undefined);
    throw e;
  } finally {
    progress.finish();
  }
  return bytes;
}
