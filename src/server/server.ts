import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { Catalog, type TableSummary } from "../catalog/catalog.ts";
import { apiId, type DatasetDetail } from "../catalog/dataset-summary.ts";
import { type RunSummaryRecord, type ScanResult, scanDirectory } from "../catalog/scan.ts";
import { invalidArgument } from "../core/errors.ts";
import { RESOLVED, readMetrics } from "../learn/run-dir.ts";
import { annotateRoutes } from "./annotate.ts";
import { followJsonLines, openEventStream } from "./events.ts";
import {
  CORS_HEADERS,
  HttpError,
  readJsonBody,
  requestToken,
  sendError,
  sendJson,
  tokenMatches,
} from "./http.ts";
import { apiJob, JobRunner, type VerbSpec, validateJob } from "./jobs.ts";
import { neuroglancerState, neuroglancerUrl, type View } from "./neuroglancer.ts";
import { isRefusal, realpathInside, safeSegments, sendPlainError, serveFile } from "./static.ts";
import { thumbnailPng } from "./thumbnail.ts";

/*
 * `organelle serve`: one Node http server for three things, by path prefix —
 *   /data/...  the datasets' files, read-only, for Neuroglancer and other zarr clients (static.ts);
 *   /api/...   the JSON API over the catalogue (docs/serve.md);
 *   the rest   the built web app (dist/web), index.html for client-side routes.
 * Writes (views, jobs, re-scan) need the token printed at start-up.
 */

export const VERSION = "0.1.0";

export interface ServeOptions {
  readonly dir: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Index the directory at start-up and whenever the API lists things (default true). */
  readonly scan?: boolean;
  /** The write token (default: 24 random bytes, base64url). */
  readonly token?: string;
  /** The bundled CLI that runs jobs (default: dist/organelle.mjs beside this bundle or in the repository). */
  readonly cliPath?: string;
  /** The built web app (default: dist/web next to the CLI). */
  readonly webDir?: string;
  /** What each job verb accepts (from the CLI's definitions); without it, jobs are refused. */
  readonly verbs?: ReadonlyMap<string, VerbSpec>;
}

export interface RunningServer {
  readonly url: string;
  readonly token: string;
  readonly dir: string;
  readonly port: number;
  readonly catalog: Catalog;
  readonly jobs: JobRunner;
  /** The result of the last scan (start-up or on demand). */
  scan(): Promise<ScanResult | undefined>;
  close(): Promise<void>;
}

const RESCAN_MS = 2000;
const RUNNING_WITHIN_MS = 120_000;

