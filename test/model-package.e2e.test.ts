import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { coord } from "../src/core/coordinate.ts";
import { readPackageFiles } from "../src/learn/model-package.ts";
import { readNpy, writeNpy } from "../src/learn/model-package-npy.ts";
import { makeTinyCell } from "../src/learn/testing/datasets.ts";
import { makeTinyRun } from "../src/predict/testing.ts";
import { Volume } from "../src/store/volume.ts";
import { expectOneLineError, organelle, REPO, tempDir } from "./helpers/cli.ts";

/*
 * Model packages through the bundled CLI: export-model writes a bioimage.io 0.5 package of a (tiny,
 * seeded) run checkpoint; an independent Python check (test/model-package-check.py: zipfile, PyYAML,
 * numpy, torch.jit) accepts it; import-model checks and installs it; predicting with the installed package
 * gives the bytes of predicting with the run's checkpoint; damaged packages are refused in one line.
 */

const tmp = tempDir("organelle-model-package-");
const ds = path.join(tmp.dir, "cell.zarr");
const run = path.join(tmp.dir, "run-a");
const pkg = path.join(tmp.dir, "tiny-mito.zip");
const models = path.join(tmp.dir, "models");

function ok(args: string[]): string {
  const r = organelle(args);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

async function readAll(dataset: string, array: string): Promise<Uint8Array> {
  const v = await Volume.open(dataset, array);
  return (await v.readBox({ begin: coord(0, 0, 0), shape: v.meta.shape })) as Uint8Array;
}

/** A directory copy of the package with `edit` applied to its files. */
function variant(name: string, edit: (files: Map<string, Uint8Array>) => void): string {
  const files = readPackageFiles(pkg);
  edit(files);
  const dir = path.join(tmp.dir, name);
  fs.mkdirSync(dir);
  for (const [n, d] of files) fs.writeFileSync(path.join(dir, n), d);
  return dir;
}

// biome-ignore lint/suspicious/noExplicitAny: tests edit arbitrary keys of the parsed YAML
type Rdf = Record<string, any>;

function editRdf(files: Map<string, Uint8Array>, f: (rdf: Rdf) => void): void {
  const rdf = YAML.parse(Buffer.from(files.get("rdf.yaml")!).toString("utf8"));
  f(rdf);
  files.set("rdf.yaml", Buffer.from(YAML.stringify(rdf)));
}

beforeAll(async () => {
  await makeTinyCell(ds, coord(24, 30, 28), {
    raw: (z, y, x) =>
      (z - 12) ** 2 + (y - 14) ** 2 + (x - 13) ** 2 < 49
        ? 170 + ((y * 13 + x) % 20)
        : 80 + ((z * 7 + x * 17) % 23),
    labels: (z, y, x) => ((z - 12) ** 2 + (y - 14) ** 2 + (x - 13) ** 2 < 49 ? 1 : 0),
    mask: () => 1,
  });
  await makeTinyRun(run, { seed: 3 });
  ok(["export-model", run, "--out", pkg, "--sample", ds, "--name", "tiny-mito", "--authors", "A. Tester"]);
}, 120_000);
afterAll(() => tmp.cleanup());

describe("organelle export-model / import-model", () => {
  it("writes a bioimage.io 0.5 package the independent Python check accepts", () => {
    const files = readPackageFiles(pkg);
    expect([...files.keys()].sort()).toEqual(
      [
        "README.md",
        "cover.png",
        "model.json",
        "model.pt",
        "rdf.yaml",
        "test_input.npy",
        "test_output.npy",
        "weights.onnx",
        "weights.torchscript.pt",
      ].sort(),
    );
    const rdf = YAML.parse(Buffer.from(files.get("rdf.yaml")!).toString("utf8"));
    expect(rdf.format_version).toMatch(/^0\.5\.\d+$/);
    expect(rdf.authors).toEqual([{ name: "A. Tester" }]);
    // tiny U-Net: 20^3 -> 4^3, context 8 per side, 10 nm voxels of the run
    expect(
      rdf.inputs[0].axes.slice(2).map((a: { size: number; scale: number }) => [a.size, a.scale]),
    ).toEqual([
      [20, 10],
      [20, 10],
      [20, 10],
    ]);
    expect(rdf.outputs[0].axes[2].size).toEqual({ tensor_id: "raw", axis_id: "z", offset: -16 });
    const tin = readNpy(files.get("test_input.npy")!, "test_input");
    expect(tin.dtype).toBe("uint8");
    expect(tin.shape).toEqual([1, 1, 20, 20, 20]);
    expect(readNpy(files.get("test_output.npy")!, "test_output").shape).toEqual([1, 1, 4, 4, 4]);
    const py = spawnSync("/usr/bin/python3", [path.join(REPO, "test", "model-package-check.py"), pkg], {
      encoding: "utf8",
    });
    expect(py.status, py.stdout + py.stderr).toBe(0);
    expect(py.stdout).toContain("TorchScript reproduces the test output");
    expect(py.stdout).toContain("package OK");
  });

  it("imports, lists and predicts exactly like the run's checkpoint", async () => {
    const out = ok(["import-model", pkg, "--into", models]);
    expect(out).toMatch(/valid \(9 files, sha256 match, test output reproduced by ONNX Runtime within/);
    const installed = path.join(models, "tiny-mito");
    expect(fs.existsSync(path.join(installed, "model.json"))).toBe(true);
    expect(fs.readdirSync(models).filter((n) => n.startsWith("."))).toEqual([]);
    expect(ok(["models", models])).toMatch(
      /tiny-mito {2}mito {2}package \(bioimage\.io\) {2}20x20x20 -> 4x4x4 {2}@ 10 x 10 x 10 nm/,
    );
    const again = organelle(["import-model", pkg, "--into", models]);
    expect(expectOneLineError(again)).toMatch(/tiny-mito exists; pass --overwrite/);

    ok(["predict", run, ds, "--name", "from-run", "--no-pyramid"]);
    ok(["predict", installed, ds, "--name", "from-package", "--no-pyramid"]);
    const a = await readAll(ds, "predictions/from-run/mito/prob");
    const b = await readAll(ds, "predictions/from-package/mito/prob");
    expect(a.some((v) => v !== 0)).toBe(true);
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
  });

  it("refuses damaged packages in one line", () => {
    const bytes = fs.readFileSync(pkg);
    const truncated = path.join(tmp.dir, "truncated.zip");
    fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(expectOneLineError(organelle(["import-model", truncated, "--check"]))).toMatch(
      /truncated\.zip: not a readable zip archive \(no end record; the file is truncated\)/,
    );
    const flipped = Buffer.from(bytes);
    const at = flipped.indexOf(Buffer.from("weights.onnx")) + 200; // inside the ONNX entry's data
    flipped[at] = flipped[at]! ^ 0xff;
    const corrupt = path.join(tmp.dir, "corrupt.zip");
    fs.writeFileSync(corrupt, flipped);
    expect(expectOneLineError(organelle(["import-model", corrupt, "--check"]))).toMatch(
      /corrupt\.zip: not a readable zip archive \(weights\.onnx: (CRC-32 mismatch|compressed data damaged)\)/,
    );

    const sha = variant("sha", (f) => {
      const w = Buffer.from(f.get("weights.onnx")!);
      w[w.length - 10] = w[w.length - 10]! ^ 1;
      f.set("weights.onnx", w);
    });
    expect(expectOneLineError(organelle(["import-model", sha, "--check"]))).toMatch(
      /weights\.onnx does not match its sha256 in rdf\.yaml \(weights\.onnx\)/,
    );
    const missing = variant("missing", (f) => f.delete("weights.torchscript.pt"));
    expect(expectOneLineError(organelle(["import-model", missing, "--check"]))).toMatch(
      /weights\.torchscript names weights\.torchscript\.pt, which the package does not contain/,
    );
    const voxel = variant("voxel", (f) =>
      editRdf(f, (r) => {
        r.inputs[0].axes[2].scale = 8;
        r.outputs[0].axes[2].scale = 8;
      }),
    );
    expect(expectOneLineError(organelle(["import-model", voxel, "--check"]))).toMatch(
      /voxel size \(8, 10, 10\) nm in rdf\.yaml .* differs from 10 x 10 x 10 nm in model\.json/,
    );
    const nocite = variant("nocite", (f) => editRdf(f, (r) => delete r.cite));
    expect(expectOneLineError(organelle(["import-model", nocite, "--check"]))).toMatch(
      /rdf\.yaml: 'cite' must be a non-empty list/,
    );
    const wrongOut = variant("wrong-output", (f) => {
      const t = readNpy(f.get("test_output.npy")!, "t");
      const data = Float32Array.from(t.data as Float32Array, (v) => 1 - v);
      const npy = writeNpy({ dtype: "float32", shape: t.shape, data });
      f.set("test_output.npy", npy);
      editRdf(f, (r) => {
        r.outputs[0].test_tensor.sha256 = createHash("sha256").update(npy).digest("hex");
      });
    });
    expect(expectOneLineError(organelle(["import-model", wrongOut, "--check"]))).toMatch(
      /the ONNX weights do not reproduce the test output \(max difference [\d.e-]+ > 0\.0001\)/,
    );
    expect(expectOneLineError(organelle(["import-model", path.join(tmp.dir, "nope.zip")]))).toMatch(
      /nope\.zip: no such model package/,
    );
  });

  it("refuses bad export arguments in one line", () => {
    expect(
      expectOneLineError(
        organelle(["export-model", run, "--out", path.join(tmp.dir, "x.zip"), "--checkpoint", "7"]),
      ),
    ).toMatch(/has no checkpoint at step 7; it has 1/);
    expect(
      expectOneLineError(
        organelle(["export-model", run, "--out", path.join(tmp.dir, "x.zip"), "--input-shape", "21,20,20"]),
      ),
    ).toMatch(/z/);
    expect(expectOneLineError(organelle(["export-model", run, "--out", pkg]))).toMatch(
      /exists; pass --overwrite/,
    );
    expect(fs.existsSync(path.join(tmp.dir, "x.zip"))).toBe(false);
  });
});
