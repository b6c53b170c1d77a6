import * as fs from "node:fs";
import * as path from "node:path";
import type { ProgressSink, WorkerPool } from "../blockwise/index.ts";
import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { organelleColor } from "../catalog/dataset-summary.ts";
import { coord } from "../core/coordinate.ts";
import { fromFsError, invalidArgument, invalidData } from "../core/errors.ts";
import { Roi } from "../core/roi.ts";
import { cleanupJob, renameDir, runKey, runPhase, withJob } from "../preprocess/jobs.ts";
import { Volume } from "../store/volume.ts";
import { type GlbObject, glbBinary, linearColor } from "./glb.ts";
import { runMeasure, writeFileAtomic } from "./measure.ts";
import type { MeshObjectsParams } from "./mesh-task.ts";
import { LEGACY_MESH_INFO, parseLegacyFragment, segmentPropertiesInfo } from "./mesh-writer.ts";
import { recordCsvTable } from "./results.ts";

/*
 * `organelle mesh DATASET ARRAY`: one mesh per instance (mesh-smooth.ts, optionally simplified) as
 * neuroglancer precomputed legacy meshes in `<dataset>/meshes/<array name>/` with inline segment
 * properties (label, volume and surface area from the measure table), and optionally binary PLY
 * files and binary glTF (.glb) per instance and as one scene per class (one node per instance named by
 * its id, the organelle's colour). Objects are meshed whole from their bounding boxes, which come from `organelle measure`'s
 * table (`tables/<name>.csv`, computed first when missing or with `remeasure`), in parallel on the
 * worker threads. The output directory is written under a temporary name and renamed when complete.
 */

export interface MeshOptions {
  /** Also write `<id>.ply` into this directory. */
  ply?: string;
  /** Also write `<id>.glb` into this directory. */
  glb?: string;
  /** Also write all objects as one glTF scene (one node per id) to this .glb file. */
  glbScene?: string;
  /** Material colour of the glTF output, "#rrggbb" (default: the organelle's colour in the catalogue and viewer). */
  color?: string;
  /** Vertex-clustering cell in nm (0 = none; default 0). */
  simplify?: number;
  /** Measure table relative to the dataset (default tables/<name>.csv). */
  table?: string;
  /** Measure again even when the table exists. */
  remeasure?: boolean;
  /** Output directory relative to the dataset (default meshes/<name>). */
  output?: string;
  objectsPerBlock?: number;
  workers?: number;
  pool?: WorkerPool;
  progress?: ProgressSink | null;
  signal?: AbortSignal;
}

export interface MeshSummary {
  readonly id: number;
  readonly vertices: number;
  readonly triangles: number;
  /** nm^2 of the written mesh */
  readonly area: number;
}

export interface MeshResult {
  readonly dir: string;
  readonly plyDir: string | undefined;
  readonly glbDir: string | undefined;
  readonly glbScene: string | undefined;
  readonly meshes: MeshSummary[];
  readonly measured: boolean;
  readonly seconds: number;
}

interface TableObject {
  id: number;
  volume: number;
  area: number | undefined;
  min: [number, number, number];
  max: [number, number, number];
}

/** Reads the id, volume, surface area and bounding box columns of a measure table. */
export function readMeasureTable(file: string, text: string): TableObject[] {
  const lines = text.trim().split("\n");
  const head = (lines[0] ?? "").split(",");
  const col = (name: string, required = true) => {
    const i = head.indexOf(name);
    if (i < 0 && required)
      throw invalidData(`${file}: no '${name}' column; write the table with organelle measure`);
    return i;
  };
  const id = col("Object ID");
  const vol = col("Volume (nm^3)");
  const area = col("Surface Area (nm^2)", false);
  const mins = ["MIN Z (nm)", "MIN Y (nm)", "MIN X (nm)"].map((c) => col(c));
  const maxs = ["MAX Z (nm)", "MAX Y (nm)", "MAX X (nm)"].map((c) => col(c));
  return lines.slice(1).map((line, k) => {
    const v = line.split(",").map(Number);
    if (v.some((x) => !Number.isFinite(x))) throw invalidData(`${file} line ${k + 2}: not a number`);
    return {
      id: v[id]!,
      volume: v[vol]!,
      area: area >= 0 ? v[area] : undefined,
      min: mins.map((i) => v[i]!) as [number, number, number],
      max: maxs.map((i) => v[i]!) as [number, number, number],
    };
  });
}

