import { type Command, Option } from "commander";
import { type Coordinate, parseCoordinate } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import type { OmeVersion } from "../store/volume.ts";
import { ORGANELLE_CLASSES, type OrganelleClass, parseClasses } from "../synth/classes.ts";
import { DEFAULT_IMAGING } from "../synth/imaging.ts";
import type { PoreDiameterSpec } from "../synth/model.ts";
import { DEFAULT_SIZE_UM, DEFAULT_VOXEL_NM, synthesize } from "../synth/synth.ts";
import { numberArg, workersOption } from "./args.ts";

/** MEAN,SD[,MIN,MAX] in nm; without bounds the normal is cut at 2.5 sd. */
function poreDiameter(v: string): PoreDiameterSpec {
  const parts = v.split(",").map((s) => Number(s.trim()));
  if ((parts.length !== 2 && parts.length !== 4) || !parts.every(Number.isFinite)) {
    throw invalidArgument(
      `--pore-diameter '${v}': give MEAN,SD or MEAN,SD,MIN,MAX in nm, e.g. 95,12 or 95,12,65,130`,
    );
  }
  const [mean, sd, min, max] = parts as [number, number, number?, number?];
  return { mean, sd, min: min ?? Math.max(1, mean - 2.5 * sd), max: max ?? mean + 2.5 * sd };
}

function coordinate(what: string, opts: { integer?: boolean; positive?: boolean } = {}) {
  return (v: string): Coordinate => parseCoordinate(v, what, opts);
}

interface SynthFlags {
  voxelSize?: Coordinate;
  shape?: Coordinate;
  sizeUm?: Coordinate;
  seed?: number;
  chunks?: Coordinate;
  format: OmeVersion;
  noise?: number;
  blur?: Coordinate;
  drift?: number;
  curtain?: number;
  organelles?: OrganelleClass[];
  poreDiameter?: PoreDiameterSpec;
  pits?: number;
  overwrite?: boolean;
  pyramid: boolean;
  preview?: string;
  workers?: number;
}

/** `organelle synth OUT.zarr`: a synthetic FIB-SEM cell with exact labels, in the dataset layout. */
export function registerSynth(program: Command): void {
  program
    .command("synth")
    .description(
      "synthesise an EM-like phantom cell with exact instance labels: raw, labels/<class>, masks/cell and synth.json (every organelle's parameters); block-wise on worker threads, resumable",
    )
    .argument("<out>", "dataset to create, e.g. cell.zarr")
    .option(
      "--voxel-size <z,y,x>",
      `voxel size in nm, one number if isotropic (default ${DEFAULT_VOXEL_NM})`,
      coordinate("--voxel-size", { positive: true }),
    )
    .option(
      "--shape <z,y,x>",
      "volume shape in voxels (the cell is laid out in shape x voxel size)",
      coordinate("--shape", { integer: true }),
    )
    .option(
      "--size-um <z,y,x>",
      `physical size in um; the same seed and size give the same cell at any voxel size (default ${DEFAULT_SIZE_UM})`,
      coordinate("--size-um"),
    )
    .option("--seed <n>", "layout and noise seed (default 1)", numberArg("--seed", { integer: true }))
    .option(
      "--chunks <z,y,x>",
      "chunk shape in voxels (default 128)",
      coordinate("--chunks", { integer: true }),
    )
    .addOption(
      new Option("--format <version>", "OME-Zarr version (0.4 = Zarr v2, 0.5 = Zarr v3)")
        .choices(["0.4", "0.5"])
        .default("0.4"),
    )
    .option(
      "--noise <sd>",
      `noise standard deviation in grey levels at cytoplasm brightness, 0 for none (default ${DEFAULT_IMAGING.noise})`,
      numberArg("--noise", { min: 0 }),
    )
    .option(
      "--blur <nm>",
      `Gaussian PSF sigma in nm, one number or z,y,x, 0 for none (default ${DEFAULT_IMAGING.blur.join(",")})`,
      coordinate("--blur"),
    )
    .option(
      "--drift <strength>",
      `slow contrast/brightness drift along z, 1 typical, 0 none (default ${DEFAULT_IMAGING.drift})`,
      numberArg("--drift", { min: 0 }),
    )
    .option(
      "--curtain <strength>",
      `curtaining stripes along y, 1 typical, 0 none (default ${DEFAULT_IMAGING.curtain})`,
      numberArg("--curtain", { min: 0 }),
    )
    .option(
      "--organelles <list>",
      `classes to draw and label, comma-separated or all (${ORGANELLE_CLASSES.join(",")}; default all but ccp, which --pits adds)`,
      (v: string) => parseClasses(v),
    )
    .option(
      "--pore-diameter <mean,sd[,min,max]>",
      "nuclear pore channel diameters in nm: a normal cut to min..max (default 95,12,65,130; min/max default to mean -+ 2.5 sd)",
      poreDiameter,
    )
    .option(
      "--pits <n>",
      "lay out n clathrin-coated pits (deep and shallow), coated vesicles and caveolae at the plasma membrane, labelled labels/ccp (default 12 when ccp is drawn)",
      numberArg("--pits", { integer: true, min: 0 }),
    )
    .option("--overwrite", "replace OUT if it exists (and discard an interrupted OUT.partial)")
    .option("--no-pyramid", "write only the full-resolution level s0 of each array")
    .option("--preview <png>", "also write a PNG of the middle xy and xz planes (raw and labels)")
    .addOption(workersOption())
    .action(async (out: string, o: SynthFlags) => {
      const r = await synthesize(out, {
        voxelSize: o.voxelSize,
        shape: o.shape,
        sizeUm: o.sizeUm,
        seed: o.seed,
        chunks: o.chunks,
        format: o.format,
        noise: o.noise,
        blur: o.blur,
        drift: o.drift,
        curtain: o.curtain,
        classes: o.organelles,
        poreDiameter: o.poreDiameter,
        pits: o.pits,
        overwrite: o.overwrite,
        pyramid: o.pyramid,
        preview: o.preview,
        workers: o.workers,
      });
      const voxelNm3 = r.voxelSize[0] * r.voxelSize[1] * r.voxelSize[2];
      const um3 = (n: number) => ((n * voxelNm3) / 1e9).toFixed(3);
      const total = r.shape[0] * r.shape[1] * r.shape[2];
      const resumed =
        r.resumedBlocks > 0
          ? ` (resumed: ${r.resumedBlocks} of ${r.blocks} blocks were already written)`
          : "";
      const lines = [
        `${out}: ${r.shape.join(" x ")} voxels (z,y,x) @ ${r.voxelSize.join(" x ")} nm = ${r.extentNm.map((e) => (e / 1000).toFixed(2)).join(" x ")} um, chunks ${r.chunks.join(" x ")}, ${r.pyramidLevels} scale level${r.pyramidLevels === 1 ? "" : "s"}${resumed}`,
        `  cell: ${um3(r.cellVoxels)} um^3 (${((100 * r.cellVoxels) / total).toFixed(1)}% of the volume)`,
        ...r.classes.map(
          (c) =>
            `  labels/${c}: ${r.instances[c]} instance${r.instances[c] === 1 ? "" : "s"}, ${um3(r.voxels[c])} um^3`,
        ),
        `  rendered ${(total / 1e6).toFixed(1)} Mvoxels in ${r.renderSeconds.toFixed(1)} s (${(total / 1e6 / Math.max(r.renderSeconds, 1e-9)).toFixed(1)} Mvoxel/s); total ${r.seconds.toFixed(1)} s`,
      ];
      if (o.preview) lines.push(`  preview: ${o.preview}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
