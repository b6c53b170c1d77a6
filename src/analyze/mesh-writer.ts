import type { Mesh } from "./marching-cubes.ts";

/*
 * Mesh file formats.
 *
 * Neuroglancer precomputed legacy single-resolution meshes (neuroglancer
 * src/datasource/precomputed/meshes.md): a directory with `info` = {"@type":
 * "neuroglancer_legacy_mesh", "segment_properties": <relative dir>}, per segment a manifest `<id>:0`
 * = {"fragments": [<file names>]} and per fragment a little-endian binary: uint32 vertex count,
 * float32 x, y, z per vertex (the layer's model space: nm here), then uint32 vertex indices, three
 * per triangle, to the end of the file. Our triangles wind counter-clockwise seen from outside.
 *
 * PLY (binary_little_endian 1.0): float x, y, z per vertex and a uchar-counted list of uint indices per
 * face, for MeshLab, Blender, trimesh, ...
 */

export function legacyFragment(mesh: Mesh): Uint8Array {
  const nv = mesh.vertices.length / 3;
  const out = new Uint8Array(4 + mesh.vertices.byteLength + mesh.triangles.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, nv, true);
  let at = 4;
  for (let i = 0; i < mesh.vertices.length; i++, at += 4) view.setFloat32(at, mesh.vertices[i]!, true);
  for (let i = 0; i < mesh.triangles.length; i++, at += 4) view.setUint32(at, mesh.triangles[i]!, true);
  return out;
}

/** Parses a legacy fragment (the inverse of legacyFragment). */
export function parseLegacyFragment(bytes: Uint8Array): Mesh {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nv = view.getUint32(0, true);
  const vertices = new Float32Array(nv * 3);
  let at = 4;
  for (let i = 0; i < vertices.length; i++, at += 4) vertices[i] = view.getFloat32(at, true);
  const triangles = new Uint32Array((bytes.byteLength - at) / 4);
  for (let i = 0; i < triangles.length; i++, at += 4) triangles[i] = view.getUint32(at, true);
  return { vertices, triangles };
}

export function plyBinary(mesh: Mesh, comment?: string): Uint8Array {
  const nv = mesh.vertices.length / 3;
  const nf = mesh.triangles.length / 3;
  const header = [
    "ply",
    "format binary_little_endian 1.0",
    ...(comment ? [`comment ${comment.replace(/[\r\n]/g, " ")}`] : []),
    `element vertex ${nv}`,
    "property float x",
    "property float y",
    "property float z",
    `element face ${nf}`,
    "property list uchar uint vertex_indices",
    "end_header",
    "",
  ].join("\n");
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(head.length + nv * 12 + nf * 13);
  out.set(head, 0);
  const view = new DataView(out.buffer);
  let at = head.length;
  for (let i = 0; i < mesh.vertices.length; i++, at += 4) view.setFloat32(at, mesh.vertices[i]!, true);
  for (let f = 0; f < nf; f++) {
    view.setUint8(at++, 3);
    for (let k = 0; k < 3; k++, at += 4) view.setUint32(at, mesh.triangles[3 * f + k]!, true);
  }
  return out;
}

export const LEGACY_MESH_INFO = {
  "@type": "neuroglancer_legacy_mesh",
  segment_properties: "segment_properties",
} as const;

/** Neuroglancer segment properties (inline): a label per id and numeric properties. */
export function segmentPropertiesInfo(
  ids: readonly number[],
  labels: readonly string[],
  numbers: readonly { id: string; description: string; values: readonly number[] }[],
): unknown {
  return {
    "@type": "neuroglancer_segment_properties",
    inline: {
      ids: ids.map(String),
      properties: [
        { id: "label", type: "label", values: labels },
        ...numbers.map((p) => ({
          id: p.id,
          type: "number",
          data_type: "float32",
          description: p.description,
          values: p.values,
        })),
      ],
    },
  };
}
