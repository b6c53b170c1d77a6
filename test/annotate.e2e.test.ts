import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeRuns, encodeRuns, strokeVoxels } from "../src/annotate/brush.ts";
import { graphCut } from "../src/annotate/graphcut.ts";
import { f1Score, simulateStrokes } from "../src/annotate/testing.ts";
import { coord } from "../src/core/coordinate.ts";
import { Roi } from "../src/core/roi.ts";
import { readRois } from "../src/gt/rois.ts";
import { type RunningServer, startServer } from "../src/server/server.ts";
import { Volume } from "../src/store/volume.ts";
import { organelle, tempDir } from "./helpers/cli.ts";
import { boxAroundLabels, readArray, synthCell } from "./helpers/synth.ts";

/*
 * The annotator's server side end to end on a small synthetic cell: a session on a 40^3 ROI around a
 * mitochondrion, strokes on two axes (plane masks and a polyline), segment, a voxel correction, undo and
 * redo, save as a training block (label array, ROI, exclusion zone, annotation time in the attributes
 * and the catalogue), a second session started from a "prediction" and saved as a validation block,
 * and `organelle annotate-train --dry-run` accepting the result.
 */

const { dir, cleanup } = tempDir("organelle-annotate-");
const ds = path.join(dir, "cell.zarr");
const TOKEN = "annotate-test-token";
const R = 40;
const VOX = 20;
let server: RunningServer;
let box: { begin: [number, number, number]; shape: [number, number, number] };
let truth: Uint8Array;
let grey: Uint8Array;

