import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { expectOneLineError, organelle, tempDir } from "./helpers/cli.ts";

describe("organelle doctor", () => {
  it("reports Node, Python, PyTorch, devices, threads and ONNX Runtime", () => {
    const r = organelle(["doctor"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^node +v\d+/m);
    expect(r.stdout).toMatch(/^torch +\d+\.\d+.*protocol 1/m);
    expect(r.stdout).toMatch(/^threads +\d+/m);
    expect(r.stdout).toMatch(/^(cuda +no CUDA devices|cuda:0 +.+GiB)/m);
    expect(r.stdout).toMatch(/^onnxruntime +/m);
    const json = JSON.parse(organelle(["doctor", "--json"]).stdout);
    expect(json.engine.protocol).toBe(1);
    expect(json.engineError).toBe(null);
  });

  it("exits non-zero with one line on how to install PyTorch when the Python has none", () => {
    const t = tempDir();
    try {
      const python = path.join(t.dir, "python-without-torch");
      fs.writeFileSync(python, '#!/bin/sh\nexec /usr/bin/python3 -S "$@"\n', { mode: 0o755 });
      const r = organelle(["doctor"], { env: { ORGANELLE_PYTHON: python } });
      expect(r.stdout).toMatch(/^torch +MISSING: PyTorch cannot be imported/m);
      expect(expectOneLineError(r)).toMatch(/apt-get install python3-torch.*ORGANELLE_PYTHON/);
    } finally {
      t.cleanup();
    }
  });
});
