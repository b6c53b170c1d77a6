import { type Coordinate, coord } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { copyBox3d } from "../core/ndarray.ts";
import { distanceTransform } from "../ops/edt.ts";
import type { IdArray } from "./marching-cubes.ts";

/*
 * Contact sites between two classes A and B (COSEM, SPEC §9), the pure part:
 *
 * - contact region: the voxels within `distance` nm of A and within `distance` nm of B (Euclidean
 *   distances between voxel centres with the voxel size, as scipy distance_transform_edt(~mask,
 *   sampling) <= d; a voxel of A is at 0 from A). It holds the voxels of A within d of B, those of B
 *   within d of A and the gap between them, so one site is one connected piece. Self-contacts
 *   (A = B): the voxels within d of two different ids of A.
 * - per contact instance (a connected component of the region): its volume (voxels x voxel volume),
 *   its area = the mean of the A-side and B-side surfaces facing it (marching cubes of each id's
 *   binary mask, per cell, counted when the cell's corners outside the id all lie in the contact;
 *   for a flat gap both sides equal the contact's face), and the pair of ids it joins: the A id and the B id with
 *   the most voxels in it (self-contacts: the two ids with the most voxels).
 *
 * Block-wise: the region of a block's write box needs its read box grown by ceil(d / voxel size)
 * voxels per axis (`contactContext`); the statistics need one voxel around the write box.
 */

/** Voxels per axis (z, y, x) a block must read around its write box for distance `d` nm. */
export function contactContext(distance: number, voxelSize: Coordinate): Coordinate {
  return coord(
    Math.ceil(distance / voxelSize[0]),
    Math.ceil(distance / voxelSize[1]),
    Math.ceil(distance / voxelSize[2]),
  );
}

function nonZero(ids: IdArray): Uint8Array {
  const m = new Uint8Array(ids.length);
  for (let i = 0; i < ids.length; i++) m[i] = ids[i] !== 0 ? 1 : 0;
  return m;
}

/** Offsets (flat index deltas in `shape`) of the voxels within `distance` nm of the centre, and their z,y,x. */
function ballOffsets(distance: number, voxelSize: Coordinate): Int32Array {
  const r = contactContext(distance, voxelSize);
  const out: number[] = [];
  const d2 = distance * distance;
  for (let z = -r[0]; z <= r[0]; z++) {
    for (let y = -r[1]; y <= r[1]; y++) {
      for (let x = -r[2]; x <= r[2]; x++) {
        const s = (z * voxelSize[0]) ** 2 + (y * voxelSize[1]) ** 2 + (x * voxelSize[2]) ** 2;
        if (s <= d2) out.push(z, y, x);
      }
    }
  }
  return Int32Array.from(out);
}

/**
 * The contact region (uint8 0/1) in `write` (a box inside `read`, both in the same voxel frame;
 * `a`/`b` hold the read box, zeros = neither class, including outside the volume). `b` undefined:
 * self-contacts of `a`. Equal to the whole-volume result when `read` reaches contactContext voxels
 * past `write` on every side.
 */
export function contactRegion(
  a: IdArray,
  b: IdArray | undefined,
  read: { begin: Coordinate; shape: Coordinate },
  write: { begin: Coordinate; shape: Coordinate },
  voxelSize: Coordinate,
  distance: number,
): Uint8Array {
  if (!(distance >= 0 && Number.isFinite(distance)))
    throw invalidArgument(`contact distance ${distance}: expected nm >= 0`);
  const shape = read.shape;
  const n = shape[0] * shape[1] * shape[2];
  if (a.length !== n || (b && b.length !== n))
    throw invalidArgument("contact region: data length does not match the read box");
  const near = (ids: IdArray) =>
    distanceTransform(nonZero(ids), shape, { voxelSize, of: "background", maxDistance: distance });
  const dA = near(a);
  const region = new Uint8Array(n);
  if (b) {
    const dB = near(b);
    for (let i = 0; i < n; i++) region[i] = dA[i]! <= distance && dB[i]! <= distance ? 1 : 0;
  } else {
    selfRegion(a, dA, shape, voxelSize, distance, region);
  }
  const out = new Uint8Array(write.shape[0] * write.shape[1] * write.shape[2]);
  const at = coord(
    write.begin[0] - read.begin[0],
    write.begin[1] - read.begin[1],
    write.begin[2] - read.begin[2],
  );
  copyBox3d(region, shape, at, out, write.shape, coord(0, 0, 0), write.shape);
  return out;
}

