import type { Command, Option } from "commander";
import { JOB_VERBS, type VerbSpec } from "../server/jobs.ts";
import { startServer } from "../server/server.ts";
import { numberArg } from "./args.ts";

interface ServeFlags {
  port?: number;
  host: string;
  scan: boolean;
}

/** The options each job verb accepts, from its commander definition (so the server validates job arguments). */
function jobVerbSpecs(program: Command): Map<string, VerbSpec> {
  const specs = new Map<string, VerbSpec>();
  for (const name of JOB_VERBS) {
    const cmd = program.commands.find((c) => c.name() === name);
    if (!cmd) continue;
    const options = new Map<string, boolean>();
    for (const o of cmd.options as readonly Option[]) {
      const takesValue = o.required || o.optional;
      if (o.long) options.set(o.long, takesValue);
      if (o.short) options.set(o.short, takesValue);
    }
    specs.set(name, { options });
  }
  return specs;
}

/** `organelle serve [DIR]`: datasets over HTTP, the JSON API and the web app, until Ctrl-C. */
export function registerServe(program: Command): void {
  program
    .command("serve")
    .description(
      "serve a directory of datasets: their files read-only over HTTP (CORS, Range) for Neuroglancer and zarr clients, a JSON API over the catalogue (DIR/organelle-catalog.sqlite) and the web app; writes (views, jobs) need the token printed at start-up",
    )
    .argument("[dir]", "directory holding datasets (*.zarr), training runs and models", ".")
    .option(
      "--port <n>",
      "TCP port (default 8321; 0 picks a free one)",
      numberArg("--port", { integer: true, min: 0, max: 65535 }),
    )
    .option(
      "--host <address>",
      "address to bind; anything but 127.0.0.1 exposes the data to the network",
      "127.0.0.1",
    )
    .option("--no-scan", "do not index the directory (serve what the catalogue already holds)")
    .action(async (dir: string, o: ServeFlags) => {
      const server = await startServer({
        dir,
        host: o.host,
        port: o.port ?? 8321,
        scan: o.scan,
        verbs: jobVerbSpecs(program),
      });
      const datasets = server.catalog.listDatasets().length;
      process.stdout.write(
        `organelle serve: ${server.dir} (${datasets} dataset${datasets === 1 ? "" : "s"})\n` +
          `  ${server.url}/\n` +
          `  token for writes (views, jobs): ${server.token}\n` +
          "  Ctrl-C stops\n",
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          resolve();
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      await server.close();
      process.stdout.write("organelle serve: stopped\n");
    });
}
