import { invalidArgument } from "../core/errors.ts";

/**
 * Max-flow / min-cut by Boykov & Kolmogorov ("An experimental comparison of min-cut/max-flow algorithms",
 * PAMI 2004): two search trees grown from the source and the sink over residual arcs, a FIFO of active
 * nodes, augmentation along the path found where the trees meet, and adoption of the orphans that an
 * augmentation cuts off (new parents are chosen by the shortest path to the terminal, with the timestamp
 * and distance marks of the reference implementation). The graph is held in typed arrays: arcs 2e and
 * 2e+1 are edge e's two directions, and each node lists its arcs in CSR form. Terminal links are kept as
 * one signed residual per node (positive: from the source; negative: to the sink), as in the reference.
 */

export interface FlowNetwork {
  readonly nodeCount: number;
  /** Edge e joins edgeFrom[e] and edgeTo[e] with capacity[e] forwards and reverseCapacity[e] backwards. */
  readonly edgeFrom: Int32Array;
  readonly edgeTo: Int32Array;
  readonly capacity: Float64Array;
  readonly reverseCapacity: Float64Array;
  /** Capacity source -> node (Infinity allowed: a hard constraint). */
  readonly source: Float64Array;
  /** Capacity node -> sink (Infinity allowed). */
  readonly sink: Float64Array;
}

export interface MaxFlowResult {
  readonly flow: number;
  /**
   * 1 for nodes on the source side of a minimum cut: those reachable from the source in the residual
   * graph (the smallest minimum-cut source set); every other node is on the sink side.
   */
  readonly sourceSide: Uint8Array;
}

const NONE = -1;
const TERMINAL = -2;
const ORPHAN = -3;

/** The arc structure of a network, built once and reusable for many terminal capacities. */
export class FlowGraph {
  readonly nodeCount: number;
  /** CSR: the arcs leaving node i are arcOf[first[i] .. first[i+1]). */
  readonly first: Int32Array;
  readonly arcOf: Int32Array;
  /** Head node of each arc. */
  readonly head: Int32Array;
  readonly arcCapacity: Float64Array;

  constructor(
    nodeCount: number,
    edgeFrom: Int32Array,
    edgeTo: Int32Array,
    capacity: Float64Array,
    reverse: Float64Array,
  ) {
    const m = edgeFrom.length;
    if (edgeTo.length !== m || capacity.length !== m || reverse.length !== m)
      throw invalidArgument(
        `max-flow: edge arrays differ in length (${m}, ${edgeTo.length}, ${capacity.length}, ${reverse.length})`,
      );
    this.nodeCount = nodeCount;
    this.head = new Int32Array(2 * m);
    this.arcCapacity = new Float64Array(2 * m);
    const degree = new Int32Array(nodeCount + 1);
    for (let e = 0; e < m; e++) {
      const a = edgeFrom[e]!;
      const b = edgeTo[e]!;
      if (!(a >= 0 && a < nodeCount && b >= 0 && b < nodeCount) || a === b)
        throw invalidArgument(
          `max-flow: edge ${e} (${a}, ${b}) must join two different nodes in 0..${nodeCount - 1}`,
        );
      const c = capacity[e]!;
      const r = reverse[e]!;
      if (!(c >= 0) || !(r >= 0)) throw invalidArgument(`max-flow: edge ${e} has a negative or NaN capacity`);
      this.head[2 * e] = b;
      this.head[2 * e + 1] = a;
      this.arcCapacity[2 * e] = c;
      this.arcCapacity[2 * e + 1] = r;
      degree[a + 1]!++;
      degree[b + 1]!++;
    }
    for (let i = 0; i < nodeCount; i++) degree[i + 1]! += degree[i]!;
    this.first = degree;
    this.arcOf = new Int32Array(2 * m);
    const fill = degree.slice(0, nodeCount);
    for (let e = 0; e < m; e++) {
      this.arcOf[fill[edgeFrom[e]!]!++] = 2 * e;
      this.arcOf[fill[edgeTo[e]!]!++] = 2 * e + 1;
    }
  }

