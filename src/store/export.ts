import * as fs from "node:fs";
import * as path from "node:path";
import { Progress, type ProgressSink } from "../blockwise/progress.ts";
import { type Coordinate, coord, equals } from "../core/coordinate.ts";
import { fromFsError, invalidArgument, unsupported } from "../core/errors.ts";
import type { VoxelBox } from "../core/roi.ts";
import { bytesPerElement } from "./dtype.ts";
import { type ImportProvenance, importProvenance, prepareOutputLocation, RAW } from "./import.ts";
import { type TiffDType, type TiffLayout, type TiffPixels, TiffWriter } from "./tiff-write.ts";
import { Volume } from "./volume.ts";
import { registerZstdCodec } from "./zstd-codec.ts";

/*
 * `organelle export`: an array of a dataset -> TIFF, one file per slice or one multi-page file, streamed
 * z-slab by z-slab. With un-crop (default for arrays imported with a crop) the output has the frame of
 * the original stack: the array is placed where the crop came from and everything else is zero.
 * Output goes to OUT.partial and is renamed to OUT when complete.
 */

export type ExportLayout = "slices" | "multipage";

export interface ExportOptions {
  /** Array in the dataset (default raw). */
  array?: string;
  /** Default: multipage when OUT ends in .tif/.tiff, else a directory of slices. */
  layout?: ExportLayout;
  /** Put the data back into the frame of the imported stack (default: when it was imported with a crop). */
  uncrop?: boolean;
  /** Write max - value. */
  invert?: boolean;
  overwrite?: boolean;
  /** Slices per read (default: the array's chunk depth). */
  slab?: number;
  progress?: ProgressSink | null;
  signal?: AbortSignal;
}

export interface ExportResult {
  readonly out: string;
  readonly layout: ExportLayout;
  /** Shape of the exported stack, z,y,x. */
  readonly shape: Coordinate;
  readonly dtype: TiffDType;
  readonly uncropped: boolean;
  readonly files: number;
  readonly bytes: number;
  readonly bigTiff: boolean;
  readonly seconds: number;
}

function tiffDType(d: string, where: string): TiffDType {
  if (d === "uint8" || d === "uint16" || d === "uint32" || d === "int32" || d === "float32") return d;
  throw unsupported(
    `${where} is ${d}; TIFF export writes uint8, uint16, uint32, int32 or float32 arrays (relabel ${d} ids to uint32 first)`,
  );
}

/** The voxel box of `vol` covering the original stack's frame (from the import record of raw). */
async function uncropBox(
  dataset: string,
  vol: Volume,
  where: string,
): Promise<{ box: VoxelBox; provenance: ImportProvenance }> {
  const raw = vol.arrayPath === RAW ? vol : await Volume.open(dataset, RAW);
  const provenance = importProvenance(raw.attrs);
  if (!provenance) {
    throw invalidArgument(
      `${path.join(dataset, RAW)} has no import record (not imported by organelle import); export without --uncrop`,
    );
  }
  if (!equals(vol.meta.voxelSize, raw.meta.voxelSize)) {
    throw invalidArgument(
      `${where} has voxel size ${vol.meta.voxelSize.join(",")} nm but the imported stack has ${raw.meta.voxelSize.join(",")}; un-crop needs the same voxel size (export without --uncrop)`,
    );
  }
  const vs = raw.meta.voxelSize;
  const begin = [0, 1, 2].map((d) => {
    const frameOrigin = raw.meta.offset[d]! - provenance.cropOffset[d]! * vs[d]!;
    const v = (frameOrigin - vol.meta.offset[d]!) / vs[d]!;
    if (Math.abs(v - Math.round(v)) > 1e-6) {
      throw invalidArgument(
        `${where} is not on the voxel grid of the imported stack; export without --uncrop`,
      );
    }
    return Math.round(v);
  });
  const s = provenance.sourceShape;
  return {
    box: { begin: coord(begin[0]!, begin[1]!, begin[2]!), shape: coord(s[0], s[1], s[2]) },
    provenance,
  };
}

function assertFree(out: string, overwrite: boolean | undefined): void {
  if (fs.existsSync(out) && !overwrite) {
    throw invalidArgument(`${out} already exists; choose another name or pass --overwrite`);
  }
}

function invertInPlace(a: TiffPixels, dtype: TiffDType): void {
  if (dtype === "float32") throw invalidArgument("--invert applies to integer arrays, not float32");
  const max = dtype === "uint8" ? 0xff : dtype === "uint16" ? 0xffff : dtype === "uint32" ? 0xffffffff : -1;
  if (dtype === "int32") {
    for (let i = 0; i < a.length; i++) a[i] = ~a[i]!;
    return;
  }
  for (let i = 0; i < a.length; i++) a[i] = max - a[i]!;
}

