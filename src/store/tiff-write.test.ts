import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TiffFile } from "./tiff-read.ts";
import { type TiffDType, type TiffPixels, TiffWriter, tiffFileSize } from "./tiff-write.ts";

const PYTHON = "/usr/bin/python3";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-tiffw-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function pixels(dtype: TiffDType, n: number, seed: number): TiffPixels {
  const a =
    dtype === "uint8"
      ? new Uint8Array(n)
      : dtype === "uint16"
        ? new Uint16Array(n)
        : dtype === "uint32"
          ? new Uint32Array(n)
          : dtype === "int32"
            ? new Int32Array(n)
            : new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = dtype === "float32" ? (s / 2 ** 32 - 0.5) * 1e3 : dtype === "int32" ? s | 0 : s;
  }
  return a;
}

function sha(a: TiffPixels[]): string {
  const h = createHash("sha256");
  for (const p of a) h.update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  return h.digest("hex");
}

interface Case {
  file: string;
  dtype: TiffDType;
  pages: number;
  height: number;
  width: number;
  big: boolean;
  data: TiffPixels[];
}

const cases: Case[] = [];
for (const dtype of ["uint8", "uint16", "uint32", "int32", "float32"] as const) {
  for (const pages of [1, 3]) {
    for (const big of [false, true]) {
      const [height, width] = [7 + pages, 9 + (dtype === "uint8" ? 0 : 1)]; // odd byte counts too
      const data = Array.from({ length: pages }, (_, k) => pixels(dtype, height * width, k + 1));
      cases.push({
        file: path.join(tmp, `${dtype}_${pages}_${big ? "big" : "classic"}.tif`),
        dtype,
        pages,
        height,
        width,
        big,
        data,
      });
    }
  }
}

describe("TiffWriter", () => {
  for (const c of cases) {
    const w = TiffWriter.create(c.file, {
      width: c.width,
      height: c.height,
      dtype: c.dtype,
      pages: c.pages,
      description: `{"shape": [${c.pages}, ${c.height}, ${c.width}]}`,
      pixelsPerCm: { x: 1e7 / 4, y: 1e7 / 5 },
      bigTiff: c.big,
    });
    for (const p of c.data) w.writePage(p);
    w.close();
  }

  it("writes exactly the size it predicts", () => {
    for (const c of cases) {
      const layout = {
        width: c.width,
        height: c.height,
        dtype: c.dtype,
        pages: c.pages,
        description: `{"shape": [${c.pages}, ${c.height}, ${c.width}]}`,
        pixelsPerCm: { x: 1e7 / 4, y: 1e7 / 5 },
      };
      expect(fs.statSync(c.file).size).toBe(tiffFileSize(layout, c.big));
    }
  });

  it("files open in python3-tifffile with the values written, resolution and description", () => {
    const script = `
import sys, json, hashlib, tifffile, numpy as np
out = {}
for f in sys.argv[1:]:
    with tifffile.TiffFile(f) as t:
        a = np.stack([p.asarray() for p in t.pages])
        p = t.pages[0]
        out[f] = {"shape": list(a.shape), "dtype": str(a.dtype), "big": t.is_bigtiff,
                  "sha": hashlib.sha256(a.astype(a.dtype.newbyteorder("<")).tobytes()).hexdigest(),
                  "xres": p.tags["XResolution"].value, "unit": int(p.tags["ResolutionUnit"].value),
                  "photometric": int(p.photometric), "description": p.description}
print(json.dumps(out))`;
    const got = JSON.parse(
      execFileSync(PYTHON, ["-c", script, ...cases.map((c) => c.file)], { encoding: "utf8" }),
    ) as Record<
      string,
      {
        shape: number[];
        dtype: string;
        big: boolean;
        sha: string;
        xres: number[];
        unit: number;
        photometric: number;
        description: string;
      }
    >;
    for (const c of cases) {
      const g = got[c.file]!;
      expect(g.shape).toEqual([c.pages, c.height, c.width]);
      expect(g.dtype).toBe(c.dtype);
      expect(g.big).toBe(c.big);
      expect(g.sha).toBe(sha(c.data));
      expect(g.xres[0]! / g.xres[1]!).toBeCloseTo(2.5e6, 6);
      expect(g.unit).toBe(3);
      expect(g.photometric).toBe(1); // MINISBLACK
      expect(g.description).toBe(`{"shape": [${c.pages}, ${c.height}, ${c.width}]}`);
    }
  });

  it("8- and 16-bit files read back through organelle's reader", async () => {
    for (const c of cases.filter((k) => k.dtype === "uint8" || k.dtype === "uint16")) {
      const t = await TiffFile.open(c.file);
      let k = 0;
      for await (const p of t.pages()) {
        const dst =
          c.dtype === "uint8" ? new Uint8Array(c.width * c.height) : new Uint16Array(c.width * c.height);
        await t.readPage(p, dst);
        expect(Array.from(dst)).toEqual(Array.from(c.data[k]!));
        if (k === 0) expect(p.resolution).toEqual({ x: 2.5e6, y: 2e6, unit: 3 });
        k++;
      }
      t.close();
      expect(k).toBe(c.pages);
    }
  });

  it("switches to BigTIFF by itself only above 4 GiB", () => {
    const small = TiffWriter.create(path.join(tmp, "small.tif"), {
      width: 4096,
      height: 4096,
      dtype: "uint16",
      pages: 100,
    });
    expect(small.bigTiff).toBe(false); // 3.2 GB
    small.abort();
    const large = TiffWriter.create(path.join(tmp, "large.tif"), {
      width: 4096,
      height: 4096,
      dtype: "uint16",
      pages: 200,
    });
    expect(large.bigTiff).toBe(true); // 6.7 GB
    large.abort();
    expect(fs.existsSync(path.join(tmp, "large.tif"))).toBe(false);
  });

  it("refuses a short file and removes it", () => {
    const f = path.join(tmp, "short.tif");
    const w = TiffWriter.create(f, { width: 2, height: 2, dtype: "uint8", pages: 2 });
    w.writePage(new Uint8Array(4));
    expect(() => w.close()).toThrow(/only 1 of 2 pages were written/);
    expect(fs.existsSync(f)).toBe(false);
  });
});
