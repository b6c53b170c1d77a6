import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { encode as encodePng } from "fast-png";
import { afterAll, describe, expect, it } from "vitest";
import { checkNumbering, naturalCompare, SliceStack, trustedVoxelSize } from "./slices.ts";
import type { TiffPage } from "./tiff-read.ts";
import { TiffWriter } from "./tiff-write.ts";

const FIXTURES = path.resolve(import.meta.dirname, "../../test/fixtures/tiff");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-slices-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let dirs = 0;
function dir(): string {
  const d = path.join(tmp, `d${dirs++}`);
  fs.mkdirSync(d);
  return d;
}

/** Writes a uint8 slice whose every pixel is `value` (or a uint16 one). */
function slice(file: string, value: number, opts: { width?: number; height?: number; bits?: 8 | 16 } = {}) {
  const width = opts.width ?? 6;
  const height = opts.height ?? 5;
  const w = TiffWriter.create(file, {
    width,
    height,
    dtype: opts.bits === 16 ? "uint16" : "uint8",
    pages: 1,
  });
  w.writePage(
    opts.bits === 16
      ? new Uint16Array(width * height).fill(value)
      : new Uint8Array(width * height).fill(value),
  );
  w.close();
}

async function firstPixels(stack: SliceStack): Promise<number[]> {
  const [nz, ny, nx] = stack.info.shape;
  const out: number[] = [];
  for (let z = 0; z < nz; z++) {
    const a = stack.info.dtype === "uint8" ? new Uint8Array(ny * nx) : new Uint16Array(ny * nx);
    await stack.readSlice(z, a);
    out.push(a[0]!);
  }
  return out;
}

describe("naturalCompare", () => {
  it("orders digit runs by value, text case-insensitively", () => {
    const names = ["img10.tif", "img2.tif", "IMG1.tif", "img1b.tif", "img01.tif", "img100.tif", "a.tif"];
    expect([...names].sort(naturalCompare)).toEqual([
      "a.tif",
      "IMG1.tif",
      "img01.tif",
      "img1b.tif",
      "img2.tif",
      "img10.tif",
      "img100.tif",
    ]);
  });
});

describe("checkNumbering", () => {
  const files = (ns: number[]) => ns.map((n) => ({ name: `s_${n}.tif`, number: n }));
  it("accepts a contiguous run starting anywhere", () => {
    expect(() => checkNumbering("d", files([7, 8, 9, 10]), "x")).not.toThrow();
  });
  it("names missing numbers as ranges and repeated ones with their files", () => {
    const list = [...files([15, 16, 19, 20, 21, 25, 40]), { name: "b_40.tif", number: 40 }];
    list.splice(6, 1, { name: "a_40.tif", number: 40 });
    expect(() => checkNumbering("/data/stack", list, "from --pattern")).toThrow(
      "/data/stack: slices 17-18, 22-24, 26-39 missing; slice 40 appears twice (a_40.tif, b_40.tif) (slice numbers from --pattern, 15..40); fix the stack or pick the files with --pattern",
    );
  });
  it("says 'slice' for one missing number", () => {
    expect(() => checkNumbering("d", files([1, 2, 4]), "x")).toThrow(
      "d: slice 3 missing (slice numbers x, 1..4)",
    );
  });
});

