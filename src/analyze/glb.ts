import { invalidArgument } from "../core/errors.ts";
import type { Mesh } from "./marching-cubes.ts";

/*
 * Binary glTF 2.0 (.glb) for Blender, three.js, model viewers (Khronos glTF 2.0 specification,
 * "GLB File Format Specification"): a 12-byte header (magic "glTF", version 2, total length), a JSON
 * chunk padded with spaces to a multiple of 4 bytes, and a BIN chunk padded with zeros.
 *
 * One glTF mesh per instance with one triangle primitive: POSITION (float32 VEC3, with the min/max the
 * spec requires), NORMAL (unit float32 VEC3: area-weighted vertex normals of the outward, counter-
 * clockwise triangles) and uint32 indices; one node per instance named by its id; one material per
 * colour. Positions stay in nm (x, y, z world coordinates, as the neuroglancer meshes): glTF's unit is
 * the metre, so `asset.extras.unit` says "nm" and viewers frame the objects by their bounds.
 */

export interface GlbObject {
  /** Node name (the instance id). */
  readonly name: string;
  readonly mesh: Mesh;
  /** Linear RGB 0..1. */
  readonly color: readonly [number, number, number];
  /** Stored as the node's extras (e.g. id, organelle, volume). */
  readonly extras?: Record<string, unknown>;
}

const GLB_MAGIC = 0x46546c67; // "glTF"
const CHUNK_JSON = 0x4e4f534a; // "JSON"
const CHUNK_BIN = 0x004e4942; // "BIN\0"
const FLOAT = 5126;
const UNSIGNED_INT = 5125;
const ARRAY_BUFFER = 34962;
const ELEMENT_ARRAY_BUFFER = 34963;
const TRIANGLES = 4;

/** Unit vertex normals: the sum of the (area-weighted) normals of the triangles around each vertex. */
export function vertexNormals(mesh: Mesh): Float32Array {
  const v = mesh.vertices;
  const t = mesh.triangles;
  const acc = new Float64Array(v.length);
  for (let i = 0; i < t.length; i += 3) {
    const a = t[i]! * 3;
    const b = t[i + 1]! * 3;
    const c = t[i + 2]! * 3;
    const ux = v[b]! - v[a]!;
    const uy = v[b + 1]! - v[a + 1]!;
    const uz = v[b + 2]! - v[a + 2]!;
    const wx = v[c]! - v[a]!;
    const wy = v[c + 1]! - v[a + 1]!;
    const wz = v[c + 2]! - v[a + 2]!;
    const nx = uy * wz - uz * wy;
    const ny = uz * wx - ux * wz;
    const nz = ux * wy - uy * wx;
    for (const k of [a, b, c]) {
      acc[k] = acc[k]! + nx;
      acc[k + 1] = acc[k + 1]! + ny;
      acc[k + 2] = acc[k + 2]! + nz;
    }
  }
  const out = new Float32Array(v.length);
  for (let k = 0; k < v.length; k += 3) {
    const len = Math.hypot(acc[k]!, acc[k + 1]!, acc[k + 2]!);
    // A vertex of only degenerate triangles has no direction; glTF asks for unit normals anyway.
    if (len > 0) {
      out[k] = acc[k]! / len;
      out[k + 1] = acc[k + 1]! / len;
      out[k + 2] = acc[k + 2]! / len;
    } else out[k + 2] = 1;
  }
  return out;
}

function bounds(v: Float32Array): { min: number[]; max: number[] } {
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < v.length; i += 3) {
    for (let d = 0; d < 3; d++) {
      const x = v[i + d]!;
      if (x < min[d]!) min[d] = x;
      if (x > max[d]!) max[d] = x;
    }
  }
  return { min, max };
}

const colorKey = (c: readonly number[]) => c.map((x) => x.toFixed(4)).join(",");

