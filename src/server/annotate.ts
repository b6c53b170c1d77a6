import { randomBytes } from "node:crypto";
import type * as http from "node:http";
import * as path from "node:path";
import { AnnotationSession, type EditLabel } from "../annotate/annotation-session.ts";
import { readAnnotationRegion, saveAnnotation } from "../annotate/annotation-store.ts";
import { checkTrainConfig, writeAnnotationTrainConfig } from "../annotate/annotation-train.ts";
import { type Axis, encodeRuns, listedVoxels, planeMaskVoxels, strokeVoxels } from "../annotate/brush.ts";
import type { GraphCutParams } from "../annotate/graphcut.ts";
import type { Catalog } from "../catalog/catalog.ts";
import { coord } from "../core/coordinate.ts";
import { Roi } from "../core/roi.ts";
import { getPreset } from "../gt/presets.ts";
import { CORS_HEADERS, HttpError, readJsonBody, sendJson } from "./http.ts";
import { apiJob, type JobRunner } from "./jobs.ts";

/*
 * The annotator's server side (docs/serve.md "Annotation"): sessions that hold one sub-volume of a
 * dataset with its supervoxels (computed once, fast SLIC by default), the strokes, corrections and
 * undo history (src/annotate/annotation-session.ts), and save the result as ground truth
 * (src/annotate/annotation-store.ts). Sessions live in the server's memory; every route needs the
 * token. Graph cuts run on the server's thread: one user annotates at a time.
 */

export interface AnnotateContext {
  /** The served directory (real path): training configurations and runs go under DIR/runs. */
  readonly dir: string;
  readonly catalog: Catalog;
  readonly jobs: JobRunner;
  requireToken(req: http.IncomingMessage): void;
  /** Absolute path of a catalogued dataset (404 HttpError when unknown). */
  datasetPath(id: string): Promise<string>;
}

interface Entry {
  readonly id: string;
  readonly dataset: string;
  readonly datasetPath: string;
  readonly organelle: string;
  readonly roi: Roi;
  readonly begin: readonly number[];
  readonly voxelSize: readonly number[];
  readonly from: string | null;
  readonly raw: string;
  readonly session: AnnotationSession;
  readonly supervoxelSeconds: number;
  lastUsed: number;
}

const MAX_SESSIONS = 8;
const IDLE_EVICT_MS = 2 * 3600_000;
const MASK_HEADERS = [
  "X-Organelle-Encoding",
  "X-Organelle-Shape",
  "X-Organelle-Foreground",
  "X-Organelle-Seconds",
];
const LABELS: readonly EditLabel[] = ["fg", "bg", "erase"];