describe("SliceStack of a directory", () => {
  it("sorts naturally and reads slices in that order", async () => {
    const d = dir();
    for (const n of [8, 9, 10, 11, 12]) slice(path.join(d, `slice_${n}.tif`), n);
    fs.writeFileSync(path.join(d, "notes.txt"), "not a slice, ignored (not an image extension)");
    const stack = await SliceStack.open(d);
    expect(stack.info.files.map((f) => path.basename(f))).toEqual([
      "slice_8.tif",
      "slice_9.tif",
      "slice_10.tif",
      "slice_11.tif",
      "slice_12.tif",
    ]);
    expect(stack.info.shape).toEqual([5, 5, 6]);
    expect(await firstPixels(stack)).toEqual([8, 9, 10, 11, 12]);
  });

  it("uses the digit run that varies as the slice number", async () => {
    const d = dir();
    for (const n of [8, 9, 10]) slice(path.join(d, `cell2_run3_${String(n).padStart(4, "0")}.tif`), n);
    const stack = await SliceStack.open(d);
    expect(await firstPixels(stack)).toEqual([8, 9, 10]);
  });

  it("names missing and repeated slice numbers", async () => {
    const d = dir();
    for (const n of [14, 15, 16, 19, 20]) slice(path.join(d, `a_${n}.tif`), n);
    slice(path.join(d, "b_20.tif"), 20);
    await expect(SliceStack.open(d)).rejects.toThrow(
      `${d}: slices 17-18 missing; slice 20 appears twice (a_20.tif, b_20.tif)`,
    );
  });

  it("takes the slice number from --pattern's capture group and ignores other files", async () => {
    const d = dir();
    for (const n of [3, 1, 2]) slice(path.join(d, `z${n}_take.tif`), n * 10);
    slice(path.join(d, "z9_skip.tif"), 99);
    const stack = await SliceStack.open(d, { pattern: "^z(\\d+)_take\\.tif$" });
    expect(await firstPixels(stack)).toEqual([10, 20, 30]);
    await expect(SliceStack.open(d, { pattern: "^z\\d+_take" })).rejects.toThrow(/has no capture group/);
    await expect(SliceStack.open(d, { pattern: "^z(\\d+" })).rejects.toThrow(
      /is not a valid regular expression/,
    );
    await expect(SliceStack.open(d, { pattern: "^q(\\d+)" })).rejects.toThrow(
      `${d}: no file name matches --pattern '^q(\\d+)'`,
    );
  });

  it("names the first slice of another size or bit depth", async () => {
    const d = dir();
    slice(path.join(d, "s_1.tif"), 1);
    slice(path.join(d, "s_2.tif"), 1);
    slice(path.join(d, "s_3.tif"), 1, { width: 7 });
    await expect(SliceStack.open(d)).rejects.toThrow(
      `${path.join(d, "s_3.tif")}: mixed slice sizes: this slice is 7 x 5 (width x height) but s_1.tif is 6 x 5; every slice must have the same size`,
    );
    const e = dir();
    slice(path.join(e, "s_1.tif"), 1);
    slice(path.join(e, "s_2.tif"), 1, { bits: 16 });
    await expect(SliceStack.open(e)).rejects.toThrow(
      /s_2\.tif: mixed bit depths: this slice is uint16 but s_1\.tif is uint8/,
    );
  });

  it("refuses RGB and float slices, saying what was found", async () => {
    const d = dir();
    slice(path.join(d, "s_1.tif"), 1);
    fs.copyFileSync(path.join(FIXTURES, "bad", "rgb.tif"), path.join(d, "s_2.tif"));
    await expect(SliceStack.open(d)).rejects.toThrow(
      /s_2\.tif: pixels are RGB \(3 samples per pixel, 8-bit\); organelle imports 8- or 16-bit unsigned greyscale/,
    );
    const png = dir();
    fs.copyFileSync(path.join(FIXTURES, "bad", "rgb.png"), path.join(png, "p_1.png"));
    await expect(SliceStack.open(png)).rejects.toThrow(/p_1\.png: pixels are 8-bit RGB; organelle imports/);
    const bilevel = dir();
    fs.copyFileSync(path.join(FIXTURES, "bad", "bilevel.png"), path.join(bilevel, "p_1.png"));
    await expect(SliceStack.open(bilevel)).rejects.toThrow(/p_1\.png: pixels are 1-bit greyscale/);
  });

  it("names truncated and non-image files", async () => {
    const d = dir();
    slice(path.join(d, "s_1.tif"), 1, { width: 64, height: 64 });
    const whole = fs.readFileSync(path.join(d, "s_1.tif"));
    fs.writeFileSync(path.join(d, "s_2.tif"), whole.subarray(0, whole.length - 100));
    await expect(SliceStack.open(d)).rejects.toThrow(
      /s_2\.tif: truncated: pixel data extends to byte \d+ but the file has \d+ bytes/,
    );
    const e = dir();
    slice(path.join(e, "s_1.tif"), 1);
    fs.writeFileSync(path.join(e, "s_2.tif"), "<html>404 not found</html>");
    await expect(SliceStack.open(e)).rejects.toThrow(
      `${path.join(e, "s_2.tif")}: not a TIFF file (no II*/MM* header)`,
    );
    const p = dir();
    const png = fs.readFileSync(path.join(FIXTURES, "u8.png"));
    fs.writeFileSync(path.join(p, "p_1.png"), png.subarray(0, png.length - 20));
    await expect(SliceStack.open(p)).rejects.toThrow(/p_1\.png: truncated PNG/);
  });

  it("reads 8- and 16-bit PNG slices written by PIL and by fast-png", async () => {
    const d = dir();
    fs.copyFileSync(path.join(FIXTURES, "u16.png"), path.join(d, "p_0.png"));
    const stack = await SliceStack.open(d);
    expect(stack.info.dtype).toBe("uint16");
    const e = dir();
    const data = new Uint8Array(12).map((_, i) => i * 20);
    fs.writeFileSync(
      path.join(e, "p_0.png"),
      encodePng({ width: 4, height: 3, data, channels: 1, depth: 8 }),
    );
    const s8 = await SliceStack.open(e);
    const out = new Uint8Array(4);
    await s8.readSlice(0, out, { y: 1, x: 0, height: 1, width: 4 });
    expect(Array.from(out)).toEqual([80, 100, 120, 140]);
  });

  it("changes its fingerprint when a slice changes", async () => {
    const d = dir();
    slice(path.join(d, "s_1.tif"), 1);
    const a = (await SliceStack.open(d)).info.fingerprint;
    slice(path.join(d, "s_1.tif"), 2, { width: 8 });
    const b = (await SliceStack.open(d)).info.fingerprint;
    expect(a).not.toBe(b);
  });
});

