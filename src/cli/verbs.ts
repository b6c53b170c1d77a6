import type { Command } from "commander";

/** Every CLI verb registers itself on the program; the list is fixed at build time. */
export type RegisterVerb = (program: Command) => void;

export const VERBS: readonly RegisterVerb[] = [];
