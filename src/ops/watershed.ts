/**
 * Seeded watershed with skimage.segmentation.watershed semantics (connectivity 1, no compactness,
 * no watershed line): a priority flood from the markers in which each voxel is labelled when it is
 * pushed, from the neighbour that pushed it; the queue is ordered by (image value, insertion age),
 * so on plateaus the marker that reaches a voxel first wins.
 *
 * Every key (value, age) is unique except among markers: they all enter with age 0, so among
 * markers of equal value skimage's pop order depends on its binary heap's internal layout. While
 * such tied markers are queued, the flood therefore runs on a port of that heap, which makes the
 * same comparisons in the same places as skimage's heap_general.pxi (sift-up from the end on push;
 * on pop the last item moves to the root and sifts down towards the smaller child, left before
 * right); markers are pushed in C order and the six neighbours visited in skimage's order (-z, -y,
 * -x, +x, +y, +z). Once no tied marker is left (at once if there are none) every key is unique, the
 * pop order is fully determined, and the rest of the flood moves to a faster exact queue: one FIFO
 * per grey value for integer images, value-quantised buckets with a small heap for float images.
 * Results are identical voxel for voxel on the fixtures, including volumes with ties everywhere.
 *
 * Not block-wise: a flood is global (a basin can reach across any block). Run it on a whole
 * volume or on a crop around the objects to split (e.g. COSEM's refinement of one mitochondrion
 * cluster at a time); memory is about 10 to 20 bytes per voxel plus the queue.
 */
import { type Coordinate, format } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { checkLength, voxelCount } from "./block-geometry.ts";

export type WatershedImage = Uint8Array | Uint16Array | Float32Array | Float64Array;

export interface WatershedOptions {
  /** Voxels to flood (non-zero). Markers outside the mask are dropped; voxels outside get label 0. */
  readonly mask?: Uint8Array;
}

/** Reserved in the padded label array for voxels the flood may not enter (outside the volume or mask). */
const BLOCKED = 0xffffffff;

/**
 * Binary min-heap ordered like skimage's: by value, then by age. Items are numbered in push order;
 * the first `markerItems` items are the markers, which all have age 0, later items have increasing
 * ages, so an item number stands for its age and the heap needs only (value, item) per slot. The
 * sift procedures make skimage's comparisons in skimage's places (see the module comment), so equal
 * keys (markers of equal value) pop in the same order.
 */
class FloodHeap {
  /** Slot s holds the value at 2s and the item number at 2s+1. */
  private heap: Float64Array;
  /** Voxel (padded index) of each item. */
  private voxels: Int32Array;
  size = 0;
  pushed = 0;
  markerItems = 0;

  constructor(capacity: number) {
    const c = Math.max(1024, capacity);
    this.heap = new Float64Array(2 * c);
    this.voxels = new Int32Array(c);
  }

  push(value: number, voxel: number): void {
    if (this.pushed === this.voxels.length) {
      const v = new Int32Array(this.voxels.length * 2);
      v.set(this.voxels);
      this.voxels = v;
    }
    if (2 * this.size === this.heap.length) {
      const h = new Float64Array(this.heap.length * 2);
      h.set(this.heap);
      this.heap = h;
    }
    const item = this.pushed++;
    this.voxels[item] = voxel;
    const heap = this.heap;
    const m = this.markerItems;
    const age = item < m ? 0 : item;
    let child = this.size++;
    while (child > 0) {
      const parent = ((child + 1) >> 1) - 1;
      const pv = heap[2 * parent]!;
      if (value > pv) break;
      const pi = heap[2 * parent + 1]!;
      if (value === pv && !(age < (pi < m ? 0 : pi))) break;
      heap[2 * child] = pv;
      heap[2 * child + 1] = pi;
      child = parent;
    }
    heap[2 * child] = value;
    heap[2 * child + 1] = item;
  }