const api = async (method: string, p: string, body?: unknown, token: string | null = TOKEN) => {
  const res = await fetch(`${server.url}/api/annotate/${p}`, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const buf = Buffer.from(await res.arrayBuffer());
  const json = res.headers.get("content-type")?.startsWith("application/json")
    ? (JSON.parse(buf.toString()) as Record<string, unknown>)
    : null;
  // biome-ignore lint/suspicious/noExplicitAny: replies are checked field by field by the tests
  return { status: res.status, headers: res.headers, buf, json: json as Record<string, any> };
};

/** The mask a binary reply carries (RLE of little-endian uint32 runs, or raw bytes). */
function maskOf(r: { headers: Headers; buf: Buffer }): Uint8Array {
  const n = R * R * R;
  if (r.headers.get("x-organelle-encoding") === "raw") return new Uint8Array(r.buf);
  const runs = new Uint32Array(r.buf.length / 4);
  for (let i = 0; i < runs.length; i++) runs[i] = r.buf.readUInt32LE(4 * i);
  return decodeRuns(runs, n);
}

/** Run lengths of one z or x plane of a seed volume holding `value` (the plane-mask brush format). */
function planeRuns(seeds: Uint8Array, axis: 0 | 2, index: number, value: number): number[] {
  const plane = new Uint8Array(R * R);
  for (let u = 0; u < R; u++)
    for (let v = 0; v < R; v++) {
      const i = axis === 0 ? (index * R + u) * R + v : (u * R + v) * R + index;
      plane[u * R + v] = seeds[i] === value ? 1 : 0;
    }
  return Array.from(encodeRuns(plane));
}

beforeAll(async () => {
  synthCell(ds, { voxelSize: VOX, sizeUm: 2, seed: 1, organelles: "mito", extra: ["--workers", "1"] });
  const { v: labels, data: all } = await readArray(ds, "labels/mito");
  const { begin } = boxAroundLabels(all, labels.meta.shape, R);
  box = { begin: [...begin], shape: [R, R, R] };
  const inBox = (await labels.readBox({
    begin: coord(...box.begin),
    shape: coord(R, R, R),
  })) as ArrayLike<number>;
  truth = Uint8Array.from(inBox, (v) => (v ? 1 : 0));
  grey = (await (
    await Volume.open(ds, "raw")
  ).readBox({
    begin: coord(...box.begin),
    shape: coord(R, R, R),
  })) as Uint8Array;
  // The annotation is made from scratch: the synthetic truth leaves the dataset; a "prediction" of it stays.
  const pred = await Volume.create(ds, "predictions/test/mito/seg", {
    shape: labels.meta.shape,
    dtype: "uint8",
    voxelSize: labels.meta.voxelSize,
    chunks: coord(32, 32, 32),
    kind: "mask",
  });
  await pred.writeBox(
    { begin: coord(0, 0, 0), shape: labels.meta.shape },
    Uint8Array.from(all as ArrayLike<number>, (v) => (v ? 1 : 0)),
  );
  await pred.markComplete();
  fs.rmSync(path.join(ds, "labels", "mito"), { recursive: true });
  server = await startServer({ dir, port: 0, token: TOKEN });
}, 120_000);

afterAll(async () => {
  await server?.close();
  cleanup();
});

const roiNm = (b: readonly number[]) => ({
  begin: b.map((v) => v * VOX),
  shape: [R * VOX, R * VOX, R * VOX],
});

describe("annotation sessions over HTTP", () => {
  let id: string;
  let saved: Uint8Array;

  it("refuses requests without the token, unknown sessions and bad bodies", async () => {
    expect((await api("GET", "sessions", undefined, null)).status).toBe(401);
    expect((await api("POST", "sessions/nope/segment")).status).toBe(404);
    const bad = await api("POST", "sessions", {
      dataset: "cell.zarr",
      organelle: "mito",
      roi: { begin: [0, 0] },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/roi.begin must be \[z, y, x\] in nm/);
    const outside = await api("POST", "sessions", {
      dataset: "cell.zarr",
      organelle: "mito",
      roi: { begin: [0, 0, 0], shape: [99999, 800, 800] },
    });
    expect(outside.status).toBe(400);
    expect(outside.json.error).toMatch(/must lie inside/);
  });

  it("creates a session, takes strokes on two axes, segments, corrects, undoes and redoes", async () => {
    const c = await api("POST", "sessions", {
      dataset: "cell.zarr",
      organelle: "mitochondria",
      roi: roiNm(box.begin),
    });
    expect(c.status, JSON.stringify(c.json)).toBe(201);
    id = c.json.id;
    expect(c.json.shape).toEqual([R, R, R]);
    expect(c.json.voxelSize).toEqual([VOX, VOX, VOX]);
    expect(c.json.organelle).toBe("mito");
    expect(c.json.supervoxels).toBeGreaterThan(100);
    expect(c.json.box.begin).toEqual(box.begin);
    expect(typeof c.json.seconds).toBe("number");

    const seeds = simulateStrokes(
      { raw: grey, truth, shape: coord(R, R, R), voxelSize: coord(VOX, VOX, VOX) },
      {
        planes: [
          [0, 14],
          [0, 26],
          [2, 20],
        ],
        diskRadius: 4,
        margin: 1,
      },
    );
    for (const [axis, index] of [
      [0, 14],
      [0, 26],
      [2, 20],
    ] as const) {
      for (const [value, label] of [
        [1, "fg"],
        [2, "bg"],
      ] as const) {
        const runs = planeRuns(seeds, axis, index, value);
        if (runs.length < 2) continue;
        const s = await api("POST", `sessions/${id}/strokes`, {
          axis: axis === 0 ? "z" : "x",
          index,
          mask: { runs },
          label,
        });
        expect(s.status, JSON.stringify(s.json)).toBe(200);
      }
    }
    // a polyline background stroke along the ROI's corner on a y plane
    const line = await api("POST", `sessions/${id}/strokes`, {
      axis: "y",
      index: 1,
      points: [
        [0, 0],
        [R - 1, 0],
      ],
      radius: 1,
      label: "bg",
    });
    expect(line.status).toBe(200);
    expect(line.json.voxels).toBeGreaterThanOrEqual(R);
    const bad = await api("POST", `sessions/${id}/strokes`, {
      axis: "w",
      index: 0,
      points: [[0, 0]],
      label: "fg",
    });
    expect(bad.status).toBe(400);

    const seg = await api("POST", `sessions/${id}/segment`);
    expect(seg.status).toBe(200);
    expect(seg.headers.get("content-type")).toBe("application/octet-stream");
    expect(seg.headers.get("x-organelle-shape")).toBe(`${R},${R},${R}`);
    expect(Number(seg.headers.get("x-organelle-seconds"))).toBeGreaterThanOrEqual(0);
    const mask = maskOf(seg);
    let fg = 0;
    for (const v of mask) fg += v;
    expect(Number(seg.headers.get("x-organelle-foreground"))).toBe(fg);
    // the server's cut is the library's on the same seeds (fast supervoxels, the annotator's default)
    const all = new Uint8Array(seeds);
    const lineVoxels = strokeVoxels(coord(R, R, R), {
      axis: 1,
      index: 1,
      points: [
        [0, 0],
        [R - 1, 0],
      ],
      radius: 1,
    });
    for (const i of lineVoxels) all[i] = 2;
    const expected = graphCut(grey, coord(R, R, R), all, {
      voxelSize: coord(VOX, VOX, VOX),
      supervoxelMode: "fast",
    });
    expect(Buffer.from(mask).equals(Buffer.from(expected.mask))).toBe(true);
    // a small mito at 20 nm (2,237 voxels) and 43 foreground seed voxels: the quality bar is in the unit tests
    expect(f1Score(mask, truth)).toBeGreaterThan(0.3);
    const raw = await api("GET", `sessions/${id}/mask?encoding=raw`);
    expect(Buffer.from(maskOf(raw)).equals(Buffer.from(mask))).toBe(true);

    // a voxel correction: three foreground voxels forced to background
    const fgVoxels: number[][] = [];
    for (let i = 0; i < mask.length && fgVoxels.length < 3; i++)
      if (mask[i]) fgVoxels.push([Math.floor(i / (R * R)), Math.floor(i / R) % R, i % R]);
    const corr = await api("POST", `sessions/${id}/correct`, { voxels: fgVoxels, label: "bg" });
    expect(corr.status).toBe(200);
    const corrected = maskOf(await api("GET", `sessions/${id}/mask`));
    for (const [z, y, x] of fgVoxels) expect(corrected[(z! * R + y!) * R + x!]).toBe(0);
    const undo = await api("POST", `sessions/${id}/undo`);
    expect(undo.json.undone).toBe("paint");
    expect(Buffer.from(maskOf(await api("GET", `sessions/${id}/mask`))).equals(Buffer.from(mask))).toBe(true);
    const redo = await api("POST", `sessions/${id}/redo`);
    expect(redo.json.redone).toBe("paint");
    saved = maskOf(await api("GET", `sessions/${id}/mask`));
    expect(Buffer.from(saved).equals(Buffer.from(corrected))).toBe(true);
    const state = await api("GET", `sessions/${id}`);
    expect(state.json.counts).toMatchObject({ corrections: 1, segments: 1, redo: 0 });
  });

  it("saves as a training block: label array, ROI, exclusion zone, annotation time", async () => {
    const s = await api("POST", `sessions/${id}/save`, { kind: "training" });
    expect(s.status, JSON.stringify(s.json)).toBe(200);
    expect(s.json.array).toBe("labels/mito");
    expect(s.json.exclusion).toBe("labels/mito_exclusion");
    expect(s.json.roi).toMatchObject({ name: "training-1", kind: "training", begin: roiNm(box.begin).begin });
    const labels = await Volume.open(ds, "labels/mito");
    expect(labels.meta.dtype).toBe("uint8");
    const written = (await labels.readBox({
      begin: coord(...box.begin),
      shape: coord(R, R, R),
    })) as Uint8Array;
    // mito clean-up removes objects < 27 voxels; the rest is the session's mask
    let diff = 0;
    for (let i = 0; i < written.length; i++) diff += written[i] !== saved[i] ? 1 : 0;
    expect(diff).toBe(s.json.cleanup.removedVoxels + s.json.cleanup.filledVoxels);
    const rois = readRois(labels.attrs, "labels/mito");
    expect(rois.map((r) => [r.name, r.role])).toEqual([["training-1", "training"]]);
    expect(
      rois[0]!.roi.equals(
        new Roi(
          coord(...(roiNm(box.begin).begin as [number, number, number])),
          coord(R * VOX, R * VOX, R * VOX),
        ),
      ),
    ).toBe(true);
    const ann = labels.attrs.annotations as { seconds: number; strokes: number; roi: string }[];
    expect(ann).toHaveLength(1);
    expect(ann[0]!.roi).toBe("training-1");
    expect(ann[0]!.strokes).toBeGreaterThanOrEqual(5);
    expect(ann[0]!.seconds).toBeGreaterThanOrEqual(0);
    const excl = await Volume.open(ds, "labels/mito_exclusion");
    const zone = (await excl.readBox({ begin: coord(...box.begin), shape: coord(R, R, R) })) as Uint8Array;
    expect(zone.some((v) => v === 1)).toBe(true);
    // the annotation time table: CSV next to the dataset's tables and in the catalogue
    expect(fs.readFileSync(path.join(ds, "tables", "annotation-time.csv"), "utf8")).toMatch(/training-1/);
    const t = await fetch(`${server.url}/api/results/cell.zarr/annotation-time`);
    expect(t.status).toBe(200);
    const table = (await t.json()) as { columns: string[]; rows: unknown[][] };
    expect(table.columns).toContain("Annotation time (s)");
    expect(table.rows).toHaveLength(1);
  });

  it("starts a session from a prediction and saves it as a validation block", async () => {
    const other = [box.begin[0], box.begin[1], Math.max(0, box.begin[2] - R)];
    const c = await api("POST", "sessions", {
      dataset: "cell.zarr",
      organelle: "mito",
      roi: roiNm(other),
      from: "predictions/test/mito/seg",
    });
    expect(c.status, JSON.stringify(c.json)).toBe(201);
    expect(c.json.from).toBe("predictions/test/mito/seg");
    const pred = await Volume.open(ds, "predictions/test/mito/seg");
    const want = await pred.readBox({
      begin: coord(...(other as [number, number, number])),
      shape: coord(R, R, R),
    });
    const start = maskOf(await api("GET", `sessions/${c.json.id}/mask`));
    expect(Buffer.from(start).equals(Buffer.from(want as Uint8Array))).toBe(true);
    const s = await api("POST", `sessions/${c.json.id}/save`, { kind: "validation" });
    expect(s.status, JSON.stringify(s.json)).toBe(200);
    expect(s.json.roi.name).toBe("validation-1");
    const del = await api("DELETE", `sessions/${c.json.id}`);
    expect(del.json.deleted).toBe(true);
    expect((await api("GET", `sessions/${c.json.id}`)).status).toBe(404);
  });

  it("organelle annotate-train --dry-run accepts the saved blocks as a training configuration", () => {
    const cfg = path.join(dir, "mito.train.json");
    const r = organelle(["annotate-train", ds, "--organelle", "mito", "--config", cfg, "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/training cell: training-1 /);
    expect(r.stdout).toMatch(/validation cell: validation-1 /);
    expect(r.stdout).toMatch(/exclusion zone/);
    const config = JSON.parse(fs.readFileSync(cfg, "utf8")) as { sources: { rois: string }[] };
    expect(config.sources[0]!.rois).toBe("training");
    const none = organelle(["annotate-train", ds, "--organelle", "er", "--dry-run"]);
    expect(none.code).not.toBe(0);
    expect(none.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("POST /api/annotate/train writes the configuration and queues organelle train as a job", async () => {
    const none = await api("POST", "train", { dataset: "cell.zarr", organelle: "er" });
    expect(none.status).toBe(404);
    expect(none.json.error).toMatch(/has no endoplasmic reticulum labels/);
    const bad = await api("POST", "train", { dataset: "cell.zarr", organelle: "mito", finetune: "../x" });
    expect(bad.status).toBe(400);
    const r = await api("POST", "train", {
      dataset: "cell.zarr",
      organelle: "mito",
      steps: 2,
      run: "mito-annotated",
    });
    expect(r.status, JSON.stringify(r.json)).toBe(202);
    expect(r.json.config).toBe("runs/mito-annotated.train.json");
    expect(r.json.run).toBe("runs/mito-annotated");
    expect(r.json.job.verb).toBe("train");
    expect(r.json.job.args).toEqual([path.join(server.dir, "runs", "mito-annotated.train.json")]);
    const config = JSON.parse(fs.readFileSync(path.join(server.dir, r.json.config), "utf8"));
    expect(config).toMatchObject({ organelle: "mito", training: { steps: 2 } });
    expect(config.validation).toEqual([{ dataset: fs.realpathSync(ds), rois: "validation" }]);
  });
});
