import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Volume } from "../../src/store/volume.ts";
import { organelle, tempDir } from "../helpers/cli.ts";
import { synthCell } from "../helpers/synth.ts";
import { canvasPixels as canvasDataUrl, launchPage, saveView, screenshot, startServe } from "./helpers.ts";

/**
 * The annotator in Debian's chromium against a real `organelle serve`: one small synthetic cell whose
 * mitochondrion truth is read and then removed from the dataset, so the browser's annotation is what
 * labels/mito becomes. Strokes on two axes, segment, a voxel correction with undo/redo, save as a training
 * block, then `organelle train` on that block and its curve on the Runs page.
 * Screenshots: test-artifacts/web/annotate-*.png.
 */

type Vec3 = [number, number, number];

const DATASET = "cells/cell.zarr";
const VOXEL = 20;
const N = 80;
const { dir, cleanup } = tempDir("organelle-annotate-");
const ds = path.join(dir, DATASET);

let server: ChildProcess | undefined;
let base = "";
let token = "";
let browser: Browser | undefined;
let page: Page;

/** Binary truth of the largest mitochondrion, and the ROI (voxels) around it. */
let truth: Uint8Array;
let roiBegin: Vec3;
let roiShape: Vec3;
/** Voxels of the ROI's centre (the planes the annotator opens on), ROI-relative. */
let centre: Vec3;
/** World centre (nm) of a voxel near the nucleus' centre of mass. */
let nucleusCentre: Vec3;

const shot = (name: string) => screenshot(page, name);
const canvasPixels = (testid: string) => canvasDataUrl(page, testid);

const at = (v: Vec3, shape: Vec3) => (v[0] * shape[1] + v[1]) * shape[2] + v[2];
/** Truth inside the ROI at ROI-relative voxel v. */
const truthAt = (v: Vec3) =>
  truth[at([v[0] + roiBegin[0], v[1] + roiBegin[1], v[2] + roiBegin[2]], [N, N, N])]!;

const VIEWS = ["xy", "xz", "yz"] as const;
const PLANE_DIMS: [0 | 1 | 2, 0 | 1 | 2][] = [
  [1, 2],
  [0, 2],
  [0, 1],
];

/** Screen position of a ROI-relative voxel centre in a view (the page exposes its position and zoom). */
async function screenOf(axis: 0 | 1 | 2, v: [number, number, number]): Promise<[number, number]> {
  const el = page.locator("[data-testid=position]");
  const position = (await el.getAttribute("data-position"))!.split(",").map(Number);
  const scale = Number(await el.getAttribute("data-scale"));
  const box = (await page.locator(`[data-testid=view-${VIEWS[axis]}]`).boundingBox())!;
  const [rd, cd] = PLANE_DIMS[axis]!;
  const world = (d: number) => (roiBegin[d]! + v[d]! + 0.5) * VOXEL;
  return [
    box.x + box.width / 2 + (world(cd) - position[cd]!) / scale,
    box.y + box.height / 2 + (world(rd) - position[rd]!) / scale,
  ];
}

/** Drags the brush through ROI-relative voxels in one view. */
async function stroke(axis: 0 | 1 | 2, voxels: Vec3[]): Promise<void> {
  const first = await screenOf(axis, voxels[0]!);
  await page.mouse.move(...first);
  await page.mouse.down();
  for (const v of voxels.slice(1)) await page.mouse.move(...(await screenOf(axis, v)), { steps: 3 });
  await page.mouse.up();
}

async function counts(): Promise<string> {
  return (await page.textContent("[data-testid=session-counts]")) ?? "";
}

async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return res.headers.get("Content-Type")?.includes("json")
    ? ((await res.json()) as T)
    : (new Uint8Array(await res.arrayBuffer()) as T);
}

/** The session's current mask, read from the server. */
async function serverMask(): Promise<Uint8Array> {
  const [s] = await api<{ id: string }[]>("GET", "/api/annotate/sessions");
  return api<Uint8Array>("GET", `/api/annotate/sessions/${s!.id}/mask?encoding=raw`);
}

