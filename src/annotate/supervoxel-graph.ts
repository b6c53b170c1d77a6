import type { Coordinate } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { checkVolume, voxelSizeOrUnit } from "../ops/volume3d.ts";
import type { GreyVolume, Supervoxels } from "./slic.ts";

/**
 * The region adjacency graph of supervoxels: two supervoxels are neighbours when a voxel of one touches a
 * voxel of the other across a face (6-connectivity). Per supervoxel: size, mean grey value and centroid
 * (nm, relative to voxel (0,0,0)'s centre); per edge (a < b): the number of shared voxel faces.
 */
export interface SupervoxelGraph {
  readonly count: number;
  readonly size: Float64Array;
  readonly meanGrey: Float64Array;
  /** Centroids in nm, interleaved z,y,x (length 3 x count). */
  readonly centroid: Float64Array;
  readonly edgeA: Int32Array;
  readonly edgeB: Int32Array;
  readonly faces: Float64Array;
}

export function supervoxelGraph(
  image: GreyVolume,
  supervoxels: Supervoxels,
  voxelSize?: Coordinate,
): SupervoxelGraph {
  const { labels, count, shape } = supervoxels;
  const n = checkVolume(labels, shape, "supervoxel graph");
  checkVolume(image, shape, "supervoxel graph (image)");
  const vs = voxelSizeOrUnit(voxelSize, "supervoxel graph");
  const [d, h, w] = shape;
  const size = new Float64Array(count);
  const sumGrey = new Float64Array(count);
  const centroid = new Float64Array(3 * count);
  const edges = new EdgeCounter(count * 8);
  const plane = h * w;
  for (let z = 0, i = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++, i++) {
        const a = labels[i]!;
        if (a < 0 || a >= count)
          throw invalidArgument(`supervoxel graph: label ${a} at voxel ${i} outside 0..${count - 1}`);
        size[a]!++;
        sumGrey[a]! += image[i]!;
        centroid[3 * a]! += z;
        centroid[3 * a + 1]! += y;
        centroid[3 * a + 2]! += x;
        if (x + 1 < w) {
          const b = labels[i + 1]!;
          if (b !== a) edges.add(a, b);
        }
        if (y + 1 < h) {
          const b = labels[i + w]!;
          if (b !== a) edges.add(a, b);
        }
        if (z + 1 < d) {
          const b = labels[i + plane]!;
          if (b !== a) edges.add(a, b);
        }
      }
    }
  }
  const meanGrey = new Float64Array(count);
  for (let s = 0; s < count; s++) {
    const m = size[s]!;
    if (m === 0) continue;
    meanGrey[s] = sumGrey[s]! / m;
    centroid[3 * s] = (centroid[3 * s]! / m) * vs[0];
    centroid[3 * s + 1] = (centroid[3 * s + 1]! / m) * vs[1];
    centroid[3 * s + 2] = (centroid[3 * s + 2]! / m) * vs[2];
  }
  if (n === 0) throw invalidArgument("supervoxel graph: empty volume");
  return { count, size, meanGrey, centroid, ...edges.sorted() };
}

/** Counts of unordered label pairs in an open-addressing hash table (typed arrays, grows at half load). */
class EdgeCounter {
  private keysA: Int32Array;
  private keysB: Int32Array;
  private counts: Float64Array;
  private mask: number;
  private used = 0;

  constructor(expected: number) {
    let cap = 1024;
    while (cap < 2 * expected) cap *= 2;
    this.keysA = new Int32Array(cap).fill(-1);
    this.keysB = new Int32Array(cap);
    this.counts = new Float64Array(cap);
    this.mask = cap - 1;
  }

  add(p: number, q: number): void {
    const a = Math.min(p, q);
    const b = Math.max(p, q);
    let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77)) & this.mask;
    const keysA = this.keysA;
    for (;;) {
      const ka = keysA[slot]!;
      if (ka === -1) break;
      if (ka === a && this.keysB[slot] === b) {
        this.counts[slot]!++;
        return;
      }
      slot = (slot + 1) & this.mask;
    }
    keysA[slot] = a;
    this.keysB[slot] = b;
    this.counts[slot] = 1;
    if (++this.used * 2 > keysA.length) this.grow();
  }

  private grow(): void {
    const oldA = this.keysA;
    const oldB = this.keysB;
    const oldC = this.counts;
    const cap = oldA.length * 2;
    this.keysA = new Int32Array(cap).fill(-1);
    this.keysB = new Int32Array(cap);
    this.counts = new Float64Array(cap);
    this.mask = cap - 1;
    for (let i = 0; i < oldA.length; i++) {
      const a = oldA[i]!;
      if (a === -1) continue;
      const b = oldB[i]!;
      let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77)) & this.mask;
      while (this.keysA[slot] !== -1) slot = (slot + 1) & this.mask;
      this.keysA[slot] = a;
      this.keysB[slot] = b;
      this.counts[slot] = oldC[i]!;
    }
  }

  /** Edges sorted by (a, b), so the graph does not depend on the table's layout. */
  sorted(): { edgeA: Int32Array; edgeB: Int32Array; faces: Float64Array } {
    const keys = new Float64Array(this.used);
    const at = new Map<number, number>();
    let j = 0;
    // a and b < 2^31, so a * 2^31 + b is exact in a double
    for (let i = 0; i < this.keysA.length; i++) {
      const a = this.keysA[i]!;
      if (a === -1) continue;
      const key = a * 2147483648 + this.keysB[i]!;
      keys[j++] = key;
      at.set(key, i);
    }
    keys.sort();
    const edgeA = new Int32Array(this.used);
    const edgeB = new Int32Array(this.used);
    const faces = new Float64Array(this.used);
    for (let e = 0; e < keys.length; e++) {
      const slot = at.get(keys[e]!)!;
      edgeA[e] = this.keysA[slot]!;
      edgeB[e] = this.keysB[slot]!;
      faces[e] = this.counts[slot]!;
    }
    return { edgeA, edgeB, faces };
  }
}