  /** Removes the smallest item; returns its item number (`voxelOf` gives the voxel). */
  pop(): number {
    const heap = this.heap;
    const m = this.markerItems;
    const top = heap[1]!;
    const n = --this.size;
    if (n === 0) return top;
    const xv = heap[2 * n]!;
    const xi = heap[2 * n + 1]!;
    const xa = xi < m ? 0 : xi;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      // smallest of (x, left, right); x wins ties with both children, left wins ties with right.
      let s = i;
      let sv = xv;
      let sa = xa;
      const lv = heap[2 * l]!;
      if (lv <= sv) {
        const li = heap[2 * l + 1]!;
        const la = li < m ? 0 : li;
        if (lv < sv || la < sa) {
          s = l;
          sv = lv;
          sa = la;
        }
      }
      const r = l + 1;
      if (r < n) {
        const rv = heap[2 * r]!;
        if (rv <= sv) {
          const ri = heap[2 * r + 1]!;
          if (rv < sv || (ri < m ? 0 : ri) < sa) s = r;
        }
      }
      if (s === i) break;
      heap[2 * i] = heap[2 * s]!;
      heap[2 * i + 1] = heap[2 * s + 1]!;
      i = s;
    }
    heap[2 * i] = xv;
    heap[2 * i + 1] = xi;
    return top;
  }

  voxelOf(item: number): number {
    return this.voxels[item]!;
  }
}

/**
 * The same heap for integer images, with (value, age) packed into one float64 key
 * value * 2^32 + age (exact: values < 2^16, ages < 2^32), so each comparison is one, and the slot
 * holds the voxel itself. Markers are pushed first and keep age 0, like skimage's.
 */
class PackedFloodHeap {
  /** Slot s holds the key at 2s and the voxel at 2s+1. */
  private heap: Float64Array;
  size = 0;
  private pushed = 0;
  private readonly markers: number;
  /** Key of the last popped item. */
  lastKey = 0;

  constructor(capacity: number, markers: number) {
    this.heap = new Float64Array(2 * Math.max(1024, capacity));
    this.markers = markers;
  }

  push(value: number, voxel: number): void {
    if (2 * this.size === this.heap.length) {
      const h = new Float64Array(this.heap.length * 2);
      h.set(this.heap);
      this.heap = h;
    }
    const item = this.pushed++;
    // skimage: markers age 0, then ages 2, 3, ... in push order.
    const key = value * 4294967296 + (item < this.markers ? 0 : item - this.markers + 2);
    const heap = this.heap;
    let child = this.size++;
    while (child > 0) {
      const parent = ((child + 1) >> 1) - 1;
      const pk = heap[2 * parent]!;
      if (!(key < pk)) break;
      heap[2 * child] = pk;
      heap[2 * child + 1] = heap[2 * parent + 1]!;
      child = parent;
    }
    heap[2 * child] = key;
    heap[2 * child + 1] = voxel;
  }

  /** Removes the smallest item and returns its voxel (its key is left in `lastKey`). */
  pop(): number {
    const heap = this.heap;
    this.lastKey = heap[0]!;
    const top = heap[1]!;
    const n = --this.size;
    if (n === 0) return top;
    const xk = heap[2 * n]!;
    const xv = heap[2 * n + 1]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let s = i;
      let sk = xk;
      const lk = heap[2 * l]!;
      if (lk < sk) {
        s = l;
        sk = lk;
      }
      const r = l + 1;
      if (r < n && heap[2 * r]! < sk) s = r;
      if (s === i) break;
      heap[2 * i] = heap[2 * s]!;
      heap[2 * i + 1] = heap[2 * s + 1]!;
      i = s;
    }
    heap[2 * i] = xk;
    heap[2 * i + 1] = xv;
    return top;
  }
}

/**
 * Once no marker is left in the heap every item has a distinct age, so the pop order is fully
 * determined by (value, age) and any exact priority queue reproduces it. For integer images a
 * bucket queue does that in O(1): one FIFO per grey value (ages grow with pushes, so FIFO order is
 * age order), linked through the voxels (each voxel is queued at most once).
 */
class BucketQueue {
  private readonly head: Int32Array;
  private readonly tail: Int32Array;
  private readonly next: Int32Array;
  private min: number;
  size = 0;