describe("SliceStack of a multi-page TIFF", () => {
  it("reads pages in order; --pattern does not apply", async () => {
    const f = path.join(FIXTURES, "stack_u16_le.tif");
    const stack = await SliceStack.open(f);
    expect(stack.info.kind).toBe("multipage");
    expect(stack.info.shape).toEqual([5, 13, 11]);
    stack.close();
    await expect(SliceStack.open(f, { pattern: "(\\d+)" })).rejects.toThrow(
      /--pattern applies to a directory/,
    );
  });
});

describe("trustedVoxelSize", () => {
  const page = (description: string, resolution?: TiffPage["resolution"]) =>
    ({ description, resolution }) as TiffPage;
  it("trusts organelle's metadata and ImageJ's unit + spacing + resolution, nothing else", () => {
    expect(trustedVoxelSize(page('{"shape":[2,3],"organelle":{"voxel_size_nm":[8,4,4]}}'))?.value).toEqual([
      8, 4, 4,
    ]);
    expect(
      trustedVoxelSize(
        page("ImageJ=1.53t\nimages=10\nunit=micron\nspacing=0.005\n", { x: 250, y: 250, unit: 1 }),
      )?.value,
    ).toEqual([5, 4, 4]);
    expect(
      trustedVoxelSize(page("ImageJ=1.53t\nunit=micron\n", { x: 250, y: 250, unit: 1 })),
    ).toBeUndefined();
    expect(trustedVoxelSize(page('{"shape": [5, 13, 11]}'))).toBeUndefined();
    expect(trustedVoxelSize(page("Created with some scanner"))).toBeUndefined();
  });
});