/** A measure table's objects with their ids and voxel bounding boxes in `vol` (z0,y0,x0,z1,y1,x1 per object). */
export interface ObjectBoxes {
  objects: TableObject[];
  ids: Float64Array;
  boxes: Float64Array;
}

/**
 * Reads the measure table at `tablePath` and turns each object's nm bounding box into a voxel box of `vol`;
 * a box outside the array means the table was measured on another array.
 */
export async function readObjectBoxes(tablePath: string, vol: Volume): Promise<ObjectBoxes> {
  let text: string;
  try {
    text = await fs.promises.readFile(tablePath, "utf8");
  } catch (e) {
    throw fromFsError(e, tablePath, "reading the measure table");
  }
  const objects = readMeasureTable(tablePath, text);
  const { offset, voxelSize: vs, shape } = vol.meta;
  const ids = new Float64Array(objects.length);
  const boxes = new Float64Array(objects.length * 6);
  objects.forEach((o, k) => {
    ids[k] = o.id;
    for (let d = 0; d < 3; d++) {
      const b = Math.round((o.min[d]! - offset[d]!) / vs[d]!);
      const e = Math.round((o.max[d]! - offset[d]!) / vs[d]!);
      if (!(b >= 0 && e <= shape[d]! && e > b)) {
        throw invalidData(
          `${tablePath}: the bounding box of id ${o.id} lies outside ${vol.describe()}; the table belongs to another array — run with --remeasure`,
        );
      }
      boxes[6 * k + d] = b;
      boxes[6 * k + 3 + d] = e;
    }
  });
  return { objects, ids, boxes };
}