  constructor(levels: number, voxels: number) {
    this.head = new Int32Array(levels).fill(-1);
    this.tail = new Int32Array(levels);
    this.next = new Int32Array(voxels);
    this.min = levels;
  }

  push(value: number, voxel: number): void {
    const next = this.next;
    next[voxel] = -1;
    if (this.head[value]! < 0) this.head[value] = voxel;
    else next[this.tail[value]!] = voxel;
    this.tail[value] = voxel;
    if (value < this.min) this.min = value;
    this.size++;
  }

  pop(): number {
    const head = this.head;
    let b = this.min;
    while (head[b]! < 0) b++;
    this.min = b;
    const voxel = head[b]!;
    head[b] = this.next[voxel]!;
    this.size--;
    return voxel;
  }
}

/**
 * An exact (value, age) priority queue for float images once every key is distinct: values are
 * quantised monotonically into buckets, each bucket keeps an unordered list (linked through the
 * voxels), and only the lowest non-empty bucket is kept in a small binary heap ordered by value,
 * then age. Values in a lower bucket are always smaller, so the heap's minimum is the global one.
 */
class SortedBucketQueue {
  private readonly head: Int32Array;
  private readonly next: Int32Array;
  private readonly age: Int32Array;
  private readonly levels: number;
  private readonly lo: number;
  private readonly scale: number;
  /** The bucket whose items are in the heap. */
  private cur = 0;
  /** The lowest bucket below `cur` that received items since `cur` became active, else `levels`. */
  private lowest: number;
  /** Heap of the active bucket: value at 2s, voxel at 2s+1. */
  private heap = new Float64Array(2048);
  private heapSize = 0;
  size = 0;

  constructor(voxels: number, lo: number, hi: number) {
    this.levels = 65536;
    this.head = new Int32Array(this.levels).fill(-1);
    this.next = new Int32Array(voxels);
    this.age = new Int32Array(voxels);
    this.lo = lo;
    this.scale = hi > lo ? (this.levels - 1) / (hi - lo) : 0;
    this.lowest = this.levels;
  }

  private bucket(value: number): number {
    const b = Math.floor((value - this.lo) * this.scale);
    return b < 0 ? 0 : b >= this.levels ? this.levels - 1 : b;
  }

  push(value: number, voxel: number, age: number): void {
    this.age[voxel] = age;
    this.size++;
    const b = this.bucket(value);
    if (b === this.cur) {
      this.heapPush(value, voxel);
      return;
    }
    this.next[voxel] = this.head[b]!;
    this.head[b] = voxel;
    if (b < this.cur && b < this.lowest) this.lowest = b;
  }

  /** Removes the item with the smallest (value, age); `values` are the padded image values. */
  pop(values: Float32Array | Float64Array): number {
    if (this.lowest < this.cur) {
      // Something arrived below the active bucket: park the heap in its list, activate the lower one.
      for (let s = 0; s < this.heapSize; s++) {
        const voxel = this.heap[2 * s + 1]!;
        this.next[voxel] = this.head[this.cur]!;
        this.head[this.cur] = voxel;
      }
      this.heapSize = 0;
      this.cur = this.lowest;
      this.lowest = this.levels;
      this.load(values);
    }
    while (this.heapSize === 0) {
      this.cur++;
      this.load(values);
    }
    this.size--;
    return this.heapPop();
  }

  private load(values: Float32Array | Float64Array): void {
    let voxel = this.head[this.cur]!;
    this.head[this.cur] = -1;
    while (voxel >= 0) {
      const following = this.next[voxel]!;
      this.heapPush(values[voxel]!, voxel);
      voxel = following;
    }
  }