/** dist/organelle.mjs: this file itself when bundled, else <repo>/dist/organelle.mjs. */
export function defaultCliPath(): string {
  const here = new URL(import.meta.url).pathname;
  if (path.basename(here) === "organelle.mjs") return here;
  let d = path.dirname(here);
  for (let i = 0; i < 5; i++) {
    const c = path.join(d, "dist", "organelle.mjs");
    if (fs.existsSync(c)) return c;
    d = path.dirname(d);
  }
  return path.resolve("dist", "organelle.mjs");
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const dir = path.resolve(o.dir);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw invalidArgument(
      `${o.dir}: not a directory; give the directory to serve (default: the current one)`,
    );
  }
  const realDir = fs.realpathSync(dir);
  const token = o.token ?? randomBytes(24).toString("base64url");
  const catalog = Catalog.forDir(realDir);
  const cliPath = o.cliPath ?? defaultCliPath();
  const webDir = o.webDir ?? path.join(path.dirname(cliPath), "web");
  const verbs = o.verbs ?? new Map<string, VerbSpec>();
  const autoScan = o.scan ?? true;

  let lastScan: ScanResult | undefined;
  let scanning: Promise<ScanResult> | undefined;
  let scannedAt = 0;
  const rescan = (force = false): Promise<ScanResult | undefined> => {
    if (scanning) return scanning;
    if (!force && (!autoScan || Date.now() - scannedAt < RESCAN_MS)) return Promise.resolve(lastScan);
    scanning = scanDirectory(catalog).finally(() => {
      scannedAt = Date.now();
      scanning = undefined;
    });
    return scanning.then((r) => {
      lastScan = r;
      return r;
    });
  };
  if (autoScan) await rescan(true);

  const jobs = new JobRunner({
    catalog,
    dir: realDir,
    cliPath,
    onFinished: () => rescan(true).then(() => {}),
  });
  const thumbnails = new Map<string, { signature: string; png: Uint8Array }>();

  const dataset = (id: string) => {
    const d = catalog.getDataset<DatasetDetail>(id);
    if (!d) throw new HttpError(404, `dataset ${id}: not in the catalogue of ${realDir}`);
    return d;
  };
  const requireToken = (req: http.IncomingMessage) => {
    if (!tokenMatches(requestToken(req), token)) {
      throw new HttpError(
        401,
        "this request changes things: send the token printed by `organelle serve` as 'Authorization: Bearer <token>'",
      );
    }
  };
  const annotate = annotateRoutes({
    dir: realDir,
    catalog,
    jobs,
    requireToken,
    datasetPath: async (id) => {
      await rescan();
      return path.join(realDir, dataset(id).id);
    },
  });
  const origin = (req: http.IncomingMessage, port: number) => {
    const h = req.headers.host;
    return h && /^[\w.-]+(:\d+)?$|^\[[\da-fA-F:]+\](:\d+)?$/.test(h)
      ? `http://${h}`
      : `http://${o.host ?? "127.0.0.1"}:${port}`;
  };
  const tablesOf = (id: string) =>
    catalog.listTables(id).map((t: TableSummary) => ({
      name: t.name,
      url: `/api/results/${apiId(id)}/${encodeURIComponent(t.name)}`,
      rows: t.rows,
      columns: t.columns,
      ...(t.array ? { array: t.array } : {}),
    }));
  const summaryOf = (d: DatasetDetail) => ({
    id: d.id,
    name: d.name,
    title: d.title,
    tags: d.tags,
    ...(d.cellType ? { cellType: d.cellType } : {}),
    voxelSize: d.voxelSize,
    shape: d.shape,
    sizeBytes: d.sizeBytes,
    arrayCount: d.arrayCount,
    thumbnail: d.thumbnail,
    dataUrl: d.dataUrl,
  });
  const runApi = (r: RunSummaryRecord) => ({
    id: r.id,
    name: r.name,
    organelle: r.organelle,
    datasets: r.datasets,
    steps: r.steps,
    lastStep: r.lastStep,
    bestStep: r.bestStep,
    bestF1: r.bestF1,
    checkpoints: r.checkpoints,
    updated: r.updated,
    state: Date.now() - r.metricsMtimeMs < RUNNING_WITHIN_MS ? "running" : "finished",
  });
  const runDir = (id: string) => {
    const r = catalog.getRun<RunSummaryRecord>(id);
    if (!r) throw new HttpError(404, `run ${id}: not in the catalogue`);
    return { record: r, abs: path.join(realDir, r.id) };
  };

  async function api(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    parts: string[],
    url: URL,
    port: number,
  ) {
    const method = req.method ?? "GET";
    const get = method === "GET" || method === "HEAD";
    const [a, b, c, d, ...rest] = parts;
    if (a === "annotate") return annotate(req, res, parts.slice(1), url);
    if (a === "health" && get && parts.length === 1) {
      return sendJson(res, 200, { name: "organelle", version: VERSION, dir: realDir, writable: true });
    }
    if (a === "scan" && method === "POST" && parts.length === 1) {
      requireToken(req);
      return sendJson(res, 200, await rescan(true));
    }
    if (a === "datasets") {
      if (b === undefined && get) {
        await rescan();
        return sendJson(
          res,
          200,
          catalog.listDatasets<DatasetDetail>().map((x) => summaryOf(x.summary)),
        );
      }
      if (b === undefined) throw new HttpError(405, `${method} /api/datasets: not allowed`);
      await rescan();
      const rec = dataset(b);
      const ds = rec.summary;
      if (c === undefined && get) {
        return sendJson(res, 200, {
          ...summaryOf(ds),
          format: ds.format,
          meta: ds.meta,
          arrays: ds.arrays,
          rois: ds.rois,
          meshes: ds.meshes,
          tables: tablesOf(ds.id),
          views: catalog.listViews(ds.id),
        });
      }
      if (c === "thumbnail.png" && get && d === undefined) {
        let t = thumbnails.get(ds.id);
        if (!t || t.signature !== rec.signature) {
          t = { signature: rec.signature, png: await thumbnailPng(path.join(realDir, ds.id), ds) };
          thumbnails.set(ds.id, t);
        }
        res.writeHead(200, {
          "Content-Type": "image/png",
          "Content-Length": t.png.byteLength,
          "Cache-Control": "no-cache",
        });
        return res.end(method === "HEAD" ? undefined : t.png);
      }
      if (c === "neuroglancer" && get && d === undefined) {
        const viewName = url.searchParams.get("view");
        const view = viewName ? catalog.listViews<View>(ds.id).find((v) => v.name === viewName) : undefined;
        if (viewName && !view) throw new HttpError(404, `view ${viewName}: no such view of ${ds.id}`);
        const state = neuroglancerState(ds, origin(req, port), view);
        return sendJson(res, 200, { state, url: neuroglancerUrl(state) });
      }
      if (c === "views" && d === undefined) {
        if (get) return sendJson(res, 200, catalog.listViews(ds.id));
        if (method === "POST") {
          requireToken(req);
          const view = parseView(await readJsonBody(req), ds);
          catalog.saveView(ds.id, view);
          return sendJson(res, 201, view);
        }
      }
      if (c === "segments" && get && d !== undefined && rest.length >= 1) {
        // The array may come as one encoded segment or as several ("segmentations/mito").
        const segId = rest[rest.length - 1]!;
        const array = [d, ...rest.slice(0, -1)].join("/");
        if (!/^\d+$/.test(segId)) throw new HttpError(400, `segment id ${segId}: not a non-negative integer`);
        if (!ds.arrays.some((x) => x.path === array))
          throw new HttpError(404, `array ${array}: not in ${ds.id}`);
        const table = catalog.tableForArray(ds.id, array);
        const row = table ? catalog.findRow(ds.id, table.name, Number(segId)) : undefined;
        return sendJson(res, 200, {
          id: Number(segId),
          array,
          table: table?.name ?? null,
          measurements: row ?? null,
        });
      }
    }
    if (a === "runs" && get) {
      await rescan();
      if (b === undefined)
        return sendJson(
          res,
          200,
          catalog.listRuns<RunSummaryRecord>().map((r) => runApi(r.summary)),
        );
      const { record, abs } = runDir(b);
      if (c === undefined) {
        let config: unknown = null;
        try {
          config = JSON.parse(fs.readFileSync(path.join(abs, RESOLVED), "utf8"));
        } catch {
          config = null;
        }
        const s = record.summary;
        return sendJson(res, 200, {
          ...runApi(s),
          config,
          checkpoints: s.checkpoints,
          best: s.bestStep === null ? null : { step: s.bestStep, f1: s.bestF1 },
          metrics: readMetrics(abs),
        });
      }
      if (c === "events" && d === undefined) {
        const q = url.searchParams.get("from");
        const last = req.headers["last-event-id"];
        const from =
          q !== null && /^\d+$/.test(q)
            ? Number(q)
            : typeof last === "string" && /^\d+$/.test(last)
              ? Number(last) + 1
              : undefined;
        const send = openEventStream(req, res);
        const stop = followJsonLines(path.join(abs, "metrics.jsonl"), (rec, i) => send(rec, i), {
          ...(from !== undefined ? { from } : {}),
        });
        req.on("close", stop);
        return;
      }
    }
    if (a === "models" && get && b === undefined) {
      await rescan();
      return sendJson(
        res,
        200,
        catalog.listModels().map((m) => m.summary),
      );
    }
    if (a === "results" && get) {
      await rescan();
      if (b === undefined) {
        const ds = url.searchParams.get("dataset");
        const list = ds ? catalog.listTables(ds) : catalog.listTables();
        return sendJson(
          res,
          200,
          list.map((t) => ({
            dataset: t.dataset,
            name: t.name,
            rows: t.rows,
            columns: t.columns,
            array: t.array,
          })),
        );
      }
      if (c !== undefined && d === undefined) {
        const t = catalog.getTable(dataset(b).id, c);
        if (!t) throw new HttpError(404, `table ${c}: not recorded for ${b}`);
        return sendJson(res, 200, t);
      }
    }
    if (a === "jobs") {
      if (b === undefined && get) return sendJson(res, 200, catalog.listJobs().map(apiJob));
      if (b === undefined && method === "POST") {
        requireToken(req);
        const { verb, args } = validateJob(await readJsonBody(req), verbs, realDir);
        return sendJson(res, 202, apiJob(jobs.submit(verb, args)));
      }
      if (b !== undefined && get) {
        const job = catalog.getJob(b);
        if (!job) throw new HttpError(404, `job ${b}: no such job`);
        if (c === undefined) return sendJson(res, 200, apiJob(job));
        if (c === "events" && d === undefined) {
          const send = openEventStream(req, res);
          const onUpdate = (j: { id: string; state: string }) => {
            if (j.id !== b) return;
            send(apiJob(catalog.getJob(b)!));
            if (j.state === "done" || j.state === "failed") res.end();
          };
          send(apiJob(job));
          if (job.state === "done" || job.state === "failed") return res.end();
          jobs.on("update", onUpdate);
          req.on("close", () => jobs.off("update", onUpdate));
          return;
        }
      }
    }
    throw new HttpError(404, `${method} /api/${parts.join("/")}: no such endpoint`);
  }

  async function data(req: http.IncomingMessage, res: http.ServerResponse, rawPath: string) {
    if (req.method !== "GET" && req.method !== "HEAD") {
      throw new HttpError(405, "/data is read-only");
    }
    const segs = safeSegments(rawPath);
    if (isRefusal(segs)) return sendPlainError(res, segs.status, segs.error);
    // Only files inside dataset containers: the catalogue and anything else in DIR stay private.
    const container = segs.findIndex((s) => /\.(zarr|n5)$/.test(s));
    if (container < 0 || container === segs.length - 1) {
      return sendPlainError(res, 404, "not found: /data serves the files inside dataset containers");
    }
    const real = await realpathInside(path.join(realDir, ...segs), realDir);
    if (isRefusal(real)) return sendPlainError(res, real.status, real.error);
    return serveFile(req, res, real);
  }

  async function web(req: http.IncomingMessage, res: http.ServerResponse, rawPath: string) {
    if (req.method !== "GET" && req.method !== "HEAD")
      throw new HttpError(405, `${req.method}: not allowed here`);
    const index = path.join(webDir, "index.html");
    if (!fs.existsSync(index)) {
      const body =
        "<!doctype html><meta charset=utf-8><title>organelle</title><p>The organelle web app is not built: run <code>npm run build</code> and reload. The API is at <a href=/api/datasets>/api/datasets</a>.</p>\n";
      res.writeHead(200, {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Length": Buffer.byteLength(body),
      });
      return res.end(req.method === "HEAD" ? undefined : body);
    }
    const segs = safeSegments(rawPath);
    if (isRefusal(segs)) return sendPlainError(res, segs.status, segs.error);
    const realWeb = fs.realpathSync(webDir);
    if (segs.length) {
      const real = await realpathInside(path.join(realWeb, ...segs), realWeb);
      if (!isRefusal(real) && fs.statSync(real).isFile()) return serveFile(req, res, real);
      // A missing asset is a 404; a client-side route gets the app.
      if (/\.[a-z0-9]+$/i.test(segs[segs.length - 1]!)) return sendPlainError(res, 404, "not found");
    }
    return serveFile(req, res, index);
  }

  const server = http.createServer((req, res) => {
    for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
    const port = (server.address() as AddressInfo).port;
    const rawUrl = req.url ?? "/";
    if (req.method === "OPTIONS") {
      res.writeHead(204, { "Content-Length": "0" });
      return res.end();
    }
    const q = rawUrl.indexOf("?");
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    let url: URL;
    try {
      url = new URL(`http://localhost${rawUrl.startsWith("/") ? "" : "/"}${rawUrl}`);
    } catch {
      return sendPlainError(res, 400, "malformed URL");
    }
    const handle = async () => {
      if (rawPath === "/data" || rawPath.startsWith("/data/")) return data(req, res, rawPath.slice(6));
      if (rawPath === "/api" || rawPath.startsWith("/api/")) {
        const parts: string[] = [];
        for (const s of rawPath.slice(5).split("/")) {
          if (s === "") continue;
          try {
            parts.push(decodeURIComponent(s));
          } catch {
            throw new HttpError(400, `malformed percent-encoding in ${JSON.stringify(s)}`);
          }
        }
        return api(req, res, parts, url, port);
      }
      return web(req, res, rawPath.replace(/^\/+/, ""));
    };
    handle().catch((e: unknown) => {
      if (e instanceof HttpError) return sendError(res, e.status, e.message);
      const msg = (e as Error)?.message?.split("\n")[0] ?? String(e);
      const kind = (e as { kind?: string }).kind;
      const status =
        kind === "NotFound" ? 404 : kind === "InvalidArgument" || kind === "InvalidData" ? 400 : 500;
      sendError(res, status, msg);
    });
  });
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        e.code === "EADDRINUSE"
          ? invalidArgument(
              `port ${o.port}: already in use on ${o.host ?? "127.0.0.1"}; choose another with --port`,
            )
          : e,
      ),
    );
    server.listen(o.port ?? 8321, o.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = o.host ?? "127.0.0.1";
  const shownHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  let closed = false;
  return {
    url: `http://${shownHost}:${port}`,
    token,
    dir: realDir,
    port,
    catalog,
    jobs,
    scan: () => rescan(true),
    close: async () => {
      if (closed) return;
      closed = true;
      await jobs.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await scanning?.catch(() => undefined);
      catalog.close();
    },
  };
}