function f1(mask: ArrayLike<number>): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let z = 0; z < roiShape[0]; z++)
    for (let y = 0; y < roiShape[1]; y++)
      for (let x = 0; x < roiShape[2]; x++) {
        const m = mask[at([z, y, x], roiShape)]! > 0;
        const t = truthAt([z, y, x]) > 0;
        if (m && t) tp++;
        else if (m) fp++;
        else if (t) fn++;
      }
  return (2 * tp) / (2 * tp + fp + fn);
}

beforeAll(async () => {
  synthCell(ds, { voxelSize: VOXEL, organelles: "nucleus,mito" });
  // The truth of the largest mitochondrion; then labels/mito leaves the dataset for the annotator to write.
  const labels = await Volume.open(ds, "labels/mito");
  const ids = (await labels.readBox({ begin: [0, 0, 0], shape: [N, N, N] })) as ArrayLike<number>;
  const sizes = new Map<number, number>();
  for (let i = 0; i < ids.length; i++) if (ids[i]) sizes.set(ids[i]!, (sizes.get(ids[i]!) ?? 0) + 1);
  const id = [...sizes].sort((a, b) => b[1] - a[1])[0]![0];
  truth = new Uint8Array(ids.length);
  const sum: Vec3 = [0, 0, 0];
  let count = 0;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== id) continue;
    truth[i] = 1;
    sum[0] += Math.floor(i / (N * N));
    sum[1] += Math.floor(i / N) % N;
    sum[2] += i % N;
    count++;
  }
  const com = sum.map((s) => Math.round(s / count));
  const side = 30;
  roiBegin = com.map((c) => Math.max(0, Math.min(N - side, c - side / 2))) as Vec3;
  roiShape = [side, side, side];
  centre = [side / 2, side / 2, side / 2];
  const nucleus = (await (
    await Volume.open(ds, "labels/nucleus")
  ).readBox({
    begin: [0, 0, 0],
    shape: [N, N, N],
  })) as ArrayLike<number>;
  const nsum: Vec3 = [0, 0, 0];
  let ncount = 0;
  for (let i = 0; i < nucleus.length; i++) {
    if (!nucleus[i]) continue;
    nsum[0] += Math.floor(i / (N * N));
    nsum[1] += Math.floor(i / N) % N;
    nsum[2] += i % N;
    ncount++;
  }
  nucleusCentre = nsum.map((v) => (Math.floor(v / ncount) + 0.5) * VOXEL) as Vec3;
  fs.rmSync(path.join(ds, "labels", "mito"), { recursive: true });
  fs.writeFileSync(path.join(ds, "labels", ".zattrs"), JSON.stringify({ labels: ["nucleus"] }, null, 2));

  const served = await startServe(dir);
  server = served.child;
  ({ url: base, token } = served);
  ({ browser, page } = await launchPage());
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  cleanup();
});

