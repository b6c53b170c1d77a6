import type { BlockwiseTaskSpec, TaskCall } from "../blockwise/types.ts";
import { type Coordinate, coord } from "../core/coordinate.ts";
import { invalidArgument } from "../core/errors.ts";
import { Volume } from "../store/volume.ts";
import type { ArrayRef } from "./clahe-task.ts";
import { type JobContext, runPhase } from "./jobs.ts";
import { type LocalOp, type LocalOpParams, localOpContext, localOpOutputTypes } from "./ops-task.ts";

export { type LocalOp, localOpContext, localOpOutputTypes } from "./ops-task.ts";

/*
 * The volume algorithms of src/ops on whole arrays of any size, through the block-wise runner (on the
 * job's worker threads, resumable per phase like every preprocessing step; see jobs.ts):
 *
 * - local operations (ball morphology, distance transform up to a distance, Gaussian smoothing):
 *   one pass, each block read with the operation's context, equal to the whole-volume result;
 * - connected components: see components.ts runComponentLabelling (every block labelled once, the
 *   runs crossing block faces merged on this thread, ids painted from the saved runs, numbered like
 *   scipy.ndimage.label on the whole volume).
 *
 * Input and output arrays share one voxel grid; the caller creates the output (its dtype one of
 * localOpOutputTypes: uint8 for morphology, float64/float32 for distances, the input's type or
 * float32 for Gaussian; uint32 for components) and marks it complete when the run returns.
 */

/**
 * A spec over a whole array: write blocks of whole chunks, about `blockVoxels` (z,y,x) each (rounded
 * down to whole chunks, at least one), so blocks never share a chunk; `context` in voxels.
 */
export function arrayBlockSpec(
  name: string,
  vol: Volume,
  blockVoxels: Coordinate,
  context: Coordinate,
): BlockwiseTaskSpec {
  const { chunks, shape, voxelSize: vs } = vol.meta;
  const edge = (d: number) => {
    if (!(Number.isInteger(blockVoxels[d]) && blockVoxels[d]! >= 1)) {
      throw invalidArgument(`block shape ${blockVoxels.join(",")}: expected whole numbers of voxels >= 1`);
    }
    const c = chunks[d]!;
    const k = c * Math.max(1, Math.floor(blockVoxels[d]! / c));
    return Math.min(k, Math.ceil(shape[d]! / c) * c) * vs[d]!;
  };
  return {
    name,
    totalWriteRoi: vol.roi,
    blockShape: coord(edge(0), edge(1), edge(2)),
    context: coord(context[0] * vs[0], context[1] * vs[1], context[2] * vs[2]),
    voxelSize: vs,
  };
}

/** Runs one local operation from `input` (whose volume is `vol`) to `output`, blocks of about `blockVoxels`. */
export async function runLocalOp(
  job: JobContext,
  op: LocalOp,
  vol: Volume,
  input: ArrayRef,
  output: ArrayRef,
  blockVoxels: Coordinate,
): Promise<{ spec: BlockwiseTaskSpec; call: TaskCall<LocalOpParams> }> {
  const context = localOpContext(op, vol.meta.voxelSize);
  // Checked here so a wrong output fails at once with one line, not as a failed block.
  const out = await Volume.open(output.datasetPath, output.arrayPath, { allowIncomplete: true });
  const allowed = localOpOutputTypes(op, vol.meta.dtype);
  if (!allowed.includes(out.meta.dtype) || !out.meta.shape.every((n, d) => n === vol.meta.shape[d])) {
    throw invalidArgument(
      `${out.describe()} is ${out.meta.dtype} of shape ${out.meta.shape.join(",")}; ${op.op} of ${vol.describe()} writes ${allowed.join(" or ")} of shape ${vol.meta.shape.join(",")}`,
    );
  }
  const call: TaskCall<LocalOpParams> = { fn: "ops.local", params: { input, output, op } };
  const what = op.op === "morphology" ? `binary ${op.operation}` : op.op;
  const spec = arrayBlockSpec(`${what} ${input.arrayPath}`, vol, blockVoxels, context);
  await runPhase(job, spec, call);
  return { spec, call };
}
