import type { Block, BlockContext } from "../blockwise/types.ts";
import { coord } from "../core/coordinate.ts";
import { invalidData } from "../core/errors.ts";
import type { ArrayRef } from "../preprocess/clahe-task.ts";
import { Volume } from "../store/volume.ts";
import { type ContactBlockStats, contactBlockStats, contactContext, contactRegion } from "./contacts-core.ts";
import { caseAreas } from "./marching-cubes.ts";
import { asIdArray } from "./measure-task.ts";

/*
 * Block functions of `organelle contacts` (see contacts-core.ts):
 *   analyze.contactRegion  the contact region (uint8 0/1) of the write box, read with
 *                          contactContext voxels around it;
 *   analyze.contactStats   per contact id of the labelled region: voxels, area, ids of each side.
 */

export interface ContactRegionParams {
  readonly a: ArrayRef;
  /** Absent: self-contacts of `a`. */
  readonly b?: ArrayRef;
  readonly output: ArrayRef;
  readonly distance: number;
}

export interface ContactStatsParams {
  readonly a: ArrayRef;
  readonly b?: ArrayRef;
  readonly contacts: ArrayRef;
}

const open = (r: ArrayRef) => Volume.open(r.datasetPath, r.arrayPath, { allowIncomplete: true });

export async function contactRegionBlock(block: Block, p: ContactRegionParams, ctx: BlockContext) {
  const [va, vb, dst] = await Promise.all([open(p.a), p.b ? open(p.b) : undefined, open(p.output)]);
  const write = va.boxOf(block.writeRoi);
  const c = contactContext(p.distance, va.meta.voxelSize);
  const read = {
    begin: coord(write.begin[0] - c[0], write.begin[1] - c[1], write.begin[2] - c[2]),
    shape: coord(write.shape[0] + 2 * c[0], write.shape[1] + 2 * c[1], write.shape[2] + 2 * c[2]),
  };
  const a = asIdArray(await va.readBox(read, { signal: ctx.signal }), va.describe());
  const b = vb ? asIdArray(await vb.readBox(read, { signal: ctx.signal }), vb.describe()) : undefined;
  const region = contactRegion(a, b, read, write, va.meta.voxelSize, p.distance);
  await dst.writeBox(dst.boxOf(block.writeRoi), region, { signal: ctx.signal });
}

export async function contactStatsBlock(
  block: Block,
  p: ContactStatsParams,
  ctx: BlockContext,
): Promise<ContactBlockStats> {
  const [va, vb, vc] = await Promise.all([open(p.a), p.b ? open(p.b) : undefined, open(p.contacts)]);
  const write = vc.boxOf(block.writeRoi);
  const grown = {
    begin: coord(write.begin[0] - 1, write.begin[1] - 1, write.begin[2] - 1),
    shape: coord(write.shape[0] + 2, write.shape[1] + 2, write.shape[2] + 2),
  };
  const contacts = await vc.readBox(grown, { signal: ctx.signal });
  if (!(contacts instanceof Uint32Array)) throw invalidData(`${vc.describe()}: contact ids must be uint32`);
  const a = asIdArray(await va.readBox(grown, { signal: ctx.signal }), va.describe());
  const b = vb ? asIdArray(await vb.readBox(grown, { signal: ctx.signal }), vb.describe()) : undefined;
  return contactBlockStats(contacts, a, b, write.begin, write.shape, caseAreas(vc.meta.voxelSize));
}
