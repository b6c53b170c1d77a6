import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { WorkerPool } from "../blockwise/worker-pool.ts";
import { coord, uniform } from "../core/coordinate.ts";
import { Volume } from "../store/volume.ts";
import { type Mesh, meshArea } from "./marching-cubes.ts";
import { runMeasure } from "./measure.ts";
import { runMesh } from "./mesh.ts";
import { smoothMarchingCubes } from "./mesh-smooth.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-mesh-"));
const pool = new WorkerPool({ workers: 2 });
afterAll(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A reader written from neuroglancer's description, independent of mesh-writer.ts. */
function readFragment(buf: Buffer): Mesh {
  const nv = buf.readUInt32LE(0);
  const vertices = new Float32Array(nv * 3);
  for (let i = 0; i < nv * 3; i++) vertices[i] = buf.readFloatLE(4 + 4 * i);
  const start = 4 + 12 * nv;
  const triangles = new Uint32Array((buf.length - start) / 4);
  for (let i = 0; i < triangles.length; i++) triangles[i] = buf.readUInt32LE(start + 4 * i);
  return { vertices, triangles };
}

/** Every undirected edge in exactly two triangles, once in each direction (consistent orientation). */
function watertight(m: Mesh): boolean {
  const directed = new Map<string, number>();
  const t = m.triangles;
  for (let i = 0; i < t.length; i += 3) {
    for (let k = 0; k < 3; k++) {
      const key = `${t[i + k]},${t[i + ((k + 1) % 3)]}`;
      directed.set(key, (directed.get(key) ?? 0) + 1);
    }
  }
  for (const [key, n] of directed) {
    const [a, b] = key.split(",");
    if (n !== 1 || directed.get(`${b},${a}`) !== 1) return false;
  }
  return directed.size > 0;
}

const VS = 5;
const SHAPE = coord(48, 48, 64);
const CENTRE = coord(24, 24, 22); // voxels
const R = 20; // voxels: 100 nm

describe("organelle mesh", () => {
  it("writes neuroglancer legacy meshes and PLY files: a sphere's mesh parses back watertight, in nm, with its analytic area", async () => {
    const data = new Uint32Array(SHAPE[0] * SHAPE[1] * SHAPE[2]);
    for (let z = 0; z < SHAPE[0]; z++)
      for (let y = 0; y < SHAPE[1]; y++)
        for (let x = 0; x < SHAPE[2]; x++) {
          const i = (z * SHAPE[1] + y) * SHAPE[2] + x;
          if ((z + 0.5 - CENTRE[0]) ** 2 + (y + 0.5 - CENTRE[1]) ** 2 + (x + 0.5 - CENTRE[2]) ** 2 <= R * R)
            data[i] = 7;
          else if (x >= 52 && x < 60 && y >= 4 && y < 44 && z >= 10 && z < 14) data[i] = 9; // a plate
        }
    const ds = path.join(dir, "cell.zarr");
    const offset = coord(100, 0, 50);
    const v = await Volume.create(ds, "segmentations/mito", {
      shape: SHAPE,
      dtype: "uint32",
      voxelSize: uniform(VS),
      offset,
      chunks: uniform(16),
      kind: "label",
    });
    await v.writeBox({ begin: uniform(0), shape: SHAPE }, data);
    await v.markComplete();
    // Bounding boxes from a block-wise measure: objects span many 16^3 blocks, and are meshed whole.
    await runMeasure(ds, "segmentations/mito", { blockVoxels: 16, progress: null, cellMask: null });
    const ply = path.join(dir, "ply");
    const r = await runMesh(ds, "segmentations/mito", { ply, pool, progress: null, objectsPerBlock: 1 });
    expect(r.measured).toBe(false);
    expect(r.meshes.map((m) => m.id)).toEqual([7, 9]);

    const meshDir = path.join(ds, "meshes", "mito");
    expect(JSON.parse(fs.readFileSync(path.join(meshDir, "info"), "utf8"))).toEqual({
      "@type": "neuroglancer_legacy_mesh",
      segment_properties: "segment_properties",
    });
    expect(JSON.parse(fs.readFileSync(path.join(meshDir, "7:0"), "utf8"))).toEqual({ fragments: ["7.frag"] });
    const props = JSON.parse(fs.readFileSync(path.join(meshDir, "segment_properties", "info"), "utf8"));
    expect(props["@type"]).toBe("neuroglancer_segment_properties");
    expect(props.inline.ids).toEqual(["7", "9"]);
    expect(props.inline.properties.map((p: { id: string }) => p.id)).toEqual([
      "label",
      "volume_nm3",
      "surface_area_nm2",
    ]);
    expect(props.inline.properties[1].values[1]).toBe(8 * 40 * 4 * 125);

    const mesh = readFragment(fs.readFileSync(path.join(meshDir, "7.frag")));
    const analytic = 4 * Math.PI * (R * VS) ** 2;
    expect(Math.abs(meshArea(mesh) / analytic - 1)).toBeLessThan(0.05);
    expect(watertight(mesh)).toBe(true);
    // Vertices in nm, x, y, z order: on the sphere around its centre (offset + centre * voxel size).
    const c = [offset[2] + CENTRE[2] * VS, offset[1] + CENTRE[1] * VS, offset[0] + CENTRE[0] * VS];
    for (let i = 0; i < mesh.vertices.length; i += 3) {
      const d = Math.hypot(
        mesh.vertices[i]! - c[0]!,
        mesh.vertices[i + 1]! - c[1]!,
        mesh.vertices[i + 2]! - c[2]!,
      );
      expect(Math.abs(d - R * VS)).toBeLessThan(1.5 * VS);
    }
    // The same mesh as from the whole volume (translated by the bounding box's origin only).
    const whole = smoothMarchingCubes(data, SHAPE, 7, uniform(VS), offset);
    expect(mesh.triangles.length).toBe(whole.triangles.length);
    expect(meshArea(mesh)).toBeCloseTo(meshArea(whole), 0);
    expect(watertight(readFragment(fs.readFileSync(path.join(meshDir, "9.frag"))))).toBe(true);

    const plyBytes = fs.readFileSync(path.join(ply, "7.ply"));
    const end = plyBytes.indexOf("end_header\n") + "end_header\n".length;
    const header = plyBytes.subarray(0, end).toString("latin1").split("\n");
    const nv = mesh.vertices.length / 3;
    const nf = mesh.triangles.length / 3;
    expect(header[0]).toBe("ply");
    expect(header[1]).toBe("format binary_little_endian 1.0");
    expect(header).toContain(`element vertex ${nv}`);
    expect(header).toContain(`element face ${nf}`);
    expect(header).toContain("property list uchar uint vertex_indices");
    expect(plyBytes.length - end).toBe(nv * 12 + nf * 13);
    expect(plyBytes.readFloatLE(end)).toBe(mesh.vertices[0]);
    expect(plyBytes[end + nv * 12]).toBe(3);
    expect(plyBytes.readUInt32LE(end + nv * 12 + 1)).toBe(mesh.triangles[0]);

    // Simplified meshes keep the area within a few per cent.
    const s = await runMesh(ds, "segmentations/mito", {
      simplify: 10,
      pool,
      progress: null,
      output: "meshes/mito-s",
    });
    const simple = readFragment(fs.readFileSync(path.join(ds, "meshes", "mito-s", "7.frag")));
    expect(simple.triangles.length).toBeLessThan(mesh.triangles.length / 2);
    expect(Math.abs(meshArea(simple) / analytic - 1)).toBeLessThan(0.05);
    expect(s.meshes[0]!.triangles).toBe(simple.triangles.length / 3);

    // glTF: one .glb per id and a scene with a node per id, the same meshes as the fragments.
    const glb = path.join(dir, "glb");
    const scene = path.join(dir, "scene", "mito.glb");
    const g = await runMesh(ds, "segmentations/mito", {
      glb,
      glbScene: scene,
      pool,
      progress: null,
      output: "meshes/mito-g",
    });
    expect(g.glbDir).toBe(glb);
    expect(fs.readdirSync(glb).sort()).toEqual(["7.glb", "9.glb"]);
    const bytes = fs.readFileSync(path.join(glb, "7.glb"));
    expect(bytes.toString("latin1", 0, 4)).toBe("glTF");
    const jlen = bytes.readUInt32LE(12);
    const json = JSON.parse(bytes.toString("utf8", 20, 20 + jlen));
    expect(json.nodes).toEqual([{ name: "7", mesh: 0, extras: { id: 7, organelle: "mito" } }]);
    expect(json.accessors[0].count).toBe(mesh.vertices.length / 3);
    expect(json.accessors[2].count).toBe(mesh.triangles.length);
    const binAt = 20 + jlen + 8;
    expect(bytes.readFloatLE(binAt)).toBe(mesh.vertices[0]);
    if (fs.existsSync("/usr/bin/python3")) {
      const r = spawnSync("/usr/bin/python3", [path.resolve("scripts/check_glb.py"), scene], {
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(0);
      const nodes = JSON.parse(r.stdout).nodes;
      expect(nodes.map((n: { name: string }) => n.name)).toEqual(["7", "9"]);
      expect(nodes[0].triangles).toBe(mesh.triangles.length / 3);
      // x of the plate (id 9): voxels 52..60 at 5 nm from offset 50, within the smoothed surface.
      expect(nodes[1].min[0]).toBeGreaterThan(50 + 52 * 5 - 5);
      expect(nodes[1].max[0]).toBeLessThan(50 + 60 * 5 + 5);
    }
  }, 60_000);
});