/** The /api/annotate/... handler; `parts` are the path segments after "annotate". */
export function annotateRoutes(ctx: AnnotateContext) {
  const sessions = new Map<string, Entry>();

  const get = (id: string): Entry => {
    const e = sessions.get(id);
    if (!e)
      throw new HttpError(404, `annotation session ${id}: no such session (they end when the server stops)`);
    e.lastUsed = Date.now();
    e.session.touch(e.lastUsed);
    return e;
  };

  const describe = (e: Entry) => ({
    id: e.id,
    dataset: e.dataset,
    organelle: e.organelle,
    roi: { begin: [...e.roi.begin], shape: [...e.roi.shape] },
    box: { begin: e.begin, shape: [...e.session.shape] },
    shape: [...e.session.shape],
    voxelSize: e.voxelSize,
    supervoxels: e.session.graph.supervoxels.count,
    from: e.from,
    seconds: e.supervoxelSeconds,
    annotationSeconds: e.session.activeSeconds,
    counts: e.session.counts,
  });

  return async function handle(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    parts: readonly string[],
    url: URL,
  ): Promise<void> {
    const method = req.method ?? "GET";
    const [a, id, action, ...rest] = parts;
    if (a === "train" && id === undefined && method === "POST") {
      ctx.requireToken(req);
      return sendJson(res, 202, await submitTraining(ctx, object(await readJsonBody(req), "train")));
    }
    if (a !== "sessions" || rest.length > 0) throw notHere(method, parts);
    ctx.requireToken(req);
    if (id === undefined) {
      if (method === "GET") return sendJson(res, 200, [...sessions.values()].map(describe));
      if (method !== "POST") throw notHere(method, parts);
      const body = object(await readJsonBody(req), "session");
      const entry = await createSession(ctx, body, sessions);
      return sendJson(res, 201, describe(entry));
    }
    const e = get(id);
    const s = e.session;
    if (action === undefined) {
      if (method === "GET") return sendJson(res, 200, describe(e));
      if (method === "DELETE") {
        sessions.delete(id);
        return sendJson(res, 200, { id, deleted: true });
      }
      throw notHere(method, parts);
    }
    if (action === "mask" && method === "GET") {
      return sendMask(res, s.mask(), s.shape, url, { seconds: 0 });
    }
    if (method !== "POST") throw notHere(method, parts);
    if (action === "segment") {
      const r = s.segment();
      return sendMask(res, r.mask, s.shape, url, { seconds: r.seconds, foreground: r.foreground });
    }
    if (action === "undo" || action === "redo") {
      const step = action === "undo" ? s.undo() : s.redo();
      return sendJson(res, 200, { [action === "undo" ? "undone" : "redone"]: step, counts: s.counts });
    }
    if (action === "strokes" || action === "correct") {
      const body = object(await readJsonBody(req, 64 << 20), action);
      const label = body.label as EditLabel;
      if (!LABELS.includes(label)) throw new HttpError(400, `${action}: label must be "fg", "bg" or "erase"`);
      const indices = brushVoxels(s.shape, body, action);
      const painted = action === "strokes" ? s.stroke(indices, label) : s.correct(indices, label);
      return sendJson(res, 200, { voxels: painted, counts: s.counts });
    }
    if (action === "save") {
      const body = object(await readJsonBody(req), "save");
      const kind = body.kind;
      if (kind !== "training" && kind !== "validation")
        throw new HttpError(400, 'save: kind must be "training" or "validation"');
      if (body.instance !== undefined && typeof body.instance !== "boolean")
        throw new HttpError(400, "save: instance must be true or false");
      if (body.name !== undefined && typeof body.name !== "string")
        throw new HttpError(400, "save: name must be a string");
      const counts = s.counts;
      const r = await saveAnnotation(e.datasetPath, {
        organelle: e.organelle,
        roi: e.roi,
        mask: s.mask(),
        role: kind,
        raw: e.raw,
        ...(body.instance !== undefined ? { instance: body.instance as boolean } : {}),
        ...(body.name !== undefined ? { name: body.name as string } : {}),
        record: {
          seconds: s.activeSeconds,
          wallSeconds: (Date.now() - s.created) / 1000,
          strokes: counts.strokes,
          corrections: counts.corrections,
          segments: counts.segments,
          supervoxels: s.graph.supervoxels.count,
          from: e.from,
        },
      });
      ctx.catalog.recordTable({
        dataset: e.datasetPath,
        name: "annotation-time",
        columns: r.table.columns,
        rows: r.table.rows,
        csvPath: r.table.csvPath,
      });
      return sendJson(res, 200, {
        array: r.array,
        exclusion: r.exclusion,
        roi: { name: r.roi.name, kind: r.roi.role, begin: [...r.roi.roi.begin], shape: [...r.roi.roi.shape] },
        cleanup: r.cleanup,
        annotation: r.record,
        warnings: r.warnings,
      });
    }
    throw notHere(method, parts);
  };
}

function notHere(method: string, parts: readonly string[]): HttpError {
  return new HttpError(404, `${method} /api/annotate/${parts.join("/")}: no such endpoint`);
}

function object(v: unknown, what: string): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v))
    throw new HttpError(400, `${what}: expected a JSON object`);
  return v as Record<string, unknown>;
}

function coord3(v: unknown, what: string, positive: boolean): [number, number, number] {
  if (
    !Array.isArray(v) ||
    v.length !== 3 ||
    !v.every((x) => typeof x === "number" && Number.isFinite(x) && (!positive || x > 0))
  ) {
    throw new HttpError(400, `${what} must be [z, y, x] in nm${positive ? " (> 0)" : ""}`);
  }
  return [v[0], v[1], v[2]];
}

