// Bundles the CLI and its worker entry into dist/ as plain ESM files that run with a bare `node`.

import * as fs from "node:fs";
import * as esbuild from "esbuild";

const entries = {
  organelle: "src/cli/entry.ts",
};
// Worker entries are separate files: worker_threads loads them by path at run time.
if (fs.existsSync("src/tasks/worker.ts")) entries.worker = "src/tasks/worker.ts";

await esbuild.build({
  entryPoints: entries,
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
  // Native addons cannot be bundled; they are optional at run time (see docs/gpu.md).
  external: ["onnxruntime-node", "better-sqlite3"],
  banner: {
    // Bundled CommonJS dependencies still call require(); give them one.
    js: "import { createRequire as __organelleCreateRequire } from 'node:module'; const require = __organelleCreateRequire(import.meta.url);",
  },
});

// The web app (web/, React + Vite) into dist/web, which `organelle serve` hands out.
if (fs.existsSync("web/vite.config.ts")) {
  const { build } = await import("vite");
  await build({ configFile: "web/vite.config.ts", logLevel: "warn" });
}
