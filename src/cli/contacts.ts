import * as path from "node:path";
import type { Command } from "commander";
import { DEFAULT_MIN_CONTACT_VOLUME, runContacts } from "../analyze/contacts.ts";
import { recordCsvTable } from "../analyze/results.ts";
import { invalidArgument } from "../core/errors.ts";
import type { Connectivity } from "../ops/volume3d.ts";
import { numberArg, workersOption } from "./args.ts";

interface ContactsFlags {
  distance?: number;
  minVolume?: number;
  connectivity?: string;
  output?: string;
  table?: string;
  block?: number;
  workers?: number;
  overwrite?: boolean;
}

/** `organelle contacts DATASET A B`: contact sites between two label classes. */
export function registerContacts(program: Command): void {
  program
    .command("contacts")
    .description(
      "contact sites between two label classes: the voxels within --distance nm of both (A voxels near B, B voxels near A and the gap between), connected into instances with their volume (nm^3), area (nm^2: mean of the A-side and B-side marching-cubes surfaces inside the contact) and the A and B ids they join (the ids with the most voxels in the contact). A = B: contacts between different ids of one class. Writes analysis/contacts_<A>_<B> (uint32) and tables/contacts_<A>_<B>.csv, also recorded in the catalogue. Block-wise and resumable.",
    )
    .argument("<dataset>", "dataset container, e.g. cell.zarr")
    .argument("<a>", "label array of class A, e.g. segmentations/mito")
    .argument("<b>", "label array of class B, e.g. labels/er (the same as A for self-contacts)")
    .option("--distance <nm>", "contact distance in nm (default 10)", numberArg("--distance", { min: 0 }))
    .option(
      "--min-volume <nm3>",
      `drop contacts smaller than this many nm^3 (default ${DEFAULT_MIN_CONTACT_VOLUME})`,
      numberArg("--min-volume", { min: 0 }),
    )
    .option("--connectivity <n>", "6, 18 or 26 (default 26)")
    .option("--output <array>", "instance array (default analysis/contacts_<A>_<B>)")
    .option("--table <path>", "CSV path in the dataset (default tables/contacts_<A>_<B>.csv)")
    .option(
      "--block <voxels>",
      "block edge in voxels, whole chunks (default 256)",
      numberArg("--block", { integer: true, min: 0 }),
    )
    .addOption(workersOption())
    .option("--overwrite", "replace an existing output")
    .action(async (dataset: string, a: string, b: string, o: ContactsFlags) => {
      const c = o.connectivity === undefined ? undefined : Number(o.connectivity);
      if (c !== undefined && c !== 6 && c !== 18 && c !== 26)
        throw invalidArgument(`--connectivity ${o.connectivity}: expected 6, 18 or 26`);
      const r = await runContacts(dataset, a, b, {
        distance: o.distance,
        minVolume: o.minVolume,
        connectivity: c as Connectivity | undefined,
        output: o.output,
        table: o.table,
        blockVoxels: o.block,
        workers: o.workers,
        overwrite: o.overwrite,
      });
      const area = r.rows.reduce((s, x) => s + x.area, 0);
      // The table's first column is the contact id, so hovering a contact in the viewer finds its row.
      const recorded = await recordCsvTable(dataset, path.basename(r.csvPath, ".csv"), r.csvPath, {
        array: r.outputArray,
      });
      process.stdout.write(
        `${a} - ${b} within ${o.distance ?? 10} nm: ${r.rows.length} contacts (${r.found - r.rows.length} below the minimum volume or one-sided), total area ${area.toExponential(3)} nm^2\n  array: ${r.output}\n  table: ${r.csvPath} (${r.seconds.toFixed(1)} s)${recorded.catalog ? `, catalogue ${recorded.catalog}` : ""}\n`,
      );
    });
}
