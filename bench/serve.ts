/**
 * Benchmark of `organelle serve`'s data path against Debian's nginx serving the same files:
 *   - time to first slice: what a viewer fetches to draw the middle z slice of raw at s0 (the group's
 *     .zattrs, s0/.zarray, then every chunk the slice crosses, in parallel), cold (first request after
 *     start) and warm (median of repeats);
 *   - chunk throughput: autocannon hammering the chunk URLs of that slice (10 connections, keep-alive).
 * Both servers run one process / one worker (nginx `worker_processes 1`) on 127.0.0.1.
 *
 *   npx tsx bench/serve.ts [--size 256] [--chunks 64] [--seconds 5] [--connections 10]
 *
 * The synthetic cell is made once (organelle synth, 8 nm) and kept in $TMPDIR/organelle-bench-serve.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/** The part of autocannon's API used here (the package ships no types). */
interface AutocannonResult {
  requests: { average: number };
  throughput: { average: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
}
const autocannon = createRequire(import.meta.url)("autocannon") as (o: {
  url: string;
  connections: number;
  duration: number;
  requests: { method: string; path: string }[];
}) => Promise<AutocannonResult>;

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(REPO, "bin", "organelle.mjs");

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const size = arg("size", 256);
const chunk = arg("chunks", 64);
const seconds = arg("seconds", 5);
const connections = arg("connections", 10);

const work = path.join(os.tmpdir(), "organelle-bench-serve");
const served = path.join(work, `served-${size}-${chunk}`);
const dataset = path.join(served, "cell.zarr");

function ensureDataset(): void {
  if (fs.existsSync(path.join(dataset, "raw", "s0", ".zarray"))) return;
  fs.mkdirSync(served, { recursive: true });
  console.log(`making a ${size}^3 synthetic cell (chunks ${chunk}^3) in ${dataset} ...`);
  const r = spawnSync(
    process.execPath,
    [
      BIN,
      "synth",
      dataset,
      "--shape",
      `${size},${size},${size}`,
      "--voxel-size",
      "8",
      "--chunks",
      String(chunk),
      "--organelles",
      "nucleus,mito,er",
      "--overwrite",
    ],
    { stdio: "inherit", env: { ...process.env, ORGANELLE_QUIET: "1" } },
  );
  if (r.status !== 0) throw new Error("organelle synth failed");
}

async function freePort(): Promise<number> {
  const net = await import("node:net");
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function waitFor(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startOrganelle(): Promise<{ base: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, "serve", served, "--port", String(port)], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, ORGANELLE_QUIET: "1" },
  });
  return { base: `http://127.0.0.1:${port}/data`, child };
}

async function startNginx(): Promise<{ base: string; child: ChildProcess; prefix: string }> {
  const port = await freePort();
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-bench-nginx-"));
  const conf = `
daemon off;
master_process on;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    location /data/ {
      alias ${served}/;
      add_header Access-Control-Allow-Origin *;
    }
  }
}
`;
  fs.writeFileSync(path.join(prefix, "nginx.conf"), conf);
  const child = spawn("/usr/sbin/nginx", ["-p", prefix, "-c", path.join(prefix, "nginx.conf")], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  return { base: `http://127.0.0.1:${port}/data`, child, prefix };
}

/** The files a viewer needs for the middle z slice of raw at s0. */
function sliceUrls(): { meta: string[]; chunks: string[]; bytes: number } {
  const zarray = JSON.parse(fs.readFileSync(path.join(dataset, "raw", "s0", ".zarray"), "utf8")) as {
    shape: number[];
    chunks: number[];
  };
  const [nz, ny, nx] = zarray.shape as [number, number, number];
  const [cz, cy, cx] = zarray.chunks as [number, number, number];
  const z = Math.floor(nz / 2 / cz);
  const chunks: string[] = [];
  let bytes = 0;
  for (let y = 0; y < Math.ceil(ny / cy); y++) {
    for (let x = 0; x < Math.ceil(nx / cx); x++) {
      const rel = `raw/s0/${z}/${y}/${x}`;
      const f = path.join(dataset, rel);
      if (!fs.existsSync(f)) continue;
      bytes += fs.statSync(f).size;
      chunks.push(`/cell.zarr/${rel}`);
    }
  }
  return { meta: ["/cell.zarr/raw/.zattrs", "/cell.zarr/raw/s0/.zarray"], chunks, bytes };
}

async function firstSlice(base: string, urls: { meta: string[]; chunks: string[] }): Promise<number> {
  const t0 = performance.now();
  // Metadata first (a viewer needs the array's shape before it can name chunks), then chunks at once.
  await Promise.all(urls.meta.map(async (u) => (await fetch(base + u)).arrayBuffer()));
  const bodies = await Promise.all(
    urls.chunks.map(async (u) => {
      const r = await fetch(base + u);
      if (!r.ok) throw new Error(`${base}${u}: ${r.status}`);
      return r.arrayBuffer();
    }),
  );
  if (bodies.length !== urls.chunks.length) throw new Error("missing chunks");
  return performance.now() - t0;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function measure(name: string, base: string, urls: ReturnType<typeof sliceUrls>) {
  await waitFor(`${base}/cell.zarr/raw/.zattrs`);
  const cold = await firstSlice(base, urls);
  const warm: number[] = [];
  for (let i = 0; i < 30; i++) warm.push(await firstSlice(base, urls));
  const u = new URL(base);
  const result = await autocannon({
    url: `${u.origin}`,
    connections,
    duration: seconds,
    requests: urls.chunks.map((c) => ({ method: "GET", path: `${u.pathname}${c}` })),
  });
  return {
    name,
    cold,
    warm: median(warm),
    reqPerSec: result.requests.average,
    mbPerSec: result.throughput.average / 1e6,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

async function main() {
  ensureDataset();
  const urls = sliceUrls();
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  console.log(
    `slice: ${urls.chunks.length} chunks (${(urls.bytes / 1e6).toFixed(2)} MB) of raw s0 ${size}^3, chunks ${chunk}^3 zstd; ${os.cpus().length} cores (${cpu}); autocannon ${connections} connections x ${seconds} s`,
  );
  const results = [];
  const org = await startOrganelle();
  try {
    results.push(await measure("organelle serve", org.base, urls));
  } finally {
    org.child.kill("SIGINT");
    await new Promise((r) => org.child.once("close", r));
  }
  const ngx = await startNginx();
  try {
    results.push(await measure("nginx (Debian, 1 worker)", ngx.base, urls));
  } finally {
    ngx.child.kill("SIGQUIT");
    await new Promise((r) => ngx.child.once("close", r));
    fs.rmSync(ngx.prefix, { recursive: true, force: true });
  }
  const pad = (s: string, n: number) => s.padEnd(n);
  const lines = [
    `| server | first slice cold (ms) | first slice warm, median of 30 (ms) | chunks/s | MB/s | p50 latency (ms) | p99 (ms) | errors |`,
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...results.map(
      (r) =>
        `| ${pad(r.name, 24)} | ${r.cold.toFixed(1)} | ${r.warm.toFixed(1)} | ${r.reqPerSec.toFixed(0)} | ${r.mbPerSec.toFixed(1)} | ${r.p50} | ${r.p99} | ${r.errors} |`,
    ),
  ];
  const [a, b] = results as [(typeof results)[0], (typeof results)[0]];
  lines.push(
    "",
    `ratios organelle/nginx: first slice warm ${(a.warm / b.warm).toFixed(2)}x the time, throughput ${(a.reqPerSec / b.reqPerSec).toFixed(2)}x nginx's chunks/s`,
  );
  console.log(lines.join("\n"));
}

await main();