/** Exports `array` of `dataset` to TIFF at `out`. */
export async function exportTiff(
  dataset: string,
  out: string,
  opts: ExportOptions = {},
): Promise<ExportResult> {
  const started = performance.now();
  registerZstdCodec();
  const arrayPath = opts.array ?? RAW;
  const vol = await Volume.open(dataset, arrayPath);
  const where = path.join(dataset, arrayPath);
  const dtype = tiffDType(vol.meta.dtype, where);
  const target = path.resolve(out);
  const layout: ExportLayout = opts.layout ?? (/\.tiff?$/i.test(out) ? "multipage" : "slices");
  assertFree(target, opts.overwrite);
  prepareOutputLocation(target, "preparing the output");

  const raw = arrayPath === RAW ? vol : await Volume.open(dataset, RAW).catch(() => undefined);
  const record = raw ? importProvenance(raw.attrs) : undefined;
  const cropped = record !== undefined && !record.cropShape.every((v, d) => v === record.sourceShape[d]);
  const uncrop = opts.uncrop ?? cropped;
  const box: VoxelBox = uncrop
    ? (await uncropBox(dataset, vol, where)).box
    : { begin: coord(0, 0, 0), shape: vol.meta.shape };
  const [nz, ny, nx] = box.shape;
  const vs = vol.meta.voxelSize;
  const metadata = (shape: number[]) =>
    JSON.stringify({
      shape,
      organelle: {
        array: arrayPath,
        voxel_size_nm: [...vs],
        origin_nm: [0, 1, 2].map((d) => vol.meta.offset[d]! + box.begin[d]! * vs[d]!),
        uncropped: uncrop,
      },
    });
  const page = (pages: number, description: string): TiffLayout => ({
    width: nx,
    height: ny,
    dtype,
    pages,
    description,
    pixelsPerCm: { x: 1e7 / vs[2], y: 1e7 / vs[1] },
  });

  const tmp = `${target}.partial`;
  await fs.promises.rm(tmp, { recursive: true, force: true });
  try {
    if (layout === "slices") fs.mkdirSync(tmp);
  } catch (e) {
    throw fromFsError(e, out, "creating the output");
  }
  const digits = Math.max(4, String(nz - 1).length);
  const prefix = `${path.basename(arrayPath)}_`;
  const progress = new Progress({
    label: "export",
    total: nz,
    unit: "slices",
    rateUnit: "MB",
    rateScale: (ny * nx * bytesPerElement(vol.meta.dtype)) / 1e6,
    ...(opts.progress === undefined ? {} : { sink: opts.progress }),
  });
  const multipage =
    layout === "multipage" ? TiffWriter.create(tmp, page(nz, metadata([nz, ny, nx]))) : undefined;
  let bigTiff = multipage?.bigTiff ?? false;
  let bytes = 0;
  try {
    const depth = opts.slab ?? vol.meta.chunks[0];
    for (let z0 = 0; z0 < nz; z0 += depth) {
      opts.signal?.throwIfAborted();
      const dz = Math.min(depth, nz - z0);
      const data = (await vol.readBox(
        { begin: coord(box.begin[0] + z0, box.begin[1], box.begin[2]), shape: coord(dz, ny, nx) },
        { signal: opts.signal },
      )) as TiffPixels;
      if (opts.invert) invertInPlace(data, dtype);
      for (let z = 0; z < dz; z++) {
        const plane = data.subarray(z * ny * nx, (z + 1) * ny * nx) as TiffPixels;
        if (multipage) {
          multipage.writePage(plane);
        } else {
          const name = `${prefix}${String(z0 + z).padStart(digits, "0")}.tif`;
          const w = TiffWriter.create(path.join(tmp, name), page(1, metadata([ny, nx])));
          bigTiff ||= w.bigTiff;
          try {
            w.writePage(plane);
            w.close();
          } catch (e) {
            w.abort();
            throw e;
          }
        }
        bytes += plane.byteLength;
      }
      progress.tick(dz);
    }
    multipage?.close();
  } catch (e) {
    multipage?.abort();
    await fs.promises.rm(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    progress.finish();
  }
  if (fs.existsSync(target)) await fs.promises.rm(target, { recursive: true, force: true });
  try {
    await fs.promises.rename(tmp, target);
  } catch (e) {
    throw fromFsError(e, out, "moving the finished export into place");
  }
  return {
    out: target,
    layout,
    shape: box.shape,
    dtype,
    uncropped: uncrop,
    files: layout === "multipage" ? 1 : nz,
    bytes,
    bigTiff,
    seconds: (performance.now() - started) / 1000,
  };
}
