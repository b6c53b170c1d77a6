import * as fs from "node:fs";
import * as path from "node:path";
import type { Block, BlockContext } from "../blockwise/types.ts";
import { coord } from "../core/coordinate.ts";
import { fromFsError } from "../core/errors.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import { Volume } from "../store/volume.ts";
import { glbBinary } from "./glb.ts";
import { meshArea, simplifyMesh } from "./marching-cubes.ts";
import { asIdArray } from "./measure-task.ts";
import { smoothMarchingCubes } from "./mesh-smooth.ts";
import { legacyFragment, plyBinary } from "./mesh-writer.ts";

/*
 * `analyze.meshObjects`: meshes of a range of objects (the block's x range in a virtual 1 x 1 x N grid
 * of objects, so that objects run in parallel through the block-wise runner, resumably). Each object
 * is meshed whole from a read of its bounding box + 1 voxel, whatever blocks it spans.
 */

export interface MeshObjectsParams {
  readonly input: ArrayRef;
  readonly ids: Float64Array;
  /** Voxel boxes: begin z, y, x, end z, y, x (exclusive) per object. */
  readonly boxes: Float64Array;
  /** Directory of the neuroglancer fragments and manifests. */
  readonly dir: string;
  readonly plyDir?: string;
  /** Also write `<id>.glb` (binary glTF 2.0) into this directory. */
  readonly glbDir?: string;
  /** Linear RGB 0..1 of the glTF material. */
  readonly color?: readonly [number, number, number];
  /** Organelle name for the glTF node's extras. */
  readonly organelle?: string;
  /** Vertex-clustering cell in nm; 0 = none. */
  readonly simplify: number;
}

async function writeFile(file: string, data: Uint8Array | string) {
  try {
    await fs.promises.writeFile(file, data);
  } catch (e) {
    throw fromFsError(e, file, "writing a mesh");
  }
}

/** Per object: [id, vertices, triangles, area nm^2]. */
export async function meshObjectsBlock(
  block: Block,
  p: MeshObjectsParams,
  ctx: BlockContext,
): Promise<number[]> {
  const vol = await Volume.open(p.input.datasetPath, p.input.arrayPath);
  const first = block.writeRoi.offset[2];
  const last = first + block.writeRoi.shape[2];
  const vs = vol.meta.voxelSize;
  const out: number[] = [];
  for (let k = first; k < last; k++) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const id = p.ids[k]!;
    const b = (d: number) => p.boxes[6 * k + d]!;
    const box = {
      begin: coord(b(0) - 1, b(1) - 1, b(2) - 1),
      shape: coord(b(3) - b(0) + 2, b(4) - b(1) + 2, b(5) - b(2) + 2),
    };
    const data = asIdArray(await vol.readBox(box, { signal: ctx.signal }), vol.describe());
    const origin = coord(
      vol.meta.offset[0] + box.begin[0] * vs[0],
      vol.meta.offset[1] + box.begin[1] * vs[1],
      vol.meta.offset[2] + box.begin[2] * vs[2],
    );
    let mesh = smoothMarchingCubes(data, box.shape, id, vs, origin);
    if (p.simplify > 0) mesh = simplifyMesh(mesh, p.simplify);
    await writeFile(path.join(p.dir, `${id}.frag`), legacyFragment(mesh));
    await writeFile(path.join(p.dir, `${id}:0`), JSON.stringify({ fragments: [`${id}.frag`] }));
    if (p.plyDir) await writeFile(path.join(p.plyDir, `${id}.ply`), plyBinary(mesh, `organelle id ${id}`));
    if (p.glbDir) {
      const glb = glbBinary(
        [
          {
            name: String(id),
            mesh,
            color: p.color ?? [0.8, 0.8, 0.8],
            extras: { id, ...(p.organelle ? { organelle: p.organelle } : {}) },
          },
        ],
        { sceneName: p.organelle ? `${p.organelle} ${id}` : String(id) },
      );
      await writeFile(path.join(p.glbDir, `${id}.glb`), glb);
    }
    out.push(id, mesh.vertices.length / 3, mesh.triangles.length / 3, meshArea(mesh));
  }
  return out;
}
