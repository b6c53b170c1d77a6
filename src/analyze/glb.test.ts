import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { MeshStandardMaterial, Mesh as ThreeMesh } from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
import { afterAll, describe, expect, it } from "vitest";
import { coord, uniform } from "../core/coordinate.ts";
import { glbBinary, linearColor, vertexNormals } from "./glb.ts";
import type { Mesh } from "./marching-cubes.ts";
import { smoothMarchingCubes } from "./mesh-smooth.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-glb-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Parsed {
  json: {
    asset: { version: string };
    scenes: { nodes: number[] }[];
    nodes: { name: string; mesh?: number; extras?: Record<string, unknown> }[];
    meshes?: {
      primitives: { attributes: Record<string, number>; indices: number; material: number; mode: number }[];
    }[];
    materials?: { pbrMetallicRoughness: { baseColorFactor: number[] } }[];
    accessors?: {
      bufferView: number;
      componentType: number;
      count: number;
      type: string;
      min?: number[];
      max?: number[];
    }[];
    bufferViews?: { buffer: number; byteOffset: number; byteLength: number; target: number }[];
    buffers?: { byteLength: number }[];
  };
  bin: Buffer;
  jsonPadding: Buffer;
}

/** A GLB reader written from the specification's chunk layout, independent of glb.ts. */
function parseGlb(buf: Buffer): Parsed {
  expect(buf.readUInt32LE(0)).toBe(0x46546c67);
  expect(buf.readUInt32LE(4)).toBe(2);
  expect(buf.readUInt32LE(8)).toBe(buf.length);
  const jlen = buf.readUInt32LE(12);
  expect(buf.readUInt32LE(16)).toBe(0x4e4f534a);
  expect(jlen % 4).toBe(0);
  const text = buf.subarray(20, 20 + jlen).toString("utf8");
  const json = JSON.parse(text);
  const trimmed = text.trimEnd();
  let bin: Buffer = Buffer.alloc(0);
  const at = 20 + jlen;
  if (at < buf.length) {
    const blen = buf.readUInt32LE(at);
    expect(buf.readUInt32LE(at + 4)).toBe(0x004e4942);
    expect(blen % 4).toBe(0);
    expect(at + 8 + blen).toBe(buf.length);
    bin = buf.subarray(at + 8, at + 8 + blen);
  }
  return { json, bin, jsonPadding: Buffer.from(text.slice(trimmed.length)) };
}

function accessorData(p: Parsed, i: number): Float32Array | Uint32Array {
  const a = p.json.accessors![i]!;
  const v = p.json.bufferViews![a.bufferView]!;
  const n = a.count * (a.type === "VEC3" ? 3 : 1);
  expect(v.byteOffset % 4).toBe(0);
  expect(n * 4).toBeLessThanOrEqual(v.byteLength);
  const out = a.componentType === 5126 ? new Float32Array(n) : new Uint32Array(n);
  for (let k = 0; k < n; k++)
    out[k] =
      a.componentType === 5126
        ? p.bin.readFloatLE(v.byteOffset + 4 * k)
        : p.bin.readUInt32LE(v.byteOffset + 4 * k);
  return out;
}

function sphereMesh(r: number, vs: number, origin = coord(0, 0, 0)): Mesh {
  const n = 2 * r + 4;
  const data = new Uint32Array(n * n * n);
  const c = n / 2;
  for (let z = 0; z < n; z++)
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++)
        if ((z + 0.5 - c) ** 2 + (y + 0.5 - c) ** 2 + (x + 0.5 - c) ** 2 <= r * r)
          data[(z * n + y) * n + x] = 3;
  return smoothMarchingCubes(data, uniform(n), 3, uniform(vs), origin);
}