  private heapPush(value: number, voxel: number): void {
    if (2 * this.heapSize === this.heap.length) {
      const h = new Float64Array(this.heap.length * 2);
      h.set(this.heap);
      this.heap = h;
    }
    const heap = this.heap;
    const age = this.age;
    const a = age[voxel]!;
    let child = this.heapSize++;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      const pv = heap[2 * parent]!;
      const pvox = heap[2 * parent + 1]!;
      if (value > pv || (value === pv && a > age[pvox]!)) break;
      heap[2 * child] = pv;
      heap[2 * child + 1] = pvox;
      child = parent;
    }
    heap[2 * child] = value;
    heap[2 * child + 1] = voxel;
  }

  private heapPop(): number {
    const heap = this.heap;
    const age = this.age;
    const top = heap[1]!;
    const n = --this.heapSize;
    if (n === 0) return top;
    const xv = heap[2 * n]!;
    const xvox = heap[2 * n + 1]!;
    const xa = age[xvox]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      let cv = heap[2 * c]!;
      if (c + 1 < n) {
        const rv = heap[2 * c + 2]!;
        if (rv < cv || (rv === cv && age[heap[2 * c + 3]!]! < age[heap[2 * c + 1]!]!)) {
          c++;
          cv = rv;
        }
      }
      if (xv < cv || (xv === cv && xa < age[heap[2 * c + 1]!]!)) break;
      heap[2 * i] = cv;
      heap[2 * i + 1] = heap[2 * c + 1]!;
      i = c;
    }
    heap[2 * i] = xv;
    heap[2 * i + 1] = xvox;
    return top;
  }
}

/**
 * `skimage.segmentation.watershed(image, markers, mask=mask, connectivity=1)` on a volume of
 * `shape` (C-order z,y,x). Markers are labels > 0 (0xFFFFFFFF is reserved); returns the labels.
 */
export function watershed(
  image: WatershedImage,
  shape: Coordinate,
  markers: Uint32Array,
  opts: WatershedOptions = {},
): Uint32Array {
  checkLength(image.length, shape, "watershed image");
  checkLength(markers.length, shape, "watershed markers");
  const mask = opts.mask;
  if (mask) checkLength(mask.length, shape, "watershed mask");
  const [nz, ny, nx] = shape;
  const out = new Uint32Array(voxelCount(shape));
  if (out.length === 0) return out;

  // Pad by one voxel of BLOCKED so neighbour lookups never leave the array (skimage pads too).
  const px = nx + 2;
  const plane = (ny + 2) * px;
  const padded = (nz + 2) * plane;
  if (padded > 0x7fffffff) {
    throw invalidArgument(
      `watershed: volume ${format(shape)} is too large for one flood; split it into crops`,
    );
  }
  const labels = new Uint32Array(padded).fill(BLOCKED);
  const values = new (image.constructor as new (n: number) => WatershedImage)(padded);
  let markerCount = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const src = (z * ny + y) * nx;
      const dst = (z + 1) * plane + (y + 1) * px + 1;
      values.set(image.subarray(src, src + nx), dst);
      for (let x = 0; x < nx; x++) {
        if (mask && mask[src + x] === 0) continue;
        const m = markers[src + x]!;
        if (m === BLOCKED) {
          throw invalidArgument(`watershed markers: label ${BLOCKED} is reserved; relabel the markers`);
        }
        labels[dst + x] = m;
        if (m !== 0) markerCount++;
      }
    }
  }
  if (image instanceof Float32Array || image instanceof Float64Array) {
    for (let i = 0; i < image.length; i++) {
      if (Number.isNaN(image[i]!))
        throw invalidArgument("watershed image: contains NaN; replace NaN values first");
    }
  }

  const tied = tiedMarkerValues(values, labels, markerCount);
  if (values instanceof Uint8Array || values instanceof Uint16Array) {
    floodInteger(values, labels, markerCount, tied, plane, px);
  } else {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < image.length; i++) {
      const v = image[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    floodFloat(values, labels, markerCount, tied, lo, hi, plane, px);
  }

  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const src = (z + 1) * plane + (y + 1) * px + 1;
      const dst = (z * ny + y) * nx;
      for (let x = 0; x < nx; x++) {
        const l = labels[src + x]!;
        out[dst + x] = l === BLOCKED ? 0 : l;
      }
    }
  }
  return out;
}

