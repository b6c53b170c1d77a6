import { execFileSync } from "node:child_process";
import { REPO } from "./helpers/cli.ts";

/** End-to-end tests run the bundled CLI, so bundle once before the suite (esbuild: well under a second). */
export default function setup(): void {
  execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: REPO, stdio: "inherit" });
}
