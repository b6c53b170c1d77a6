/*
 * Client for the server's annotation sessions (docs/serve.md "Annotation", src/server/annotate.ts). Every
 * route needs the write token. Masks travel as little-endian uint32 run lengths (the first run of zeros)
 * with the cut's time and foreground count in response headers.
 */
import { ApiError, seg, type Vec3 } from "../api.ts";
import { getToken } from "../token.ts";

export type EditLabel = "fg" | "bg" | "erase";

export interface SessionCounts {
  strokes: number;
  corrections: number;
  segments: number;
  undo: number;
  redo: number;
  foregroundSeeds: number;
  backgroundSeeds: number;
}

export interface SessionInfo {
  id: string;
  dataset: string;
  organelle: string;
  /** The ROI snapped to raw's grid, nm. */
  roi: { begin: Vec3; shape: Vec3 };
  /** The same in raw's voxels. */
  box: { begin: Vec3; shape: Vec3 };
  shape: Vec3;
  voxelSize: Vec3;
  supervoxels: number;
  from: string | null;
  /** Seconds the supervoxels took. */
  seconds: number;
  annotationSeconds: number;
  counts: SessionCounts;
}

export interface CreateSession {
  dataset: string;
  organelle: string;
  roi: { begin: Vec3; shape: Vec3 };
  from?: string;
  raw?: string;
  supervoxels?: { mode?: "fast" | "exact"; count?: number; compactness?: number; iterations?: number };
  params?: { smoothness?: number; intensityWeight?: number; distanceWeight?: number; sigma?: number };
}

export interface MaskReply {
  runs: Uint32Array;
  foreground: number;
  /** Server seconds of the cut (0 for a read-back). */
  seconds: number;
}

export interface BrushBody {
  label: EditLabel;
  axis: 0 | 1 | 2;
  index: number;
  points: [number, number][];
  radius: number;
}

export interface SaveReply {
  array: string;
  exclusion: string | null;
  roi: { name: string; kind: "training" | "validation"; begin: Vec3; shape: Vec3 };
  cleanup: { removedVoxels: number; filledVoxels: number };
  annotation: {
    roi: string;
    role: string;
    seconds: number;
    wallSeconds: number;
    foregroundVoxels: number;
    instances: number | null;
  };
  warnings: string[];
}

function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = {};
  if (json) h["Content-Type"] = "application/json";
  const t = getToken();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

async function failure(res: Response, what: string): Promise<ApiError> {
  let message = `${what}: HTTP ${res.status}`;
  try {
    const j = (await res.json()) as { error?: string };
    if (j.error) message = j.error;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, message);
}

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res, `${method} ${url}`);
  return (await res.json()) as T;
}

async function mask(method: string, url: string): Promise<MaskReply> {
  const res = await fetch(url, { method, headers: headers(false) });
  if (!res.ok) throw await failure(res, `${method} ${url}`);
  const buf = await res.arrayBuffer();
  const view = new DataView(buf);
  const runs = new Uint32Array(buf.byteLength / 4);
  for (let i = 0; i < runs.length; i++) runs[i] = view.getUint32(4 * i, true);
  return {
    runs,
    foreground: Number(res.headers.get("X-Organelle-Foreground") ?? 0),
    seconds: Number(res.headers.get("X-Organelle-Seconds") ?? 0),
  };
}

const base = "/api/annotate/sessions";
const one = (id: string) => `${base}/${seg(id)}`;

export const annotateApi = {
  create: (body: CreateSession) => call<SessionInfo>("POST", base, body),
  get: (id: string) => call<SessionInfo>("GET", one(id)),
  close: (id: string) => call<unknown>("DELETE", one(id)),
  stroke: (id: string, b: BrushBody) =>
    call<{ voxels: number; counts: SessionCounts }>("POST", `${one(id)}/strokes`, b),
  correct: (id: string, b: BrushBody) =>
    call<{ voxels: number; counts: SessionCounts }>("POST", `${one(id)}/correct`, b),
  segment: (id: string) => mask("POST", `${one(id)}/segment`),
  mask: (id: string) => mask("GET", `${one(id)}/mask`),
  undo: (id: string) =>
    call<{ undone: "paint" | "cut" | null; counts: SessionCounts }>("POST", `${one(id)}/undo`),
  redo: (id: string) =>
    call<{ redone: "paint" | "cut" | null; counts: SessionCounts }>("POST", `${one(id)}/redo`),
  save: (id: string, b: { kind: "training" | "validation"; instance?: boolean; name?: string }) =>
    call<SaveReply>("POST", `${one(id)}/save`, b),
};
