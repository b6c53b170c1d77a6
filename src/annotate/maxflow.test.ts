import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { type FlowNetwork, maxFlow } from "./maxflow.ts";

const FIXTURES = path.join(import.meta.dirname, "..", "..", "test", "fixtures", "graphcut");

interface FixtureGraph {
  n: number;
  edges: [number, number, number, number][];
  source: number[];
  sink: number[];
  flow: number;
}

function network(g: FixtureGraph): FlowNetwork {
  return {
    nodeCount: g.n,
    edgeFrom: Int32Array.from(g.edges.map((e) => e[0])),
    edgeTo: Int32Array.from(g.edges.map((e) => e[1])),
    capacity: Float64Array.from(g.edges.map((e) => e[2])),
    reverseCapacity: Float64Array.from(g.edges.map((e) => e[3])),
    source: Float64Array.from(g.source),
    sink: Float64Array.from(g.sink),
  };
}

/** Capacity of the cut (S = sourceSide): source->T, S->sink and S->T arcs. */
function cutCapacity(net: FlowNetwork, side: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < net.nodeCount; i++) c += side[i] ? net.sink[i]! : net.source[i]!;
  for (let e = 0; e < net.edgeFrom.length; e++) {
    const a = side[net.edgeFrom[e]!]!;
    const b = side[net.edgeTo[e]!]!;
    if (a && !b) c += net.capacity[e]!;
    if (b && !a) c += net.reverseCapacity[e]!;
  }
  return c;
}

/**
 * Independent optimality check: a max flow computed here by BFS augmenting paths (Edmonds–Karp) on a
 * dense residual matrix; after it, no augmenting path exists and its value must equal the solver's.
 */
function edmondsKarp(net: FlowNetwork): { flow: number; reachable: Uint8Array } {
  const n = net.nodeCount + 2;
  const s = n - 2;
  const t = n - 1;
  const r = new Float64Array(n * n);
  for (let e = 0; e < net.edgeFrom.length; e++) {
    r[net.edgeFrom[e]! * n + net.edgeTo[e]!]! += net.capacity[e]!;
    r[net.edgeTo[e]! * n + net.edgeFrom[e]!]! += net.reverseCapacity[e]!;
  }
  for (let i = 0; i < net.nodeCount; i++) {
    r[s * n + i] = net.source[i]!;
    r[i * n + t] = net.sink[i]!;
  }
  let flow = 0;
  const prev = new Int32Array(n);
  for (;;) {
    prev.fill(-1);
    prev[s] = s;
    const queue = [s];
    for (let q = 0; q < queue.length && prev[t] === -1; q++) {
      const u = queue[q]!;
      for (let v = 0; v < n; v++) {
        if (prev[v] === -1 && r[u * n + v]! > 1e-12) {
          prev[v] = u;
          queue.push(v);
        }
      }
    }
    if (prev[t] === -1) {
      const reachable = new Uint8Array(net.nodeCount);
      for (let i = 0; i < net.nodeCount; i++) reachable[i] = prev[i] !== -1 ? 1 : 0;
      return { flow, reachable };
    }
    let b = Infinity;
    for (let v = t; v !== s; v = prev[v]!) b = Math.min(b, r[prev[v]! * n + v]!);
    for (let v = t; v !== s; v = prev[v]!) {
      r[prev[v]! * n + v]! -= b;
      r[v * n + prev[v]!]! += b;
    }
    flow += b;
  }
}

describe("maxFlow (Boykov–Kolmogorov) against networkx minimum_cut", () => {
  const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, "maxflow.json"), "utf8")) as {
    graphs: FixtureGraph[];
  };
  for (const g of fixture.graphs) {
    it(`${g.n} nodes, ${g.edges.length} edges: value = networkx, cut = flow, no augmenting path left`, () => {
      const net = network(g);
      const { flow, sourceSide } = maxFlow(net);
      expect(flow).toBeCloseTo(g.flow, 9);
      expect(cutCapacity(net, sourceSide)).toBeCloseTo(flow, 9);
      const ek = edmondsKarp(net);
      expect(ek.flow).toBeCloseTo(flow, 9);
      // the solver's source side is the set reachable from the source in the residual graph
      expect(Array.from(sourceSide)).toEqual(Array.from(ek.reachable));
    });
  }
});

describe("maxFlow on random graphs (seeded) against Edmonds–Karp", () => {
  it("agrees on 200 small random graphs, including infinite terminal links", () => {
    let seed = 12345;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let trial = 0; trial < 200; trial++) {
      const n = 2 + Math.floor(rand() * 25);
      const from: number[] = [];
      const to: number[] = [];
      const cap: number[] = [];
      const rev: number[] = [];
      for (let a = 0; a < n; a++) {
        for (let b = a + 1; b < n; b++) {
          if (rand() < 0.25) {
            from.push(a);
            to.push(b);
            cap.push(Math.floor(rand() * 10));
            rev.push(rand() < 0.5 ? Math.floor(rand() * 10) : rand() * 5);
          }
        }
      }
      const source = new Float64Array(n);
      const sink = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const u = rand();
        if (u < 0.05) source[i] = Infinity;
        else if (u < 0.1) sink[i] = Infinity;
        else {
          source[i] = rand() < 0.4 ? rand() * 20 : 0;
          sink[i] = rand() < 0.4 ? rand() * 20 : 0;
        }
      }
      const net: FlowNetwork = {
        nodeCount: n,
        edgeFrom: Int32Array.from(from),
        edgeTo: Int32Array.from(to),
        capacity: Float64Array.from(cap),
        reverseCapacity: Float64Array.from(rev),
        source,
        sink,
      };
      const { flow, sourceSide } = maxFlow(net);
      const finite = (a: Float64Array) => a.map((v) => (v === Infinity ? 1e9 : v));
      const ek = edmondsKarp({ ...net, source: finite(source), sink: finite(sink) });
      expect(flow).toBeCloseTo(ek.flow, 6);
      expect(cutCapacity(net, sourceSide)).toBeCloseTo(flow, 6);
      expect(Array.from(sourceSide)).toEqual(Array.from(ek.reachable));
    }
  });

  it("rejects a node tied to both terminals with infinite capacity", () => {
    expect(() =>
      maxFlow({
        nodeCount: 1,
        edgeFrom: new Int32Array(0),
        edgeTo: new Int32Array(0),
        capacity: new Float64Array(0),
        reverseCapacity: new Float64Array(0),
        source: Float64Array.of(Infinity),
        sink: Float64Array.of(Infinity),
      }),
    ).toThrow(/both the source and the sink/);
  });
});
