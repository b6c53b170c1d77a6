import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { WorkerPool } from "../blockwise/worker-pool.ts";
import { type Coordinate, coord, uniform } from "../core/coordinate.ts";
import { Volume } from "../store/volume.ts";
import { runContacts } from "./contacts.ts";
import { contactRegion } from "./contacts-core.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-contacts-"));
const pool = new WorkerPool({ workers: 2 });
afterAll(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const VS = 2;
const SHAPE = coord(24, 48, 48);
let n = 0;

async function dataset(arrays: Record<string, Uint32Array>): Promise<string> {
  const ds = path.join(dir, `c${n++}.zarr`);
  for (const [name, data] of Object.entries(arrays)) {
    const v = await Volume.create(ds, name, {
      shape: SHAPE,
      dtype: "uint32",
      voxelSize: uniform(VS),
      chunks: uniform(8),
      kind: "label",
    });
    await v.writeBox({ begin: uniform(0), shape: SHAPE }, data);
    await v.markComplete();
  }
  return ds;
}

function blank() {
  return new Uint32Array(SHAPE[0] * SHAPE[1] * SHAPE[2]);
}

/** Fills z in [z0, z1) x y,x in [8, 40) with `id`: a 64 x 64 nm slab. */
function slab(a: Uint32Array, z0: number, z1: number, id: number) {
  for (let z = z0; z < z1; z++)
    for (let y = 8; y < 40; y++) for (let x = 8; x < 40; x++) a[(z * SHAPE[1] + y) * SHAPE[2] + x] = id;
  return a;
}

function ball(a: Uint32Array, c: Coordinate, r: number, id: number) {
  for (let z = 0; z < SHAPE[0]; z++)
    for (let y = 0; y < SHAPE[1]; y++)
      for (let x = 0; x < SHAPE[2]; x++)
        if ((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r)
          a[(z * SHAPE[1] + y) * SHAPE[2] + x] = id;
  return a;
}

async function ids(ds: string, array: string) {
  const v = await Volume.open(ds, array);
  return (await v.readBox({ begin: uniform(0), shape: SHAPE })) as Uint32Array;
}

const common = { minVolume: 0, progress: null, pool } as const;

describe("contact sites", () => {
  it("finds one contact across a 6 nm gap between slabs with the face's area (d = 10 nm), none across 12 nm", async () => {
    const ds = await dataset({ a: slab(blank(), 4, 8, 5), b: slab(blank(), 11, 15, 9) });
    const r = await runContacts(ds, "a", "b", { ...common, distance: 10, blockVoxels: 8 });
    expect(r.rows).toHaveLength(1);
    const row = r.rows[0]!;
    expect([row.idA, row.idB]).toEqual([5, 9]);
    expect(Math.abs(row.area / (64 * 64) - 1)).toBeLessThan(0.05);
    // The facing layers of both slabs and the 3 voxels between them are in the contact.
    const c = await ids(ds, "analysis/contacts_a_b");
    const at = (z: number) => c[(z * SHAPE[1] + 24) * SHAPE[2] + 24]!;
    expect([at(6), at(7), at(8), at(10), at(11), at(12)].map((v) => v === row.contact)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(at(5)).toBe(0);
    const csv = fs.readFileSync(path.join(ds, "tables", "contacts_a_b.csv"), "utf8").split("\n");
    expect(csv[0]).toBe("Contact ID,a ID,b ID,Area (nm^2),Volume (nm^3),Voxels");
    expect(csv[1]!.split(",").slice(0, 3)).toEqual([String(row.contact), "5", "9"]);

    const far = await dataset({ a: slab(blank(), 4, 8, 5), b: slab(blank(), 14, 18, 9) });
    const none = await runContacts(far, "a", "b", { ...common, distance: 10, blockVoxels: 8 });
    expect(none.rows).toHaveLength(0);
    expect((await ids(far, "analysis/contacts_a_b")).every((v) => v === 0)).toBe(true);
  }, 60_000);

  it("computes block-wise (8^3 blocks) exactly the whole-volume contacts of two spheres, symmetric in A and B", async () => {
    const a = ball(blank(), coord(12, 24, 14), 9, 3);
    const b = ball(blank(), coord(12, 24, 35), 9, 4);
    const ds = await dataset({ a, b });
    const blocks = await runContacts(ds, "a", "b", { ...common, distance: 8, blockVoxels: 8 });
    const whole = await runContacts(ds, "a", "b", {
      ...common,
      distance: 8,
      blockVoxels: 48,
      output: "analysis/whole",
      table: "tables/whole.csv",
    });
    expect(blocks.rows).toHaveLength(1);
    expect(Array.from(await ids(ds, "analysis/contacts_a_b"))).toEqual(
      Array.from(await ids(ds, "analysis/whole")),
    );
    expect(blocks.rows[0]!.area).toBeCloseTo(whole.rows[0]!.area, 6);
    expect(blocks.rows[0]!.volume).toBe(whole.rows[0]!.volume);
    expect([blocks.rows[0]!.idA, blocks.rows[0]!.idB]).toEqual([3, 4]);
    // A cap between spheres 3 voxels (6 nm) apart: area well below the spheres' (4 pi r^2 = 4072 nm^2 at r = 18 nm... per sphere 4 pi 18^2)
    expect(blocks.rows[0]!.area).toBeGreaterThan(0);
    expect(blocks.rows[0]!.area).toBeLessThan(4 * Math.PI * 18 ** 2 * 0.5);
    const swapped = await runContacts(ds, "b", "a", { ...common, distance: 8, blockVoxels: 16 });
    expect(swapped.rows[0]!.area).toBeCloseTo(whole.rows[0]!.area, 6);
    expect([swapped.rows[0]!.idA, swapped.rows[0]!.idB]).toEqual([4, 3]);
    // The sphere-sphere minimum volume filter removes it from table and array.
    const big = await runContacts(ds, "a", "b", {
      ...common,
      distance: 8,
      blockVoxels: 16,
      minVolume: blocks.rows[0]!.volume + 1,
      output: "analysis/big",
    });
    expect(big.rows).toHaveLength(0);
    expect((await ids(ds, "analysis/big")).every((v) => v === 0)).toBe(true);
  }, 60_000);

  it("finds self-contacts between different ids of one class, not within one id", async () => {
    const a = slab(slab(blank(), 4, 8, 1), 11, 15, 2);
    ball(a, coord(12, 4, 4), 2, 7); // far from the others: no contact
    const ds = await dataset({ a });
    const r = await runContacts(ds, "a", "a", { ...common, distance: 10, blockVoxels: 8 });
    expect(r.rows).toHaveLength(1);
    expect([r.rows[0]!.idA, r.rows[0]!.idB]).toEqual([1, 2]);
    expect(Math.abs(r.rows[0]!.area / (64 * 64) - 1)).toBeLessThan(0.05);
    expect(fs.readFileSync(r.csvPath, "utf8").split("\n")[0]).toBe(
      "Contact ID,a ID,a ID,Area (nm^2),Volume (nm^3),Voxels",
    );
  }, 60_000);

  it("uses centre-to-centre distances with the voxel size (scipy distance_transform_edt <= d)", () => {
    // Two voxels 3 apart along x at 4 nm (12 nm) and along z at 2 nm (6 nm).
    const shape = coord(8, 1, 8);
    const a = new Uint32Array(64);
    const b = new Uint32Array(64);
    a[0 * 8 + 1] = 1;
    b[0 * 8 + 4] = 1;
    a[4 * 8 + 1] = 1;
    b[7 * 8 + 1] = 1;
    const box = { begin: coord(0, 0, 0), shape };
    const r = contactRegion(a, b, box, box, coord(2, 4, 4), 10);
    expect(r[1]).toBe(0); // 12 nm apart along x
    expect(r[4 * 8 + 1]).toBe(1); // 6 nm along z
    expect(r[5 * 8 + 1]).toBe(1);
    expect(r[7 * 8 + 1]).toBe(1);
    expect(() => contactRegion(a, b, box, box, coord(2, 4, 4), -1)).toThrow(/distance/);
  });
});
