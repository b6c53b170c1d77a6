import { invalidArgument } from "../core/errors.ts";

/**
 * The organelle classes a synthetic cell labels. They are mutually exclusive: every voxel belongs to at
 * most one class (the envelope is not part of `nucleus`, the pore channel is not part of the envelope), so
 * the label arrays can be stacked into one semantic map without conflicts.
 *
 * - `plasma_membrane`: the cell's bounding membrane (a band of its thickness just inside the cell surface)
 * - `nucleus`: nucleoplasm, inside the inner nuclear membrane (includes the nucleolus and chromatin)
 * - `nuclear_envelope`: both nuclear membranes and the lumen between them, minus the pores
 * - `nuclear_pore`: the channel through the envelope at each pore (a disc of the pore's diameter)
 * - `mito`: whole mitochondria (both membranes, intermembrane space, matrix, cristae)
 * - `er`: ER tubule networks and sheet stacks (membrane and lumen)
 * - `golgi`: Golgi stacks (cisternae, membrane and lumen)
 * - `vesicle`: small vesicles (membrane and lumen), free or around Golgi stacks
 * - `lipid_droplet`: lipid droplets
 * - `ccp`: clathrin-coated pits and vesicles at the plasma membrane (membrane and coat), and caveolae, as
 *   ASEM's coated-pit model predicts them; drawn only when asked for (not among DEFAULT_CLASSES)
 */
export const ORGANELLE_CLASSES = [
  "plasma_membrane",
  "nucleus",
  "nuclear_envelope",
  "nuclear_pore",
  "mito",
  "er",
  "golgi",
  "vesicle",
  "lipid_droplet",
  "ccp",
] as const;

export type OrganelleClass = (typeof ORGANELLE_CLASSES)[number];

/**
 * Classes drawn when none are named. Coated pits are left out so that a cell made without asking for
 * them keeps the bytes it had before they existed (the other classes' layout never depends on them).
 */
export const DEFAULT_CLASSES: readonly OrganelleClass[] = ORGANELLE_CLASSES.filter((c) => c !== "ccp");

export function isOrganelleClass(s: string): s is OrganelleClass {
  return (ORGANELLE_CLASSES as readonly string[]).includes(s);
}

/** Index of a class in ORGANELLE_CLASSES (the renderer's class codes). */
export function classIndex(c: OrganelleClass): number {
  return ORGANELLE_CLASSES.indexOf(c);
}

/**
 * Parses "mito,er,golgi" (or "all") into classes in canonical order. The envelope and pores need the
 * nucleus; asking for them without it is an error rather than a silently empty label array.
 */
export function parseClasses(text: string, what = "--organelles"): OrganelleClass[] {
  const parts = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (parts.length === 0)
    throw invalidArgument(`${what}: give at least one class (${ORGANELLE_CLASSES.join(",")})`);
  if (parts.length === 1 && parts[0] === "all") return [...ORGANELLE_CLASSES];
  const chosen = new Set<OrganelleClass>();
  for (const p of parts) {
    if (!isOrganelleClass(p)) {
      throw invalidArgument(
        `${what}: unknown class '${p}'; choose from ${ORGANELLE_CLASSES.join(",")} or all`,
      );
    }
    chosen.add(p);
  }
  return validateClasses([...chosen], what);
}

/** Canonical order, no duplicates, dependencies present. */
export function validateClasses(classes: readonly string[], what = "classes"): OrganelleClass[] {
  const set = new Set<OrganelleClass>();
  for (const c of classes) {
    if (!isOrganelleClass(c)) throw invalidArgument(`${what}: unknown class '${c}'`);
    set.add(c);
  }
  for (const dependent of ["nuclear_envelope", "nuclear_pore"] as const) {
    if (set.has(dependent) && !set.has("nucleus")) {
      throw invalidArgument(`${what}: '${dependent}' needs 'nucleus' in the list too`);
    }
  }
  return ORGANELLE_CLASSES.filter((c) => set.has(c));
}
