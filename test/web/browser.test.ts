import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { decode } from "fast-png";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Volume } from "../../src/store/volume.ts";
import { organelle, tempDir } from "../helpers/cli.ts";
import { synthCell } from "../helpers/synth.ts";
import {
  canvasPixels as canvasDataUrl,
  launchPage,
  SHOTS,
  saveView,
  screenshot,
  startServe,
} from "./helpers.ts";

/**
 * The web app in Debian's chromium (headless, driven by playwright-core) against a real `organelle serve`
 * of one small synthetic cell with a measure table and meshes. Screenshots go to test-artifacts/web/.
 */

const DATASET = "cells/cell.zarr";
const { dir, cleanup } = tempDir("organelle-web-");
const ds = path.join(dir, DATASET);

let server: ChildProcess | undefined;
let base = "";
let token = "";
let browser: Browser | undefined;
let page: Page;

const shot = (name: string) => screenshot(page, name);
const canvasPixels = (testid: string) => canvasDataUrl(page, testid);

beforeAll(async () => {
  synthCell(ds, { organelles: "nucleus,mito,er" });
  const measure = organelle(["measure", ds, "labels/mito", "--block", "32", "--workers", "1"]);
  expect(measure.code, measure.stderr).toBe(0);
  const mesh = organelle(["mesh", ds, "labels/mito", "--workers", "1"]);
  expect(mesh.code, mesh.stderr).toBe(0);
  const served = await startServe(dir);
  server = served.child;
  ({ url: base, token } = served);
  // No GPU here: software 2D canvases (reading SwiftShader-backed ones back is ~20x slower) and WebGL for
  // the 3D view through SwiftShader.
  ({ browser, page } = await launchPage(["--enable-unsafe-swiftshader"]));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  cleanup();
});

