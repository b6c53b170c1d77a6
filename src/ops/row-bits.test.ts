import { describe, expect, it } from "vitest";
import { rng } from "../../test/helpers/ops-fixtures.ts";
import type { Coordinate } from "../core/coordinate.ts";
import { packRows, unpackRow, widenRows, wordView } from "./row-bits.ts";

function randomBytes(n: number, rand: () => number): Uint8Array {
  const values = [0, 0, 0, 1, 2, 127, 128, 255];
  const m = new Uint8Array(n);
  for (let i = 0; i < n; i++) m[i] = values[Math.floor(rand() * values.length)]!;
  return m;
}

describe("row bits", () => {
  it("pack then unpack gives the 0/1 mask back, for word-aligned and unaligned rows and buffers", () => {
    const rand = rng(51);
    for (const nx of [1, 4, 7, 31, 32, 33, 64, 68, 100]) {
      const shape: Coordinate = [2, 3, nx];
      const n = 6 * nx;
      for (const offset of [0, 1, 4]) {
        const backing = new Uint8Array(n + offset);
        const mask = backing.subarray(offset);
        mask.set(randomBytes(n, rand));
        for (const ofZeros of [false, true]) {
          const packed = packRows(mask, shape, ofZeros);
          const backOut = new Uint8Array(n + offset);
          const out = backOut.subarray(offset);
          const out32 = wordView(out);
          for (let r = 0; r < 6; r++) {
            const row = packed.bits.subarray(r * packed.wordsPerRow, (r + 1) * packed.wordsPerRow);
            unpackRow(row, packed.wordsPerRow, nx, false, out, out32, r * nx);
          }
          const want = mask.map((v) => ((v !== 0) !== ofZeros ? 1 : 0));
          expect([...out], `nx ${nx} offset ${offset} zeros ${ofZeros}`).toEqual([...want]);
          // no bits beyond nx
          const tail = nx & 31;
          if (tail !== 0) {
            for (let r = 0; r < 6; r++)
              expect(packed.bits[(r + 1) * packed.wordsPerRow - 1]! >>> tail).toBe(0);
          }
        }
      }
    }
  });

  it("widening ORs the row shifted both ways along x", () => {
    const rand = rng(52);
    for (const nx of [5, 32, 45, 96]) {
      for (const s of [1, 2, 7, 31, 32, 33, 40]) {
        const shape: Coordinate = [1, 4, nx];
        const mask = new Uint8Array(4 * nx).map(() => (rand() < 0.1 ? 1 : 0));
        const src = packRows(mask, shape, false);
        const dst = new Int32Array(src.bits.length);
        widenRows(src.bits, dst, 4, src.wordsPerRow, nx, s);
        const out = new Uint8Array(4 * nx);
        for (let r = 0; r < 4; r++) {
          unpackRow(dst.subarray(r * src.wordsPerRow), src.wordsPerRow, nx, false, out, undefined, r * nx);
        }
        for (let r = 0; r < 4; r++) {
          for (let x = 0; x < nx; x++) {
            const at = (xx: number) => xx >= 0 && xx < nx && mask[r * nx + xx] === 1;
            expect(out[r * nx + x], `nx ${nx} s ${s} x ${x}`).toBe(at(x) || at(x - s) || at(x + s) ? 1 : 0);
          }
        }
      }
    }
  });
});
