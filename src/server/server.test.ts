import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatasetDetail } from "../catalog/dataset-summary.ts";
import { followJsonLines } from "./events.ts";
import { HttpError, tokenMatches } from "./http.ts";
import { type VerbSpec, validateJob } from "./jobs.ts";
import { neuroglancerState } from "./neuroglancer.ts";
import { type RunningServer, startServer } from "./server.ts";
import { isRefusal, parseRange, safeSegments } from "./static.ts";

let dir: string;
beforeAll(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "organelle-server-")));
  fs.mkdirSync(path.join(dir, "cells"));
  fs.symlinkSync(os.tmpdir(), path.join(dir, "cells", "out"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("parseRange", () => {
  it("reads single, open and suffix ranges, clamps the end, and flags unsatisfiable ones", () => {
    expect(parseRange(undefined, 100)).toBe("all");
    expect(parseRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange("bytes=90-", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-500", 100)).toEqual({ start: 0, end: 99 });
    expect(parseRange("bytes=50-5000", 100)).toEqual({ start: 50, end: 99 });
    expect(parseRange("bytes=100-", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=9-3", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 100)).toBe("unsatisfiable");
    // Multiple ranges and other units: the whole file.
    expect(parseRange("bytes=0-1,5-6", 100)).toBe("all");
    expect(parseRange("items=0-1", 100)).toBe("all");
  });
});

describe("safeSegments", () => {
  it("decodes names and refuses dot segments, encoded separators, NUL, empty segments and bad escapes", () => {
    expect(safeSegments("cell.zarr/raw/s0/.zarray")).toEqual(["cell.zarr", "raw", "s0", ".zarray"]);
    expect(safeSegments("a%20b/c")).toEqual(["a b", "c"]);
    // Double encoding decodes once: a literal name, not a parent reference.
    expect(safeSegments("%252e%252e")).toEqual(["%2e%2e"]);
    for (const p of [
      "..",
      "a/../b",
      "%2e%2e/x",
      "a/%2E",
      "a%2fb",
      "a%2Fb",
      "a%5cb",
      "a%00b",
      "/etc",
      "a//b",
      "%zz",
    ]) {
      expect(isRefusal(safeSegments(p)), p).toBe(true);
    }
  });
});

describe("tokenMatches", () => {
  it("accepts the token only", () => {
    expect(tokenMatches("abc", "abc")).toBe(true);
    expect(tokenMatches("abd", "abc")).toBe(false);
    expect(tokenMatches("ab", "abc")).toBe(false);
    expect(tokenMatches(undefined, "abc")).toBe(false);
  });
});

describe("validateJob", () => {
  const specs = new Map<string, VerbSpec>([
    [
      "measure",
      {
        options: new Map([
          ["--table", true],
          ["--no-cell-mask", false],
          ["--workers", true],
        ]),
      },
    ],
  ]);
  it("passes the verb's own options and paths inside the directory", () => {
    expect(
      validateJob(
        { verb: "measure", args: ["cells/a.zarr", "labels/mito", "--table=t/x.csv", "--no-cell-mask"] },
        specs,
        dir,
      ),
    ).toEqual({
      verb: "measure",
      args: ["cells/a.zarr", "labels/mito", "--table=t/x.csv", "--no-cell-mask"],
    });
    expect(
      validateJob({ verb: "measure", args: [path.join(dir, "cells", "a.zarr"), "x"] }, specs, dir).args,
    ).toHaveLength(2);
  });
  it("refuses other verbs, foreign options, values for flags, and paths leaving the directory", () => {
    const bad: unknown[] = [
      null,
      { verb: "serve", args: [] },
      { verb: "predict", args: [] },
      { verb: "measure", args: ["--debug"] },
      { verb: "measure", args: ["--no-cell-mask=1"] },
      { verb: "measure", args: ["--table"] },
      { verb: "measure", args: ["../x.zarr"] },
      { verb: "measure", args: ["~/x.zarr"] },
      { verb: "measure", args: ["cells/out/x.zarr"] },
      { verb: "measure", args: ["a.zarr", "--table", "/tmp/t.csv"] },
      { verb: "measure", args: ["a\0b"] },
      { verb: "measure", args: [1] },
    ];
    for (const b of bad) expect(() => validateJob(b, specs, dir), JSON.stringify(b)).toThrow(HttpError);
  });
});

describe("followJsonLines", () => {
  it("reports records appended after it starts (or from an index), whole lines only", async () => {
    const file = path.join(dir, "m.jsonl");
    fs.writeFileSync(file, '{"a":0}\n');
    const got: [unknown, number][] = [];
    const all: [unknown, number][] = [];
    const stop = followJsonLines(file, (r, i) => got.push([r, i]), { intervalMs: 20 });
    const stopAll = followJsonLines(file, (r, i) => all.push([r, i]), { from: 0, intervalMs: 20 });
    fs.appendFileSync(file, '{"a":1}\n{"a":');
    await new Promise((r) => setTimeout(r, 80));
    fs.appendFileSync(file, "2}\n");
    await new Promise((r) => setTimeout(r, 80));
    stop();
    stopAll();
    expect(got).toEqual([
      [{ a: 1 }, 1],
      [{ a: 2 }, 2],
    ]);
    expect(all.map((x) => x[1])).toEqual([0, 1, 2]);
  });
});

describe("neuroglancerState", () => {
  it("maps z,y,x nm to Neuroglancer's x,y,z and picks layer types from array kinds", () => {
    const d = {
      id: "c.zarr",
      arrays: [
        {
          path: "raw",
          group: "em",
          kind: "intensity",
          format: "OME-Zarr 0.5 (Zarr v3)",
          url: "/data/c.zarr/raw",
          voxelSize: [10, 4, 4],
          shape: [100, 200, 300],
          offset: [0, 0, 0],
          contrast: [0, 255],
        },
        {
          path: "predictions/m/mito/prob",
          group: "predictions",
          kind: "probability",
          format: "OME-Zarr 0.5 (Zarr v3)",
          url: "/data/c.zarr/predictions/m/mito/prob",
          voxelSize: [10, 4, 4],
          shape: [100, 200, 300],
          offset: [0, 0, 0],
          color: "#ff3300",
        },
        {
          path: "segmentations/mito",
          group: "segmentations",
          kind: "label",
          format: "OME-Zarr 0.5 (Zarr v3)",
          url: "/data/c.zarr/segmentations/mito",
          voxelSize: [10, 4, 4],
          shape: [100, 200, 300],
          offset: [0, 0, 0],
          color: "#ff3300",
        },
      ],
      meshes: [{ name: "mito", organelle: "mito", url: "/data/c.zarr/meshes/mito", ids: [1, 2] }],
    } as unknown as DatasetDetail;
    const s = neuroglancerState(d, "http://h:1");
    expect(s.position).toEqual([600, 400, 500]);
    expect(s.layers.map((l) => [l.type, l.visible])).toEqual([
      ["image", true],
      ["image", false],
      ["segmentation", true],
    ]);
    expect(s.layers[0]!.source).toBe("zarr3://http://h:1/data/c.zarr/raw");
    expect(s.layers[1]!.shaderControls).toEqual({ normalized: { range: [0, 255] }, color: "#ff3300" });
    expect(s.layers[2]!.source).toEqual([
      { url: "zarr3://http://h:1/data/c.zarr/segmentations/mito" },
      { url: "precomputed://http://h:1/data/c.zarr/meshes/mito" },
    ]);
    expect(s.layers[2]!.segments).toEqual(["1", "2"]);
  });
});

describe("startServer", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ dir, port: 0, scan: false, token: "t0k", webDir: path.join(dir, "no-web") });
  });
  afterAll(() => server.close());

  it("says how to build the web app when it is not built, and serves the API beside it", async () => {
    const r = await fetch(`${server.url}/some/route`);
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/web app is not built: run <code>npm run build/);
    expect(await (await fetch(`${server.url}/api/datasets`)).json()).toEqual([]);
    const scan = await fetch(`${server.url}/api/scan`, {
      method: "POST",
      headers: { Authorization: "Bearer t0k" },
    });
    expect(await scan.json()).toMatchObject({ datasets: 0, errors: [] });
  });

  it("refuses a port in use with one clear line", async () => {
    await expect(startServer({ dir, port: server.port, scan: false })).rejects.toThrow(
      /already in use.*--port/,
    );
  });
});
