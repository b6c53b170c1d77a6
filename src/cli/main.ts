import { Command, CommanderError } from "commander";
import { isOrganelleError } from "../core/errors.ts";
import { VERBS } from "./verbs.ts";

export const VERSION = "0.1.0";

/** Builds the CLI. Each verb lives in its own module under src/cli and only parses, calls and prints. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name("organelle")
    .description("Volume EM of whole cells to organelle segmentations, measurements and shareable datasets")
    .version(VERSION)
    .option("--debug", "print stack traces for errors")
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  for (const register of VERBS) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const debug = argv.includes("--debug");
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed the message (or help/version, which exit 0)
      return e.exitCode === 0 ? 0 : 2;
    }
    if (debug) {
      console.error(e);
    } else if (isOrganelleError(e)) {
      console.error(`organelle: ${e.message}`);
    } else {
      const msg = (e as Error)?.message ?? String(e);
      console.error(`organelle: internal error: ${msg.split("\n")[0]} (run with --debug for details)`);
    }
    return isOrganelleError(e) && e.kind !== "BlockFailed" ? 2 : 1;
  }
}
