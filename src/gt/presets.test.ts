import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isOrganelleError } from "../core/errors.ts";
import {
  CELL_MASK_DEFAULTS,
  CLAHE_DEFAULTS,
  GT_BORDER_CONTEXT_VOXELS,
  getPreset,
  ORGANELLE_NAMES,
  ORGANELLE_PRESETS,
  resolveOrganelleName,
  voxelsForVolume,
} from "./presets.ts";
import { renderPresetsMarkdown } from "./presets-doc.ts";

describe("organelle presets", () => {
  it("hold the SPEC §2 ground-truth numbers", () => {
    expect(getPreset("mito").cleanup).toEqual({ removeObjectsSmallerThan: 27, fillHolesSmallerThan: 0 });
    expect(getPreset("golgi").cleanup).toEqual({ removeObjectsSmallerThan: 27, fillHolesSmallerThan: 0 });
    expect(getPreset("er").cleanup).toEqual({ removeObjectsSmallerThan: 0, fillHolesSmallerThan: 20_000 });
    for (const none of ["nuclear_pore", "ccp"]) {
      expect(getPreset(none).cleanup).toEqual({ removeObjectsSmallerThan: 0, fillHolesSmallerThan: 0 });
    }
    expect(getPreset("mito").biasDilation).toBe(3);
    expect(getPreset("golgi").biasDilation).toBe(1);
    for (const p of ORGANELLE_PRESETS) {
      if (p.name !== "mito" && p.name !== "golgi") expect(p.biasDilation).toBe(0);
    }
    expect(getPreset("mito").exclusion).toEqual({ dilate: 4, erode: 4 });
    expect(getPreset("golgi").exclusion).toEqual({ dilate: 2, erode: 2 });
    expect(getPreset("er").exclusion).toEqual({ dilate: 1, erode: 1 });
    expect(getPreset("ccp").exclusion).toEqual({ dilate: 3, erode: 1 });
    expect(getPreset("nuclear_pore").exclusion).toEqual({ dilate: 3, erode: 1 });
    expect(getPreset("vesicle").exclusion).toBeUndefined();
    expect(getPreset("mito").sizes.minVolumeNm3).toBe(300_000);
    expect(getPreset("nuclear_pore").sizes.diameterNm).toEqual({ min: 60, median: 92, max: 130 });
  });

  it("hold the preprocessing defaults", () => {
    expect(CELL_MASK_DEFAULTS).toMatchObject({
      windowLow: 2,
      windowHigh: 180,
      openingRadiusVoxels: 3,
      closingRadiusVoxels: 2,
      fillHolesSmallerThan: 100_000,
      removeObjectsSmallerThan: 100_000,
    });
    expect(CLAHE_DEFAULTS).toMatchObject({ kernelVoxels: 128, clipLimit: 0.02, nbins: 256 });
    expect(GT_BORDER_CONTEXT_VOXELS).toBe(47);
  });

  it("has one preset per name, each documented and immutable", () => {
    expect(ORGANELLE_PRESETS.map((p) => p.name)).toEqual([...ORGANELLE_NAMES]);
    for (const p of ORGANELLE_PRESETS) {
      expect(p.sources.cleanup.length).toBeGreaterThan(0);
      expect(p.sources.exclusion.length).toBeGreaterThan(0);
      expect(Object.isFrozen(p)).toBe(true);
      expect(Object.isFrozen(p.cleanup)).toBe(true);
    }
    const mito = getPreset("mito");
    expect(() => {
      (mito.cleanup as { removeObjectsSmallerThan: number }).removeObjectsSmallerThan = 1;
    }).toThrow();
    expect(getPreset("mito").cleanup.removeObjectsSmallerThan).toBe(27);
    expect(Object.isFrozen(CELL_MASK_DEFAULTS)).toBe(true);
  });

  it("resolves aliases and case, and names the known organelles for an unknown one", () => {
    expect(resolveOrganelleName("Mitochondria")).toBe("mito");
    expect(resolveOrganelleName("coated-pit")).toBe("ccp");
    expect(getPreset("ER").name).toBe("er");
    let err: unknown;
    try {
      getPreset("chloroplast");
    } catch (e) {
      err = e;
    }
    expect(isOrganelleError(err, "InvalidArgument")).toBe(true);
    const msg = (err as Error).message;
    expect(msg).toContain("unknown organelle 'chloroplast'");
    for (const n of ORGANELLE_NAMES) expect(msg).toContain(n);
    expect(msg.split("\n")).toHaveLength(1);
  });

  it("converts volumes to voxel counts", () => {
    expect(voxelsForVolume(300_000, [5, 5, 5])).toBe(2400);
    expect(voxelsForVolume(300_000, [4, 4, 5.2])).toBe(3606);
    expect(() => voxelsForVolume(-1, [5, 5, 5])).toThrow(/>= 0/);
  });

  it("docs/presets.md is the rendered table", () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const doc = fs.readFileSync(path.join(here, "../../docs/presets.md"), "utf8");
    expect(doc).toBe(renderPresetsMarkdown());
  });
});
