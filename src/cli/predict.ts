import { type Command, Option } from "commander";
import { formatDuration, formatRate } from "../blockwise/progress.ts";
import { format } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { parseRoi } from "../core/roi.ts";
import type { Device } from "../engine/engine.ts";
import type { EngineKind } from "../predict/engines.ts";
import { predict } from "../predict/predict.ts";
import { positiveInt, probability } from "./args.ts";

export function device(v: string): Device {
  if (v === "auto" || v === "cpu" || v === "cuda" || /^cuda:\d+$/.test(v)) return v as Device;
  throw invalidArgument(`--device ${v}: choose auto, cpu, cuda or cuda:N`);
}

interface PredictFlags {
  engine?: EngineKind;
  device?: Device;
  threads?: number;
  roi?: string;
  mask: boolean;
  maskArray: string;
  threshold: number;
  force?: boolean;
  overwrite?: boolean;
  name?: string;
  block?: number;
  maxTile?: number;
  tileMemory?: number;
  chunk?: number;
  pyramid?: boolean;
  json?: boolean;
}

/** `organelle predict MODEL... DATASET`: probability maps and segmentations, block-wise. */
export function registerPredict(program: Command): void {
  program
    .command("predict")
    .description(
      "predict organelles with trained models, block-wise over the dataset (or --roi) inside the cell mask: predictions/<model>/<organelle>/prob (uint8 0..255) and /seg (0/1 at --threshold), with pyramids; several models read each block once; resumable after a kill (run the same command again)",
    )
    .argument(
      "<models-and-dataset...>",
      "one or more models (a training run RUN_DIR[:STEP], a checkpoint, a model package directory or an .onnx file with its .json), then the dataset (.zarr)",
    )
    .addOption(
      new Option(
        "--engine <engine>",
        "onnx (ONNX Runtime, CPU; default without an NVIDIA GPU) or torch (PyTorch, CUDA when present)",
      ).choices(["onnx", "torch"]),
    )
    .option("--device <device>", "torch engine device: auto, cpu, cuda or cuda:N (default auto)", device)
    .option("--threads <n>", "CPU threads of the engine (default: every core)", positiveInt("--threads"))
    .option("--roi <roi>", "predict only this region, 'z,y,x:dz,dy,dx' (offset:shape in nm)")
    .option("--no-mask", "predict every voxel, not only inside the cell mask")
    .option("--mask-array <path>", "the cell mask array", "masks/cell")
    .option("--threshold <t>", "probability threshold of the segmentation", probability("--threshold"), 0.5)
    .option("--force", "predict although the model was trained at another voxel size than the data has")
    .option(
      "--overwrite",
      "replace an existing prediction (of another model, or left by another interrupted run)",
    )
    .option("--name <name>", "output name instead of the model's (predictions/<name>/<organelle>)")
    .option(
      "--block <voxels>",
      "write-block edge in voxels, whole chunks (default: chosen for speed)",
      positiveInt("--block"),
    )
    .option(
      "--max-tile <voxels>",
      "largest network input edge per tile (default: from --tile-memory)",
      positiveInt("--max-tile"),
    )
    .option(
      "--tile-memory <MB>",
      "activation memory of one tile (default: CPU min(2048, RAM/8), GPU a quarter of its memory)",
      positiveInt("--tile-memory"),
    )
    .option("--chunk <voxels>", "chunk edge of new output arrays (default 64)", positiveInt("--chunk"))
    .option("--pyramid", "build the outputs' pyramids also after predicting a --roi")
    .option("--no-pyramid", "do not build the outputs' pyramids")
    .option("--json", "print the result as JSON")
    .action(async (items: string[], o: PredictFlags) => {
      if (items.length < 2)
        throw invalidArgument(
          "give at least one model and then the dataset: organelle predict MODEL... DATASET",
        );
      const dataset = items.at(-1)!;
      const models = items.slice(0, -1);
      const r = await predict(dataset, models, {
        ...(o.engine ? { engine: o.engine } : {}),
        ...(o.device ? { device: o.device } : {}),
        ...(o.threads ? { threads: o.threads } : {}),
        ...(o.roi ? { roi: parseRoi(o.roi, "--roi") } : {}),
        mask: o.mask,
        maskArray: o.maskArray,
        threshold: o.threshold,
        force: o.force ?? false,
        overwrite: o.overwrite ?? false,
        ...(o.name ? { name: o.name } : {}),
        ...(o.block ? { block: o.block } : {}),
        ...(o.maxTile ? { maxTile: o.maxTile } : {}),
        ...(o.tileMemory ? { tileMemoryMb: o.tileMemory } : {}),
        ...(o.chunk ? { chunk: o.chunk } : {}),
        ...(o.pyramid !== undefined ? { pyramid: o.pyramid } : {}),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify(
            {
              dataset: r.dataset,
              engine: r.engine,
              region: r.region.toJSON(),
              voxelSize: r.voxelSize,
              block: r.plan.block,
              outputs: r.outputs.map((x) => ({
                model: x.model.name,
                organelle: x.model.organelle,
                prob: x.prob,
                seg: x.seg,
                tile: x.tile,
              })),
              blocks: r.blocks,
              resumedBlocks: r.resumedBlocks,
              outsideBlocks: r.outsideBlocks,
              tiles: r.tiles,
              voxels: r.voxels,
              voxelsPerSecond: r.voxelsPerSecond,
              seconds: r.seconds,
              upToDate: r.upToDate,
            },
            null,
            2,
          )}\n`,
        );
        return;
      }
      for (const x of r.outputs) {
        process.stdout.write(`${dataset}/${x.group}: prob + seg (threshold ${o.threshold})\n`);
      }
      if (r.upToDate) {
        process.stdout.write(
          `already predicted in ${r.region} by the same model; pass --overwrite to predict again\n`,
        );
        return;
      }
      const resumed = r.resumedBlocks > 0 ? `, ${r.resumedBlocks} done before the interruption` : "";
      process.stdout.write(
        `${r.voxels.toLocaleString("en-US")} voxels at ${format(r.voxelSize)} nm in ${r.blocks} blocks (${r.outsideBlocks} outside the cell mask${resumed}), ${r.tiles} tiles; ${formatRate(r.voxelsPerSecond)} voxels/s, ${formatDuration(r.seconds)}; ${r.engine}\n`,
      );
    });
}