describe("viewer: coarse levels while loading, hover read-out of hidden layers", () => {
  it("draws the cached coarser level while the new zoom's chunks load, then the fine one", async () => {
    const status = await saveView(base, token, DATASET, {
      name: "far",
      position: nucleusCentre,
      // 30 nm per pixel: the 40 nm level (s1) is drawn; zooming in needs s0.
      scale: 30,
      orientation: "xy",
      layers: [
        { array: "raw", visible: true },
        { array: "labels/nucleus", visible: true, opacity: 0.4 },
      ],
    });
    expect(status).toBe(201);
    // Full-resolution chunks (of every array) are held back until released.
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let held = 0;
    await page.context().route(/\/s0\//, async (route) => {
      held++;
      await gate;
      await route.continue();
    });
    await page.goto(`${base}/#/d/${encodeURIComponent(DATASET)}/view?view=far`);
    const canvas = page.locator("[data-testid=view-xy]");
    await canvas.waitFor();
    // Mean grey of a few pixels around the centre (off the crosshair lines).
    const brightness = () =>
      page.$eval("[data-testid=view-xy]", (c) => {
        const el = c as unknown as {
          width: number;
          height: number;
          getContext(t: "2d"): {
            getImageData(x: number, y: number, w: number, h: number): { data: number[] };
          };
        };
        const ctx = el.getContext("2d");
        let sum = 0;
        for (const [dx, dy] of [
          [-12, -12],
          [12, -12],
          [-12, 12],
          [12, 12],
        ] as const) {
          const d = ctx.getImageData(el.width / 2 + dx, el.height / 2 + dy, 1, 1).data;
          sum += (d[0]! + d[1]! + d[2]!) / 3;
        }
        return sum / 4;
      });
    await expect.poll(brightness, { timeout: 10_000 }).toBeGreaterThan(20);
    await page.waitForTimeout(300);
    for (let i = 0; i < 9; i++) await page.getByRole("button", { name: "zoom in" }).click();
    await expect.poll(() => held).toBeGreaterThan(0);
    await page.waitForTimeout(300);
    // s0 is still on its way: the coarser level stands in instead of black.
    expect(await brightness()).toBeGreaterThan(20);
    const coarse = await canvasPixels("view-xy");
    await shot("viewer-coarse-while-loading.png");
    release();
    await expect.poll(() => canvasPixels("view-xy"), { timeout: 10_000 }).not.toBe(coarse);
    await page.context().unroute(/\/s0\//);
    await page.waitForTimeout(300);
    await shot("viewer-fine-loaded.png");
  });

  it("clears a label's hover read-out when its layer is hidden", async () => {
    const box = (await page.locator("[data-testid=view-xy]").boundingBox())!;
    await page.mouse.move(box.x + box.width / 2 + 0.5, box.y + box.height / 2 + 0.5);
    const id = page.locator("[data-testid='hover-id-labels/nucleus']");
    await expect.poll(() => id.textContent(), { timeout: 10_000 }).toBe("1");
    await page.locator("[data-testid='layer-labels/nucleus']").uncheck();
    await expect.poll(() => id.count()).toBe(0);
  });
});

