import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, organelle, REPO, tempDir } from "./helpers/cli.ts";

/*
 * `organelle serve` as users run it (the bundled CLI in a child process) on one small synthetic cell:
 * data serving (Range, ETag, CORS), path safety, the token, the JSON API, Neuroglancer state whose
 * sources resolve, a measure job run through the API, live run metrics over SSE, Ctrl-C.
 */

let tmp: { dir: string; cleanup: () => void };
let dir: string;
let child: ChildProcess;
let base: string;
let token: string;
let outside: string;
const stdout: string[] = [];

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request with the path sent exactly as given (fetch would normalise "..", which is what we test). */
function request(
  method: string,
  rawPath: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Reply> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: rawPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const getJson = async (p: string) => {
  const r = await request("GET", p);
  expect(r.status, `${p}: ${r.body.toString()}`).toBe(200);
  return JSON.parse(r.body.toString()) as unknown;
};
const post = (p: string, value: unknown, t?: string) =>
  request(
    "POST",
    p,
    { "Content-Type": "application/json", ...(t !== undefined ? { Authorization: `Bearer ${t}` } : {}) },
    JSON.stringify(value),
  );

beforeAll(async () => {
  tmp = tempDir("organelle-serve-");
  dir = path.join(tmp.dir, "served");
  fs.mkdirSync(path.join(dir, "cells"), { recursive: true });
  const s = organelle([
    "synth",
    path.join(dir, "cells", "cell.zarr"),
    "--shape",
    "32,48,48",
    "--voxel-size",
    "20",
    "--chunks",
    "16,32,32",
    "--organelles",
    "nucleus,mito,er",
    "--workers",
    "1",
  ]);
  expect(s.code, s.stderr).toBe(0);
  // A secret next to (outside) the served directory, and symlinks pointing at it.
  outside = path.join(tmp.dir, "secret.txt");
  fs.writeFileSync(outside, "top secret\n");
  fs.symlinkSync(outside, path.join(dir, "cells", "cell.zarr", "leak.txt"));
  fs.symlinkSync(tmp.dir, path.join(dir, "cells", "cell.zarr", "up"));
  // A training run in the format `organelle train` writes, for the runs API and live metrics.
  const run = path.join(dir, "runs", "mito-1");
  fs.mkdirSync(run, { recursive: true });
  fs.writeFileSync(
    path.join(run, "run.json"),
    JSON.stringify({
      organelle: "mito",
      created: new Date().toISOString(),
      voxelSize: [20, 20, 20],
      model: { preset: null },
    }),
  );
  fs.writeFileSync(
    path.join(run, "metrics.jsonl"),
    `${JSON.stringify({ type: "train", step: 1, loss: 0.7, time: 1, cpu: null, foreground: 0.2, wait: 0 })}\n`,
  );

  child = spawn(process.execPath, [BIN, "serve", dir, "--port", "0"], {
    cwd: REPO,
    env: { ...process.env, ORGANELLE_QUIET: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.setEncoding("utf8").on("data", (t: string) => stdout.push(t));
  child.stderr!.setEncoding("utf8").on("data", (t: string) => stdout.push(t));
  const deadline = Date.now() + 60_000;
  while (!/token for writes[^:]*: (\S+)/.test(stdout.join(""))) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`serve did not start: ${stdout.join("")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const text = stdout.join("");
  base = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(text)![1]!;
  token = /token for writes[^:]*: (\S+)/.exec(text)![1]!;
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill("SIGKILL");
    await new Promise((r) => child.once("close", r));
  }
  tmp?.cleanup();
});

describe("organelle serve: data", () => {
  const zarray = "/data/cells/cell.zarr/raw/s0/.zarray";
  const file = () => fs.readFileSync(path.join(dir, "cells", "cell.zarr", "raw", "s0", ".zarray"));

  it("serves whole files with length, ETag, Accept-Ranges and CORS; 304 on If-None-Match; HEAD has no body", async () => {
    const r = await request("GET", zarray);
    expect(r.status).toBe(200);
    expect(r.body.equals(file())).toBe(true);
    expect(r.headers["content-length"]).toBe(String(file().length));
    expect(r.headers["accept-ranges"]).toBe("bytes");
    expect(r.headers["access-control-allow-origin"]).toBe("*");
    expect(r.headers["content-type"]).toBe("application/json");
    const etag = r.headers.etag!;
    expect((await request("GET", zarray, { "If-None-Match": etag })).status).toBe(304);
    const h = await request("HEAD", zarray);
    expect(h.status).toBe(200);
    expect(h.headers["content-length"]).toBe(String(file().length));
    expect(h.body.length).toBe(0);
  });

  it("answers single and suffix ranges with 206 and unsatisfiable ones with 416", async () => {
    const f = file();
    const a = await request("GET", zarray, { Range: "bytes=2-11" });
    expect(a.status).toBe(206);
    expect(a.headers["content-range"]).toBe(`bytes 2-11/${f.length}`);
    expect(a.body.equals(f.subarray(2, 12))).toBe(true);
    const s = await request("GET", zarray, { Range: "bytes=-7" });
    expect(s.status).toBe(206);
    expect(s.body.equals(f.subarray(f.length - 7))).toBe(true);
    const open = await request("GET", zarray, { Range: `bytes=${f.length - 3}-` });
    expect(open.body.equals(f.subarray(f.length - 3))).toBe(true);
    const u = await request("GET", zarray, { Range: `bytes=${f.length}-` });
    expect(u.status).toBe(416);
    expect(u.headers["content-range"]).toBe(`bytes */${f.length}`);
    // A chunk (binary) by range too.
    const chunk = "/data/cells/cell.zarr/raw/s0/0/0/0";
    const whole = await request("GET", chunk);
    expect(whole.status).toBe(200);
    const part = await request("GET", chunk, { Range: "bytes=4-" });
    expect(part.body.equals(whole.body.subarray(4))).toBe(true);
  });

  it("answers CORS preflights", async () => {
    const r = await request("OPTIONS", zarray, {
      Origin: "https://neuroglancer-demo.appspot.com",
      "Access-Control-Request-Method": "GET",
      "Access-Control-Request-Headers": "range",
    });
    expect(r.status).toBe(204);
    expect(r.headers["access-control-allow-origin"]).toBe("*");
    expect(r.headers["access-control-allow-methods"]).toMatch(/GET/);
    expect(r.headers["access-control-allow-headers"]).toMatch(/Range/);
    expect(r.headers["access-control-expose-headers"]).toMatch(/Content-Range/);
  });

  it("refuses traversal, encoded separators, NUL, absolute paths, symlinks out, listings and non-dataset files", async () => {
    const attempts = [
      "/data/cells/cell.zarr/../../../secret.txt",
      "/data/cells/cell.zarr/%2e%2e/%2e%2e/%2e%2e/secret.txt",
      "/data/cells/cell.zarr/%2E%2E%2F%2E%2E%2F%2E%2E%2Fsecret.txt",
      "/data/cells/cell.zarr/..%2f..%2f..%2fsecret.txt",
      "/data/cells/cell.zarr/%252e%252e/%252e%252e/%252e%252e/secret.txt",
      "/data/cells/cell.zarr/..%5c..%5csecret.txt",
      `/data/${encodeURIComponent(path.join(tmp.dir, "secret.txt"))}`,
      `/data/${path.join(tmp.dir, "secret.txt")}`,
      `/data//${path.join(tmp.dir, "secret.txt")}`,
      "/data/cells/cell.zarr/raw%00/s0/.zarray",
      "/data/cells/cell.zarr/leak.txt",
      "/data/cells/cell.zarr/up/secret.txt",
      "/data/organelle-catalog.sqlite",
      "/data/cells/cell.zarr/%zz",
    ];
    for (const p of attempts) {
      const r = await request("GET", p);
      expect([400, 403, 404], `${p} -> ${r.status}`).toContain(r.status);
      expect(r.body.toString()).not.toContain("top secret");
      expect(JSON.parse(r.body.toString()).error).toEqual(expect.any(String));
    }
    expect((await request("GET", "/data/cells/cell.zarr/leak.txt")).status).toBe(403);
    expect((await request("GET", "/data/cells/cell.zarr/up/secret.txt")).status).toBe(403);
    // No directory listings.
    expect((await request("GET", "/data/cells/cell.zarr/raw")).status).toBe(404);
    expect((await request("PUT", "/data/cells/cell.zarr/raw/s0/.zarray")).status).toBe(405);
  });
});

describe("organelle serve: API", () => {
  it("lists the dataset with its arrays, and health", async () => {
    expect(await getJson("/api/health")).toMatchObject({ name: "organelle", dir: fs.realpathSync(dir) });
    const list = (await getJson("/api/datasets")) as {
      id: string;
      voxelSize: number[];
      shape: number[];
      dataUrl: string;
      thumbnail: string;
    }[];
    expect(list.map((d) => d.id)).toEqual(["cells/cell.zarr"]);
    expect(list[0]).toMatchObject({
      voxelSize: [20, 20, 20],
      shape: [32, 48, 48],
      dataUrl: "/data/cells/cell.zarr",
    });
    const d = (await getJson(`/api/datasets/${encodeURIComponent("cells/cell.zarr")}`)) as {
      arrays: { path: string; group: string; kind: string; url: string; scales: unknown[] }[];
      meta: { synthetic?: unknown };
    };
    expect(d.arrays.map((a) => [a.path, a.group, a.kind])).toEqual([
      ["raw", "em", "intensity"],
      ["masks/cell", "masks", "mask"],
      ["labels/er", "labels", "label"],
      ["labels/mito", "labels", "label"],
      ["labels/nucleus", "labels", "label"],
    ]);
    expect(d.arrays[0]!.scales.length).toBeGreaterThanOrEqual(1);
    expect(d.meta.synthetic).toBeDefined();
    for (const a of d.arrays) expect((await request("GET", `${a.url}/.zattrs`)).status).toBe(200);
    const png = await request("GET", list[0]!.thumbnail);
    expect(png.status).toBe(200);
    expect(png.body.subarray(1, 4).toString()).toBe("PNG");
    expect((await request("GET", "/api/datasets/nope.zarr")).status).toBe(404);
    expect((await request("GET", "/api/nothing")).status).toBe(404);
  });

  it("generates a Neuroglancer state with the documented keys whose sources resolve on this server", async () => {
    const id = encodeURIComponent("cells/cell.zarr");
    const r = (await getJson(`/api/datasets/${id}/neuroglancer`)) as {
      state: Record<string, unknown>;
      url: string;
    };
    const state = JSON.parse(JSON.stringify(r.state)) as {
      dimensions: Record<string, [number, string]>;
      position: number[];
      crossSectionScale: number;
      projectionScale: number;
      layout: string;
      selectedLayer: { layer: string };
      layers: {
        type: string;
        name: string;
        source: string | { url: string }[];
        visible: boolean;
        shader?: string;
        shaderControls?: unknown;
      }[];
    };
    expect(Object.keys(state.dimensions)).toEqual(["x", "y", "z"]);
    expect(state.dimensions.x).toEqual([1e-9, "m"]);
    expect(state.position).toHaveLength(3);
    expect(state.crossSectionScale).toBeGreaterThan(0);
    expect(state.projectionScale).toBeGreaterThan(0);
    expect(["4panel", "xy", "xz", "yz", "3d"]).toContain(state.layout);
    expect(state.layers.map((l) => l.name)).toContain(state.selectedLayer.layer);
    expect(r.url.startsWith("https://neuroglancer-demo.appspot.com/#!")).toBe(true);
    expect(JSON.parse(decodeURIComponent(r.url.split("#!")[1]!))).toEqual(r.state);
    for (const l of state.layers) {
      expect(["image", "segmentation"]).toContain(l.type);
      expect(typeof l.visible).toBe("boolean");
      if (l.type === "image") expect(l.shader).toMatch(/void main/);
      const sources = typeof l.source === "string" ? [l.source] : l.source.map((s) => s.url);
      for (const s of sources) {
        const m = /^(zarr|zarr3|n5|precomputed):\/\/(http:\/\/[^/]+)(\/.*)$/.exec(s);
        expect(m, s).not.toBeNull();
        expect(m![2]).toBe(base);
        const meta =
          m![1] === "zarr"
            ? ".zattrs"
            : m![1] === "zarr3"
              ? "zarr.json"
              : m![1] === "n5"
                ? "attributes.json"
                : "info";
        expect((await request("GET", `${m![3]}/${meta}`)).status, `${s}/${meta}`).toBe(200);
      }
    }
  });

  it("refuses writes without or with a wrong token; saves views with it", async () => {
    const id = encodeURIComponent("cells/cell.zarr");
    const view = {
      name: "middle",
      position: [320, 480, 480],
      scale: 10,
      orientation: "xy",
      layers: [{ array: "raw", visible: true }],
    };
    for (const t of [undefined, "", "wrong", `${token}x`]) {
      const r = await post(`/api/datasets/${id}/views`, view, t);
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body.toString()).error).toMatch(/token/);
      expect((await post("/api/jobs", { verb: "measure", args: [] }, t)).status).toBe(401);
      expect((await post("/api/scan", {}, t)).status).toBe(401);
    }
    const viaHeader = await request(
      "POST",
      `/api/datasets/${id}/views`,
      { "X-Organelle-Token": token },
      JSON.stringify(view),
    );
    expect(viaHeader.status).toBe(201);
    expect(await getJson(`/api/datasets/${id}/views`)).toEqual([view]);
    expect(
      (
        await post(
          `/api/datasets/${id}/views`,
          { ...view, layers: [{ array: "nope", visible: true }] },
          token,
        )
      ).status,
    ).toBe(400);
    const ng = (await getJson(`/api/datasets/${id}/neuroglancer?view=middle`)) as {
      state: { position: number[]; layout: string };
    };
    expect(ng.state.position).toEqual([480, 480, 320]);
    expect(ng.state.layout).toBe("xy");
  });

  it("validates job arguments: verb, options of that verb, paths inside the directory", async () => {
    const bad = [
      { verb: "rm", args: [] },
      { verb: "measure", args: ["cells/cell.zarr", "labels/er", "--no-such-option"] },
      { verb: "measure", args: ["../secret.zarr", "labels/er"] },
      { verb: "measure", args: ["/etc", "labels/er"] },
      { verb: "measure", args: ["cells/cell.zarr/up/x.zarr", "labels/er"] },
      { verb: "measure", args: ["cells/cell.zarr", "labels/er", "--table", "../../../out.csv"] },
      { verb: "measure", args: ["cells/cell.zarr", "labels/er", "--table=/tmp/out.csv"] },
      { verb: "measure", args: "cells/cell.zarr" },
    ];
    for (const b of bad) {
      const r = await post("/api/jobs", b, token);
      expect(r.status, JSON.stringify(b)).toBe(400);
      expect(JSON.parse(r.body.toString()).error).toMatch(/^job: /);
    }
  });

  it("runs a measure job with progress and its table appears in the results and segment look-up", async () => {
    const r = await post(
      "/api/jobs",
      { verb: "measure", args: ["cells/cell.zarr", "labels/er", "--workers", "1"] },
      token,
    );
    expect(r.status).toBe(202);
    const job = JSON.parse(r.body.toString()) as { id: string; state: string };
    expect(["queued", "running"]).toContain(job.state);
    let cur:
      | {
          state: string;
          exitCode: number | null;
          progress: { done: number; total: number } | null;
          log: string;
        }
      | undefined;
    const deadline = Date.now() + 90_000;
    for (;;) {
      cur = (await getJson(`/api/jobs/${job.id}`)) as typeof cur;
      if (cur!.state === "done" || cur!.state === "failed" || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(cur!.state, cur!.log).toBe("done");
    expect(cur!.exitCode).toBe(0);
    expect(cur!.progress).toMatchObject({ done: 1, total: 1 });
    expect(cur!.log).toMatch(/labels\/er: \d+ objects/);
    // The event stream of a finished job sends its final state and ends.
    const ev = await request("GET", `/api/jobs/${job.id}/events`);
    expect(ev.headers["content-type"]).toMatch(/text\/event-stream/);
    expect(ev.body.toString()).toMatch(/data: \{"id":"[^"]+","verb":"measure".*"state":"done"/);

    const id = encodeURIComponent("cells/cell.zarr");
    const tables = (await getJson(`/api/results?dataset=${id}`)) as {
      name: string;
      rows: number;
      columns: string[];
    }[];
    const er = tables.find((t) => t.name === "er");
    expect(er).toBeDefined();
    expect(er!.columns[0]).toBe("Object ID");
    const t = (await getJson(`/api/results/${id}/er`)) as { columns: string[]; rows: (number | null)[][] };
    expect(t.rows.length).toBe(er!.rows);
    const csv = fs
      .readFileSync(path.join(dir, "cells", "cell.zarr", "tables", "er.csv"), "utf8")
      .trim()
      .split("\n");
    expect(t.rows.length).toBe(csv.length - 1);
    const firstId = t.rows[0]![0] as number;
    const seg = (await getJson(`/api/datasets/${id}/segments/labels/er/${firstId}`)) as {
      measurements: Record<string, number>;
    };
    expect(seg.measurements["Object ID"]).toBe(firstId);
    expect(seg.measurements["Volume (nm^3)"]).toBe(t.rows[0]![1]);
    const none = (await getJson(
      `/api/datasets/${id}/segments/${encodeURIComponent("labels/er")}/999999`,
    )) as { measurements: unknown };
    expect(none.measurements).toBeNull();
    const detail = (await getJson(`/api/datasets/${id}`)) as { tables: { name: string; url: string }[] };
    expect(detail.tables.map((x) => x.name)).toContain("er");
    expect(((await getJson("/api/jobs")) as { id: string }[]).map((j) => j.id)).toContain(job.id);
  });

  it("lists runs and streams new metrics.jsonl records as server-sent events", async () => {
    const runs = (await getJson("/api/runs")) as { id: string; organelle: string; steps: number }[];
    expect(runs).toEqual([expect.objectContaining({ id: "runs/mito-1", organelle: "mito", steps: 1 })]);
    const detail = (await getJson(`/api/runs/${encodeURIComponent("runs/mito-1")}`)) as {
      metrics: unknown[];
    };
    expect(detail.metrics).toHaveLength(1);
    const u = new URL(base);
    const received = await new Promise<string>((resolve, reject) => {
      const req = http.get(
        { host: u.hostname, port: u.port, path: `/api/runs/${encodeURIComponent("runs/mito-1")}/events` },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            text += c;
            if (text.includes('"step":2')) {
              req.destroy();
              resolve(text);
            }
          });
        },
      );
      req.on("error", reject);
      setTimeout(() => {
        fs.appendFileSync(
          path.join(dir, "runs", "mito-1", "metrics.jsonl"),
          `${JSON.stringify({ type: "train", step: 2, loss: 0.6, time: 2, cpu: null, foreground: 0.2, wait: 0 })}\n`,
        );
      }, 300);
      setTimeout(() => reject(new Error("no event within 10 s")), 10_000);
    });
    expect(received).toMatch(/id: 1\ndata: \{"type":"train","step":2/);
    expect(received).not.toMatch(/"step":1,/);
  });

  it("stops cleanly on Ctrl-C", async () => {
    const closed = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
    child.kill("SIGINT");
    expect(await closed).toBe(0);
    expect(stdout.join("")).toMatch(/organelle serve: stopped/);
  });
});