/**
 * Marker values shared by more than one marker, and how many markers have them. Only among such
 * markers (all of age 0) does skimage's pop order depend on its heap's layout; every other key
 * (value, age) is unique, so once these markers are out of the queue any exact priority queue pops
 * in skimage's order.
 */
function tiedMarkerValues(
  values: WatershedImage,
  labels: Uint32Array,
  markerCount: number,
): { values: Set<number>; markers: number } {
  const v = new Float64Array(markerCount);
  let k = 0;
  for (let p = 0; p < labels.length; p++) {
    const l = labels[p]!;
    if (l !== 0 && l !== BLOCKED) v[k++] = values[p]!;
  }
  v.sort();
  const set = new Set<number>();
  let markers = 0;
  for (let i = 0; i < markerCount; ) {
    let j = i + 1;
    while (j < markerCount && v[j] === v[i]) j++;
    if (j - i > 1) {
      set.add(v[i]!);
      markers += j - i;
    }
    i = j;
  }
  return { values: set, markers };
}

/**
 * Integer images: skimage's heap (packed keys) while markers with tied values are queued, then a
 * bucket queue (one FIFO per grey value: FIFO order is age order), which pops in the same order.
 */
function floodInteger(
  values: Uint8Array | Uint16Array,
  labels: Uint32Array,
  markerCount: number,
  tied: { values: Set<number>; markers: number },
  plane: number,
  px: number,
): void {
  const padded = labels.length;
  // skimage's neighbour order for connectivity 1: sorted by distance, then C order of the footprint.
  const o0 = -plane;
  const o1 = -px;
  const o4 = px;
  const o5 = plane;
  const buckets = new BucketQueue(values instanceof Uint8Array ? 256 : 65536, padded);
  if (tied.markers === 0) {
    for (let p = 0; p < padded; p++) {
      const l = labels[p]!;
      if (l !== 0 && l !== BLOCKED) buckets.push(values[p]!, p);
    }
    floodBuckets(buckets, values, labels, o0, o1, o4, o5);
    return;
  }
  const heap = new PackedFloodHeap(Math.min(padded, markerCount * 8 + 1024), markerCount);
  for (let p = 0; p < padded; p++) {
    const l = labels[p]!;
    if (l !== 0 && l !== BLOCKED) heap.push(values[p]!, p);
  }
  let tiedQueued = tied.markers;
  while (heap.size > 0 && tiedQueued > 0) {
    const p = heap.pop();
    if (heap.lastKey % 4294967296 === 0 && tied.values.has(values[p]!)) tiedQueued--;
    const l = labels[p]!;
    let q = p + o0;
    if (labels[q] === 0) {
      labels[q] = l;
      heap.push(values[q]!, q);
    }
    q = p + o1;
    if (labels[q] === 0) {
      labels[q] = l;
      heap.push(values[q]!, q);
    }
    q = p - 1;
    if (labels[q] === 0) {
      labels[q] = l;
      heap.push(values[q]!, q);
    }
    q = p + 1;
    if (labels[q] === 0) {
      labels[q] = l;
      heap.push(values[q]!, q);
    }
    q = p + o4;
    if (labels[q] === 0) {
      labels[q] = l;
      heap.push(values[q]!, q);
    }
    q = p + o5;
    if (labels[q] === 0) {
      labels[q] = l;
      heap.push(values[q]!, q);
    }
  }
  while (heap.size > 0) {
    const p = heap.pop();
    buckets.push(values[p]!, p);
  }
  floodBuckets(buckets, values, labels, o0, o1, o4, o5);
}

/**
 * Float images: skimage's heap while markers with tied values are queued, then the sorted bucket
 * queue (values `lo`..`hi`), which pops in the same order.
 */