describe("the annotator against organelle serve", () => {
  it("chooses a sub-volume (drawn in a view, then typed in nm) and opens a session", async () => {
    await page.goto(`${base}/#/d/${encodeURIComponent(DATASET)}/annotate`);
    await page.fill("[data-testid=token]", token);
    const xy = page.locator("[data-testid=view-xy]");
    await xy.waitFor();
    await page.waitForTimeout(800);
    // A box dragged in the xy view sets the ROI's y and x extent.
    const box = (await xy.boundingBox())!;
    const sizeBefore = await page.inputValue("[data-testid=roi-size]");
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5, { steps: 4 });
    await page.mouse.up();
    await expect.poll(() => page.inputValue("[data-testid=roi-size]")).not.toBe(sizeBefore);
    await shot("annotate-roi-drawn.png");
    // Typed: the block around the mitochondrion.
    await page.fill("[data-testid=roi-begin]", roiBegin.map((v) => v * VOXEL).join(", "));
    await page.press("[data-testid=roi-begin]", "Enter");
    await page.fill("[data-testid=roi-size]", roiShape.map((v) => v * VOXEL).join(", "));
    await page.press("[data-testid=roi-size]", "Enter");
    await expect.poll(() => page.textContent("[data-testid=roi-voxels]")).toContain("30 × 30 × 30 voxels");
    await page.selectOption("[data-testid=organelle]", "mito");
    await page.click("[data-testid=create-session]");
    await page.locator("[data-testid=session-panel]").waitFor({ timeout: 30_000 });
    expect(await page.textContent("[data-testid=session-panel]")).toMatch(
      /30×30×30 voxels · \d+ supervoxels/,
    );
  });

  it("paints foreground and background strokes on two axes and segments in 3D", async () => {
    // xy plane through the ROI's centre: a foreground line inside the mitochondrion, a background ring
    // along the ROI's border.
    const inside = (axis: 0 | 1 | 2): Vec3[] => {
      const [rd, cd] = PLANE_DIMS[axis]!;
      // Voxels of the truth in this plane whose 5x5 neighbourhood is all inside, nearest the centre first.
      const out: Vec3[] = [];
      for (let r = 2; r < roiShape[rd]! - 2; r++)
        for (let c = 2; c < roiShape[cd]! - 2; c++) {
          const v: Vec3 = [...centre];
          v[rd] = r;
          v[cd] = c;
          let all = true;
          for (let dr = -2; dr <= 2 && all; dr++)
            for (let dc = -2; dc <= 2 && all; dc++) {
              const w: Vec3 = [...v];
              w[rd] += dr;
              w[cd] += dc;
              all = truthAt(w) > 0;
            }
          if (all) out.push(v);
        }
      expect(out.length, `no interior of the mitochondrion on the ${VIEWS[axis]} plane`).toBeGreaterThan(0);
      const d = (v: Vec3) => Math.hypot(v[rd] - centre[rd], v[cd] - centre[cd]);
      out.sort((a, b) => d(a) - d(b));
      // From the most central interior voxel to the farthest interior voxel within 4 voxels of it.
      const a = out[0]!;
      const b = out.filter((v) => Math.hypot(v[rd] - a[rd], v[cd] - a[cd]) <= 4).pop()!;
      return [a, b];
    };
    const ring = (axis: 0 | 1 | 2): Vec3[][] => {
      const [rd, cd] = PLANE_DIMS[axis]!;
      const lo = 1;
      const hi = roiShape[rd]! - 2;
      const corners: [number, number][] = [
        [lo, lo],
        [lo, hi],
        [hi, hi],
        [hi, lo],
        [lo, lo],
      ];
      // Split the ring where it comes within 2 voxels of the mitochondrion.
      const runs: Vec3[][] = [];
      let cur: Vec3[] = [];
      for (let k = 0; k + 1 < corners.length; k++) {
        const [r0, c0] = corners[k]!;
        const [r1, c1] = corners[k + 1]!;
        const n = Math.max(Math.abs(r1 - r0), Math.abs(c1 - c0));
        for (let i = 0; i < n; i++) {
          const v: Vec3 = [...centre];
          v[rd] = r0 + Math.round(((r1 - r0) * i) / n);
          v[cd] = c0 + Math.round(((c1 - c0) * i) / n);
          let near = false;
          for (let dr = -2; dr <= 2; dr++)
            for (let dc = -2; dc <= 2; dc++) {
              const w: Vec3 = [...v];
              w[rd] = Math.max(0, Math.min(roiShape[rd]! - 1, w[rd] + dr));
              w[cd] = Math.max(0, Math.min(roiShape[cd]! - 1, w[cd] + dc));
              near ||= truthAt(w) > 0;
            }
          if (near) {
            if (cur.length > 1) runs.push(cur);
            cur = [];
          } else if (i % 4 === 0 || cur.length === 0) cur.push(v);
        }
      }
      if (cur.length > 1) runs.push(cur);
      return runs;
    };
    await page.click("[data-testid=mode-strokes]");
    let n = 0;
    for (const axis of [0, 1] as const) {
      await page.click("[data-testid=label-fg]");
      await stroke(axis, inside(axis));
      n++;
      await page.click("[data-testid=label-bg]");
      for (const run of ring(axis)) {
        await stroke(axis, run);
        n++;
      }
      // Strokes go to the server one after another, in order.
      await expect.poll(counts).toContain(`${n} strokes`);
    }
    expect(await counts()).toMatch(/\(\d[\d,]* fg \/ \d[\d,]* bg voxels\)/);
    await shot("annotate-strokes.png");

    const before = await canvasPixels("view-yz");
    await page.click("[data-testid=segment]");
    await expect
      .poll(() => page.textContent("[data-testid=segment-time]"), { timeout: 20_000 })
      .toMatch(/segmented in [\d.]+ s on the server/);
    // The 3D result shows in the third view too, where nobody painted.
    await expect.poll(() => canvasPixels("view-yz")).not.toBe(before);
    const mask = await serverMask();
    const score = f1(mask);
    console.log(`annotator: strokes on 2 planes, graph-cut F1 ${score.toFixed(3)} against the truth`);
    expect(score).toBeGreaterThan(0.75);
    await page.waitForTimeout(300);
    await shot("annotate-segmented.png");
  });

  it("corrects voxels of the result, with undo and redo", async () => {
    const cut = await serverMask();
    await page.click("[data-testid=mode-correct]");
    await page.click("[data-testid=label-bg]");
    // From the background into the mitochondrion's centre on the xy plane: a notch, not a hole.
    const z = centre[0];
    let inner: Vec3 | null = null;
    for (let x = centre[2]; x < roiShape[2]; x++)
      if (cut[at([z, centre[1], x], roiShape)]) inner = [z, centre[1], x];
    expect(inner).not.toBeNull();
    const from: Vec3 = [z, centre[1], Math.min(roiShape[2] - 1, inner![2] + 3)];
    const to: Vec3 = [z, centre[1], Math.max(0, inner![2] - 4)];
    await stroke(0, [from, to]);
    await expect.poll(counts).toContain("1 corrections");
    const corrected = await serverMask();
    let removed = 0;
    for (let i = 0; i < cut.length; i++) {
      expect(corrected[i]! <= cut[i]!, "a background correction only removes").toBe(true);
      removed += cut[i]! - corrected[i]!;
    }
    expect(removed).toBeGreaterThan(0);
    await shot("annotate-corrected.png");
    await page.click("[data-testid=undo]");
    await expect.poll(async () => (await serverMask()).join() === cut.join()).toBe(true);
    await page.click("[data-testid=redo]");
    await expect.poll(async () => (await serverMask()).join() === corrected.join()).toBe(true);
    // The page follows once the server's answer arrives (after the server already holds the redone
    // mask): nothing is left to redo.
    await expect.poll(() => page.isEnabled("[data-testid=redo]")).toBe(false);
  });

  it("saves the block as training labels with its ROI and annotation time", async () => {
    const final = await serverMask();
    await page.click("[data-testid=save]");
    const saved = page.locator("[data-testid=saved]");
    await expect
      .poll(() => saved.textContent(), { timeout: 20_000 })
      .toMatch(/saved labels\/mito · training ROI/);
    await expect
      .poll(() => page.textContent("[data-testid=annotation-time]"))
      .toMatch(/annotation time: [\d.]+ s/);
    await shot("annotate-saved.png");

    const rois = organelle(["gt", "rois", ds, "mito"]);
    expect(rois.code, rois.stderr).toBe(0);
    const begin = roiBegin.map((v) => v * VOXEL).join(", ");
    expect(rois.stdout).toContain("training-1  training");
    expect(rois.stdout).toContain(`[(${begin})..`);
    const info = organelle(["info", ds]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toContain("labels/mito");
    // The ROI of labels/mito holds the annotation (after the preset's clean-up, which may only remove
    // objects under 27 voxels or fill enclosed holes) and nothing outside it.
    const labels = await Volume.open(ds, "labels/mito");
    const inRoi = (await labels.readBox({ begin: roiBegin, shape: roiShape })) as ArrayLike<number>;
    let differ = 0;
    for (let i = 0; i < final.length; i++) if ((inRoi[i]! > 0 ? 1 : 0) !== final[i]) differ++;
    expect(differ).toBeLessThan(60);
    const score = f1(inRoi);
    console.log(`annotator: saved labels/mito F1 ${score.toFixed(3)} against the truth`);
    expect(score).toBeGreaterThan(0.75);
    const table = fs
      .readFileSync(path.join(ds, "tables", "annotation-time.csv"), "utf8")
      .trim()
      .split("\n");
    expect(table).toHaveLength(2);
    expect(table[0]).toContain("Annotation time (s)");
  });

  it("trains with the block (organelle train runs it as a job) and shows the run's curve live", async () => {
    const panel = page.locator("[data-testid=train-panel]");
    await panel.waitFor();
    await page.fill("[data-testid=train-steps]", "3");
    await page.selectOption("[data-testid=train-model]", "tiny");
    await page.click("[data-testid=train]");
    const started = page.locator("[data-testid=train-started]");
    await started.waitFor({ timeout: 30_000 });
    await shot("annotate-train-queued.png");
    const run = (await started.getAttribute("data-run"))!;
    const jobId = /job (\S+)/.exec((await started.textContent())!)![1]!;
    const metrics = path.join(dir, run, "metrics.jsonl");
    const trainRecords = () =>
      fs.existsSync(metrics) ? (fs.readFileSync(metrics, "utf8").match(/"type":"train"/g) ?? []).length : 0;
    // Open the run as soon as it has logged a step; the rest arrives through the event stream.
    await expect.poll(trainRecords, { timeout: 60_000, interval: 200 }).toBeGreaterThan(0);
    await page.goto(`${base}/#/runs/${encodeURIComponent(run)}`);
    const line = page.locator("[data-testid=run-detail] svg polyline").first();
    await line.waitFor({ timeout: 15_000 });
    const points = async () => ((await line.getAttribute("points")) ?? "").trim().split(/\s+/).length;
    console.log(`annotator: run page opened with ${await points()} of 3 steps drawn`);
    await expect.poll(points, { timeout: 60_000 }).toBe(3);
    await expect
      .poll(async () => (await api<{ state: string }>("GET", `/api/jobs/${jobId}`)).state, {
        timeout: 60_000,
      })
      .toBe("done");
    // A record appended now (a fixture step) is drawn without reloading: the curve is live.
    fs.appendFileSync(metrics, `${JSON.stringify({ type: "train", step: 4, loss: 0.2, time: 30 })}\n`);
    await expect.poll(points, { timeout: 10_000 }).toBe(4);
    await shot("annotate-run-curve.png");
  }, 120_000);

  it("opens a session from an existing segmentation (the starting point to correct)", async () => {
    const saved = (await (
      await Volume.open(ds, "labels/mito")
    ).readBox({
      begin: roiBegin,
      shape: roiShape,
    })) as ArrayLike<number>;
    await page.goto(`${base}/#/d/${encodeURIComponent(DATASET)}/annotate`);
    await page.locator("[data-testid=roi-chooser]").waitFor();
    await page.fill("[data-testid=roi-begin]", roiBegin.map((v) => v * VOXEL).join(", "));
    await page.press("[data-testid=roi-begin]", "Enter");
    await page.fill("[data-testid=roi-size]", roiShape.map((v) => v * VOXEL).join(", "));
    await page.press("[data-testid=roi-size]", "Enter");
    await page.selectOption("[data-testid=organelle]", "mito");
    await page.selectOption("[data-testid=from]", "labels/mito");
    await page.click("[data-testid=create-session]");
    await page.locator("[data-testid=session-panel]").waitFor({ timeout: 30_000 });
    expect(await page.textContent("[data-testid=session-panel]")).toContain("from labels/mito");
    const sessions = await api<{ id: string; from: string | null }[]>("GET", "/api/annotate/sessions");
    const s = sessions.find((x) => x.from === "labels/mito")!;
    const start = await api<Uint8Array>("GET", `/api/annotate/sessions/${s.id}/mask?encoding=raw`);
    let differ = 0;
    for (let i = 0; i < start.length; i++) if ((saved[i]! > 0 ? 1 : 0) !== start[i]) differ++;
    expect(differ).toBe(0);
    // The starting mask is drawn: hiding the segmentation overlay changes the view.
    await page.waitForTimeout(500);
    const withMask = await canvasPixels("view-xz");
    await page.locator("[data-testid=show-mask]").uncheck();
    await expect.poll(() => canvasPixels("view-xz")).not.toBe(withMask);
    await page.locator("[data-testid=show-mask]").check();
    await expect.poll(() => canvasPixels("view-xz")).toBe(withMask);
    await shot("annotate-from-labels.png");
  });
});