/** A .glb holding the objects as one scene, one node each. */
export function glbBinary(
  objects: readonly GlbObject[],
  opts: { sceneName?: string; materialName?: (color: readonly number[]) => string } = {},
): Uint8Array {
  const bufferViews: Record<string, unknown>[] = [];
  const accessors: Record<string, unknown>[] = [];
  const meshes: Record<string, unknown>[] = [];
  const materials: Record<string, unknown>[] = [];
  const nodes: Record<string, unknown>[] = [];
  const materialOf = new Map<string, number>();
  const parts: Uint8Array[] = [];
  let byteLength = 0;
  const addView = (data: Float32Array | Uint32Array, target: number) => {
    // Every view holds 4-byte elements, so offsets stay 4-byte aligned as accessors require.
    parts.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    bufferViews.push({ buffer: 0, byteOffset: byteLength, byteLength: data.byteLength, target });
    byteLength += data.byteLength;
    return bufferViews.length - 1;
  };
  for (const o of objects) {
    const { vertices, triangles } = o.mesh;
    if (vertices.length % 3 !== 0 || triangles.length % 3 !== 0) {
      throw invalidArgument(`glb: mesh '${o.name}' has a vertex or index count that is not a multiple of 3`);
    }
    const node: Record<string, unknown> = { name: o.name, ...(o.extras ? { extras: o.extras } : {}) };
    // A mesh needs at least one primitive and an accessor at least one element: empty meshes (an
    // object simplified away) become nodes without geometry.
    if (triangles.length > 0) {
      const nv = vertices.length / 3;
      for (let i = 0; i < triangles.length; i++) {
        if (triangles[i]! >= nv)
          throw invalidArgument(`glb: mesh '${o.name}' indexes vertex ${triangles[i]} of ${nv}`);
      }
      const { min, max } = bounds(vertices);
      const pos = accessors.push({
        bufferView: addView(vertices, ARRAY_BUFFER),
        componentType: FLOAT,
        count: nv,
        type: "VEC3",
        min,
        max,
      });
      const nrm = accessors.push({
        bufferView: addView(vertexNormals(o.mesh), ARRAY_BUFFER),
        componentType: FLOAT,
        count: nv,
        type: "VEC3",
      });
      const idx = accessors.push({
        bufferView: addView(triangles, ELEMENT_ARRAY_BUFFER),
        componentType: UNSIGNED_INT,
        count: triangles.length,
        type: "SCALAR",
      });
      const key = colorKey(o.color);
      let material = materialOf.get(key);
      if (material === undefined) {
        material = materials.length;
        materialOf.set(key, material);
        materials.push({
          name: opts.materialName?.(o.color) ?? `color ${key}`,
          pbrMetallicRoughness: { baseColorFactor: [...o.color, 1], metallicFactor: 0, roughnessFactor: 0.6 },
        });
      }
      meshes.push({
        name: o.name,
        primitives: [
          {
            attributes: { POSITION: pos - 1, NORMAL: nrm - 1 },
            indices: idx - 1,
            material,
            mode: TRIANGLES,
          },
        ],
      });
      node.mesh = meshes.length - 1;
    }
    nodes.push(node);
  }
  const gltf: Record<string, unknown> = {
    asset: { version: "2.0", generator: "organelle", extras: { unit: "nm" } },
    scene: 0,
    scenes: [{ name: opts.sceneName ?? "organelle", nodes: nodes.map((_, i) => i) }],
    nodes,
  };
  if (meshes.length > 0) {
    Object.assign(gltf, {
      meshes,
      materials,
      accessors,
      bufferViews,
      buffers: [{ byteLength }],
    });
  }
  return assembleGlb(gltf, parts, byteLength);
}

function assembleGlb(gltf: unknown, parts: readonly Uint8Array[], binLength: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(gltf));
  const jsonPadded = (json.length + 3) & ~3;
  const binPadded = (binLength + 3) & ~3;
  const total = 12 + 8 + jsonPadded + (binLength > 0 ? 8 + binPadded : 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, GLB_MAGIC, true);
  view.setUint32(4, 2, true);
  view.setUint32(8, total, true);
  view.setUint32(12, jsonPadded, true);
  view.setUint32(16, CHUNK_JSON, true);
  out.set(json, 20);
  out.fill(0x20, 20 + json.length, 20 + jsonPadded);
  if (binLength > 0) {
    let at = 20 + jsonPadded;
    view.setUint32(at, binPadded, true);
    view.setUint32(at + 4, CHUNK_BIN, true);
    at += 8;
    // Little-endian hosts only (every platform Node runs on): typed arrays are copied as they lie.
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
  }
  return out;
}

/** "#rrggbb" or [r, g, b] 0..255 to linear RGB 0..1 (glTF's baseColorFactor is linear). */
export function linearColor(c: string | readonly [number, number, number]): [number, number, number] {
  let rgb: readonly number[];
  if (typeof c === "string") {
    const m = /^#?([0-9a-f]{6})$/i.exec(c);
    if (!m) throw invalidArgument(`colour '${c}': expected #rrggbb`);
    const v = Number.parseInt(m[1]!, 16);
    rgb = [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  } else rgb = c;
  const lin = (x: number) => {
    const s = x / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return [lin(rgb[0]!), lin(rgb[1]!), lin(rgb[2]!)].map((x) => Number(x.toFixed(4))) as [
    number,
    number,
    number,
  ];
}
