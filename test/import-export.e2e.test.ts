import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TiffWriter } from "../src/store/tiff-write.ts";
import { BIN, expectOneLineError, organelle, REPO, tempDir } from "./helpers/cli.ts";

/*
 * `organelle import` / `organelle export` through the bundled CLI: every bad input gets one line and a
 * non-zero exit; round trips are exact (checked with python3-tifffile, an independent reader); a
 * killed import resumes to the same bytes; memory does not grow with the number of slices.
 */

const PYTHON = "/usr/bin/python3";
const FIXTURES = path.join(REPO, "test", "fixtures", "tiff");
const { dir: tmp, cleanup } = tempDir("organelle-e2e-import-");
afterAll(cleanup);

let n = 0;
const fresh = (name: string) => path.join(tmp, `${n++}-${name}`);

/** Runs Python with tifffile/numpy; `script` reads sys.argv and prints JSON. */
function py(script: string, ...args: string[]): unknown {
  const out = execFileSync(
    PYTHON,
    ["-c", `import sys, json, hashlib, numpy as np, tifffile\n${script}`, ...args],
    {
      encoding: "utf8",
      maxBuffer: 1 << 26,
    },
  );
  return JSON.parse(out);
}

/** A stack written by tifffile (an independent writer): slices dir, or one multi-page file. */
function pyStack(
  out: string,
  shape: number[],
  dtype: "uint8" | "uint16",
  layout: "slices" | "multipage",
  seed = 1,
) {
  py(
    `out, shape, dtype, layout, seed = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
rng = np.random.default_rng(seed)
a = rng.integers(1, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
if layout == "slices":
    import os
    os.makedirs(out)
    for z in range(shape[0]):
        tifffile.imwrite(f"{out}/img_{z:03d}.tif", a[z], photometric="minisblack", rowsperstrip=7)
else:
    tifffile.imwrite(out, a, photometric="minisblack")
print(json.dumps(hashlib.sha256(a.tobytes()).hexdigest()))`,
    out,
    JSON.stringify(shape),
    dtype,
    layout,
    String(seed),
  );
}

/** The stack at `p` (directory of slices, sorted, or one file) as shape, dtype and sha256, read by tifffile. */
function pyRead(
  p: string,
  crop?: { offset: number[]; shape: number[] },
): { shape: number[]; dtype: string; sha: string; outside?: number } {
  return py(
    `p = sys.argv[1]
import os
files = sorted(os.path.join(p, f) for f in os.listdir(p)) if os.path.isdir(p) else [p]
a = np.concatenate([tifffile.imread(f).reshape((-1,) + tifffile.imread(f).shape[-2:]) for f in files])
crop = json.loads(sys.argv[2])
res = {"shape": list(a.shape), "dtype": str(a.dtype)}
if crop:
    sl = tuple(slice(o, o + s) for o, s in zip(crop["offset"], crop["shape"]))
    inner = a[sl].copy()
    a[sl] = 0
    res["outside"] = int(np.count_nonzero(a))
    a = inner
    res["shape"] = list(a.shape)
res["sha"] = hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
print(json.dumps(res))`,
    p,
    JSON.stringify(crop ?? null),
  ) as { shape: number[]; dtype: string; sha: string; outside?: number };
}

function ok(args: string[]): string {
  const r = organelle(args);
  if (r.code !== 0) throw new Error(`organelle ${args.join(" ")} failed (${r.code}):\n${r.stderr}`);
  return r.stdout;
}

/** Writes uint8 slices `name_<k>.tif` with our writer (for the bad-input cases). */
function slices(dir: string, names: string[], opts: { width?: number; height?: number } = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const name of names) {
    const w = TiffWriter.create(path.join(dir, name), {
      width: opts.width ?? 8,
      height: opts.height ?? 6,
      dtype: "uint8",
      pages: 1,
    });
    w.writePage(new Uint8Array((opts.width ?? 8) * (opts.height ?? 6)).fill(7));
    w.close();
  }
}