async function createSession(
  ctx: AnnotateContext,
  body: Record<string, unknown>,
  sessions: Map<string, Entry>,
): Promise<Entry> {
  if (typeof body.dataset !== "string") throw new HttpError(400, "session: dataset must be a dataset id");
  if (typeof body.organelle !== "string")
    throw new HttpError(400, "session: organelle must be a preset name, e.g. mito");
  const organelle = getPreset(body.organelle).name;
  const r = object(body.roi, "session: roi");
  const begin = coord3(r.begin ?? r.offset, "session: roi.begin", false);
  const shape = coord3(r.shape, "session: roi.shape", true);
  if (body.from !== undefined && typeof body.from !== "string")
    throw new HttpError(400, 'session: from must name an array, e.g. "predictions/<model>/<organelle>/seg"');
  if (body.raw !== undefined && typeof body.raw !== "string")
    throw new HttpError(400, "session: raw must name an array");
  const sv = body.supervoxels === undefined ? {} : object(body.supervoxels, "session: supervoxels");
  const mode = sv.mode ?? "fast";
  if (mode !== "fast" && mode !== "exact")
    throw new HttpError(400, 'session: supervoxels.mode must be "fast" or "exact"');
  const slic: Record<string, number> = {};
  for (const [k, key] of [
    ["count", "nSegments"],
    ["compactness", "compactness"],
    ["iterations", "iterations"],
  ] as const) {
    if (sv[k] === undefined) continue;
    if (typeof sv[k] !== "number" || !(sv[k] > 0))
      throw new HttpError(400, `session: supervoxels.${k} must be a number > 0`);
    slic[key] = sv[k];
  }
  const params: GraphCutParams = {};
  const p = body.params === undefined ? {} : object(body.params, "session: params");
  for (const k of ["smoothness", "intensityWeight", "distanceWeight", "sigma"] as const) {
    if (p[k] === undefined) continue;
    if (typeof p[k] !== "number" || !(p[k] >= 0))
      throw new HttpError(400, `session: params.${k} must be a number >= 0`);
    params[k] = p[k];
  }
  const now = Date.now();
  for (const [k, e] of sessions) if (now - e.lastUsed > IDLE_EVICT_MS) sessions.delete(k);
  if (sessions.size >= MAX_SESSIONS) {
    throw new HttpError(
      409,
      `${MAX_SESSIONS} annotation sessions are open; save or DELETE /api/annotate/sessions/:id one first`,
    );
  }
  const datasetPath = await ctx.datasetPath(body.dataset);
  const raw = (body.raw as string | undefined) ?? "raw";
  const region = await readAnnotationRegion(datasetPath, {
    roi: new Roi(coord(...begin), coord(...shape)),
    raw,
    ...(body.from !== undefined ? { from: body.from as string } : {}),
  });
  const t0 = performance.now();
  const session = AnnotationSession.create(
    region.image,
    region.box.shape,
    { ...params, voxelSize: region.raw.meta.voxelSize, supervoxelMode: mode, slic },
    region.start,
  );
  const seconds = (performance.now() - t0) / 1000;
  const entry: Entry = {
    id: randomBytes(9).toString("base64url"),
    dataset: body.dataset,
    datasetPath,
    organelle,
    roi: region.roi,
    begin: [...region.box.begin],
    voxelSize: [...region.raw.meta.voxelSize],
    from: (body.from as string | undefined) ?? null,
    raw,
    session,
    supervoxelSeconds: seconds,
    lastUsed: now,
  };
  sessions.set(entry.id, entry);
  return entry;
}

/**
 * Loop closure from the browser: writes DIR/runs/<run>.train.json for the dataset's annotated ROIs,
 * checks it as `train --dry-run` would, and queues `organelle train` (or `finetune --from`) as a job.
 */