/** Marks the voxels near A that see two different ids within `distance` (ball scan, early exit). */
function selfRegion(
  a: IdArray,
  dA: Float64Array,
  shape: Coordinate,
  voxelSize: Coordinate,
  distance: number,
  region: Uint8Array,
): void {
  const ball = ballOffsets(distance, voxelSize);
  const [nz, ny, nx] = shape;
  const m = ball.length / 3;
  const delta = new Int32Array(m);
  for (let k = 0; k < m; k++) delta[k] = (ball[3 * k]! * ny + ball[3 * k + 1]!) * nx + ball[3 * k + 2]!;
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        if (!(dA[i]! <= distance)) continue;
        let first = 0;
        for (let k = 0; k < m; k++) {
          const zz = z + ball[3 * k]!;
          const yy = y + ball[3 * k + 1]!;
          const xx = x + ball[3 * k + 2]!;
          if (zz < 0 || yy < 0 || xx < 0 || zz >= nz || yy >= ny || xx >= nx) continue;
          const v = a[i + delta[k]!]!;
          if (v === 0 || v === first) continue;
          if (first === 0) first = v;
          else {
            region[i] = 1;
            break;
          }
        }
      }
    }
  }
}

/**
 * Sums of one block: per contact id, voxels and twice its area (A side + B side), and per contact
 * the voxel counts of the ids of each side. Flat lists so that they travel as JSON.
 */
export interface ContactBlockStats {
  /** [contact, voxels, sideAreaSum, ...] */
  readonly contacts: number[];
  /** [contact, side (0 = A, 1 = B), id, voxels, ...] */
  readonly members: number[];
}

/**
 * Statistics of the block whose write box has shape `size` at `begin`, given `contacts`, `a`, `b`
 * (undefined for self-contacts) over the write box grown by one voxel on every side (zeros outside
 * the volume). The block owns the voxels of its write box and the marching-cubes cells whose lower
 * corner lies in it, plus the cells hanging off the volume's low border.
 */
export function contactBlockStats(
  contacts: Uint32Array,
  a: IdArray,
  b: IdArray | undefined,
  begin: Coordinate,
  size: Coordinate,
  areas: Float64Array,
): ContactBlockStats {
  const gy = size[1] + 2;
  const gx = size[2] + 2;
  const sz = gy * gx;
  const voxels = new Map<number, number>();
  const area = new Map<number, number>();
  const members = new Map<string, number>();
  const count = (side: number, c: number, id: number) => {
    const k = `${c},${side},${id}`;
    members.set(k, (members.get(k) ?? 0) + 1);
  };
  for (let z = 1; z <= size[0]; z++) {
    for (let y = 1; y <= size[1]; y++) {
      let i = z * sz + y * gx + 1;
      for (let x = 1; x <= size[2]; x++, i++) {
        const c = contacts[i]!;
        if (c === 0) continue;
        voxels.set(c, (voxels.get(c) ?? 0) + 1);
        if (a[i] !== 0) count(0, c, a[i]!);
        if (b && b[i] !== 0) count(1, c, b[i]!);
      }
    }
  }
  const lo = (d: number) => (begin[d] === 0 ? 0 : 1);
  const cells = { lo: [lo(0), lo(1), lo(2)], hi: [size[0] + 1, size[1] + 1, size[2] + 1] };
  sideAreas(contacts, a, sz, gx, cells, areas, area);
  if (b) sideAreas(contacts, b, sz, gx, cells, areas, area);
  const out: number[] = [];
  for (const c of [...voxels.keys(), ...area.keys()].filter((c, k, all) => all.indexOf(c) === k)) {
    out.push(c, voxels.get(c) ?? 0, area.get(c) ?? 0);
  }
  const mem: number[] = [];
  for (const [k, v] of members) {
    const [c, side, id] = k.split(",").map(Number) as [number, number, number];
    mem.push(c, side, id, v);
  }
  return { contacts: out, members: mem };
}

const CORNERS = [
  [0, 0, 0],
  [0, 0, 1],
  [0, 1, 0],
  [0, 1, 1],
  [1, 0, 0],
  [1, 0, 1],
  [1, 1, 0],
  [1, 1, 1],
] as const;

/**
 * Adds each id's marching-cubes area per cell to the contact holding one of that id's corners, for
 * the cells whose other corners all lie in a contact: the surface that faces the contact, not the
 * flanks of an object that merely lie within the distance.
 */