describe("binary glTF", () => {
  it("writes a sphere as a valid GLB: header, padded chunks, min/max of POSITION, unit outward normals, uint32 indices", () => {
    const mesh = sphereMesh(6, 4, coord(100, 200, 300));
    const color = linearColor("#ff3c3c");
    const bytes = Buffer.from(glbBinary([{ name: "3", mesh, color, extras: { id: 3 } }]));
    const p = parseGlb(bytes);
    expect(p.json.asset.version).toBe("2.0");
    expect(/^ *$/.test(p.jsonPadding.toString())).toBe(true);
    expect(p.json.nodes).toEqual([{ name: "3", mesh: 0, extras: { id: 3 } }]);
    expect(p.json.scenes[0]!.nodes).toEqual([0]);
    const prim = p.json.meshes![0]!.primitives[0]!;
    expect(prim.mode).toBe(4);
    expect(p.json.materials![prim.material]!.pbrMetallicRoughness.baseColorFactor).toEqual([...color, 1]);
    const pos = accessorData(p, prim.attributes.POSITION!) as Float32Array;
    const nrm = accessorData(p, prim.attributes.NORMAL!) as Float32Array;
    const idx = accessorData(p, prim.indices) as Uint32Array;
    expect(Array.from(pos)).toEqual(Array.from(mesh.vertices));
    expect(Array.from(idx)).toEqual(Array.from(mesh.triangles));
    const acc = p.json.accessors![prim.attributes.POSITION!]!;
    expect(acc.count).toBe(mesh.vertices.length / 3);
    expect(p.json.accessors![prim.indices]!.componentType).toBe(5125);
    expect(p.json.bufferViews![p.json.accessors![prim.indices]!.bufferView]!.target).toBe(34963);
    for (let d = 0; d < 3; d++) {
      const axis = pos.filter((_, i) => i % 3 === d);
      expect(acc.min![d]).toBe(Math.min(...axis));
      expect(acc.max![d]).toBe(Math.max(...axis));
    }
    // Sphere centre in x, y, z nm: origin + n/2 voxels.
    const centre = [300 + 8 * 4, 200 + 8 * 4, 100 + 8 * 4];
    for (let i = 0; i < nrm.length; i += 3) {
      expect(Math.hypot(nrm[i]!, nrm[i + 1]!, nrm[i + 2]!)).toBeCloseTo(1, 5);
      const out = [0, 1, 2].map((d) => pos[i + d]! - centre[d]!);
      const dot = out[0]! * nrm[i]! + out[1]! * nrm[i + 1]! + out[2]! * nrm[i + 2]!;
      expect(dot / Math.hypot(...out)).toBeGreaterThan(0.8);
    }
    expect(p.json.buffers![0]!.byteLength).toBe(mesh.vertices.byteLength * 2 + mesh.triangles.byteLength);
  });

  it("pads the BIN chunk with zeros, shares one material per colour, and keeps empty meshes as bare nodes", () => {
    // One triangle: 36 + 36 + 12 bytes; the JSON length varies with the name, so padding is exercised.
    const tri: Mesh = {
      vertices: Float32Array.of(0, 0, 0, 1, 0, 0, 0, 1, 0),
      triangles: Uint32Array.of(0, 1, 2),
    };
    const empty: Mesh = { vertices: new Float32Array(0), triangles: new Uint32Array(0) };
    const bytes = Buffer.from(
      glbBinary([
        { name: "1", mesh: tri, color: [1, 0, 0] },
        { name: "2", mesh: empty, color: [1, 0, 0] },
        { name: "3", mesh: tri, color: [1, 0, 0] },
        { name: "4x", mesh: tri, color: [0, 0, 1] },
      ]),
    );
    const p = parseGlb(bytes);
    expect(p.json.nodes.map((n) => n.mesh)).toEqual([0, undefined, 1, 2]);
    expect(p.json.materials).toHaveLength(2);
    expect(vertexNormals(tri)[2]).toBe(1);
    expect(p.json.buffers![0]!.byteLength).toBe(3 * 84);
    expect(p.bin.length).toBe(3 * 84);
    const onlyEmpty = parseGlb(Buffer.from(glbBinary([{ name: "9", mesh: empty, color: [1, 1, 1] }])));
    expect(onlyEmpty.bin.length).toBe(0);
    expect(onlyEmpty.json.nodes).toEqual([{ name: "9" }]);
    expect(() =>
      glbBinary([
        {
          name: "bad",
          mesh: { vertices: tri.vertices, triangles: Uint32Array.of(0, 1, 5) },
          color: [1, 1, 1],
        },
      ]),
    ).toThrow(/indexes vertex 5 of 3/);
  });

  it("loads in three.js (GLTFLoader): one mesh per node named by id, with normals, indices and the material colour", async () => {
    const a = sphereMesh(4, 10);
    const b = sphereMesh(6, 10, coord(0, 0, 500));
    const bytes = glbBinary([
      { name: "4", mesh: a, color: [1, 0, 0] },
      { name: "9", mesh: b, color: [0, 0, 1] },
    ]);
    const gltf = await new GLTFLoader().parseAsync(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      "",
    );
    const meshes: ThreeMesh[] = [];
    gltf.scene.traverse((o) => {
      if ((o as ThreeMesh).isMesh) meshes.push(o as ThreeMesh);
    });
    expect(meshes.map((m) => m.name)).toEqual(["4", "9"]);
    for (const [m, src, rgb] of [
      [meshes[0]!, a, [1, 0, 0]],
      [meshes[1]!, b, [0, 0, 1]],
    ] as const) {
      expect(m.geometry.attributes.position!.count).toBe(src.vertices.length / 3);
      expect(m.geometry.attributes.normal!.count).toBe(src.vertices.length / 3);
      expect(m.geometry.index!.count).toBe(src.triangles.length);
      expect((m.material as MeshStandardMaterial).color.toArray()).toEqual(rgb);
    }
    meshes[1]!.geometry.computeBoundingBox();
    expect(meshes[1]!.geometry.boundingBox!.min.x).toBeGreaterThan(500);
  });

  it("passes the independent Python checker (scripts/check_glb.py)", () => {
    if (!fs.existsSync("/usr/bin/python3")) return;
    const file = path.join(dir, "sphere.glb");
    const mesh = sphereMesh(5, 10);
    fs.writeFileSync(file, glbBinary([{ name: "3", mesh, color: [0.5, 0.5, 0.5] }]));
    const r = spawnSync("/usr/bin/python3", [path.resolve("scripts/check_glb.py"), file], {
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.nodes[0].name).toBe("3");
    expect(out.nodes[0].vertices).toBe(mesh.vertices.length / 3);
    expect(out.nodes[0].triangles).toBe(mesh.triangles.length / 3);
    // A corrupted file is refused.
    const bad = Buffer.from(fs.readFileSync(file));
    bad.writeUInt32LE(bad.length + 4, 8);
    fs.writeFileSync(file, bad);
    const r2 = spawnSync("/usr/bin/python3", [path.resolve("scripts/check_glb.py"), file], {
      encoding: "utf8",
    });
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/header length/);
  });
});
