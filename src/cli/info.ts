import type { Command } from "commander";
import { type ArrayInfo, describePath, formatBytes, isReadable, type PathInfo } from "../store/info.ts";

/** `organelle info PATH`: what a dataset container, array or N5 container holds. */
export function registerInfo(program: Command): void {
  program
    .command("info")
    .description(
      "describe a dataset (.zarr, OME-Zarr 0.4/0.5), an array in it, or an N5 container: shape, dtype, voxel size, offset, chunks, compression, scale levels, label arrays and size on disk",
    )
    .argument("<path>", "dataset container, array (e.g. cell.zarr/raw) or N5 container/array")
    .option("--json", "print the description as JSON")
    .action(async (p: string, o: { json?: boolean }) => {
      const info = await describePath(p);
      process.stdout.write(o.json ? `${JSON.stringify(info, null, 2)}\n` : formatInfo(info));
    });
}

const zyx = (v: readonly number[], sep = " x ") => v.map((n) => String(Number(n.toFixed(6)))).join(sep);
const bytes = (n: number) =>
  n < 1024 ? `${n} bytes` : `${formatBytes(n)} (${n.toLocaleString("en-US")} bytes)`;

export function formatInfo(info: PathInfo): string {
  const lines: string[] = [];
  const n = info.arrays.length;
  const count = info.type === "container" ? `, ${n} arra${n === 1 ? "y" : "ys"}` : "";
  lines.push(`${info.path}: ${info.format} ${info.type}${count}, ${formatBytes(info.bytes)} on disk`);
  if (info.labels.length) lines.push(`label arrays: ${info.labels.join(", ")}`);
  for (const a of info.arrays) {
    lines.push("");
    const name = a.path === "" ? "(this array)" : a.path;
    if (!isReadable(a)) {
      lines.push(`${name}  UNREADABLE (${a.format}): ${a.error}`);
      continue;
    }
    const level = a.scale > 0 ? `  (scale level ${a.scale} of its pyramid)` : "";
    const incomplete = a.complete ? "" : "  INCOMPLETE (interrupted or still being written)";
    lines.push(`${name}  ${a.dtype} ${a.kind}${level}${incomplete}`);
    lines.push(...arrayLines(a));
  }
  return `${lines.join("\n")}\n`;
}

function arrayLines(a: ArrayInfo): string[] {
  const out = [
    `  shape        ${zyx(a.shape)} voxels (z,y,x)`,
    `  voxel size   ${zyx(a.voxelSize)} nm${a.voxelSizeRecorded ? "" : " (not recorded in the metadata; assumed)"}`,
    `  offset       ${zyx(a.offset, ", ")} nm`,
    `  chunks       ${zyx(a.chunks)}`,
    `  compression  ${a.compression}`,
    `  format       ${a.format}`,
    `  size         ${bytes(a.bytes)}`,
  ];
  if (a.levels.length > 1) {
    out.push(`  scales       ${a.levels.length} levels`);
    const w = Math.max(...a.levels.map((l) => zyx(l.shape).length));
    const wv = Math.max(...a.levels.map((l) => zyx(l.voxelSize).length));
    for (const l of a.levels) {
      out.push(
        `    ${l.path.padEnd(4)} ${zyx(l.shape).padEnd(w)}  @ ${zyx(l.voxelSize).padEnd(wv)} nm  ${formatBytes(l.bytes)}`,
      );
    }
  }
  return out;
}