describe("organelle import: bad input gets one line and a non-zero exit", () => {
  const good = fresh("good");
  slices(good, ["s_1.tif", "s_2.tif", "s_3.tif"]);

  const cases: [string, () => string[], RegExp | string][] = [
    [
      "a missing source",
      () => [path.join(tmp, "nope"), fresh("o.zarr"), "--voxel-size", "4"],
      /nope: no such file or directory/,
    ],
    [
      "missing and repeated slice numbers",
      () => {
        const d = fresh("gaps");
        slices(d, ["a_15.tif", "a_16.tif", "a_19.tif", "a_40.tif", "b_40.tif"]);
        return [d, fresh("o.zarr"), "--voxel-size", "4"];
      },
      /: slices 17-18, 20-39 missing; slice 40 appears twice \(a_40\.tif, b_40\.tif\)/,
    ],
    [
      "missing numbers found by --pattern",
      () => {
        const d = fresh("pattern");
        slices(d, ["z1_keep.tif", "z2_keep.tif", "z4_keep.tif", "z3_skip.tif"]);
        return [d, fresh("o.zarr"), "--voxel-size", "4", "--pattern", "^z(\\d+)_keep"];
      },
      /: slice 3 missing \(slice numbers from --pattern, 1\.\.4\)/,
    ],
    [
      "a pattern without a capture group",
      () => [good, fresh("o.zarr"), "--voxel-size", "4", "--pattern", "s_\\d+"],
      /--pattern 's_\\d\+' has no capture group/,
    ],
    [
      "mixed slice sizes",
      () => {
        const d = fresh("mixed");
        slices(d, ["s_1.tif", "s_2.tif"]);
        slices(d, ["s_3.tif"], { width: 9 });
        return [d, fresh("o.zarr"), "--voxel-size", "4"];
      },
      /s_3\.tif: mixed slice sizes: this slice is 9 x 6 \(width x height\) but s_1\.tif is 8 x 6/,
    ],
    [
      "an RGB slice",
      () => {
        const d = fresh("rgb");
        slices(d, ["s_1.tif"]);
        fs.copyFileSync(path.join(FIXTURES, "bad", "rgb.tif"), path.join(d, "s_2.tif"));
        return [d, fresh("o.zarr"), "--voxel-size", "4"];
      },
      /s_2\.tif: pixels are RGB \(3 samples per pixel, 8-bit\); organelle imports 8- or 16-bit unsigned greyscale/,
    ],
    [
      "a float TIFF",
      () => [path.join(FIXTURES, "bad", "float32.tif"), fresh("o.zarr"), "--voxel-size", "4"],
      /float32\.tif: pixels are 32-bit floating point greyscale; organelle imports 8- or 16-bit/,
    ],
    [
      "a 32-bit integer TIFF",
      () => [path.join(FIXTURES, "bad", "uint32.tif"), fresh("o.zarr"), "--voxel-size", "4"],
      /uint32\.tif: pixels are 32-bit unsigned greyscale; organelle imports 8- or 16-bit/,
    ],
    [
      "a truncated slice",
      () => {
        const d = fresh("cut");
        slices(d, ["s_1.tif", "s_2.tif"], { width: 64, height: 64 });
        const f = path.join(d, "s_2.tif");
        fs.truncateSync(f, fs.statSync(f).size - 1000);
        return [d, fresh("o.zarr"), "--voxel-size", "4"];
      },
      /s_2\.tif: truncated: pixel data extends to byte \d+ but the file has \d+ bytes/,
    ],
    [
      "a non-image file with an image name",
      () => {
        const d = fresh("html");
        slices(d, ["s_1.tif"]);
        fs.writeFileSync(path.join(d, "s_2.tif"), "<html>download failed</html>\n");
        return [d, fresh("o.zarr"), "--voxel-size", "4"];
      },
      /s_2\.tif: not a TIFF file \(no II\*\/MM\* header\); is it an image at all\?/,
    ],
    [
      "an unwritable output",
      () => {
        const file = fresh("a-file");
        fs.writeFileSync(file, "");
        return [good, path.join(file, "out.zarr"), "--voxel-size", "4"];
      },
      /out\.zarr: \S+a-file is a file, not a directory \(while preparing the output\); choose another output location/,
    ],
    [
      "a zero voxel size",
      () => [good, fresh("o.zarr"), "--voxel-size", "0,4,4"],
      /--voxel-size \(0, 4, 4\): every value must be a positive number of nm/,
    ],
    [
      "a negative voxel size",
      () => [good, fresh("o.zarr"), "--voxel-size", "-4"],
      /--voxel-size \(-4, -4, -4\): every value must be a positive number of nm/,
    ],
    [
      "a voxel size above 100 um",
      () => [good, fresh("o.zarr"), "--voxel-size", "200000,4,4"],
      /--voxel-size \(200000, 4, 4\): values are in nm and must lie within 0\.01\.\.100000 \(did you give um or m\?\)/,
    ],
    [
      "a voxel size that is not a number",
      () => [good, fresh("o.zarr"), "--voxel-size", "five"],
      /--voxel-size: 'five' is not a list of numbers/,
    ],
    [
      "no voxel size where the images record none",
      () => [good, fresh("o.zarr")],
      /the images do not record a voxel size organelle trusts; give it with --voxel-size Z,Y,X in nm/,
    ],
    [
      "a crop outside the stack",
      () => [good, fresh("o.zarr"), "--voxel-size", "4", "--crop-offset", "1,0,0", "--crop-shape", "3,6,8"],
      /--crop-offset 1,0,0 with --crop-shape 3,6,8 reaches past the stack \(shape z,y,x 3,6,8\)/,
    ],
  ];

  it.each(cases)("%s", (_what, args, message) => {
    const a = args();
    const r = organelle(["import", ...a]);
    const line = expectOneLineError(r);
    expect(line).toMatch(message);
    expect(fs.existsSync(a[1]!)).toBe(false);
  });

  it("an existing output without --overwrite", () => {
    const out = fresh("o.zarr");
    fs.mkdirSync(out);
    const line = expectOneLineError(organelle(["import", good, out, "--voxel-size", "4"]));
    expect(line).toBe(`organelle: ${out} already exists; choose another name or pass --overwrite`);
  });
});

