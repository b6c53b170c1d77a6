import { createRequire } from "node:module";
import * as os from "node:os";
import type { Command } from "commander";
import { OrganelleError } from "../core/errors.ts";
import type { EngineInfo } from "../engine/engine.ts";
import { enginePython, locateEngineDir } from "../engine/locate.ts";
import { TorchEngine } from "../engine/torch-engine.ts";

/** `organelle doctor`: what this machine offers organelle (Node, Python + PyTorch, GPUs, ONNX Runtime). */
export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description(
      "check the machine: Node.js, the Python and PyTorch the torch engine uses (ORGANELLE_PYTHON), CUDA devices, threads, ONNX Runtime; exits non-zero when PyTorch is missing",
    )
    .option("--json", "print the findings as JSON")
    .action(async (o: { json?: boolean }) => {
      const report = await diagnose();
      process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
      if (report.engineError) throw new OrganelleError("Engine", report.engineError);
    });
}

export interface DoctorReport {
  readonly node: string;
  readonly platform: string;
  readonly cpus: number;
  readonly python: string;
  readonly pythonSource: "ORGANELLE_PYTHON" | "default";
  readonly engineDir: string | null;
  readonly engine: EngineInfo | null;
  readonly engineError: string | null;
  readonly onnxruntime: string | null;
}

export async function diagnose(): Promise<DoctorReport> {
  const python = enginePython();
  let engineDir: string | null = null;
  let engine: EngineInfo | null = null;
  let engineError: string | null = null;
  try {
    engineDir = locateEngineDir();
    const e = await TorchEngine.start({ python, engineDir });
    engine = e.info;
    await e.close();
  } catch (err) {
    engineError = (err as Error).message;
  }
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: os.availableParallelism(),
    python,
    pythonSource: process.env.ORGANELLE_PYTHON ? "ORGANELLE_PYTHON" : "default",
    engineDir,
    engine,
    engineError,
    onnxruntime: onnxRuntimeVersion(),
  };
}

/** onnxruntime-node's version when it can be loaded from here (the single-file bundle may lack it). */
function onnxRuntimeVersion(): string | null {
  try {
    const require = createRequire(import.meta.url);
    return (require("onnxruntime-node/package.json") as { version: string }).version;
  } catch {
    return null;
  }
}

const GiB = 1024 ** 3;

export function formatReport(r: DoctorReport): string {
  const rows: [string, string][] = [
    ["node", `${r.node} (${r.platform}, ${r.cpus} CPUs)`],
    [
      "python",
      `${r.python}${r.pythonSource === "default" ? " (default; set ORGANELLE_PYTHON to choose another)" : " (ORGANELLE_PYTHON)"}`,
    ],
    ["engine", r.engineDir ?? "not found"],
  ];
  const e = r.engine;
  if (e) {
    rows.push(["python version", e.python]);
    rows.push([
      "torch",
      `${e.torch} (organelle_engine ${e.engine}, protocol ${e.protocol}, mkldnn ${e.mkldnn ? "yes" : "no"})`,
    ]);
    if (e.cudaDevices.length === 0) rows.push(["cuda", "no CUDA devices"]);
    for (const d of e.cudaDevices) {
      rows.push([
        `cuda:${d.index}`,
        `${d.name}, ${(d.memoryBytes / GiB).toFixed(1)} GiB (CUDA ${e.cuda}, cuDNN ${e.cudnn ?? "none"})`,
      ]);
    }
    rows.push(["device", `${e.device} (${e.deviceName}), autocast ${e.autocast}`]);
    rows.push(["threads", String(e.threads)]);
  } else {
    rows.push(["torch", `MISSING: ${r.engineError}`]);
  }
  rows.push([
    "onnxruntime",
    r.onnxruntime
      ? `onnxruntime-node ${r.onnxruntime}`
      : "onnxruntime-node is not installed: CPU inference runs in the torch engine",
  ]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return `${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n")}\n`;
}
