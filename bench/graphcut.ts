/**
 * Benchmark of src/annotate at the size of an annotation block: supervoxels and one graph cut on a
 * 200^3 (8 Mvoxel) synthetic EM sub-volume around a mitochondrion (organelle synth, 5 nm), against
 * skimage SLIC + the same energy in numpy + scipy/networkx max-flow on the same data in the same run.
 *
 *   npx tsx bench/graphcut.ts [--size 200] [--voxel 5]
 *
 * Strokes: disks inside the mito and background lines on 4 planes (z, z, y, x). Ours: SLIC in both modes
 * (4,000 supervoxels, compactness 25, at most 10 iterations): "exact" (skimage's labels voxel for voxel)
 * and "fast" (the annotator's default, slic-fast.ts); then, on the fast supervoxels, graph + pairwise
 * terms, the first cut (seed EDTs + unaries + max-flow + voxel mask), and a re-solve after one more
 * stroke (what "segment" costs in the annotator). Peer: /usr/bin/python3 bench/graphcut-peer.py; its
 * max-flow uses integer capacities (x1000) for scipy. Both sides single-threaded. The machine is shared:
 * the load average is printed, and each of our stages also reports the CPU seconds this process used
 * (closer to what an idle core would take than wall time under load).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { GraphCutSession } from "../src/annotate/graphcut.ts";
import { slic } from "../src/annotate/slic.ts";
import { slicFast } from "../src/annotate/slic-fast.ts";
import { supervoxelStats } from "../src/annotate/supervoxel-metrics.ts";
import { f1Score, organelleCrop, simulateStrokes } from "../src/annotate/testing.ts";
import { coord } from "../src/core/coordinate.ts";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const size = arg("--size", 200);
const voxel = arg("--voxel", 5);
const shape = coord(size, size, size);
const here = path.dirname(fileURLToPath(import.meta.url));

const t0 = performance.now();
const crop = organelleCrop("mito", shape, voxel, 1);
const render = (performance.now() - t0) / 1000;
const q = (f: number) => Math.round(size * f);
const seeds = simulateStrokes(crop, {
  planes: [
    [0, q(0.3)],
    [0, q(0.7)],
    [1, q(0.5)],
    [2, q(0.5)],
  ],
  diskRadius: Math.round(size / 10),
  lineSpacing: Math.round(size / 8),
});

// warm-up on a small volume so the JIT has compiled the hot loops
{
  const small = organelleCrop("mito", coord(40, 40, 40), voxel * 5, 1);
  const s = new GraphCutSession(small.raw, slic(small.raw, small.shape, { nSegments: 300 }), {});
  s.addStrokes(simulateStrokes(small, { planes: [[0, 20]], margin: 0.5 }));
  try {
    s.solve();
  } catch {
    // a warm-up without both seed kinds still compiled SLIC and the graph
  }
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const cpuOf: Record<string, number> = {};
function timed<T>(name: string, f: () => T): [T, number] {
  const c = cpuNow();
  const t0 = performance.now();
  const r = f();
  const s = (performance.now() - t0) / 1000;
  cpuOf[name] = cpuNow() - c;
  return [r, s];
}
const loadBefore = os.loadavg();
const [exact, tSlic] = timed("exact", () => slic(crop.raw, shape, { spacing: crop.voxelSize }));
const [sv, tFast] = timed("fast", () => slicFast(crop.raw, shape, { spacing: crop.voxelSize }));
const [session, tGraph] = timed(
  "graph",
  () => new GraphCutSession(crop.raw, sv, { voxelSize: crop.voxelSize }),
);
session.addStrokes(seeds);
const [first, tFirst] = timed("first", () => session.solve());
const exactSession = new GraphCutSession(crop.raw, exact, { voxelSize: crop.voxelSize });
exactSession.addStrokes(seeds);
const exactCut = exactSession.solve();
const exactF1 = f1Score(exactCut.mask, crop.truth);
// one more background stroke: a line on another plane
const extra: number[] = [];
const z = q(0.5);
for (let x = 0; x < size; x++) {
  const i = (z * size + 2) * size + x;
  if (!crop.truth[i]) extra.push(i);
}
session.paint(extra, 2);
const [again, tAgain] = timed("again", () => session.solve());
const loadAfter = os.loadavg();

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "organelle-bench-graphcut-"));
fs.writeFileSync(path.join(dir, "raw.bin"), crop.raw);
fs.writeFileSync(path.join(dir, "seeds.bin"), seeds);
const peer = spawnSync(
  "/usr/bin/python3",
  [path.join(here, "graphcut-peer.py"), dir, String(size), String(size), String(size), String(voxel)],
  { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" } },
);
fs.rmSync(dir, { recursive: true, force: true });
if (peer.status !== 0) throw new Error(`peer failed: ${peer.stderr}`);
const p = JSON.parse(peer.stdout.trim().split("\n").pop()!) as Record<string, number>;

const fmt = (v: number | undefined) => (v === undefined ? "-" : v.toFixed(3));
const ratio = (peerS: number | undefined, ours: number) =>
  peerS === undefined ? "-" : `${(peerS / ours).toFixed(1)}x`;
const pCut = (p.unaries ?? 0) + (p.scipy_maxflow ?? 0);
const cpu = (k: string) => `${(cpuOf[k] ?? 0).toFixed(2)} cpu`;
const stats = (x: { labels: Int32Array; count: number }) => {
  const st = supervoxelStats(x.labels, x.count, crop.truth, shape);
  return `${x.count} supervoxels, boundary recall ${st.boundaryRecall.toFixed(3)}, undersegmentation ${st.undersegmentationError.toFixed(4)}`;
};
console.log(
  `graph cut bench: ${size}^3 voxels at ${voxel} nm (render ${render.toFixed(1)} s), skimage ${p.supervoxels} supervoxels; load average ${loadBefore.map((v) => v.toFixed(1)).join(" ")} before, ${loadAfter.map((v) => v.toFixed(1)).join(" ")} after (2 cores)`,
);
console.log(`exact SLIC: ${stats(exact)}; fast SLIC: ${stats(sv)}, ${sv.passes} passes`);
console.log(
  `F1 vs truth: fast supervoxels first cut ${f1Score(first.mask, crop.truth).toFixed(3)}, after one more stroke ${f1Score(again.mask, crop.truth).toFixed(3)}; exact supervoxels first cut ${exactF1.toFixed(3)}`,
);
console.log(
  `peer CPU seconds: skimage SLIC ${fmt(p.slic_cpu)}, energy + scipy max-flow ${fmt(p.cut_cpu)}; CPU ratios peer / ours: exact SLIC ${ratio(p.slic_cpu, cpuOf.exact ?? 0)}, fast SLIC ${ratio(p.slic_cpu, cpuOf.fast ?? 0)}, first cut ${ratio(p.cut_cpu, cpuOf.first ?? 0)}, re-solve ${ratio(p.cut_cpu, cpuOf.again ?? 0)}`,
);
console.log("| stage | ours (s, wall) | ours (CPU s) | peer (s) | peer / ours (wall) |");
console.log("|---|---|---|---|---|");
console.log(
  `| SLIC exact | ${fmt(tSlic)} | ${cpu("exact")} | ${fmt(p.slic)} (skimage) | ${ratio(p.slic, tSlic)} |`,
);
console.log(
  `| SLIC fast (annotator) | ${fmt(tFast)} | ${cpu("fast")} | ${fmt(p.slic)} (skimage) | ${ratio(p.slic, tFast)} |`,
);
console.log(
  `| graph + pairwise | ${fmt(tGraph)} | ${cpu("graph")} | ${fmt(p.graph)} (numpy) | ${ratio(p.graph, tGraph)} |`,
);
console.log(
  `| first cut (EDTs, unaries, max-flow, mask) | ${fmt(tFirst)} | ${cpu("first")} | ${fmt(pCut)} (numpy/scipy EDT + scipy max-flow) | ${ratio(pCut, tFirst)} |`,
);
console.log(
  `| re-solve after a stroke ("segment") | ${fmt(tAgain)} | ${cpu("again")} | ${fmt(pCut)} (peer recomputes) | ${ratio(pCut, tAgain)} |`,
);
console.log(
  `| max-flow alone | ${fmt(first.timings.maxflow / 1000)} | - | ${fmt(p.scipy_maxflow)} (scipy), ${fmt(p.networkx_maxflow)} (networkx) | ${ratio(p.scipy_maxflow, first.timings.maxflow / 1000)}, ${ratio(p.networkx_maxflow, first.timings.maxflow / 1000)} |`,
);
const ms = (x: { unaries: number; maxflow: number; mask: number }) =>
  `unaries ${x.unaries.toFixed(0)} ms, max-flow ${x.maxflow.toFixed(0)} ms, mask ${x.mask.toFixed(0)} ms`;
console.log(`ours, first cut: ${ms(first.timings)}; re-solve: ${ms(again.timings)}`);
console.log(
  `fast SLIC stages (wall ms): ${Object.entries(sv.timings)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(", ")}`,
);
console.log(
  `flow values on skimage's supervoxels (= exact mode): ours ${exactCut.energy.toFixed(3)}, scipy ${fmt(p.scipy_flow)} (integer x1000), networkx ${fmt(p.networkx_flow)}`,
);