describe("organelle export: bad input", () => {
  it("a missing dataset, an unknown array, an existing output", () => {
    expect(expectOneLineError(organelle(["export", path.join(tmp, "none.zarr"), fresh("x.tif")]))).toMatch(
      /none\.zarr\/raw: no such array in the dataset/,
    );
    const src = fresh("s");
    slices(src, ["s_1.tif", "s_2.tif"]);
    const ds = fresh("d.zarr");
    ok(["import", src, ds, "--voxel-size", "4"]);
    expect(expectOneLineError(organelle(["export", ds, fresh("x.tif"), "--array", "labels/none"]))).toMatch(
      /labels\/none: no such array/,
    );
    const file = fresh("f");
    fs.writeFileSync(file, "");
    expect(expectOneLineError(organelle(["export", ds, path.join(file, "x.tif")]))).toMatch(
      /x\.tif: \S+ is a file, not a directory/,
    );
    expect(expectOneLineError(organelle(["export", ds, file]))).toBe(
      `organelle: ${file} already exists; choose another name or pass --overwrite`,
    );
  });
});

describe("round trips are exact", () => {
  it.each([
    ["uint8", "slices"],
    ["uint16", "slices"],
    ["uint8", "multipage"],
    ["uint16", "multipage"],
  ] as const)("%s %s written by tifffile -> OME-Zarr -> TIFF", (dtype, layout) => {
    const src = fresh(layout === "multipage" ? "src.tif" : "src");
    pyStack(src, [11, 23, 19], dtype, layout);
    const ds = fresh("rt.zarr");
    ok(["import", src, ds, "--voxel-size", "8,4,4", "--chunks", "4,8,8"]);
    const out = fresh(layout === "multipage" ? "out.tif" : "out");
    ok(["export", ds, out, "--layout", layout]);
    expect(pyRead(out)).toEqual(pyRead(src));
    // organelle's own files round-trip to the same bytes, and carry the voxel size
    const ds2 = fresh("rt2.zarr");
    expect(ok(["import", out, ds2])).toMatch(/@ 8 x 4 x 4 nm \(from organelle's TIFF metadata\)/);
    const out2 = fresh(layout === "multipage" ? "out2.tif" : "out2");
    ok(["export", ds2, out2, "--layout", layout]);
    const files = (p: string) =>
      layout === "multipage"
        ? [p]
        : fs
            .readdirSync(p)
            .sort()
            .map((f) => path.join(p, f));
    if (layout === "slices") expect(fs.readdirSync(out2).sort()).toEqual(fs.readdirSync(out).sort());
    for (const [a, b] of files(out).map((f, i) => [f, files(out2)[i]!])) {
      expect(fs.readFileSync(b!).equals(fs.readFileSync(a!))).toBe(true);
    }
  });

  it("crop, then un-crop: zeros outside the crop, the source inside", () => {
    const src = fresh("src");
    pyStack(src, [12, 30, 26], "uint16", "slices", 7);
    const ds = fresh("crop.zarr");
    ok([
      "import",
      src,
      ds,
      "--voxel-size",
      "5,4,4",
      "--crop-offset",
      "2,5,3",
      "--crop-shape",
      "7,20,17",
      "--chunks",
      "4,16,16",
    ]);
    const out = fresh("uncrop");
    expect(ok(["export", ds, out])).toMatch(
      /12 x 30 x 26 voxels \(z,y,x\) uint16, in the original stack's frame/,
    );
    const crop = { offset: [2, 5, 3], shape: [7, 20, 17] };
    const got = pyRead(out, crop);
    expect(got.outside).toBe(0);
    const want = pyRead(src, crop);
    expect([got.shape, got.dtype, got.sha]).toEqual([want.shape, want.dtype, want.sha]);
    const cropped = fresh("cropped.tif");
    ok(["export", ds, cropped, "--no-uncrop"]);
    expect(pyRead(cropped).shape).toEqual([7, 20, 17]);
  });

  it("--invert twice is the identity, and a multi-page BigTIFF big-endian fixture imports exactly", () => {
    const fixture = path.join(FIXTURES, "stack_u8_be_bigtiff.tif");
    const once = fresh("inv1.zarr");
    ok(["import", fixture, once, "--voxel-size", "4", "--invert"]);
    const inverted = fresh("inv1.tif");
    ok(["export", once, inverted]);
    const twice = fresh("inv2.zarr");
    ok(["import", inverted, twice, "--invert"]);
    const back = fresh("inv2.tif");
    ok(["export", twice, back]);
    expect(pyRead(back)).toEqual(pyRead(fixture));
    expect(pyRead(inverted).sha).not.toBe(pyRead(fixture).sha);
  });
});

describe("resume", () => {
  it("an import killed midway resumes to the same bytes as an uninterrupted one", async () => {
    const src = fresh("big");
    pyStack(src, [160, 256, 256], "uint16", "slices", 3);
    const args = (out: string) => [
      "import",
      src,
      out,
      "--voxel-size",
      "4",
      "--chunks",
      "8,64,64",
      "--workers",
      "1",
    ];
    const reference = fresh("ref.zarr");
    ok(args(reference));

    const out = fresh("killed.zarr");
    const child = spawn(process.execPath, [BIN, ...args(out)], {
      env: { ...process.env, ORGANELLE_QUIET: "1" },
      stdio: "ignore",
    });
    const jobs = path.join(`${out}.partial`, ".organelle", "jobs");
    const slabsDone = () => {
      if (!fs.existsSync(jobs)) return 0;
      const f = fs.readdirSync(jobs).find((n) => n.startsWith("import-"));
      return f
        ? fs
            .readFileSync(path.join(jobs, f), "utf8")
            .split("\n")
            .filter((l) => l.startsWith('{"id"')).length
        : 0;
    };
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    const deadline = Date.now() + 60_000;
    while (slabsDone() < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill("SIGKILL");
    await exited;
    const done = slabsDone();
    expect(done).toBeGreaterThanOrEqual(3);
    expect(done).toBeLessThan(20); // killed before the last of its 20 slabs
    expect(fs.existsSync(out)).toBe(false); // an interrupted import never looks complete

    expect(ok(args(out))).toMatch(/resumed: \d+ of 20 slabs were already written/);
    expect(fs.existsSync(`${out}.partial`)).toBe(false);
    const listing = (root: string) => {
      const all: string[] = [];
      const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else all.push(path.relative(root, p));
        }
      };
      walk(root);
      return all.sort();
    };
    expect(listing(out)).toEqual(listing(reference));
    for (const f of listing(reference)) {
      const a = fs.readFileSync(path.join(reference, f));
      const b = fs.readFileSync(path.join(out, f));
      // metadata names the source and output alike; chunks must be byte-identical
      expect(b.equals(a), f).toBe(true);
    }
  });
});

describe("memory", () => {
  it("peak RSS does not grow with the number of slices", () => {
    if (!fs.existsSync("/usr/bin/time")) return;
    const peak = (slicesCount: number) => {
      const src = fresh(`mem${slicesCount}`);
      fs.mkdirSync(src);
      const plane = new Uint8Array(768 * 768);
      for (let z = 0; z < slicesCount; z++) {
        for (let i = 0; i < plane.length; i += 97) plane[i] = (z + i) & 0xff;
        const w = TiffWriter.create(path.join(src, `s_${z}.tif`), {
          width: 768,
          height: 768,
          dtype: "uint8",
          pages: 1,
        });
        w.writePage(plane);
        w.close();
      }
      const rss = fresh("rss");
      const r = spawnSync(
        "/usr/bin/time",
        [
          "-f",
          "%M",
          "-o",
          rss,
          process.execPath,
          BIN,
          "import",
          src,
          fresh("m.zarr"),
          "--voxel-size",
          "4",
          "--chunks",
          "16,128,128",
          "--no-pyramid",
        ],
        { env: { ...process.env, ORGANELLE_QUIET: "1" }, encoding: "utf8" },
      );
      expect(r.status, r.stderr).toBe(0);
      return Number(fs.readFileSync(rss, "utf8").trim().split("\n").pop()) / 1024; // MB
    };
    const one = peak(32); // 18 MB of slices
    const four = peak(128); // 75 MB of slices
    // Holding the stack would add ~57 MB; two 9 MB slabs and worker buffers do not depend on it.
    expect(four - one).toBeLessThan(25);
  });
});
