import * as fs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import * as path from "node:path";

/*
 * Read-only file serving for zarr clients: single byte ranges (206/416), strong-enough ETags from
 * size and mtime (304 on If-None-Match), HEAD, no directory listings. Path safety is decided before
 * anything touches the disk (safeSegments), then again on the real path (symlinks must stay inside).
 */

export type Refusal = { status: 400 | 403 | 404; error: string };

/**
 * Decodes the "/"-separated, percent-encoded segments of a URL path. Refuses what could step out of
 * the served tree or smuggle a separator: "." / ".." segments, empty segments (so no absolute paths),
 * encoded "/" or "\" (%2f, %5c), NUL bytes and malformed escapes. A double-encoded "%252e%252e"
 * decodes once to the literal name "%2e%2e", which is just a name that does not exist.
 */
export function safeSegments(rawPath: string): string[] | Refusal {
  if (rawPath === "") return [];
  const out: string[] = [];
  for (const raw of rawPath.split("/")) {
    let s: string;
    try {
      s = decodeURIComponent(raw);
    } catch {
      return { status: 400, error: `malformed percent-encoding in path segment ${JSON.stringify(raw)}` };
    }
    if (s === "" || s === "." || s === "..") {
      return { status: 403, error: "path segments '', '.' and '..' are not allowed" };
    }
    if (s.includes("/") || s.includes("\\") || s.includes("\0")) {
      return { status: 403, error: "encoded '/', '\\' or NUL in a path segment is not allowed" };
    }
    out.push(s);
  }
  return out;
}

/** realpath of `p` if it exists and lies inside `realRoot` (itself a realpath); else a refusal. */
export async function realpathInside(p: string, realRoot: string): Promise<string | Refusal> {
  let real: string;
  try {
    real = await fs.promises.realpath(p);
  } catch {
    return { status: 404, error: "not found" };
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    return { status: 403, error: "outside the served directory" };
  }
  return real;
}

export function isRefusal(x: unknown): x is Refusal {
  return typeof x === "object" && x !== null && "status" in x && "error" in x;
}

const TYPES: Record<string, string> = {
  ".json": "application/json",
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".csv": "text/csv; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
  ".map": "application/json",
};

function contentType(file: string): string {
  const base = path.basename(file);
  if (base === ".zattrs" || base === ".zarray" || base === ".zgroup" || base === "attributes.json") {
    return "application/json";
  }
  return TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
}

/** Parses a Range header against `size`: a single range, "all" (absent/ignored) or unsatisfiable. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | "all" | "unsatisfiable" {
  if (!header) return "all";
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header);
  // Multiple ranges or other units: serve the whole file, which RFC 9110 allows.
  if (!m) return "all";
  const [, a, b] = m;
  if (a === "" && b === "") return "all";
  if (a === "") {
    const n = Number(b);
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (start >= size) return "unsatisfiable";
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (end < start) return "unsatisfiable";
  return { start, end };
}

/** Serves one regular file (the caller has checked it is inside the served tree). */
export async function serveFile(
  req: IncomingMessage,
  res: ServerResponse,
  file: string,
  extraHeaders: Record<string, string> = {},
): Promise<void> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
  } catch {
    sendPlainError(res, 404, "not found");
    return;
  }
  if (!st.isFile()) {
    // No directory listings.
    sendPlainError(res, 404, "not found");
    return;
  }
  const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  const headers: Record<string, string> = {
    ...extraHeaders,
    "Content-Type": contentType(file),
    "Accept-Ranges": "bytes",
    ETag: etag,
    "Last-Modified": st.mtime.toUTCString(),
    "Cache-Control": "no-cache",
  };
  const inm = req.headers["if-none-match"];
  if (inm?.split(",").some((t) => t.trim() === etag || t.trim() === "*")) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const ifRange = req.headers["if-range"];
  const range = ifRange && ifRange !== etag ? "all" : parseRange(req.headers.range, st.size);
  if (range === "unsatisfiable") {
    res.writeHead(416, { ...headers, "Content-Range": `bytes */${st.size}`, "Content-Length": "0" });
    res.end();
    return;
  }
  const { start, end } = range === "all" ? { start: 0, end: st.size - 1 } : range;
  const length = Math.max(0, end - start + 1);
  if (range !== "all") headers["Content-Range"] = `bytes ${start}-${end}/${st.size}`;
  headers["Content-Length"] = String(length);
  res.writeHead(range === "all" ? 200 : 206, headers);
  if (req.method === "HEAD" || length === 0) {
    res.end();
    return;
  }
  // Chunks are small: one read beats a stream's overhead; large files stream.
  if (length <= 1 << 20) {
    const fh = await fs.promises.open(file, "r");
    try {
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await fh.read(buf, 0, length, start);
      res.end(bytesRead === length ? buf : buf.subarray(0, bytesRead));
    } finally {
      await fh.close();
    }
    return;
  }
  const stream = fs.createReadStream(file, { start, end });
  stream.on("error", () => res.destroy());
  stream.pipe(res);
}

export function sendPlainError(res: ServerResponse, status: number, error: string): void {
  const body = JSON.stringify({ error });
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}
