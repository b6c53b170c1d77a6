import type { Command } from "commander";
import { registerClahe } from "./clahe.ts";
import { registerCrop } from "./crop.ts";
import { registerDoctor } from "./doctor.ts";
import { registerExport } from "./export.ts";
import { registerGt } from "./gt.ts";
import { registerImport } from "./import.ts";
import { registerInfo } from "./info.ts";
import { registerMask } from "./mask.ts";
import { registerPyramid } from "./pyramid.ts";
import { registerSynth } from "./synth.ts";

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
  registerDoctor,
];