function sideAreas(
  contacts: Uint32Array,
  ids: IdArray,
  sz: number,
  gx: number,
  cells: { lo: number[]; hi: number[] },
  areas: Float64Array,
  area: Map<number, number>,
): void {
  const off = CORNERS.map(([dz, dy, dx]) => dz * sz + dy * gx + dx);
  const v = new Float64Array(8);
  for (let z = cells.lo[0]!; z < cells.hi[0]!; z++) {
    for (let y = cells.lo[1]!; y < cells.hi[1]!; y++) {
      for (let x = cells.lo[2]!; x < cells.hi[2]!; x++) {
        const i = z * sz + y * gx + x;
        let anyContact = false;
        for (let k = 0; k < 8; k++) {
          v[k] = ids[i + off[k]!]!;
          if (contacts[i + off[k]!] !== 0) anyContact = true;
        }
        if (!anyContact) continue;
        for (let k = 0; k < 8; k++) {
          const id = v[k]!;
          if (id === 0) continue;
          let seen = false;
          for (let j = 0; j < k; j++) if (v[j] === id) seen = true;
          if (seen) continue;
          let config = 0;
          let contact = 0;
          let facing = true;
          for (let j = 0; j < 8; j++) {
            const cj = contacts[i + off[j]!]!;
            if (v[j] !== id) {
              if (cj === 0) facing = false;
              continue;
            }
            config |= 1 << j;
            if (contact === 0) contact = cj;
          }
          if (facing && contact !== 0 && config !== 255)
            area.set(contact, (area.get(contact) ?? 0) + areas[config]!);
        }
      }
    }
  }
}

export interface ContactRow {
  readonly contact: number;
  readonly idA: number;
  readonly idB: number;
  /** nm^2 */
  readonly area: number;
  /** nm^3 */
  readonly volume: number;
  readonly voxels: number;
}

/**
 * Merges block statistics into one row per contact (ascending id) and the ids to drop: contacts
 * smaller than `minVoxels` or without voxels of both sides (two ids for self-contacts).
 */
export function mergeContactStats(
  parts: readonly ContactBlockStats[],
  voxelSize: Coordinate,
  minVoxels: number,
  self: boolean,
): { rows: ContactRow[]; drop: number[] } {
  const voxels = new Map<number, number>();
  const area = new Map<number, number>();
  const members = new Map<number, Map<number, number>[]>();
  for (const p of parts) {
    for (let k = 0; k < p.contacts.length; k += 3) {
      const c = p.contacts[k]!;
      voxels.set(c, (voxels.get(c) ?? 0) + p.contacts[k + 1]!);
      area.set(c, (area.get(c) ?? 0) + p.contacts[k + 2]!);
    }
    for (let k = 0; k < p.members.length; k += 4) {
      const c = p.members[k]!;
      let m = members.get(c);
      if (!m) {
        m = [new Map(), new Map()];
        members.set(c, m);
      }
      const side = m[p.members[k + 1]!]!;
      const id = p.members[k + 2]!;
      side.set(id, (side.get(id) ?? 0) + p.members[k + 3]!);
    }
  }
  const vv = voxelSize[0] * voxelSize[1] * voxelSize[2];
  const rows: ContactRow[] = [];
  const drop: number[] = [];
  for (const c of [...voxels.keys()].sort((x, y) => x - y)) {
    const n = voxels.get(c)!;
    const m = members.get(c);
    const ranked = (side: Map<number, number> | undefined) =>
      [...(side ?? new Map<number, number>())].sort((x, y) => y[1] - x[1] || x[0] - y[0]).map((e) => e[0]);
    const a = ranked(m?.[0]);
    const pair = self ? [a[0], a[1]] : [a[0], ranked(m?.[1])[0]];
    if (n < minVoxels || pair[0] === undefined || pair[1] === undefined) {
      drop.push(c);
      continue;
    }
    const [idA, idB] = self ? [Math.min(pair[0], pair[1]), Math.max(pair[0], pair[1])] : pair;
    rows.push({ contact: c, idA: idA!, idB: idB!, area: area.get(c)! / 2, volume: n * vv, voxels: n });
  }
  return { rows, drop };
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(3));

/**
 * The contacts CSV: `Contact ID, <A> ID, <B> ID, Area (nm^2), Volume (nm^3)` (+ Voxels). The contact id
 * comes first because it is the instance id of the contacts array: the catalogue's segment look-up
 * (the viewer's hover) finds a row by its first column.
 */
export function contactsCsv(nameA: string, nameB: string, rows: readonly ContactRow[]): string {
  const lines = [`Contact ID,${nameA} ID,${nameB} ID,Area (nm^2),Volume (nm^3),Voxels`];
  for (const r of rows) lines.push([r.contact, r.idA, r.idB, r.area, r.volume, r.voxels].map(num).join(","));
  return `${lines.join("\n")}\n`;
}
