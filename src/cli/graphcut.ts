import type { Command } from "commander";
import { GRAPHCUT_DEFAULTS } from "../annotate/graphcut.ts";
import { runGraphcut } from "../annotate/graphcut-task.ts";
import { SLIC_DEFAULTS } from "../annotate/slic.ts";
import { invalidArgument } from "../core/errors.ts";
import { parseRoi, type Roi } from "../core/roi.ts";
import { numberArg } from "./args.ts";

interface GraphcutFlags {
  roi?: Roi;
  seeds?: string;
  out?: string;
  raw: string;
  supervoxels?: number;
  compactness?: number;
  iterations?: number;
  lambda?: number;
  delta?: number;
  gamma?: number;
  sigma?: number;
  gmm?: boolean;
  role?: string;
  overwrite?: boolean;
}

/** `organelle graphcut DATASET --roi ... --seeds ARRAY --out labels/<organelle>`. */
export function registerGraphcut(program: Command): void {
  program
    .command("graphcut")
    .description(
      `ASEM's 3D graph cut for scripted annotation: SLIC supervoxels on raw within --roi (default ${SLIC_DEFAULTS.nSegments} supervoxels, compactness ${SLIC_DEFAULTS.compactness}, ${SLIC_DEFAULTS.iterations} iterations), seeds from a uint8 array (1 foreground, 2 background; hard constraints), intensity + seed-distance unaries and a contrast-weighted pairwise term (lambda ${GRAPHCUT_DEFAULTS.smoothness}), solved exactly by max-flow; writes the uint8 mask into --out on raw's grid (created if missing) and can register the ROI as a training/validation block`,
    )
    .argument("<dataset>", "dataset container, e.g. cell.zarr")
    .option("--roi <z,y,x:dz,dy,dx>", "sub-volume in nm (offset:shape, world coordinates)", (v: string) =>
      parseRoi(v, "--roi"),
    )
    .option("--seeds <array>", "uint8 seed array in the dataset (1 fg, 2 bg), e.g. annotations/mito_seeds")
    .option("--out <array>", "label array to write, e.g. labels/mito")
    .option("--raw <array>", "grey-value array", "raw")
    .option(
      "--supervoxels <n>",
      "number of SLIC supervoxels",
      numberArg("--supervoxels", { integer: true, min: 1 }),
    )
    .option("--compactness <c>", "SLIC compactness", numberArg("--compactness", { min: 0 }))
    .option("--iterations <n>", "SLIC iterations", numberArg("--iterations", { integer: true, min: 1 }))
    .option("--lambda <w>", "weight of the pairwise term", numberArg("--lambda", { min: 0 }))
    .option("--delta <w>", "weight of the intensity unary (default 1)", numberArg("--delta", { min: 0 }))
    .option("--gamma <w>", "weight of the seed-distance unary (default 1)", numberArg("--gamma", { min: 0 }))
    .option(
      "--sigma <s>",
      "contrast sigma (default 1/sqrt(2); 50 = gc_segment)",
      numberArg("--sigma", { min: 0 }),
    )
    .option("--gmm", "drop foreground voxels a 2-component Gaussian mixture puts away from the seeds")
    .option(
      "--overwrite",
      "replace an existing --out array by a fresh uint8 one (default: rewrite only the ROI)",
    )
    .option("--role <role>", "register the ROI on the label array as a 'training' or 'validation' block")
    .action(async (dataset: string, o: GraphcutFlags) => {
      if (!o.roi) throw invalidArgument("graphcut: --roi z,y,x:dz,dy,dx (nm) is required");
      if (!o.seeds)
        throw invalidArgument("graphcut: --seeds ARRAY is required (uint8: 1 foreground, 2 background)");
      if (!o.out) throw invalidArgument("graphcut: --out ARRAY is required, e.g. labels/mito");
      if (o.role !== undefined && o.role !== "training" && o.role !== "validation")
        throw invalidArgument(`--role ${o.role}: must be training or validation`);
      const r = await runGraphcut(dataset, {
        roi: o.roi,
        seeds: o.seeds,
        out: o.out,
        raw: o.raw,
        slic: {
          ...(o.supervoxels !== undefined && { nSegments: o.supervoxels }),
          ...(o.compactness !== undefined && { compactness: o.compactness }),
          ...(o.iterations !== undefined && { iterations: o.iterations }),
        },
        ...(o.lambda !== undefined && { smoothness: o.lambda }),
        ...(o.delta !== undefined && { intensityWeight: o.delta }),
        ...(o.gamma !== undefined && { distanceWeight: o.gamma }),
        ...(o.sigma !== undefined && { sigma: o.sigma }),
        mixtureCleanUp: o.gmm ?? false,
        overwrite: o.overwrite ?? false,
        ...(o.role !== undefined && { role: o.role }),
      });
      console.log(
        `${r.out}: ${r.foreground} of ${r.voxels} voxels foreground (${r.supervoxels} supervoxels; supervoxels ${r.seconds.supervoxels.toFixed(2)} s, cut ${r.seconds.cut.toFixed(2)} s)`,
      );
    });
}