describe("web app against organelle serve", () => {
  it("lists the dataset in the portal and opens its page", async () => {
    await page.goto(`${base}/`);
    const card = page.locator("[data-testid=dataset-card]");
    await card.first().waitFor();
    expect(await card.count()).toBe(1);
    await expect
      .poll(() =>
        card
          .first()
          .locator("img")
          .evaluate((i) => (i as unknown as { naturalWidth: number }).naturalWidth),
      )
      .toBeGreaterThan(0);
    await shot("portal.png");
    await card.first().click();
    await page.locator("[data-testid=dataset-title]").waitFor();
    expect(await page.locator("[data-testid=array-row]").count()).toBeGreaterThanOrEqual(5);
    expect(await page.textContent("body")).toContain("labels/mito");
    await page.screenshot({ path: path.join(SHOTS, "dataset.png"), fullPage: true });
  });

  it("draws three slice views and scrolls through slices in each", async () => {
    await page.click("[data-testid=open-viewer]");
    for (const v of ["xy", "xz", "yz"]) await page.locator(`[data-testid=view-${v}]`).waitFor();
    // The picture of an all-black canvas of the same size (the root tsconfig has no DOM types: plain JS).
    const blank = await page.evaluate<string>(`(() => {
      const v = document.querySelector("[data-testid=view-xy]");
      const c = document.createElement("canvas");
      c.width = v.width;
      c.height = v.height;
      const ctx = c.getContext("2d");
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, c.width, c.height);
      return c.toDataURL();
    })()`);
    await expect.poll(() => canvasPixels("view-xy"), { timeout: 15_000 }).not.toBe(blank);
    await page.waitForTimeout(500);
    for (const v of ["xy", "xz", "yz"]) {
      const canvas = page.locator(`[data-testid=view-${v}]`);
      const before = await canvasPixels(`view-${v}`);
      const position = await page.textContent("[data-testid=position]");
      const box = (await canvas.boundingBox())!;
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      for (let i = 0; i < 6; i++) await page.mouse.wheel(0, 100);
      await expect.poll(() => page.textContent("[data-testid=position]")).not.toBe(position);
      await expect.poll(() => canvasPixels(`view-${v}`), { timeout: 10_000 }).not.toBe(before);
    }
    await page.waitForTimeout(500);
    await shot("viewer-scrolled.png");
  });

  it("toggles the label overlay", async () => {
    const toggle = page.locator("[data-testid='layer-labels/mito']");
    expect(await toggle.isChecked()).toBe(true);
    const withOverlay = await canvasPixels("view-xy");
    await toggle.uncheck();
    await expect.poll(() => canvasPixels("view-xy")).not.toBe(withOverlay);
    await shot("viewer-overlay-off.png");
    await toggle.check();
    await expect.poll(() => canvasPixels("view-xy")).toBe(withOverlay);
  });

  it("shows the label id and its measurements under the pointer", async () => {
    // A saved view (written with the token) centred on mitochondrion 1's centre of mass.
    const seg = (await (
      await fetch(
        `${base}/api/datasets/${encodeURIComponent(DATASET)}/segments/${encodeURIComponent("labels/mito")}/1`,
      )
    ).json()) as { measurements: Record<string, number> };
    const m = seg.measurements;
    const com: [number, number, number] = [m["COM Z (nm)"]!, m["COM Y (nm)"]!, m["COM X (nm)"]!];
    const status = await saveView(base, token, DATASET, {
      name: "mito-1",
      position: com,
      scale: 4,
      orientation: "xy",
      layers: [
        { array: "raw", visible: true },
        { array: "labels/mito", visible: true, opacity: 0.5 },
      ],
    });
    expect(status).toBe(201);
    await page.goto(`${base}/#/d/${encodeURIComponent(DATASET)}/view?view=mito-1`);
    const canvas = page.locator("[data-testid=view-xy]");
    await canvas.waitFor();
    await page.waitForTimeout(1000);
    const box = (await canvas.boundingBox())!;
    // The voxel under the view's centre holds the truth to compare with.
    const v = await Volume.open(ds, "labels/mito");
    const voxel = com.map((c) => Math.floor(c / 20)) as [number, number, number];
    const truth = (await v.readBox({ begin: voxel, shape: [1, 1, 1] }))[0]!;
    expect(truth).toBeGreaterThan(0);
    await page.mouse.move(box.x + box.width / 2 + 0.5, box.y + box.height / 2 + 0.5);
    const id = page.locator("[data-testid='hover-id-labels/mito']");
    await expect.poll(() => id.textContent(), { timeout: 10_000 }).toBe(String(truth));
    await expect.poll(() => page.textContent("[data-testid=hover-readout]")).toContain("Volume (nm^3)");
    await shot("viewer-hover.png");
  });

  it("draws the meshes in the 3D view and selects one by clicking it", async () => {
    await page.click("[data-testid=layout-3d]");
    await expect
      .poll(() => page.textContent("[data-testid=mesh-status]"), { timeout: 15_000 })
      .toContain("2 meshes");
    await page.waitForTimeout(500);
    const canvas = page.locator("[data-testid=view-3d]");
    const box = (await canvas.boundingBox())!;
    const png = decode(await canvas.screenshot());
    const bg = [png.data[0], png.data[1], png.data[2]];
    // Nearest drawn pixel to the centre: a mesh.
    let best: [number, number] | null = null;
    let bestD = Number.POSITIVE_INFINITY;
    for (let y = 0; y < png.height; y += 2) {
      for (let x = 0; x < png.width; x += 2) {
        const o = (y * png.width + x) * png.channels;
        const diff =
          Math.abs(png.data[o]! - bg[0]!) +
          Math.abs(png.data[o + 1]! - bg[1]!) +
          Math.abs(png.data[o + 2]! - bg[2]!);
        if (diff < 60) continue;
        const d = Math.hypot(x - png.width / 2, y - png.height / 2);
        if (d < bestD) {
          bestD = d;
          best = [x, y];
        }
      }
    }
    expect(best, "no mesh pixels in the 3D view").not.toBeNull();
    await page.mouse.click(
      box.x + best![0] * (box.width / png.width),
      box.y + best![1] * (box.height / png.height),
    );
    const selection = page.locator("[data-testid=mesh-selection]");
    await expect.poll(() => selection.textContent()).toMatch(/selected mito #[12]/);
    await expect.poll(() => selection.textContent()).toContain("Volume (nm^3)");
    await shot("viewer-3d-selected.png");
  });

  it("shows the measure table in the results dashboard", async () => {
    await page.goto(`${base}/#/results?dataset=${encodeURIComponent(DATASET)}&table=mito`);
    await page.locator("[data-testid=result-table] tbody tr").first().waitFor();
    expect(await page.locator("[data-testid=result-table] tbody tr").count()).toBe(2);
    await shot("results.png");
  });

  it("starts a measure job with the token and watches it finish", async () => {
    await page.goto(`${base}/#/jobs`);
    await page.fill("[data-testid=token]", token);
    await page.selectOption("[data-testid=job-verb]", "measure");
    await page.fill("[data-testid=job-args]", `${DATASET} labels/er --block 32 --workers 1`);
    await page.click("[data-testid=job-start]");
    const job = page.locator("[data-testid=job]").first();
    await job.waitFor();
    await expect.poll(() => job.getAttribute("data-state"), { timeout: 60_000 }).toBe("done");
    expect(fs.existsSync(path.join(ds, "tables", "er.csv"))).toBe(true);
    await shot("jobs-done.png");
  }, 90_000);
});
