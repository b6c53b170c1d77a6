import type { Command } from "commander";
import { registerAnnotateTrain } from "./annotate-train.ts";
import { registerClahe } from "./clahe.ts";
import { registerCompare } from "./compare.ts";
import { registerContacts } from "./contacts.ts";
import { registerCrop } from "./crop.ts";
import { registerDoctor } from "./doctor.ts";
import { registerEvaluate } from "./evaluate.ts";
import { registerExport } from "./export.ts";
import { registerExportModel } from "./export-model.ts";
import { registerFuse } from "./fuse.ts";
import { registerGraphcut } from "./graphcut.ts";
import { registerGt } from "./gt.ts";
import { registerImport } from "./import.ts";
import { registerImportModel } from "./import-model.ts";
import { registerInfo } from "./info.ts";
import { registerMask } from "./mask.ts";
import { registerMeasure } from "./measure.ts";
import { registerMesh } from "./mesh.ts";
import { registerModels } from "./models.ts";
import { registerPits } from "./pits.ts";
import { registerPores } from "./pores.ts";
import { registerPredict } from "./predict.ts";
import { registerPyramid } from "./pyramid.ts";
import { registerRefine } from "./refine.ts";
import { registerReport } from "./report.ts";
import { registerServe } from "./serve.ts";
import { registerSkeleton } from "./skeleton.ts";
import { registerSynth } from "./synth.ts";
import { registerThreshold } from "./threshold.ts";
import { registerTrain } from "./train.ts";

/** Every CLI verb registers itself on the program; the list is fixed at build time. */
export type RegisterVerb = (program: Command) => void;

export const VERBS: readonly RegisterVerb[] = [
  registerImport,
  registerExport,
  registerInfo,
  registerPyramid,
  registerSynth,
  registerCrop,
  registerClahe,
  registerMask,
  registerGt,
  registerGraphcut,
  registerAnnotateTrain,
  registerDoctor,
  registerTrain,
  registerModels,
  registerExportModel,
  registerImportModel,
  registerPredict,
  registerThreshold,
  registerFuse,
  registerEvaluate,
  registerCompare,
  registerRefine,
  registerMeasure,
  registerContacts,
  registerMesh,
  registerPores,
  registerPits,
  registerSkeleton,
  registerReport,
  registerServe,
];