function floodFloat(
  values: Float32Array | Float64Array,
  labels: Uint32Array,
  markerCount: number,
  tied: { values: Set<number>; markers: number },
  lo: number,
  hi: number,
  plane: number,
  px: number,
): void {
  const padded = labels.length;
  const o0 = -plane;
  const o1 = -px;
  const o4 = px;
  const o5 = plane;
  const queue = new SortedBucketQueue(padded, lo, hi);
  // Ages only need to grow with pushes: markers 0, then item numbers (skimage's ages plus a constant).
  let nextAge = markerCount;
  if (tied.markers === 0) {
    for (let p = 0; p < padded; p++) {
      const l = labels[p]!;
      if (l !== 0 && l !== BLOCKED) queue.push(values[p]!, p, 0);
    }
  } else {
    const heap = new FloodHeap(Math.min(padded, markerCount * 8 + 1024));
    heap.markerItems = markerCount;
    for (let p = 0; p < padded; p++) {
      const l = labels[p]!;
      if (l !== 0 && l !== BLOCKED) heap.push(values[p]!, p);
    }
    let tiedQueued = tied.markers;
    while (heap.size > 0 && tiedQueued > 0) {
      const item = heap.pop();
      const p = heap.voxelOf(item);
      if (item < markerCount && tied.values.has(values[p]!)) tiedQueued--;
      const l = labels[p]!;
      let q = p + o0;
      if (labels[q] === 0) {
        labels[q] = l;
        heap.push(values[q]!, q);
      }
      q = p + o1;
      if (labels[q] === 0) {
        labels[q] = l;
        heap.push(values[q]!, q);
      }
      q = p - 1;
      if (labels[q] === 0) {
        labels[q] = l;
        heap.push(values[q]!, q);
      }
      q = p + 1;
      if (labels[q] === 0) {
        labels[q] = l;
        heap.push(values[q]!, q);
      }
      q = p + o4;
      if (labels[q] === 0) {
        labels[q] = l;
        heap.push(values[q]!, q);
      }
      q = p + o5;
      if (labels[q] === 0) {
        labels[q] = l;
        heap.push(values[q]!, q);
      }
    }
    while (heap.size > 0) {
      const item = heap.pop();
      const p = heap.voxelOf(item);
      queue.push(values[p]!, p, item < markerCount ? 0 : item);
    }
    nextAge = heap.pushed;
  }
  while (queue.size > 0) {
    const p = queue.pop(values);
    const l = labels[p]!;
    let q = p + o0;
    if (labels[q] === 0) {
      labels[q] = l;
      queue.push(values[q]!, q, nextAge++);
    }
    q = p + o1;
    if (labels[q] === 0) {
      labels[q] = l;
      queue.push(values[q]!, q, nextAge++);
    }
    q = p - 1;
    if (labels[q] === 0) {
      labels[q] = l;
      queue.push(values[q]!, q, nextAge++);
    }
    q = p + 1;
    if (labels[q] === 0) {
      labels[q] = l;
      queue.push(values[q]!, q, nextAge++);
    }
    q = p + o4;
    if (labels[q] === 0) {
      labels[q] = l;
      queue.push(values[q]!, q, nextAge++);
    }
    q = p + o5;
    if (labels[q] === 0) {
      labels[q] = l;
      queue.push(values[q]!, q, nextAge++);
    }
  }
}

function floodBuckets(
  queue: BucketQueue,
  values: Uint8Array | Uint16Array,
  labels: Uint32Array,
  o0: number,
  o1: number,
  o4: number,
  o5: number,
): void {
  while (queue.size > 0) {
    const p = queue.pop();
    const l = labels[p]!;
    let q = p + o0;
    if (labels[q] === 0) {
      labels[q] = l;
      queue.push(values[q]!, q);
    }
    q = p + o1;
    if (labels[q] === 0) {
      labels[q] = l;
      queue.push(values[q]!, q);
    }
    q = p - 1;
    if (labels[q] === 0) {
      labels[q] = l;
      queue.push(values[q]!, q);
    }
    q = p + 1;
    if (labels[q] === 0) {
      labels[q] = l;
      queue.push(values[q]!, q);
    }
    q = p + o4;
    if (labels[q] === 0) {
      labels[q] = l;
      queue.push(values[q]!, q);
    }
    q = p + o5;
    if (labels[q] === 0) {
      labels[q] = l;
      queue.push(values[q]!, q);
    }
  }
}
