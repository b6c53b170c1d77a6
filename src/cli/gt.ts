import { type Command, Option } from "commander";
import { type Coordinate, parseCoordinate } from "../core/coordinate.ts";
import { parseRoi, type Roi, type VoxelBox } from "../core/roi.ts";
import { biasCorrect } from "../gt/bias.ts";
import { cleanLabels } from "../gt/clean.ts";
import { exclusionZoneOf } from "../gt/exclusion.ts";
import { parseIds, parseMap } from "../gt/id-map.ts";
import { importLabels } from "../gt/import.ts";
import type { Structure } from "../gt/label-morphology.ts";
import { ORGANELLE_NAMES } from "../gt/presets.ts";
import { addRoi, listRois } from "../gt/rois.ts";
import type { Connectivity } from "../ops/volume3d.ts";
import { numberArg, workersOption } from "./args.ts";
import { parseVoxelBox } from "./crop.ts";

const organelleHelp = `organelle: ${ORGANELLE_NAMES.join(", ")} (labels/<organelle>)`;
const structureOption = () =>
  new Option(
    "--structure <s>",
    "cross: n steps of the 6-neighbour cross (scipy iterations, ASEM; default); ball: Euclidean ball of radius n voxels",
  ).choices(["cross", "ball"]);
const blockOption = () =>
  new Option("--block <voxels>", "write-block edge in voxels, whole chunks (default 256)").argParser(
    numberArg("--block", { integer: true, min: 1 }),
  );

const n = (v: number) => v.toLocaleString("en-US");