function finite3(v: unknown): v is [number, number, number] {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "number" && Number.isFinite(x));
}

/** Checks a posted View against the contract and the dataset's arrays. */
export function parseView(body: unknown, ds: DatasetDetail): View {
  if (!body || typeof body !== "object") throw new HttpError(400, "view: expected a JSON object");
  const v = body as Record<string, unknown>;
  if (typeof v.name !== "string" || !v.name.trim() || v.name.length > 200) {
    throw new HttpError(400, "view: name must be a non-empty string (at most 200 characters)");
  }
  if (!finite3(v.position)) throw new HttpError(400, "view: position must be [z, y, x] in nm");
  if (typeof v.scale !== "number" || !(v.scale > 0) || !Number.isFinite(v.scale)) {
    throw new HttpError(400, "view: scale must be a positive number (nm per screen pixel)");
  }
  if (v.orientation !== undefined && !["xy", "xz", "yz", "3d"].includes(v.orientation as string)) {
    throw new HttpError(400, "view: orientation must be one of xy, xz, yz, 3d");
  }
  if (!Array.isArray(v.layers)) throw new HttpError(400, "view: layers must be a list");
  const arrays = new Set(ds.arrays.map((a) => a.path));
  const layers = v.layers.map((l: unknown, i: number) => {
    const x = (l ?? {}) as Record<string, unknown>;
    if (typeof x.array !== "string" || !arrays.has(x.array)) {
      throw new HttpError(400, `view: layers[${i}].array must name an array of ${ds.id}`);
    }
    if (typeof x.visible !== "boolean")
      throw new HttpError(400, `view: layers[${i}].visible must be true or false`);
    if (x.opacity !== undefined && !(typeof x.opacity === "number" && x.opacity >= 0 && x.opacity <= 1)) {
      throw new HttpError(400, `view: layers[${i}].opacity must be in [0, 1]`);
    }
    if (
      x.contrast !== undefined &&
      !(
        Array.isArray(x.contrast) &&
        x.contrast.length === 2 &&
        x.contrast.every((n) => typeof n === "number")
      )
    ) {
      throw new HttpError(400, `view: layers[${i}].contrast must be [min, max]`);
    }
    if (x.color !== undefined && !(typeof x.color === "string" && /^#[0-9a-fA-F]{6}$/.test(x.color))) {
      throw new HttpError(400, `view: layers[${i}].color must be #rrggbb`);
    }
    return {
      array: x.array,
      visible: x.visible,
      ...(x.opacity !== undefined ? { opacity: x.opacity as number } : {}),
      ...(x.contrast !== undefined ? { contrast: x.contrast as [number, number] } : {}),
      ...(x.color !== undefined ? { color: x.color as string } : {}),
    };
  });
  return {
    name: v.name,
    position: v.position,
    scale: v.scale,
    ...(v.orientation !== undefined ? { orientation: v.orientation as View["orientation"] } : {}),
    layers,
  };
}
