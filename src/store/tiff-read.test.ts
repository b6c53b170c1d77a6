import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isOrganelleError } from "../core/errors.ts";
import { pageDType, TiffFile, type TiffPage } from "./tiff-read.ts";

// Written by python3-tifffile and python3-pil: scripts/fixtures/make_tiff_fixtures.py
const FIXTURES = path.resolve(import.meta.dirname, "../../test/fixtures/tiff");
interface Expected {
  shape: [number, number, number];
  dtype: string;
  sha256: string;
  first: number;
  last: number;
  at_1_2_3: number;
  sum: number;
}
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, "expected.json"), "utf8")) as Record<
  string,
  Expected
>;
const tiffs = Object.keys(expected).filter((n) => n.endsWith(".tif"));

async function readAll(file: string): Promise<{ pages: TiffPage[]; data: Uint8Array | Uint16Array }> {
  const tiff = await TiffFile.open(file);
  try {
    const pages: TiffPage[] = [];
    for await (const p of tiff.pages()) pages.push(p);
    const p0 = pages[0]!;
    const plane = p0.width * p0.height;
    const data =
      pageDType(p0, file) === "uint8"
        ? new Uint8Array(plane * pages.length)
        : new Uint16Array(plane * pages.length);
    for (const p of pages) {
      await tiff.checkExtent(p);
      await tiff.readPage(p, data.subarray(p.index * plane, (p.index + 1) * plane));
    }
    return { pages, data };
  } finally {
    tiff.close();
  }
}

function sha(a: Uint8Array | Uint16Array): string {
  return createHash("sha256")
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest("hex");
}

describe("TIFF pages written by tifffile and PIL", () => {
  it.each(tiffs)("%s decodes to the values the writer recorded", async (name) => {
    const e = expected[name]!;
    const { pages, data } = await readAll(path.join(FIXTURES, name));
    expect([pages.length, pages[0]!.height, pages[0]!.width]).toEqual(e.shape);
    expect(data instanceof Uint8Array ? "uint8" : "uint16").toBe(e.dtype);
    expect(data[0]).toBe(e.first);
    expect(data[data.length - 1]).toBe(e.last);
    let sum = 0;
    for (let i = 0; i < data.length; i++) sum += data[i]!;
    expect(sum).toBe(e.sum);
    expect(sha(data)).toBe(e.sha256);
  });

  it.each(["u8_le_strips.tif", "u16_be_strips.tif", "u8_lzw.tif", "u8_tiled_deflate.tif"])(
    "%s reads a window equal to the same part of the whole page",
    async (name) => {
      const file = path.join(FIXTURES, name);
      const { pages, data } = await readAll(file);
      const p = pages[0]!;
      const win = { y: 3, x: 5, height: p.height - 7, width: p.width - 9 };
      const tiff = await TiffFile.open(file);
      const part =
        data instanceof Uint8Array
          ? new Uint8Array(win.height * win.width)
          : new Uint16Array(win.height * win.width);
      await tiff.readPage(p, part, win);
      tiff.close();
      for (let y = 0; y < win.height; y++) {
        for (let x = 0; x < win.width; x++) {
          expect(part[y * win.width + x]).toBe(data[(y + win.y) * p.width + x + win.x]);
        }
      }
    },
  );
});

describe("TIFF files organelle refuses", () => {
  const bad = path.join(FIXTURES, "bad");
  it.each([
    ["rgb.tif", /RGB \(3 samples per pixel, 8-bit\); organelle imports 8- or 16-bit unsigned greyscale/],
    ["float32.tif", /32-bit floating point greyscale; organelle imports/],
    ["uint32.tif", /32-bit unsigned greyscale; organelle imports/],
    ["int16.tif", /16-bit signed integer greyscale; organelle imports/],
  ])("%s: says what it found", async (name, message) => {
    const tiff = await TiffFile.open(path.join(bad, name));
    const first = (await tiff.pages().next()).value as TiffPage;
    tiff.close();
    expect(() => pageDType(first, name)).toThrow(message);
  });

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-tiff-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("a text file is not a TIFF", async () => {
    const f = path.join(tmp, "notes.tif");
    fs.writeFileSync(f, "these are my notes, not an image\n");
    await expect(TiffFile.open(f)).rejects.toThrow(`${f}: not a TIFF file (no II*/MM* header)`);
  });

  it("a truncated copy is named with what is missing", async () => {
    const src = fs.readFileSync(path.join(FIXTURES, "stack_u16_le.tif"));
    const f = path.join(tmp, "cut.tif");
    // keep the header and the first page's directory, cut into the pixel data
    fs.writeFileSync(f, src.subarray(0, 400));
    const tiff = await TiffFile.open(f);
    const p = (await tiff.pages().next()).value as TiffPage;
    await expect(tiff.checkExtent(p)).rejects.toThrow(
      /cut\.tif: truncated: pixel data extends to byte \d+ but the file has 400 bytes/,
    );
    const err = await tiff.readPage(p, new Uint16Array(p.width * p.height)).catch((e: unknown) => e);
    expect(isOrganelleError(err, "InvalidData")).toBe(true);
    expect(String((err as Error).message)).toMatch(/cut\.tif: truncated/);
    tiff.close();
  });
});
