#!/usr/bin/env node
// Benchmark of `organelle import` against `zstd -T0` compressing the same bytes, on this machine, in one run.
//
//   node scripts/build.mjs && node bench/import.mjs [--gib 1] [--rounds 3] [--dir /tmp] [--variants] [--keep | --root DIR]
//
// Builds a >= 1 GiB uint8 stack of 1024 x 1024 TIFF slices from the real FIB-SEM PNGs in
// /work/shared/data/cdeep3m-mito/training/images (read from there, never copied into the repository):
// slice z is image z % 20 under one of the 8 flips/transposes ((z / 20) % 8) and a circular shift that
// changes every 160 slices, so no two slices are alike and zstd finds EM-like structure, not repeats.
// The same bytes are also written as one raw file (the slices back to back). Then, all from the page
// cache: `zstd -T0 -3` on the raw file (the work that cannot be avoided), `organelle import` of the
// stack at zstd level 3 without the pyramid, and `organelle pyramid` on the result. Prints MB/s, the
// ratio import/zstd (the issue asks >= 0.5) and peak RSS (GNU time). See bench/README.md.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { decode } from "fast-png";
import { register } from "tsx/esm/api";

register();
const { TiffWriter } = await import("../src/store/tiff-write.ts");

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const EM = "/work/shared/data/cdeep3m-mito/training/images";
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const gib = Number(value("--gib", "1"));
// --root DIR reuses the stack an earlier `--keep` run left there.
const reuse = value("--root", undefined);
const root = reuse ?? fs.mkdtempSync(path.join(value("--dir", os.tmpdir()), "organelle-bench-import-"));
const BIN = path.join(REPO, "bin", "organelle.mjs");
if (!fs.existsSync(path.join(REPO, "dist", "organelle.mjs"))) {
  console.error("bench/import: run `node scripts/build.mjs` first");
  process.exit(2);
}
const haveTime = fs.existsSync("/usr/bin/time");