export async function runMesh(
  datasetPath: string,
  arrayPath: string,
  opts: MeshOptions = {},
): Promise<MeshResult> {
  const t0 = performance.now();
  const ds = path.resolve(datasetPath);
  const vol = await Volume.open(ds, arrayPath);
  if (!["uint8", "uint16", "uint32", "int32"].includes(vol.meta.dtype)) {
    throw invalidArgument(
      `${vol.describe()} is ${vol.meta.dtype}; mesh reads instance ids (uint8..uint32, int32)`,
    );
  }
  const simplify = opts.simplify ?? 0;
  if (!(simplify >= 0 && Number.isFinite(simplify)))
    throw invalidArgument(`--simplify ${simplify}: expected nm >= 0`);
  const per = opts.objectsPerBlock ?? 16;
  const name = arrayPath.split("/").filter(Boolean).pop() ?? "objects";
  const tableRel = opts.table ?? path.join("tables", `${name}.csv`);
  const tablePath = path.join(ds, tableRel);
  let measured = false;
  if (opts.remeasure || !fs.existsSync(tablePath)) {
    await runMeasure(ds, arrayPath, {
      table: tableRel,
      workers: opts.workers,
      progress: opts.progress,
      signal: opts.signal,
    });
    await recordCsvTable(ds, path.basename(tablePath, ".csv"), tablePath, { array: arrayPath });
    measured = true;
  }
  const { objects, ids, boxes } = await readObjectBoxes(tablePath, vol);
  const key = runKey({
    v: 1,
    verb: "mesh",
    arrayPath,
    simplify,
    ply: opts.ply ?? null,
    glb: opts.glb ?? null,
    color: opts.color ?? null,
    table: tableRel,
    n: objects.length,
  });
  const outRel = opts.output ?? path.join("meshes", name);
  const dir = path.join(ds, outRel);
  const tmp = path.join(path.dirname(dir), `.${path.basename(dir)}.tmp-${key}`);
  const plyDir = opts.ply ? path.resolve(opts.ply) : undefined;
  const plyTmp = plyDir ? path.join(path.dirname(plyDir), `.${path.basename(plyDir)}.tmp-${key}`) : undefined;
  const glbDir = opts.glb ? path.resolve(opts.glb) : undefined;
  const glbTmp = glbDir ? path.join(path.dirname(glbDir), `.${path.basename(glbDir)}.tmp-${key}`) : undefined;
  const glbScene = opts.glbScene ? path.resolve(opts.glbScene) : undefined;
  if (glbScene && !glbScene.endsWith(".glb"))
    throw invalidArgument(`--glb-scene ${opts.glbScene}: expected a file name ending in .glb`);
  if (opts.color !== undefined && !/^#[0-9a-f]{6}$/i.test(opts.color))
    throw invalidArgument(`--color ${opts.color}: expected a colour as #rrggbb, e.g. #ff3300`);
  const color = linearColor(opts.color ?? organelleColor(name));
  try {
    await fs.promises.mkdir(tmp, { recursive: true });
    if (plyTmp) await fs.promises.mkdir(plyTmp, { recursive: true });
    if (glbTmp) await fs.promises.mkdir(glbTmp, { recursive: true });
  } catch (e) {
    throw fromFsError(e, tmp, "creating the mesh directory");
  }
  const meshes = await withJob(ds, key, key, opts, async (job) => {
    const phases: { spec: BlockwiseTaskSpec; call: TaskCall }[] = [];
    const out: MeshSummary[] = [];
    if (objects.length > 0) {
      const spec: BlockwiseTaskSpec = {
        name: `mesh ${arrayPath}`,
        totalWriteRoi: new Roi(coord(0, 0, 0), coord(1, 1, objects.length)),
        blockShape: coord(1, 1, per),
        context: coord(0, 0, 0),
      };
      const call: TaskCall<MeshObjectsParams> = {
        fn: "analyze.meshObjects",
        params: {
          input: { datasetPath: ds, arrayPath },
          ids,
          boxes,
          dir: tmp,
          ...(plyTmp ? { plyDir: plyTmp } : {}),
          ...(glbTmp ? { glbDir: glbTmp, color, organelle: name } : {}),
          simplify,
        },
      };
      const r = await runPhase(job, spec, call);
      phases.push({ spec, call });
      for (const v of r.values.values()) {
        const a = v as number[];
        for (let k = 0; k < a.length; k += 4)
          out.push({ id: a[k]!, vertices: a[k + 1]!, triangles: a[k + 2]!, area: a[k + 3]! });
      }
    }
    out.sort((a, b) => a.id - b.id);
    await writeFileAtomic(path.join(tmp, "info"), JSON.stringify(LEGACY_MESH_INFO));
    const props = segmentPropertiesInfo(
      objects.map((o) => o.id),
      objects.map((o) => `${name} ${o.id}`),
      [
        { id: "volume_nm3", description: "volume (nm^3)", values: objects.map((o) => o.volume) },
        ...(objects.every((o) => o.area !== undefined)
          ? [
              {
                id: "surface_area_nm2",
                description: "surface area (nm^2)",
                values: objects.map((o) => o.area!),
              },
            ]
          : []),
      ],
    );
    await writeFileAtomic(path.join(tmp, "segment_properties", "info"), JSON.stringify(props));
    if (glbScene) {
      // The scene is assembled from the fragments just written (the same meshes, in id order).
      const parts: GlbObject[] = [];
      for (const o of objects) {
        const frag = path.join(tmp, `${o.id}.frag`);
        let bytes: Uint8Array;
        try {
          bytes = await fs.promises.readFile(frag);
        } catch (e) {
          throw fromFsError(e, frag, "reading a mesh for the glTF scene");
        }
        parts.push({
          name: String(o.id),
          mesh: parseLegacyFragment(bytes),
          color,
          extras: {
            id: o.id,
            organelle: name,
            volume_nm3: o.volume,
            ...(o.area !== undefined ? { surface_area_nm2: o.area } : {}),
          },
        });
      }
      await writeBytesAtomic(glbScene, glbBinary(parts, { sceneName: `${name} (${arrayPath})` }));
    }
    await fs.promises.rm(dir, { recursive: true, force: true });
    await renameDir(tmp, dir, "finishing the mesh directory");
    if (plyDir && plyTmp) {
      await fs.promises.rm(plyDir, { recursive: true, force: true });
      await renameDir(plyTmp, plyDir, "finishing the PLY directory");
    }
    if (glbDir && glbTmp) {
      await fs.promises.rm(glbDir, { recursive: true, force: true });
      await renameDir(glbTmp, glbDir, "finishing the glTF directory");
    }
    await cleanupJob(job, phases);
    return out;
  });
  return { dir, plyDir, glbDir, glbScene, meshes, measured, seconds: (performance.now() - t0) / 1000 };
}

async function writeBytesAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    await fs.promises.writeFile(tmp, bytes);
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true }).catch(() => {});
    throw fromFsError(e, file, "writing the glTF scene");
  }
}
