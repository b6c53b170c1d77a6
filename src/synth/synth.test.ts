import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Progress } from "../blockwise/progress.ts";
import { coord, uniform } from "../core/coordinate.ts";
import { isOrganelleError } from "../core/errors.ts";
import { Volume } from "../store/volume.ts";
import { DEFAULT_CLASSES } from "./classes.ts";
import { buildCellModel } from "./model.ts";
import { renderBlock } from "./render.ts";
import { Scene } from "./scene.ts";
import { readSynthModel, resolveSynthSettings, type SynthOptions, synthesize } from "./synth.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-synth-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** 2.5 um at 25 nm: 100^3 voxels in 32^3 chunks (64 blocks), in-process so the test controls the run. */
const SMALL: SynthOptions = {
  sizeUm: uniform(2.5),
  voxelSize: uniform(25),
  chunks: uniform(32),
  seed: 2,
  runner: "in-process",
  progress: false,
};

const ARRAYS = ["raw", "masks/cell", ...DEFAULT_CLASSES.map((c) => `labels/${c}`)];

async function readAll(ds: string, array: string, scale = 0): Promise<Buffer> {
  const v = await Volume.open(ds, array, { scale });
  const data = await v.readBox({ begin: uniform(0), shape: v.meta.shape });
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** A progress bar that cancels the run after `n` blocks, like a user pressing Ctrl-C. */
class CancelAfter extends Progress {
  private readonly controller: AbortController;
  private readonly after: number;
  private count = 0;
  constructor(controller: AbortController, after: number) {
    super({ label: "synth", total: 1, sink: null });
    this.controller = controller;
    this.after = after;
  }
  override tick(n = 1): void {
    this.count += n;
    if (this.count === this.after) this.controller.abort(new Error("interrupted by the test"));
  }
}

describe("synthesize", () => {
  const reference = path.join(tmp, "reference.zarr");

  it("writes raw, labels, the cell mask, pyramids and the model, equal to rendering the whole volume", async () => {
    const r = await synthesize(reference, SMALL);
    expect(r.shape).toEqual([100, 100, 100]);
    expect(r.blocks).toBe(64);
    expect(r.resumedBlocks).toBe(0);
    expect(r.pyramidLevels).toBeGreaterThan(1);
    expect(fs.existsSync(`${reference}.partial`)).toBe(false);
    expect(fs.existsSync(path.join(reference, ".organelle"))).toBe(false);

    const raw = await Volume.open(reference, "raw");
    expect(raw.meta.dtype).toBe("uint8");
    expect(raw.meta.kind).toBe("intensity");
    expect(raw.meta.voxelSize).toEqual([25, 25, 25]);
    expect(raw.levels.length).toBe(r.pyramidLevels);
    const mito = await Volume.open(reference, "labels/mito");
    expect(mito.meta.dtype).toBe("uint32");
    expect(mito.meta.kind).toBe("label");
    const mask = await Volume.open(reference, "masks/cell");
    expect(mask.meta.kind).toBe("mask");

    // The stored model is the model; the stored images are the whole volume rendered in one piece.
    const { model, settings } = await readSynthModel(reference);
    expect(model).toEqual(buildCellModel({ seed: 2, extent: [2500, 2500, 2500] }));
    expect(settings.shape).toEqual([100, 100, 100]);
    const whole = renderBlock(new Scene(model), { voxelSize: coord(25, 25, 25) }, settings.imaging, {
      begin: uniform(0),
      shape: coord(100, 100, 100),
    });
    expect((await readAll(reference, "raw")).equals(Buffer.from(whole.raw))).toBe(true);
    expect((await readAll(reference, "masks/cell")).equals(Buffer.from(whole.mask))).toBe(true);

    // Block reports add up to what the label arrays hold.
    const mitoIds = new Uint32Array((await readAll(reference, "labels/mito")).buffer.slice(0));
    expect(mitoIds.reduce((a, v) => a + (v ? 1 : 0), 0)).toBe(r.voxels.mito);
    expect(new Set(mitoIds).size - 1).toBeGreaterThan(2);
    expect(r.instances.mito).toBe(model.mitos.length);
  });

  it("resumes an interrupted run and ends with identical bytes", async () => {
    const out = path.join(tmp, "resumed.zarr");
    const controller = new AbortController();
    await expect(
      synthesize(out, { ...SMALL, progress: new CancelAfter(controller, 20), signal: controller.signal }),
    ).rejects.toSatisfy((e) => isOrganelleError(e, "Aborted"));
    // Interrupted: nothing that looks complete.
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(`${out}.partial`)).toBe(true);
    await expect(Volume.open(`${out}.partial`, "raw")).rejects.toSatisfy((e) =>
      isOrganelleError(e, "Incomplete"),
    );

    const r = await synthesize(out, SMALL);
    expect(r.resumedBlocks).toBeGreaterThanOrEqual(20);
    expect(r.resumedBlocks).toBeLessThan(64);
    for (const a of ARRAYS) {
      expect((await readAll(out, a)).equals(await readAll(reference, a))).toBe(true);
      expect((await readAll(out, a, 1)).equals(await readAll(reference, a, 1))).toBe(true);
    }
    // The report covers resumed blocks too.
    const ref = await synthesize(path.join(tmp, "again.zarr"), SMALL);
    expect(r.voxels).toEqual(ref.voxels);
  });

  it("refuses to replace outputs unless asked, and never resumes a partial run of other settings", async () => {
    await expect(synthesize(reference, SMALL)).rejects.toThrow(/already exists.*--overwrite/);
    const out = path.join(tmp, "other.zarr");
    const controller = new AbortController();
    await expect(
      synthesize(out, { ...SMALL, progress: new CancelAfter(controller, 3), signal: controller.signal }),
    ).rejects.toSatisfy((e) => isOrganelleError(e, "Aborted"));
    await expect(synthesize(out, { ...SMALL, seed: 3 })).rejects.toThrow(
      /interrupted synth with other settings/,
    );
    const r = await synthesize(out, { ...SMALL, seed: 3, overwrite: true, pyramid: false });
    expect(r.resumedBlocks).toBe(0);
    expect(r.pyramidLevels).toBe(1);
    expect((await readAll(out, "raw")).equals(await readAll(reference, "raw"))).toBe(false);
  });

  it("writes only the chosen classes and keeps the others' ids", async () => {
    const out = path.join(tmp, "mito-er.zarr");
    const r = await synthesize(out, { ...SMALL, classes: ["er", "mito"], pyramid: false, format: "0.5" });
    expect(r.classes).toEqual(["mito", "er"]);
    expect(
      fs
        .readdirSync(path.join(out, "labels"))
        .filter((f) => !f.startsWith(".") && f !== "zarr.json")
        .sort(),
    ).toEqual(["er", "mito"]);
    expect(fs.existsSync(path.join(out, "zarr.json"))).toBe(true);
    expect((await readAll(out, "labels/mito")).equals(await readAll(reference, "labels/mito", 0))).toBe(true);
  });

  it("validates every setting before writing anything", () => {
    const bad = (o: SynthOptions, re: RegExp) => {
      expect(() => resolveSynthSettings(o)).toThrow(re);
    };
    bad({ voxelSize: coord(0, 5, 5) }, /--voxel-size/);
    bad({ shape: coord(-4, 8, 8) }, /--shape/);
    bad({ shape: coord(4, 8, 8), sizeUm: uniform(1) }, /either --shape/);
    bad({ sizeUm: coord(1, 0, 1) }, /--size-um/);
    bad({ seed: 1.5 }, /--seed/);
    bad({ chunks: coord(0, 8, 8) }, /--chunks/);
    bad({ noise: -1 }, /--noise/);
    bad({ blur: coord(-1, 1, 1) }, /--blur/);
    bad({ classes: ["nuclear_envelope"] }, /needs 'nucleus'/);
    // Same physical size at another voxel size: the same cell.
    const a = resolveSynthSettings({ sizeUm: uniform(2), voxelSize: uniform(5) });
    const b = resolveSynthSettings({ sizeUm: uniform(2), voxelSize: uniform(10) });
    expect(a.model).toEqual(b.model);
    expect(a.settings.shape).toEqual([400, 400, 400]);
    expect(b.settings.shape).toEqual([200, 200, 200]);
    const c = resolveSynthSettings({ sizeUm: uniform(2), voxelSize: coord(5.2, 4, 4) });
    expect(c.model).toEqual(a.model);
    expect(c.settings.shape).toEqual([385, 500, 500]);
  });
});
