import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { coord } from "../core/coordinate.ts";
import { readNpy, writeNpy } from "./model-package-npy.ts";
import { applyOps, buildRdf, checkRdf, type RdfContent } from "./model-package-rdf.ts";
import { readZip, writeZip } from "./model-package-zip.ts";

/* The package containers checked against Python's zipfile and numpy, and the RDF builder against its checker. */

const sha256 = (d: Uint8Array) => createHash("sha256").update(d).digest("hex");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-package-unit-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function python(code: string, ...args: string[]): string {
  const r = spawnSync("/usr/bin/python3", ["-c", code, ...args], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe("zip", () => {
  const text = new TextEncoder().encode("abc ".repeat(1000));
  // incompressible bytes: a chain of sha256 digests
  const noise = new Uint8Array(
    Buffer.concat(Array.from({ length: 160 }, (_, i) => createHash("sha256").update(String(i)).digest())),
  );
  const zip = writeZip([
    { name: "rdf.yaml", data: text },
    { name: "weights.onnx", data: noise },
    { name: "empty", data: new Uint8Array(0) },
  ]);

  it("round-trips, deflating what shrinks and storing what does not", () => {
    const back = readZip(zip, "t.zip");
    expect(back.map((e) => e.name)).toEqual(["rdf.yaml", "weights.onnx", "empty"]);
    expect(Buffer.from(back[0]!.data).equals(Buffer.from(text))).toBe(true);
    expect(Buffer.from(back[1]!.data).equals(Buffer.from(noise))).toBe(true);
    expect(back[2]!.data.length).toBe(0);
    expect(zip.length).toBeLessThan(text.length + noise.length);
  });

  it("is read by Python's zipfile with matching CRCs", () => {
    const f = path.join(dir, "t.zip");
    fs.writeFileSync(f, zip);
    const out = python(
      "import sys, zipfile, hashlib; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(' '.join(f'{i.filename}:{i.compress_type}:{hashlib.sha256(z.read(i)).hexdigest()[:8]}' for i in z.infolist()))",
      f,
    );
    const h = (d: Uint8Array) => sha256(d).slice(0, 8);
    expect(out).toBe(`rdf.yaml:8:${h(text)} weights.onnx:0:${h(noise)} empty:0:${h(new Uint8Array(0))}`);
  });

  it("reads archives Python writes and refuses damaged ones", () => {
    const f = path.join(dir, "py.zip");
    python(
      "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED); z.writestr('pkg/rdf.yaml', 'x' * 100); z.writestr('pkg/', ''); z.close()",
      f,
    );
    const back = readZip(fs.readFileSync(f), "py.zip");
    expect(back.map((e) => [e.name, e.data.length])).toEqual([["pkg/rdf.yaml", 100]]);
    const bad = Buffer.from(zip);
    bad[40] = bad[40]! ^ 0xff; // inside the first entry's deflated data
    expect(() => readZip(bad, "bad.zip")).toThrow(/bad\.zip: not a readable zip archive \(rdf\.yaml: /);
    expect(() => readZip(zip.subarray(0, 100), "cut.zip")).toThrow(/no end record; the file is truncated/);
    expect(() => readZip(new Uint8Array(30), "zero.zip")).toThrow(/no zip header/);
  });
});

describe("npy", () => {
  it("writes what numpy reads and reads what numpy writes", () => {
    const f32 = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i / 7 - 1);
    const u8 = Uint8Array.from({ length: 5 * 3 }, (_, i) => i * 17);
    fs.writeFileSync(path.join(dir, "a.npy"), writeNpy({ dtype: "float32", shape: [2, 3, 4], data: f32 }));
    fs.writeFileSync(path.join(dir, "b.npy"), writeNpy({ dtype: "uint8", shape: [1, 1, 5, 3], data: u8 }));
    const out = python(
      "import sys, numpy as np; a = np.load(sys.argv[1]); b = np.load(sys.argv[2]); print(a.dtype, a.shape, float(a.sum()), b.dtype, b.shape, int(b.sum())); np.save(sys.argv[3], (np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 3)); np.save(sys.argv[4], np.arange(6, dtype=np.uint16).reshape(2, 3) * 1000)",
      path.join(dir, "a.npy"),
      path.join(dir, "b.npy"),
      path.join(dir, "c.npy"),
      path.join(dir, "d.npy"),
    );
    const sum = f32.reduce((s, v) => s + v, 0);
    const [d1, s1, v1, d2, s2, v2] = out.split(/ (?![^(]*\))/);
    expect([d1, s1, d2, s2, v2]).toEqual([
      "float32",
      "(2, 3, 4)",
      "uint8",
      "(1, 1, 5, 3)",
      String(u8.reduce((s, v) => s + v, 0)),
    ]);
    expect(Number(v1)).toBeCloseTo(sum, 4);
    const c = readNpy(fs.readFileSync(path.join(dir, "c.npy")), "c.npy");
    expect(c.dtype).toBe("float32");
    expect(c.shape).toEqual([2, 3, 4]);
    expect(c.data[23]).toBeCloseTo(23 / 3, 5);
    const d = readNpy(fs.readFileSync(path.join(dir, "d.npy")), "d.npy");
    expect([d.dtype, d.shape, [...d.data]]).toEqual(["uint16", [2, 3], [0, 1000, 2000, 3000, 4000, 5000]]);
    expect(() => readNpy(new Uint8Array(12), "x.npy")).toThrow(
      /x\.npy: not a readable \.npy file \(no NUMPY magic\)/,
    );
  });
});

describe("rdf", () => {
  const file = (source: string) => ({ source, sha256: "0".repeat(64) });
  const content: RdfContent = {
    name: "mito-aniso",
    description: "d",
    authors: ["A"],
    license: "CC-BY-4.0",
    tags: ["3d"],
    organelle: "mito",
    voxelSize: coord(40, 11.8, 11.8),
    inputShape: coord(9, 132, 132),
    outputShape: coord(5, 92, 92),
    inputDtype: "uint8",
    normalization: { scale: 2, shift: -1 },
    outputChannels: ["mito"],
    onnx: { ...file("weights.onnx"), opset: 13 },
    torchscript: { ...file("weights.torchscript.pt"), pytorchVersion: "1.13.0" },
    testInput: file("test_input.npy"),
    testOutput: file("test_output.npy"),
    documentation: "README.md",
    covers: ["cover.png"],
    attachments: [file("model.json")],
    timestamp: "2026-01-01T00:00:00Z",
    config: {},
  };

  it("builds a description its checker reads back (sizes from the size references, scale in nm)", () => {
    const c = checkRdf(buildRdf(content), "p");
    expect(c.inputShape).toEqual(coord(9, 132, 132));
    expect(c.outputShape).toEqual(coord(5, 92, 92));
    expect(c.voxelSize).toEqual(coord(40, 11.8, 11.8));
    expect(c.files.map((f) => f.source).sort()).toEqual(
      [
        "README.md",
        "cover.png",
        "model.json",
        "test_input.npy",
        "test_output.npy",
        "weights.onnx",
        "weights.torchscript.pt",
      ].sort(),
    );
    // uint8 0 -> -1, 255 -> 1: training's [-1, 1]
    const x = applyOps(Float32Array.of(0, 255), c.preprocessing, "p");
    expect([...x]).toEqual([-1, 1]);
  });

  it("names the first missing or wrong key", () => {
    const rdf = buildRdf(content) as Record<string, unknown>;
    const without = (k: string) => Object.fromEntries(Object.entries(rdf).filter(([key]) => key !== k));
    expect(() => checkRdf(without("authors"), "p")).toThrow(
      /p: rdf\.yaml: 'authors' must be a non-empty list/,
    );
    expect(() => checkRdf({ ...rdf, format_version: "0.4.10" }, "p")).toThrow(/format_version 0\.4\.10/);
    expect(() =>
      checkRdf(
        { ...rdf, weights: { torchscript: (rdf.weights as { torchscript: unknown }).torchscript } },
        "p",
      ),
    ).toThrow(/no onnx weights \(it has torchscript\)/);
    const um = structuredClone(rdf) as {
      inputs: { axes: Record<string, unknown>[] }[];
      outputs: { axes: Record<string, unknown>[] }[];
    };
    for (const t of [um.inputs[0]!, um.outputs[0]!]) {
      for (const a of t.axes.slice(2)) {
        a.unit = "micrometer";
        a.scale = (a.scale as number) / 1000;
      }
    }
    expect(checkRdf(um, "p").voxelSize[0]).toBeCloseTo(40, 9);
  });
});