function run(cmd, argv, env = {}) {
  const rss = path.join(root, "rss.txt");
  const full = haveTime ? ["/usr/bin/time", ["-f", "%M %U %S", "-o", rss, cmd, ...argv]] : [cmd, argv];
  const t = performance.now();
  const r = spawnSync(full[0], full[1], {
    encoding: "utf8",
    env: { ...process.env, ORGANELLE_QUIET: "1", ...env },
    maxBuffer: 1 << 26,
  });
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${argv.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  const [peakKb, user, sys] = haveTime
    ? fs.readFileSync(rss, "utf8").trim().split("\n").pop().split(" ").map(Number)
    : [Number.NaN, Number.NaN, Number.NaN];
  return { seconds, peakMb: peakKb / 1024, cpu: user + sys, stdout: r.stdout };
}

// --- the stack -----------------------------------------------------------------------------------
const names = fs
  .readdirSync(EM)
  .filter((n) => n.endsWith(".png"))
  .sort();
const images = names.map((n) => decode(fs.readFileSync(path.join(EM, n))));
const N = images[0].width;
if (!images.every((im) => im.width === N && im.height === N && im.channels === 1 && im.depth === 8)) {
  throw new Error(`${EM}: expected square 8-bit greyscale PNGs of one size`);
}
const sliceBytes = N * N;
const slices = Math.ceil((gib * 2 ** 30) / sliceBytes);
const stackDir = path.join(root, "stack");
const rawFile = path.join(root, "stack.raw");
if (!(reuse && fs.existsSync(rawFile) && fs.statSync(rawFile).size === slices * sliceBytes)) {
  writeStack();
}
function writeStack() {
  fs.mkdirSync(stackDir);
  const rawFd = fs.openSync(rawFile, "w");
  const plane = new Uint8Array(sliceBytes);
  const digits = String(slices - 1).length;
  process.stderr.write(
    `bench/import: writing ${slices} slices of ${N} x ${N} (${((slices * sliceBytes) / 2 ** 30).toFixed(2)} GiB) to ${root}\n`,
  );
  for (let z = 0; z < slices; z++) {
    const src = images[z % images.length].data;
    const t = Math.floor(z / images.length) % 8;
    const shiftY = (Math.floor(z / (images.length * 8)) * 61) % N;
    const shiftX = (Math.floor(z / (images.length * 8)) * 97) % N;
    for (let y = 0; y < N; y++) {
      for (let x = 0; x < N; x++) {
        let sy = (y + shiftY) % N;
        let sx = (x + shiftX) % N;
        if (t & 4) [sy, sx] = [sx, sy];
        if (t & 2) sy = N - 1 - sy;
        if (t & 1) sx = N - 1 - sx;
        plane[y * N + x] = src[sy * N + sx];
      }
    }
    const w = TiffWriter.create(path.join(stackDir, `slice_${String(z).padStart(digits, "0")}.tif`), {
      width: N,
      height: N,
      dtype: "uint8",
      pages: 1,
    });
    w.writePage(plane);
    w.close();
    fs.writeSync(rawFd, plane);
  }
  fs.closeSync(rawFd);
}
const bytes = slices * sliceBytes;
const mb = bytes / 1e6;
// Warm the page cache for both inputs alike.
spawnSync("cat", [rawFile], { stdio: ["ignore", "ignore", "ignore"] });
spawnSync("sh", ["-c", `cat ${stackDir}/* > /dev/null`]);

// --- measurements ---------------------------------------------------------------------------------
// The machine may be shared: zstd and import run in turns (`--rounds`, default 3) and medians are
// reported, plus CPU seconds (user + sys, GNU time), which depend much less on other load.
const rounds = Number(value("--rounds", "3"));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const out = path.join(root, "cell.zarr");
const zstdRuns = [];
const importRuns = [];
for (let k = 0; k < rounds; k++) {
  zstdRuns.push(run("zstd", ["-T0", "-3", "-q", "-f", rawFile, "-o", `${rawFile}.zst`]));
  fs.rmSync(out, { recursive: true, force: true });
  importRuns.push(
    run(process.execPath, [
      BIN,
      "import",
      stackDir,
      out,
      "--voxel-size",
      "4",
      "--no-pyramid",
      "--level",
      "3",
    ]),
  );
}
const zstdRatio = bytes / fs.statSync(`${rawFile}.zst`).size;
const pyr = run(process.execPath, [BIN, "pyramid", out, "raw"]);
const summary = (runs) => ({
  seconds: median(runs.map((r) => r.seconds)),
  cpu: median(runs.map((r) => r.cpu)),
  peakMb: Math.max(...runs.map((r) => r.peakMb)),
});
const rows = [];
const row = (what, r, extra = "") => rows.push({ what, ...r, mbps: mb / r.seconds, extra });
const zstd = summary(zstdRuns);
const imp = summary(importRuns);
row("zstd -T0 -3 (raw bytes -> .zst)", zstd, `compression ${zstdRatio.toFixed(3)}x`);
const s0 = importRuns.map((r) => Number(/s0: [\d.]+ MB in ([\d.]+) s/.exec(r.stdout)?.[1]));
row("organelle import (zstd 3, chunks 128^3)", imp, `s0 alone ${(mb / median(s0)).toFixed(0)} MB/s`);
row("organelle pyramid (mean, s1..sN)", pyr, "MB/s of s0 read");

if (flag("--variants")) {
  row("zstd -T0 -1", run("zstd", ["-T0", "-1", "-q", "-f", rawFile, "-o", `${rawFile}.zst`]));
  for (const [label, extra] of [
    ["organelle import zstd 1", ["--level", "1"]],
    ["organelle import blosc (zstd 5)", ["--compressor", "blosc"]],
    ["organelle import chunks 64^3", ["--chunks", "64", "--level", "3"]],
  ]) {
    const r = run(process.execPath, [
      BIN,
      "import",
      stackDir,
      out,
      "--voxel-size",
      "4",
      "--no-pyramid",
      "--overwrite",
      ...extra,
    ]);
    row(label, r);
  }
}

// --- report ---------------------------------------------------------------------------------------
const cpus = os.cpus();
console.log(
  `\nbench/import: ${(bytes / 2 ** 30).toFixed(2)} GiB uint8 (${slices} TIFF slices of ${N} x ${N}), ${cpus.length} x ${cpus[0]?.model ?? "cpu"}, node ${process.version}, load ${os.loadavg()[0].toFixed(1)}, medians of ${rounds} rounds`,
);
console.log(
  `${"step".padEnd(40)} ${"seconds".padStart(8)} ${"MB/s".padStart(7)} ${"CPU s".padStart(7)} ${"peak RSS".padStart(9)}  note`,
);
for (const r of rows) {
  console.log(
    `${r.what.padEnd(40)} ${r.seconds.toFixed(2).padStart(8)} ${r.mbps.toFixed(0).padStart(7)} ${(Number.isFinite(r.cpu) ? r.cpu.toFixed(2) : "n/a").padStart(7)} ${(Number.isFinite(r.peakMb) ? `${r.peakMb.toFixed(0)} MB` : "n/a").padStart(9)}  ${r.extra}`,
  );
}
const ratio = zstd.seconds / imp.seconds;
const pairs = importRuns.map((r, k) => zstdRuns[k].seconds / r.seconds);
console.log(
  `\nratio import / zstd -T0 -3 (MB/s) = ${ratio.toFixed(2)} (target >= 0.5)${ratio >= 0.5 ? "" : "  BELOW TARGET"}; per round ${pairs.map((x) => x.toFixed(2)).join(", ")}`,
);
if (Number.isFinite(zstd.cpu)) {
  console.log(
    `CPU seconds per GB: zstd ${(zstd.cpu / (mb / 1e3)).toFixed(2)}, import ${(imp.cpu / (mb / 1e3)).toFixed(2)} (ratio ${(zstd.cpu / imp.cpu).toFixed(2)})`,
  );
}

if (flag("--keep") || reuse) console.log(`kept ${root} (reuse it with --root ${root})`);
else fs.rmSync(root, { recursive: true, force: true });
