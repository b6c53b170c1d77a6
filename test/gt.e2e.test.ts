import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, uniform } from "../src/core/coordinate.ts";
import { dilateLabels, exclusionZone } from "../src/gt/label-morphology.ts";
import { removeSmallLabels } from "../src/ops/remove-small.ts";
import { Volume } from "../src/store/volume.ts";
import { expectOneLineError, organelle, tempDir } from "./helpers/cli.ts";
import { countDiff, readArray, synthCell } from "./helpers/synth.ts";

/**
 * End to end through the bundled CLI on a small synthetic cell (exact instance labels): `organelle gt
 * clean | exclusion | bias | add-roi | rois | import` run, their outputs open in `organelle info` and
 * equal whole-volume computations; bad input gives one line and a non-zero exit.
 */

const { dir, cleanup } = tempDir("organelle-gt-e2e-");
afterAll(cleanup);
const ds = path.join(dir, "cell.zarr");

beforeAll(() => synthCell(ds), 120_000);

async function readAll(d: string, a: string) {
  const { v, data } = await readArray(d, a);
  return { v, data: data as Uint8Array | Uint32Array };
}

describe("organelle gt", () => {
  it("clean: the mito preset (remove ids < 27 voxels) in place, equal to skimage's rule on the whole volume", async () => {
    const before = await readAll(ds, "labels/mito");
    const r = organelle(["gt", "clean", ds, "mito", "--remove-small", "2000", "--block", "32"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /labels\/mito: cleaned \(instance ids\)\n {2}removed \d+ of \d+ objects smaller than 2,000 voxels/,
    );
    const after = await readAll(ds, "labels/mito");
    expect(countDiff(after.data, removeSmallLabels(before.data as Uint32Array, 2000))).toBe(0);
    expect((after.v.attrs.gt as { op: string }[]).at(-1)!.op).toBe("clean");
    const preset = organelle(["gt", "clean", ds, "mito"]);
    expect(preset.code, preset.stderr).toBe(0);
    expect(preset.stdout).toMatch(/smaller than 27 voxels/);
    const none = organelle(["gt", "clean", ds, "nuclear_pore"]);
    expect(none.stdout).toMatch(/nothing to clean/);
  });

  it("exclusion: labels/mito_exclusion = dilate 4 XOR erode 4, opens in info", async () => {
    const r = organelle(["gt", "exclusion", ds, "mito"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /labels\/mito_exclusion: exclusion zone of labels\/mito, dilate 4 XOR erode 4 voxels \(cross\)/,
    );
    const labels = await readAll(ds, "labels/mito");
    const zone = await readAll(ds, "labels/mito_exclusion");
    expect(countDiff(zone.data, exclusionZone(labels.data, labels.v.meta.shape, 4, 4))).toBe(0);
    expect(zone.data.some((v) => v === 1)).toBe(true);
    const info = organelle(["info", ds]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/label arrays: .*mito_exclusion/);
    expect(info.stdout).toMatch(/labels\/mito_exclusion {2}uint8 mask/);
  });

  it("bias: golgi +1 voxel in place, once", async () => {
    const before = await readAll(ds, "labels/golgi");
    const r = organelle(["gt", "bias", ds, "golgi"]);
    expect(r.code, r.stderr).toBe(0);
    const after = await readAll(ds, "labels/golgi");
    expect(countDiff(after.data, dilateLabels(before.data as Uint32Array, before.v.meta.shape, 1))).toBe(0);
    expect(expectOneLineError(organelle(["gt", "bias", ds, "golgi"]))).toMatch(
      /already bias-corrected \(\+1 voxels\); pass --again/,
    );
  });

  it("add-roi and rois", () => {
    const r = organelle([
      "gt",
      "add-roi",
      ds,
      "mito",
      "--roi",
      "200,200,200:400,400,400",
      "--role",
      "training",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/added training ROI 'training-1'/);
    expect(r.stderr).toMatch(/^organelle: warning: ROI 'training-1' lies 10 voxels from the border/);
    const list = organelle(["gt", "rois", ds, "mito", "--json"]);
    expect(list.code, list.stderr).toBe(0);
    const rois = JSON.parse(list.stdout).rois;
    expect(rois).toEqual([
      {
        name: "training-1",
        role: "training",
        offset: [200, 200, 200],
        shape: [400, 400, 400],
        voxels: { offset: [10, 10, 10], shape: [20, 20, 20] },
        borderVoxels: 10,
      },
    ]);
  });

  it("import: ids of another array become a binary label; slices round-trip through export", async () => {
    const er = await readAll(ds, "labels/er");
    const r = organelle([
      "gt",
      "import",
      ds,
      ds,
      "lipid_droplet",
      "--array",
      "labels/er",
      "--ids",
      "1,2,3",
      "--overwrite",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/labels\/lipid_droplet: 80 x 80 x 80 uint8 \(binary\) from an array/);
    const ld = await readAll(ds, "labels/lipid_droplet");
    for (let i = 0; i < ld.data.length; i++) {
      const v = er.data[i]!;
      if (ld.data[i] !== (v >= 1 && v <= 3 ? 1 : 0)) throw new Error(`voxel ${i}`);
    }
    // the slice reader takes 8- and 16-bit images: the uint8 label goes out as TIFF and back in
    const tif = path.join(dir, "droplet.tif");
    expect(organelle(["export", ds, tif, "--array", "labels/lipid_droplet"]).code).toBe(0);
    const t = organelle(["gt", "import", tif, ds, "vesicle", "--overwrite"]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/from slices, placed by raw's origin/);
    expect(countDiff((await readAll(ds, "labels/vesicle")).data, ld.data)).toBe(0);
    const info = organelle(["info", path.join(ds, "labels", "vesicle")]);
    expect(info.stdout).toMatch(/uint8 label/);
  });

  it("bad input: unknown organelle, ROI outside the volume, missing labels, wrong voxel size", async () => {
    expect(expectOneLineError(organelle(["gt", "clean", ds, "chloroplast"]))).toMatch(
      /unknown organelle 'chloroplast'; known organelles: mito, er, golgi/,
    );
    expect(
      expectOneLineError(
        organelle(["gt", "add-roi", ds, "mito", "--roi", "0,0,0:4000,100,100", "--role", "validation"]),
      ),
    ).toMatch(/--roi .* lies outside .*labels\/mito/);
    expect(
      expectOneLineError(
        organelle(["gt", "add-roi", ds, "mito", "--voxels", "0,0,0:4,4,4", "--role", "test"]),
      ),
    ).toMatch(/--role test: must be training or validation/);
    expect(expectOneLineError(organelle(["gt", "exclusion", ds, "ccp"]))).toMatch(
      /labels\/ccp: the dataset has no clathrin-coated pits labels; bring them in with 'organelle gt import/,
    );
    const other = path.join(dir, "other.zarr");
    const v = await Volume.create(other, "labels/mito", {
      shape: uniform(16),
      dtype: "uint32",
      voxelSize: coord(25, 25, 25),
      kind: "label",
    });
    await v.markComplete();
    expect(
      expectOneLineError(
        organelle(["gt", "import", other, ds, "mito", "--array", "labels/mito", "--overwrite"]),
      ),
    ).toMatch(/voxel size \(25, 25, 25\) nm differs from raw's \(20, 20, 20\) nm/);
    expect(expectOneLineError(organelle(["gt", "import", path.join(dir, "nowhere"), ds, "mito"]))).toMatch(
      /nowhere: no such file/,
    );
  });
});
