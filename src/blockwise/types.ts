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
}

export interface BlockResult {
  readonly blockId: number;
  /** Optional small JSON result (e.g. per-block statistics) handed back to the caller. */
  readonly value?: unknown;
}
