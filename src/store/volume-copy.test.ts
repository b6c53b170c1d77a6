import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { rng } from "../../test/helpers/ops-fixtures.ts";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { allocate, type DType } from "./dtype.ts";
import { Volume } from "./volume.ts";

// readBox / writeBox copy chunks into boxes with their own setter (and hand back a whole chunk's
// decoded array as it is): random boxes of every kind — inside, across chunks, past the array's
// edge, whole chunks — must read back what a plain array holds.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-volume-copy-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const shape = coord(13, 17, 22);
const chunks = coord(4, 8, 6);

function randomBox(rand: () => number, inside: boolean): { begin: Coordinate; shape: Coordinate } {
  const b: number[] = [];
  const s: number[] = [];
  for (let d = 0; d < 3; d++) {
    const n = shape[d]!;
    const lo = inside ? Math.floor(rand() * n) : Math.floor(rand() * (n + 6)) - 3;
    const max = inside ? n - lo : n + 3 - lo;
    b.push(lo);
    s.push(1 + Math.floor(rand() * Math.max(1, max)));
  }
  return { begin: coord(b[0]!, b[1]!, b[2]!), shape: coord(s[0]!, s[1]!, s[2]!) };
}

describe("Volume box copies", () => {
  for (const [dtype, format] of [
    ["uint8", "0.4"],
    ["uint16", "0.5"],
    ["float64", "0.4"],
  ] as const) {
    it(`${dtype}, OME-Zarr ${format}: random writes and reads equal a plain array`, async () => {
      const rand = rng(dtype.length * 7 + format.length);
      const v = await Volume.create(path.join(dir, `${dtype}-${format}.zarr`), "a", {
        shape,
        dtype: dtype as DType,
        voxelSize: coord(1, 1, 1),
        chunks,
        format,
      });
      const n = shape[0] * shape[1] * shape[2];
      const ref = new Float64Array(n);
      const at = (z: number, y: number, x: number) => (z * shape[1] + y) * shape[2] + x;
      for (let t = 0; t < 25; t++) {
        // a whole chunk now and then, else any box inside
        const box =
          t % 5 === 0
            ? { begin: coord(4 * (t % 3), 8 * (t % 2), 6 * (t % 3)), shape: chunks }
            : randomBox(rand, true);
        const data = allocate(dtype, box.shape[0] * box.shape[1] * box.shape[2]) as Uint8Array;
        let k = 0;
        for (let z = 0; z < box.shape[0]; z++)
          for (let y = 0; y < box.shape[1]; y++)
            for (let x = 0; x < box.shape[2]; x++, k++) {
              const value = Math.floor(rand() * 250) + 1;
              data[k] = value;
              ref[at(box.begin[0] + z, box.begin[1] + y, box.begin[2] + x)] = value;
            }
        await v.writeBox(box, data);
      }
      for (let t = 0; t < 25; t++) {
        const box =
          t % 5 === 0
            ? { begin: coord(4 * (t % 3), 8 * (t % 2), 6 * (t % 3)), shape: chunks }
            : randomBox(rand, t % 2 === 0);
        const got = await v.readBox(box, { fill: t % 3 === 0 ? 7 : 0 });
        let wrong = 0;
        let k = 0;
        for (let z = 0; z < box.shape[0]; z++)
          for (let y = 0; y < box.shape[1]; y++)
            for (let x = 0; x < box.shape[2]; x++, k++) {
              const gz = box.begin[0] + z;
              const gy = box.begin[1] + y;
              const gx = box.begin[2] + x;
              const outside =
                gz < 0 || gy < 0 || gx < 0 || gz >= shape[0] || gy >= shape[1] || gx >= shape[2];
              const want = outside ? (t % 3 === 0 ? 7 : 0) : ref[at(gz, gy, gx)]!;
              if (got[k] !== want) wrong++;
            }
        expect(wrong, `box ${box.begin} + ${box.shape}`).toBe(0);
      }
      const whole = await v.readBox({ begin: coord(0, 0, 0), shape });
      expect(Array.from(whole as Uint8Array)).toEqual(Array.from(ref));
    });
  }
});
