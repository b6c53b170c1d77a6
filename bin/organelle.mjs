#!/usr/bin/env node
// Runs the bundled CLI; `npm run build` (part of `npm test` and `npm run demo`) makes dist/.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const bundle = fileURLToPath(new URL("../dist/organelle.mjs", import.meta.url));
if (!existsSync(bundle)) {
  console.error(
    "organelle: dist/organelle.mjs is missing; run `npm run build` in the organelle checkout first",
  );
  process.exit(2);
}
await import(bundle);
