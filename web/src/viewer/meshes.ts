/*
 * Loading the meshes `organelle mesh` writes: neuroglancer precomputed legacy meshes, a manifest
 * `<id>:0` = {"fragments": [...]} per object and per fragment uint32 vertex count, float32 x,y,z (nm),
 * then uint32 triangle indices to the end of the file.
 */
import type { MeshSet } from "../api.ts";

export interface MeshData {
  id: number;
  vertices: Float32Array;
  triangles: Uint32Array;
}

export function parseFragment(buf: ArrayBuffer): { vertices: Float32Array; triangles: Uint32Array } {
  const view = new DataView(buf);
  const nv = view.getUint32(0, true);
  const vertices = new Float32Array(buf.slice(4, 4 + nv * 12));
  const triangles = new Uint32Array(buf.slice(4 + nv * 12));
  return { vertices, triangles };
}

async function fetchOk(url: string, signal: AbortSignal): Promise<Response> {
  const r = await fetch(url, { signal });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}

/** One object's mesh, all its fragments concatenated. */
export async function loadMesh(set: MeshSet, id: number, signal: AbortSignal): Promise<MeshData> {
  const base = set.url.replace(/\/$/, "");
  const manifest = (await (await fetchOk(`${base}/${id}:0`, signal)).json()) as { fragments: string[] };
  const parts = await Promise.all(
    manifest.fragments.map(async (f) =>
      parseFragment(await (await fetchOk(`${base}/${encodeURIComponent(f)}`, signal)).arrayBuffer()),
    ),
  );
  const nv = parts.reduce((s, p) => s + p.vertices.length, 0);
  const nt = parts.reduce((s, p) => s + p.triangles.length, 0);
  const vertices = new Float32Array(nv);
  const triangles = new Uint32Array(nt);
  let v = 0;
  let t = 0;
  for (const p of parts) {
    vertices.set(p.vertices, v);
    for (let i = 0; i < p.triangles.length; i++) triangles[t + i] = p.triangles[i]! + v / 3;
    v += p.vertices.length;
    t += p.triangles.length;
  }
  return { id, vertices, triangles };
}
