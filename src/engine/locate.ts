import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { notFound } from "../core/errors.ts";

/** The Python interpreter that runs the torch engine: ORGANELLE_PYTHON, else Debian's /usr/bin/python3. */
export function enginePython(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.ORGANELLE_PYTHON;
  if (configured) return configured;
  return fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

function hasPackage(dir: string): boolean {
  return fs.existsSync(path.join(dir, "organelle_engine", "__main__.py"));
}

/**
 * The directory holding the `organelle_engine` Python package (goes on PYTHONPATH). It ships beside
 * the code: <repo>/engine, reached from src/engine/ (running from source) or from dist/ (the bundle,
 * which sits next to engine/). ORGANELLE_ENGINE_DIR overrides both, e.g. for a bundle copied elsewhere.
 */
export function locateEngineDir(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.ORGANELLE_ENGINE_DIR;
  if (configured) {
    if (!hasPackage(configured)) {
      throw notFound(
        `ORGANELLE_ENGINE_DIR=${configured}: no organelle_engine package there (expected organelle_engine/__main__.py)`,
      );
    }
    return path.resolve(configured);
  }
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, "../../engine"), path.resolve(here, "../engine")];
  for (const dir of candidates) if (hasPackage(dir)) return dir;
  throw notFound(
    `the torch engine's Python package was not found (looked in ${candidates.join(" and ")}); copy the repository's engine/ directory next to dist/ or set ORGANELLE_ENGINE_DIR to it`,
  );
}
