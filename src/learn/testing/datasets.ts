import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type Coordinate, coord } from "../../core/coordinate.ts";
import { Volume } from "../../store/volume.ts";

/** A temporary directory removed by the returned function. */
export function tempDir(prefix = "organelle-learn-"): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export type VoxelFn = (z: number, y: number, x: number) => number;

export interface TinyCell {
  /** raw (uint8) from f(z,y,x) in 0..255 */
  raw: VoxelFn;
  /** labels/mito (uint8 0/1) */
  labels: VoxelFn;
  /** masks/cell; omitted: no mask array */
  mask?: VoxelFn;
  /** labels/mito_exclusion; omitted: none */
  exclusion?: VoxelFn;
  /** ROIs on labels/mito (voxel boxes) */
  rois?: { name: string; role: "training" | "validation"; begin: Coordinate; shape: Coordinate }[];
}

async function writeArray(
  ds: string,
  array: string,
  shape: Coordinate,
  voxelSize: Coordinate,
  kind: "intensity" | "label" | "mask",
  f: VoxelFn,
  attrs?: Record<string, unknown>,
): Promise<void> {
  const v = await Volume.create(ds, array, {
    shape,
    dtype: "uint8",
    voxelSize,
    kind,
    chunks: coord(32, 32, 32),
    ...(attrs ? { attrs } : {}),
  });
  const data = new Uint8Array(shape[0] * shape[1] * shape[2]);
  let k = 0;
  for (let z = 0; z < shape[0]; z++)
    for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[2]; x++) data[k++] = f(z, y, x);
  await v.writeBox({ begin: coord(0, 0, 0), shape }, data);
  await v.markComplete();
}

/** A small cell dataset in the standard layout, written with the real store. */
export async function makeTinyCell(
  ds: string,
  shape: Coordinate,
  cell: TinyCell,
  voxelSize: Coordinate = coord(10, 10, 10),
): Promise<string> {
  await writeArray(ds, "raw", shape, voxelSize, "intensity", cell.raw);
  const rois = (cell.rois ?? []).map((r) => ({
    name: r.name,
    role: r.role,
    offset: r.begin.map((b, d) => b * voxelSize[d]!),
    shape: r.shape.map((s, d) => s * voxelSize[d]!),
  }));
  await writeArray(ds, "labels/mito", shape, voxelSize, "label", cell.labels, { rois });
  if (cell.mask) await writeArray(ds, "masks/cell", shape, voxelSize, "mask", cell.mask);
  if (cell.exclusion) await writeArray(ds, "labels/mito_exclusion", shape, voxelSize, "mask", cell.exclusion);
  return ds;
}