async function submitTraining(ctx: AnnotateContext, body: Record<string, unknown>) {
  if (typeof body.dataset !== "string") throw new HttpError(400, "train: dataset must be a dataset id");
  if (typeof body.organelle !== "string")
    throw new HttpError(400, "train: organelle must be a preset name, e.g. mito");
  const organelle = getPreset(body.organelle).name;
  for (const k of ["model", "finetune", "run"] as const) {
    if (body[k] !== undefined && typeof body[k] !== "string")
      throw new HttpError(400, `train: ${k} must be a string`);
  }
  if (body.steps !== undefined && !(Number.isInteger(body.steps) && (body.steps as number) >= 1))
    throw new HttpError(400, "train: steps must be a whole number >= 1");
  const datasetPath = await ctx.datasetPath(body.dataset);
  const stem = path.basename(datasetPath).replace(/\.(zarr|n5)$/i, "");
  const run = (body.run as string | undefined) ?? `${stem}-${organelle}${body.finetune ? "-finetune" : ""}`;
  if (!/^[A-Za-z0-9][\w.-]*$/.test(run))
    throw new HttpError(400, "train: run must be a name of letters, digits, '.', '_' or '-'");
  let from: string | undefined;
  if (body.finetune !== undefined) {
    const m = /^(.*?)(?::(\d+))?$/.exec(body.finetune as string)!;
    const segs = m[1]!.split("/");
    if (segs.some((s) => s === "" || s === "." || s === ".."))
      throw new HttpError(
        400,
        "train: finetune must be a run id inside the served directory, e.g. runs/mito-1[:step]",
      );
    from = `${path.join(ctx.dir, ...segs)}${m[2] !== undefined ? `:${m[2]}` : ""}`;
  }
  const config = path.join(ctx.dir, "runs", `${run}.train.json`);
  const runDir = path.join(ctx.dir, "runs", run);
  await writeAnnotationTrainConfig(datasetPath, {
    organelle,
    config,
    runDir,
    finetune: from !== undefined,
    ...(body.model !== undefined ? { model: body.model as string } : {}),
    ...(body.steps !== undefined ? { steps: body.steps as number } : {}),
  });
  await checkTrainConfig(config);
  const job = from
    ? ctx.jobs.submit("finetune", ["--from", from, config])
    : ctx.jobs.submit("train", [config]);
  return {
    job: apiJob(job),
    config: path.relative(ctx.dir, config),
    run: path.relative(ctx.dir, runDir),
  };
}

function axisOf(v: unknown, what: string): Axis {
  if (v === "z" || v === 0) return 0;
  if (v === "y" || v === 1) return 1;
  if (v === "x" || v === 2) return 2;
  throw new HttpError(400, `${what}: axis must be "z", "y" or "x"`);
}

/** The voxels a brush body names: a stroke (points + radius), a plane mask (runs) or a voxel list. */
function brushVoxels(
  shape: readonly [number, number, number],
  b: Record<string, unknown>,
  what: string,
): Int32Array {
  const sh = coord(...shape);
  if (b.voxels !== undefined) return listedVoxels(sh, b.voxels, `${what}: voxels`);
  const axis = axisOf(b.axis, what);
  const index = b.index as number;
  if (b.mask !== undefined) {
    const m = object(b.mask, `${what}: mask`);
    if (!Array.isArray(m.runs)) throw new HttpError(400, `${what}: mask.runs must be a list of run lengths`);
    return planeMaskVoxels(sh, axis, index, m.runs as number[], what);
  }
  const radius = b.radius === undefined ? 2 : (b.radius as number);
  return strokeVoxels(sh, { axis, index, points: b.points as [number, number][], radius }, what);
}

function sendMask(
  res: http.ServerResponse,
  mask: Uint8Array,
  shape: readonly number[],
  url: URL,
  info: { seconds: number; foreground?: number },
): void {
  const encoding = url.searchParams.get("encoding") ?? "rle";
  if (encoding !== "rle" && encoding !== "raw")
    throw new HttpError(400, `encoding ${encoding}: use rle (default) or raw`);
  let fg = info.foreground;
  if (fg === undefined) {
    fg = 0;
    for (let i = 0; i < mask.length; i++) fg += mask[i]!;
  }
  let body: Uint8Array;
  if (encoding === "raw") body = mask;
  else {
    const runs = encodeRuns(mask);
    // little-endian uint32 on the wire whatever the host
    const view = new DataView(new ArrayBuffer(runs.length * 4));
    for (let i = 0; i < runs.length; i++) view.setUint32(4 * i, runs[i]!, true);
    body = new Uint8Array(view.buffer);
  }
  res.writeHead(200, {
    "Content-Type": "application/octet-stream",
    "Content-Length": body.byteLength,
    "Cache-Control": "no-store",
    "Access-Control-Expose-Headers": `${CORS_HEADERS["Access-Control-Expose-Headers"]}, ${MASK_HEADERS.join(", ")}`,
    "X-Organelle-Encoding": encoding,
    "X-Organelle-Shape": shape.join(","),
    "X-Organelle-Foreground": String(fg),
    "X-Organelle-Seconds": info.seconds.toFixed(3),
  });
  res.end(body);
}
