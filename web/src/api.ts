/*
 * Typed client for the `organelle serve` JSON API (the contract in docs/web.md). Reads are plain GETs;
 * writes carry the token the server printed at start-up, which the user pastes into the token field.
 */
import { getToken } from "./token.ts";

export type Vec3 = [number, number, number];

export interface DatasetSummary {
  id: string;
  name: string;
  title: string;
  tags: string[];
  cellType?: string;
  voxelSize: Vec3;
  shape: Vec3;
  sizeBytes: number;
  arrayCount: number;
  thumbnail: string;
  dataUrl: string;
}

export type ArrayGroup = "em" | "masks" | "labels" | "predictions" | "segmentations" | "analysis";
export type ArrayKind = "intensity" | "probability" | "label" | "mask";

export interface ScaleInfo {
  path: string;
  shape: Vec3;
  voxelSize: Vec3;
  chunks: Vec3;
}

export interface ArrayInfo {
  path: string;
  group: ArrayGroup;
  kind: ArrayKind;
  dtype: string;
  shape: Vec3;
  voxelSize: Vec3;
  offset: Vec3;
  chunks: Vec3;
  scales: ScaleInfo[];
  url: string;
  contrast?: [number, number];
  color?: string;
}

export interface RoiInfo {
  array: string;
  name: string;
  kind: "training" | "validation";
  begin: Vec3;
  shape: Vec3;
}

export interface MeshSet {
  name: string;
  organelle: string;
  url: string;
  ids: number[];
  plyUrl?: string;
}

export interface ViewLayer {
  array: string;
  visible: boolean;
  opacity?: number;
  contrast?: [number, number];
  color?: string;
}

export interface SavedView {
  name: string;
  position: Vec3;
  scale: number;
  orientation?: "xy" | "xz" | "yz" | "3d";
  layers: ViewLayer[];
}

export interface DatasetDetail extends DatasetSummary {
  meta: Record<string, unknown>;
  arrays: ArrayInfo[];
  rois: RoiInfo[];
  meshes: MeshSet[];
  tables: { name: string; url: string; rows: number }[];
  views: SavedView[];
}

export interface Health {
  name: string;
  version: string;
  dir: string;
  writable: boolean;
}

export interface RunSummary {
  id: string;
  name: string;
  organelle?: string;
  dataset?: string | string[];
  datasets?: string[];
  steps?: number;
  lastStep?: number;
  bestStep?: number | null;
  bestF1?: number | null;
  updated?: string | number;
  state?: string;
}

export type MetricRecord = Record<string, unknown>;

export interface RunDetail {
  config: unknown;
  checkpoints: number[];
  best: unknown;
  metrics: MetricRecord[];
}

export interface ResultTableSummary {
  dataset: string;
  name: string;
  rows: number;
  columns: string[];
}

export type Cell = string | number | null;
export interface ResultTable {
  columns: string[];
  rows: Cell[][];
}

export interface Segment {
  id: number;
  array: string;
  measurements: Record<string, Cell> | null;
}

export type JobVerb = "predict" | "evaluate" | "refine" | "measure" | "mesh" | "threshold";
export interface Job {
  id: string;
  verb: JobVerb;
  args: string[];
  state: "queued" | "running" | "done" | "failed";
  progress: { done: number; total: number; rate?: number; etaSeconds?: number } | null;
  log: string;
  exitCode: number | null;
  started: string | number | null;
  finished: string | number | null;
}

export const seg = (id: string): string => encodeURIComponent(id);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function request<T>(method: string, url: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const token = getToken();
  if (method !== "GET" && token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? null : JSON.stringify(body),
    signal: signal ?? null,
  });
  if (!res.ok) {
    let message = `${method} ${url}: HTTP ${res.status}`;
    try {
      const j = (await res.json()) as { error?: string };
      if (j.error) message = j.error;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(res.status, message);
  }
  return (await res.json()) as T;
}

/** Optional lists default to empty so pages need not guard every one. */
function withDefaults(d: DatasetDetail): DatasetDetail {
  return {
    ...d,
    tags: d.tags ?? [],
    meta: d.meta ?? {},
    arrays: d.arrays ?? [],
    rois: d.rois ?? [],
    meshes: d.meshes ?? [],
    tables: d.tables ?? [],
    views: d.views ?? [],
  };
}

export const api = {
  health: (s?: AbortSignal) => request<Health>("GET", "/api/health", undefined, s),
  datasets: (s?: AbortSignal) => request<DatasetSummary[]>("GET", "/api/datasets", undefined, s),
  dataset: (id: string, s?: AbortSignal) =>
    request<DatasetDetail>("GET", `/api/datasets/${seg(id)}`, undefined, s).then(withDefaults),
  neuroglancer: (id: string) =>
    request<{ state: unknown; url: string }>("GET", `/api/datasets/${seg(id)}/neuroglancer`),
  views: (id: string) => request<SavedView[]>("GET", `/api/datasets/${seg(id)}/views`),
  saveView: (id: string, view: SavedView) => request<unknown>("POST", `/api/datasets/${seg(id)}/views`, view),
  segment: (id: string, array: string, segId: number, s?: AbortSignal) =>
    request<Segment>("GET", `/api/datasets/${seg(id)}/segments/${seg(array)}/${segId}`, undefined, s),
  runs: () => request<RunSummary[]>("GET", "/api/runs"),
  run: (id: string) => request<RunDetail>("GET", `/api/runs/${seg(id)}`),
  results: (dataset?: string) =>
    request<ResultTableSummary[]>(
      "GET",
      dataset ? `/api/results?dataset=${encodeURIComponent(dataset)}` : "/api/results",
    ),
  result: (dataset: string, table: string) =>
    request<ResultTable>("GET", `/api/results/${seg(dataset)}/${seg(table)}`),
  jobs: () => request<Job[]>("GET", "/api/jobs"),
  job: (id: string) => request<Job>("GET", `/api/jobs/${seg(id)}`),
  startJob: (verb: JobVerb, args: string[]) => request<Job>("POST", "/api/jobs", { verb, args }),
};

/** Subscribes to a server-sent event stream of JSON records; returns the unsubscribe function. */
export function subscribe<T>(url: string, onRecord: (record: T) => void): () => void {
  const source = new EventSource(url);
  source.onmessage = (e: MessageEvent<string>) => {
    try {
      onRecord(JSON.parse(e.data) as T);
    } catch {
      // a malformed record is skipped; the stream goes on
    }
  };
  return () => source.close();
}
