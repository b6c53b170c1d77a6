import type { Coordinate } from "../core/coordinate.ts";
import type { Roi } from "../core/roi.ts";

/**
 * One unit of block-wise work. `writeRoi` is what the block produces (blocks' write ROIs tile the
 * task's ROI without overlap); `readRoi` is `writeRoi` grown by the task's context (may extend past
 * the data: readers fill outside with zeros or the task's padding). All in world units (nm).
 */
export interface Block {
  /** Deterministic id: the row-major index of the block in the task's block grid. */
  readonly id: number;
  /** Position of the block in the block grid (z,y,x). */
  readonly index: Coordinate;
  readonly readRoi: Roi;
  readonly writeRoi: Roi;
}

export interface BlockwiseTaskSpec {
  /** Names the task in progress output, journals and errors. */
  readonly name: string;
  /** The ROI whose voxels are to be written. */
  readonly totalWriteRoi: Roi;
  /** Write-block shape in nm (should be a multiple of the output chunk shape so blocks never share a chunk). */
  readonly blockShape: Coordinate;
  /** Context in nm added on each side of the write ROI to form the read ROI. */
  readonly context: Coordinate;
  /**
   * Blocks at the upper border: "shrink" clips the write ROI to totalWriteRoi (default),
   * "overhang" keeps full blocks, "valid" drops blocks that do not fit completely.
   */
  readonly fit?: "shrink" | "overhang" | "valid";
  /**
   * Voxel size (nm) of the written array. Optional: when given, blocks must lie on its grid and
   * progress reports voxels/s besides blocks.
   */
  readonly voxelSize?: Coordinate;
}

export interface BlockResult {
  readonly blockId: number;
  /** Optional small JSON result (e.g. per-block statistics) handed back to the caller. */
  readonly value?: unknown;
}

/** What a block function receives besides its block and the job's parameters. */
export interface BlockContext {
  /** Aborted when the run is cancelled; long blocks should pass it to reads/writes or check it. */
  readonly signal: AbortSignal;
  /** 1 for the first try of this block, 2 for the first retry, ... */
  readonly attempt: number;
}

/**
 * Processes one block: reads `block.readRoi`, writes `block.writeRoi`, and resolves only after its
 * outputs are written (the journal records the block as done when the promise resolves). The
 * resolved value, if any, must be small and JSON-serialisable; it is returned to the caller and kept
 * in the resume journal.
 */
export type BlockFn<P = unknown> = (block: Block, params: P, ctx: BlockContext) => Promise<unknown>;

/**
 * A static table of block functions by name. Worker threads cannot receive functions, so a job names
 * its function and every worker looks it up in the same table (src/tasks/table.ts for the app).
 */
// biome-ignore lint/suspicious/noExplicitAny: a table holds functions with different parameter types
export type TaskTable = ReadonlyMap<string, BlockFn<any>>;

/** A job's function (a key of the task table) and its parameters (structured-cloned to workers). */
export interface TaskCall<P = unknown> {
  readonly fn: string;
  readonly params: P;
}