  /** Maximum flow for the given terminal capacities (the arc capacities are copied, not changed). */
  solve(source: Float64Array, sink: Float64Array): MaxFlowResult {
    return new BkSolver(this, source, sink).run();
  }
}

export function maxFlow(net: FlowNetwork): MaxFlowResult {
  return new FlowGraph(net.nodeCount, net.edgeFrom, net.edgeTo, net.capacity, net.reverseCapacity).solve(
    net.source,
    net.sink,
  );
}

class BkSolver {
  private readonly g: FlowGraph;
  private readonly rcap: Float64Array;
  private readonly trcap: Float64Array;
  private readonly parent: Int32Array;
  private readonly next: Int32Array;
  private readonly ts: Int32Array;
  private readonly dist: Int32Array;
  private readonly isSink: Uint8Array;
  private queueFirst0 = NONE;
  private queueFirst1 = NONE;
  private queueLast1 = NONE;
  /** Orphans: a deque in a ring buffer (front for augmentation orphans, rear for adoption ones). */
  private readonly orphans: Int32Array;
  private orphanHead = 0;
  private orphanSize = 0;
  private time = 0;
  private flow = 0;

  constructor(g: FlowGraph, source: Float64Array, sink: Float64Array) {
    const n = g.nodeCount;
    if (source.length !== n || sink.length !== n)
      throw invalidArgument(
        `max-flow: terminal capacities need ${n} values (got ${source.length}, ${sink.length})`,
      );
    this.g = g;
    this.rcap = g.arcCapacity.slice();
    this.trcap = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const s = source[i]!;
      const t = sink[i]!;
      if (!(s >= 0) || !(t >= 0))
        throw invalidArgument(`max-flow: node ${i} has a negative or NaN terminal capacity`);
      if (s === Infinity && t === Infinity)
        throw invalidArgument(
          `max-flow: node ${i} is tied to both the source and the sink with infinite capacity`,
        );
      // flow through source -> i -> sink is pushed at once, as add_tweights does
      const direct = Math.min(s, t);
      this.flow += direct;
      this.trcap[i] = s === Infinity ? Infinity : t === Infinity ? -Infinity : s - t;
    }
    this.parent = new Int32Array(n).fill(NONE);
    this.next = new Int32Array(n).fill(NONE);
    this.ts = new Int32Array(n);
    this.dist = new Int32Array(n);
    this.isSink = new Uint8Array(n);
    this.orphans = new Int32Array(Math.max(1, n));
  }

  run(): MaxFlowResult {
    const n = this.g.nodeCount;
    for (let i = 0; i < n; i++) {
      const c = this.trcap[i]!;
      if (c > 0) {
        this.isSink[i] = 0;
        this.parent[i] = TERMINAL;
        this.setActive(i);
        this.dist[i] = 1;
      } else if (c < 0) {
        this.isSink[i] = 1;
        this.parent[i] = TERMINAL;
        this.setActive(i);
        this.dist[i] = 1;
      }
    }
    const { first, arcOf, head } = this.g;
    const rcap = this.rcap;
    const parent = this.parent;
    let current = NONE;
    for (;;) {
      let i = current;
      if (i !== NONE) {
        this.next[i] = NONE;
        if (parent[i] === NONE) i = NONE;
      }
      if (i === NONE) {
        i = this.nextActive();
        if (i === NONE) break;
      }
      // grow the tree of i until it touches the other tree
      let meet = NONE;
      const end = first[i + 1]!;
      if (!this.isSink[i]) {
        for (let k = first[i]!; k < end; k++) {
          const a = arcOf[k]!;
          if (rcap[a] === 0) continue;
          const j = head[a]!;
          if (parent[j] === NONE) {
            this.isSink[j] = 0;
            parent[j] = a ^ 1;
            this.ts[j] = this.ts[i]!;
            this.dist[j] = this.dist[i]! + 1;
            this.setActive(j);
          } else if (this.isSink[j]) {
            meet = a;
            break;
          } else if (this.ts[j]! <= this.ts[i]! && this.dist[j]! > this.dist[i]!) {
            parent[j] = a ^ 1;
            this.ts[j] = this.ts[i]!;
            this.dist[j] = this.dist[i]! + 1;
          }
        }
      } else {
        for (let k = first[i]!; k < end; k++) {
          const a = arcOf[k]!;
          if (rcap[a ^ 1] === 0) continue;
          const j = head[a]!;
          if (parent[j] === NONE) {
            this.isSink[j] = 1;
            parent[j] = a ^ 1;
            this.ts[j] = this.ts[i]!;
            this.dist[j] = this.dist[i]! + 1;
            this.setActive(j);
          } else if (!this.isSink[j]) {
            meet = a ^ 1;
            break;
          } else if (this.ts[j]! <= this.ts[i]! && this.dist[j]! > this.dist[i]!) {
            parent[j] = a ^ 1;
            this.ts[j] = this.ts[i]!;
            this.dist[j] = this.dist[i]! + 1;
          }
        }
      }
      this.time++;
      if (meet !== NONE) {
        // keep i active: it may have more arcs to the other tree
        this.next[i] = i;
        current = i;
        this.augment(meet);
        while (this.orphanSize > 0) {
          const o = this.orphans[this.orphanHead]!;
          this.orphanHead = (this.orphanHead + 1) % this.orphans.length;
          this.orphanSize--;
          if (this.isSink[o]) this.processSinkOrphan(o);
          else this.processSourceOrphan(o);
        }
      } else {
        current = NONE;
      }
    }
    const sourceSide = new Uint8Array(n);
    for (let i = 0; i < n; i++) sourceSide[i] = parent[i] !== NONE && !this.isSink[i] ? 1 : 0;
    return { flow: this.flow, sourceSide };
  }

  private setActive(i: number): void {
    if (this.next[i] !== NONE) return;
    if (this.queueLast1 !== NONE) this.next[this.queueLast1] = i;
    else this.queueFirst1 = i;
    this.queueLast1 = i;
    this.next[i] = i;
  }

  private nextActive(): number {
    for (;;) {
      let i = this.queueFirst0;
      if (i === NONE) {
        this.queueFirst0 = i = this.queueFirst1;
        this.queueFirst1 = NONE;
        this.queueLast1 = NONE;
        if (i === NONE) return NONE;
      }
      if (this.next[i] === i) {
        this.queueFirst0 = NONE;
      } else {
        this.queueFirst0 = this.next[i]!;
      }
      this.next[i] = NONE;
      if (this.parent[i] !== NONE) return i;
    }
  }

  private orphanFront(i: number): void {
    this.parent[i] = ORPHAN;
    const len = this.orphans.length;
    this.orphanHead = (this.orphanHead - 1 + len) % len;
    this.orphans[this.orphanHead] = i;
    this.orphanSize++;
  }

  private orphanRear(i: number): void {
    this.parent[i] = ORPHAN;
    this.orphans[(this.orphanHead + this.orphanSize) % this.orphans.length] = i;
    this.orphanSize++;
  }

  /** Pushes the bottleneck along source -> ... -> tail(mid) -> head(mid) -> ... -> sink. */
  private augment(mid: number): void {
    const { head } = this.g;
    const rcap = this.rcap;
    const parent = this.parent;
    const trcap = this.trcap;
    let bottleneck = rcap[mid]!;
    for (let i = head[mid ^ 1]!; ; ) {
      const a = parent[i]!;
      if (a === TERMINAL) {
        if (trcap[i]! < bottleneck) bottleneck = trcap[i]!;
        break;
      }
      if (rcap[a ^ 1]! < bottleneck) bottleneck = rcap[a ^ 1]!;
      i = head[a]!;
    }
    for (let i = head[mid]!; ; ) {
      const a = parent[i]!;
      if (a === TERMINAL) {
        if (-trcap[i]! < bottleneck) bottleneck = -trcap[i]!;
        break;
      }
      if (rcap[a]! < bottleneck) bottleneck = rcap[a]!;
      i = head[a]!;
    }
    rcap[mid ^ 1]! += bottleneck;
    rcap[mid]! -= bottleneck;
    for (let i = head[mid ^ 1]!; ; ) {
      const a = parent[i]!;
      if (a === TERMINAL) {
        trcap[i]! -= bottleneck;
        if (trcap[i] === 0) this.orphanFront(i);
        break;
      }
      rcap[a]! += bottleneck;
      rcap[a ^ 1]! -= bottleneck;
      if (rcap[a ^ 1] === 0) this.orphanFront(i);
      i = head[a]!;
    }
    for (let i = head[mid]!; ; ) {
      const a = parent[i]!;
      if (a === TERMINAL) {
        trcap[i]! += bottleneck;
        if (trcap[i] === 0) this.orphanFront(i);
        break;
      }
      rcap[a ^ 1]! += bottleneck;
      rcap[a]! -= bottleneck;
      if (rcap[a] === 0) this.orphanFront(i);
      i = head[a]!;
    }
    this.flow += bottleneck;
  }

  /** The length of j's path to its terminal (Infinity if it ends in an orphan), marking the path. */
  private originDistance(start: number): number {
    const { head } = this.g;
    const parent = this.parent;
    let d = 0;
    let j = start;
    for (;;) {
      if (this.ts[j] === this.time) {
        d += this.dist[j]!;
        break;
      }
      const a = parent[j]!;
      d++;
      if (a === TERMINAL) {
        this.ts[j] = this.time;
        this.dist[j] = 1;
        break;
      }
      if (a === ORPHAN) return Infinity;
      j = head[a]!;
    }
    // mark the path so later searches stop early
    let dd = d;
    for (let k = start; this.ts[k] !== this.time; k = head[parent[k]!]!) {
      this.ts[k] = this.time;
      this.dist[k] = dd--;
    }
    return d;
  }

  private processSourceOrphan(i: number): void {
    this.adopt(i, 0);
  }

  private processSinkOrphan(i: number): void {
    this.adopt(i, 1);
  }

  /** Finds a new parent for orphan i in its tree (side 0 source, 1 sink), or frees it. */
  private adopt(i: number, side: 0 | 1): void {
    const { first, arcOf, head } = this.g;
    const rcap = this.rcap;
    const parent = this.parent;
    const end = first[i + 1]!;
    let best = NONE;
    let bestDist = Infinity;
    for (let k = first[i]!; k < end; k++) {
      const a0 = arcOf[k]!;
      // a source orphan needs residual capacity from j into i; a sink orphan from i into j
      if (rcap[side === 0 ? a0 ^ 1 : a0] === 0) continue;
      const j = head[a0]!;
      if (this.isSink[j] !== side || parent[j] === NONE) continue;
      const d = this.originDistance(j);
      if (d < bestDist) {
        bestDist = d;
        best = a0;
      }
    }
    if (best !== NONE) {
      parent[i] = best;
      this.ts[i] = this.time;
      this.dist[i] = bestDist + 1;
      return;
    }
    parent[i] = NONE;
    for (let k = first[i]!; k < end; k++) {
      const a0 = arcOf[k]!;
      const j = head[a0]!;
      const a = parent[j]!;
      if (this.isSink[j] !== side || a === NONE) continue;
      if (rcap[side === 0 ? a0 ^ 1 : a0] !== 0) this.setActive(j);
      if (a !== TERMINAL && a !== ORPHAN && head[a] === i) this.orphanRear(j);
    }
  }
}