/** `organelle gt <sub>`: ground-truth tools on labels/<organelle>. */
export function registerGt(program: Command): void {
  const gt = program
    .command("gt")
    .description(
      "ground-truth tools on labels/<organelle>, with the organelle presets of SPEC §2 (docs/presets.md): clean, bias, exclusion, rois, add-roi, import",
    );

  gt.command("clean")
    .description(
      "preset clean-up, in place: remove objects smaller than N voxels (mito, golgi: 27), fill holes smaller than M voxels (er: 20,000); objects are 6-connected components of binary (uint8) labels or ids of instance labels; exact on any volume size",
    )
    .argument("<dataset>", "dataset container")
    .argument("<organelle>", organelleHelp)
    .option(
      "--remove-small <n>",
      "remove objects smaller than n voxels (default: preset; 0 = none)",
      numberArg("--remove-small", { integer: true, min: 0 }),
    )
    .option(
      "--fill-holes <n>",
      "fill enclosed holes smaller than n voxels (default: preset; 0 = none)",
      numberArg("--fill-holes", { integer: true, min: 0 }),
    )
    .addOption(new Option("--connectivity <n>", "6, 18 or 26 (default 6)").choices(["6", "18", "26"]))
    .addOption(blockOption())
    .addOption(workersOption())
    .action(
      async (
        dataset: string,
        organelle: string,
        o: {
          removeSmall?: number;
          fillHoles?: number;
          connectivity?: string;
          block?: number;
          workers?: number;
        },
      ) => {
        const r = await cleanLabels(dataset, organelle, {
          removeSmall: o.removeSmall,
          fillHoles: o.fillHoles,
          connectivity: o.connectivity ? (Number(o.connectivity) as Connectivity) : undefined,
          blockVoxels: o.block,
          workers: o.workers,
        });
        if (r.stages.length === 0) {
          process.stdout.write(
            `${dataset}/${r.array}: nothing to clean (the preset has no clean-up; give --remove-small or --fill-holes)\n`,
          );
          return;
        }
        const lines = [
          `${dataset}/${r.array}: cleaned (${r.instances ? "instance ids" : "binary"})${r.resumed ? " (resumed)" : ""}`,
        ];
        for (const s of r.stages) {
          lines.push(
            s.stage.op === "removeSmall"
              ? `  removed ${s.changed} of ${s.found} objects smaller than ${n(r.removeSmall)} voxels (${n(s.voxels)} voxels)`
              : `  filled ${s.changed} holes smaller than ${n(r.fillHoles)} voxels (${n(s.voxels)} voxels)`,
          );
        }
        process.stdout.write(`${lines.join("\n")}\n`);
      },
    );

  gt.command("bias")
    .description(
      "bias correction, in place: grow annotations that miss the membrane by n voxels (preset: mito 3, golgi 1, others 0); instance labels grow into the background only",
    )
    .argument("<dataset>", "dataset container")
    .argument("<organelle>", organelleHelp)
    .option(
      "--voxels <n>",
      "voxels to grow by (default: preset)",
      numberArg("--voxels", { integer: true, min: 0 }),
    )
    .addOption(structureOption())
    .option("--again", "grow labels that were already bias-corrected")
    .addOption(blockOption())
    .addOption(workersOption())
    .action(
      async (
        dataset: string,
        organelle: string,
        o: { voxels?: number; structure?: Structure; again?: boolean; block?: number; workers?: number },
      ) => {
        const r = await biasCorrect(dataset, organelle, {
          voxels: o.voxels,
          structure: o.structure,
          again: o.again,
          blockVoxels: o.block,
          workers: o.workers,
        });
        process.stdout.write(
          r.changed
            ? `${dataset}/${r.array}: grown by ${r.voxels} voxel${r.voxels === 1 ? "" : "s"} (${r.structure})${r.resumed ? " (resumed)" : ""}\n`
            : `${dataset}/${r.array}: nothing to do (bias correction of 0 voxels; give --voxels)\n`,
        );
      },
    );

  gt.command("exclusion")
    .description(
      "metric exclusion zone labels/<organelle>_exclusion = dilate(labels, d) XOR erode(labels, e), voxels left out of training loss and F1 (preset: mito 4/4, golgi 2/2, er 1/1, ccp and nuclear_pore 3/1)",
    )
    .argument("<dataset>", "dataset container")
    .argument("<organelle>", organelleHelp)
    .option(
      "--dilate <d>",
      "dilation in voxels (default: preset)",
      numberArg("--dilate", { integer: true, min: 0 }),
    )
    .option(
      "--erode <e>",
      "erosion in voxels (default: preset)",
      numberArg("--erode", { integer: true, min: 0 }),
    )
    .addOption(structureOption())
    .option("--overwrite", "replace an existing exclusion zone")
    .addOption(blockOption())
    .addOption(workersOption())
    .action(
      async (
        dataset: string,
        organelle: string,
        o: {
          dilate?: number;
          erode?: number;
          structure?: Structure;
          overwrite?: boolean;
          block?: number;
          workers?: number;
        },
      ) => {
        const r = await exclusionZoneOf(dataset, organelle, {
          dilate: o.dilate,
          erode: o.erode,
          structure: o.structure,
          overwrite: o.overwrite,
          blockVoxels: o.block,
          workers: o.workers,
        });
        process.stdout.write(
          `${r.output}: exclusion zone of ${r.array}, dilate ${r.dilate} XOR erode ${r.erode} voxels (${r.structure}), ${r.levels} scale level${r.levels === 1 ? "" : "s"}\n`,
        );
      },
    );

  gt.command("rois")
    .description("list the training and validation ROIs of labels/<organelle>")
    .argument("<dataset>", "dataset container")
    .argument("<organelle>", organelleHelp)
    .option("--json", "print as JSON")
    .action(async (dataset: string, organelle: string, o: { json?: boolean }) => {
      const r = await listRois(dataset, organelle);
      if (o.json) {
        const rois = r.rois.map((x) => ({
          name: x.name,
          role: x.role,
          ...x.roi.toJSON(),
          voxels: { offset: [...x.voxels.begin], shape: [...x.voxels.shape] },
          borderVoxels: x.borderVoxels,
        }));
        process.stdout.write(`${JSON.stringify({ array: r.array, rois }, null, 2)}\n`);
        return;
      }
      if (r.rois.length === 0) {
        process.stdout.write(`${dataset}/${r.array}: no ROIs (add them with 'organelle gt add-roi')\n`);
        return;
      }
      const lines = [`${dataset}/${r.array}: ${r.rois.length} ROI${r.rois.length === 1 ? "" : "s"}`];
      for (const x of r.rois) {
        lines.push(
          `  ${x.name}  ${x.role}  ${x.roi}  voxels ${x.voxels.begin.join(",")}:${x.voxels.shape.join(",")}  ${x.borderVoxels} voxels from the border`,
        );
      }
      process.stdout.write(`${lines.join("\n")}\n`);
    });

  gt.command("add-roi")
    .description(
      "record a training or validation ROI in the attributes of labels/<organelle>; it must lie on the labels' voxel grid and inside them; closer than 47 voxels to the volume border is a warning",
    )
    .argument("<dataset>", "dataset container")
    .argument("<organelle>", organelleHelp)
    .option("--roi <z,y,x:dz,dy,dx>", "ROI in nm (offset:shape)", (v: string) => parseRoi(v, "--roi"))
    .option("--voxels <z,y,x:dz,dy,dx>", "ROI in voxels of the labels (offset:shape)", (v: string) =>
      parseVoxelBox(v, "--voxels"),
    )
    .addOption(new Option("--role <role>", "training or validation").makeOptionMandatory())
    .option("--name <name>", "name (default: <role>-<n>)")
    .action(
      async (
        dataset: string,
        organelle: string,
        o: { roi?: Roi; voxels?: VoxelBox; role: string; name?: string },
      ) => {
        const r = await addRoi(dataset, organelle, {
          roi: o.roi,
          voxels: o.voxels,
          role: o.role,
          name: o.name,
        });
        for (const w of r.warnings) process.stderr.write(`organelle: warning: ${w}\n`);
        process.stdout.write(
          `${dataset}/${r.array}: added ${r.roi.role} ROI '${r.roi.name}' ${r.roi.roi} (voxels ${r.voxels.begin.join(",")}:${r.voxels.shape.join(",")})\n`,
        );
      },
    );

  gt.command("import")
    .description(
      "import ground truth as labels/<organelle> on raw's voxel grid: from TIFF/PNG slices (a directory or multi-page TIFF, 8/16-bit) or an array of a Zarr/N5 container; source ids become a binary (uint8) or instance (uint32) label; the voxel size must equal raw's",
    )
    .argument("<src>", "directory of slices, a .tif, or a .zarr/.n5 container (with --array) or array")
    .argument("<dataset>", "dataset container")
    .argument("<organelle>", organelleHelp)
    .option("--array <path>", "array inside a Zarr/N5 container, e.g. labels/mito or mito/s0")
    .option(
      "--scale <level>",
      "pyramid level of a Zarr/N5 source",
      numberArg("--scale", { integer: true, min: 0 }),
    )
    .option("--ids <list>", "these source ids become the organelle (binary uint8), e.g. 3,5", parseIds)
    .option(
      "--map <pairs>",
      "map source ids to label ids, e.g. 3:1,5:2 (uint32 unless every target is 1)",
      parseMap,
    )
    .option("--instances", "keep source ids as instance ids (uint32); with --ids only those")
    .option(
      "--voxel-size <z,y,x>",
      "the source's voxel size in nm when its metadata lacks it or is wrong (must equal raw's)",
      (v: string): Coordinate => parseCoordinate(v, "--voxel-size", { positive: true }),
    )
    .option(
      "--offset <z,y,x>",
      "world position in nm of the source's first voxel (default: its metadata; slices: raw's origin or the original stack's frame)",
      (v: string): Coordinate => parseCoordinate(v, "--offset", { allowScalar: false }),
    )
    .option("--pattern <regex>", "regular expression with one capture group for slice numbers in file names")
    .option("--overwrite", "replace existing labels")
    .addOption(blockOption())
    .addOption(workersOption())
    .action(
      async (
        src: string,
        dataset: string,
        organelle: string,
        o: {
          array?: string;
          scale?: number;
          ids?: number[];
          map?: [number, number][];
          instances?: boolean;
          voxelSize?: Coordinate;
          offset?: Coordinate;
          pattern?: string;
          overwrite?: boolean;
          block?: number;
          workers?: number;
        },
      ) => {
        const r = await importLabels(src, dataset, organelle, {
          array: o.array,
          scale: o.scale,
          ids: o.ids,
          map: o.map,
          instances: o.instances,
          voxelSize: o.voxelSize,
          offset: o.offset,
          pattern: o.pattern,
          overwrite: o.overwrite,
          blockVoxels: o.block,
          workers: o.workers,
        });
        process.stdout.write(
          `${dataset}/${r.array}: ${r.shape.join(" x ")} ${r.dtype} (${r.dtype === "uint8" ? "binary" : "instance ids"}) from ${r.sourceKind === "slices" ? "slices" : "an array"}, placed by ${r.placement} at ${r.roi}, ${r.levels} scale level${r.levels === 1 ? "" : "s"}\n`,
        );
      },
    );
}
