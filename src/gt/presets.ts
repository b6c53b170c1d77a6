import { invalidArgument } from "../core/errors.ts";

/*
 * The one table of organelle presets. Every verb that needs a per-organelle number (ground-truth
 * clean-up, bias correction, exclusion zones, refinement sizes) and every preprocessing default (cell
 * mask, CLAHE) reads it from here, so a number from the source systems lives in exactly one place.
 *
 * Sources (see ../../../shared/docs/SPEC.md, distilled from the ASEM and COSEM papers and from ASEM's
 * reference code, kirchhausenlab/incasem):
 *   SPEC §2 — preprocessing and ground-truth numbers; §8 — refinement sizes; §9 — analysis sizes.
 * Where the ASEM paper and its code README disagree, the paper's number is used and the README's is
 * named in `notes`. Voxel counts are ASEM's, at its 5 nm voxels (0.0025 um^3 = 20,000 voxels of 125
 * nm^3); they are applied as voxel counts at any voxel size, like ASEM's scripts do.
 *
 * Morphology "by n voxels" follows ASEM's scripts: scipy.ndimage binary_dilation/binary_erosion with
 * the default (6-neighbour cross) structure and `iterations=n`, i.e. the city-block ball of radius n.
 */

export const ORGANELLE_NAMES = [
  "mito",
  "er",
  "golgi",
  "nuclear_pore",
  "ccp",
  "vesicle",
  "nucleus",
  "nuclear_envelope",
  "plasma_membrane",
  "lipid_droplet",
  "ribosome",
  "microtubule",
] as const;

export type OrganelleName = (typeof ORGANELLE_NAMES)[number];

/** Ground-truth clean-up: 0 disables a step. */
export interface CleanupPreset {
  /** Remove objects (connected components of a binary label, ids of an instance label) smaller than this, in voxels. */
  readonly removeObjectsSmallerThan: number;
  /** Fill holes (background enclosed by the label, not touching the volume border) smaller than this, in voxels. */
  readonly fillHolesSmallerThan: number;
}

/** Metric exclusion zone = dilate(labels, dilate) XOR erode(labels, erode), in voxels (city-block steps). */
export interface ExclusionPreset {
  readonly dilate: number;
  readonly erode: number;
}

/** Typical sizes, all optional; only numbers the sources give. */
export interface TypicalSizes {
  /** Smallest object volume kept by refinement's size filter, nm^3. */
  readonly minVolumeNm3?: number;
  /** Object diameter, nm. */
  readonly diameterNm?: { readonly min?: number; readonly median?: number; readonly max?: number };
  /** Model radii (COSEM's model-based refinement), nm. */
  readonly radiusNm?: { readonly inner?: number; readonly outer: number };
  /** Distance to the plasma membrane below which a coated pit counts as endocytic, nm. */
  readonly endocyticWithinNm?: number;
  /** Size of caveolae, which analyses of coated pits filter out, nm. */
  readonly caveolaNm?: { readonly depth: number; readonly width: number };
}

export interface OrganellePreset {
  /** Name of the label array (`labels/<name>`) and of the preset. */
  readonly name: OrganelleName;
  readonly title: string;
  readonly cleanup: CleanupPreset;
  /** Bias correction: dilate annotations by this many voxels (0 = none). */
  readonly biasDilation: number;
  /** Undefined where the sources give no exclusion zone; verbs then need explicit numbers. */
  readonly exclusion: ExclusionPreset | undefined;
  readonly sizes: TypicalSizes;
  /** Where each number comes from. */
  readonly sources: {
    readonly cleanup: string;
    readonly bias: string;
    readonly exclusion: string;
    readonly sizes: string;
  };
  readonly notes?: string;
}

const TITLES: Readonly<Record<string, string>> = {
  vesicle: "vesicles",
  nucleus: "nucleus",
  nuclear_envelope: "nuclear envelope",
  plasma_membrane: "plasma membrane",
  lipid_droplet: "lipid droplets",
};

const NO_CLEANUP: CleanupPreset = { removeObjectsSmallerThan: 0, fillHolesSmallerThan: 0 };
const NOT_GIVEN = "not given by the sources";

function preset(p: OrganellePreset): OrganellePreset {
  return deepFreeze(p);
}

const TABLE: readonly OrganellePreset[] = [
  preset({
    name: "mito",
    title: "mitochondria",
    cleanup: { removeObjectsSmallerThan: 27, fillHolesSmallerThan: 0 },
    biasDilation: 3,
    exclusion: { dilate: 4, erode: 4 },
    sizes: { minVolumeNm3: 300_000 },
    sources: {
      cleanup: "SPEC §2 (remove objects < 27 voxels)",
      bias: "SPEC §2 (+3 voxels = 15 nm)",
      exclusion: "SPEC §2 (4/4; ASEM README agrees)",
      sizes: "SPEC §8 (COSEM refinement: minimum 300,000 nm^3)",
    },
  }),
  preset({
    name: "er",
    title: "endoplasmic reticulum",
    cleanup: { removeObjectsSmallerThan: 0, fillHolesSmallerThan: 20_000 },
    biasDilation: 0,
    exclusion: { dilate: 1, erode: 1 },
    sizes: {},
    sources: {
      cleanup: "SPEC §2 (fill holes < 20,000 voxels = 0.0025 um^3)",
      bias: "SPEC §2 (others 0)",
      exclusion: "SPEC §2 (1/1, paper)",
      sizes: NOT_GIVEN,
    },
    notes: "ASEM's code README suggests an exclusion zone of 2/2 for ER; the paper's 1/1 is used.",
  }),
  preset({
    name: "golgi",
    title: "Golgi apparatus",
    cleanup: { removeObjectsSmallerThan: 27, fillHolesSmallerThan: 0 },
    biasDilation: 1,
    exclusion: { dilate: 2, erode: 2 },
    sizes: {},
    sources: {
      cleanup: "SPEC §2 (remove objects < 27 voxels)",
      bias: "SPEC §2 (+1 voxel)",
      exclusion: "SPEC §2 (2/2; ASEM README agrees)",
      sizes: NOT_GIVEN,
    },
  }),
  preset({
    name: "nuclear_pore",
    title: "nuclear pores",
    cleanup: NO_CLEANUP,
    biasDilation: 0,
    exclusion: { dilate: 3, erode: 1 },
    sizes: { diameterNm: { min: 60, median: 92, max: 130 } },
    sources: {
      cleanup: "SPEC §2 (no clean-up for nuclear pores)",
      bias: "SPEC §2 (others 0)",
      exclusion: "SPEC §2 (3 dilation + 1 erosion, paper)",
      sizes: "SPEC §9 (ASEM: diameters 60-130 nm, median 92 nm, n = 934)",
    },
    notes: "ASEM's code README suggests an exclusion zone of 1/1 for nuclear pores; the paper's 3/1 is used.",
  }),
  preset({
    name: "ccp",
    title: "clathrin-coated pits",
    cleanup: NO_CLEANUP,
    biasDilation: 0,
    exclusion: { dilate: 3, erode: 1 },
    sizes: { endocyticWithinNm: 400, caveolaNm: { depth: 61, width: 81 } },
    sources: {
      cleanup: "SPEC §2 (no clean-up for coated pits)",
      bias: "SPEC §2 (others 0)",
      exclusion: "SPEC §2 (3 dilation + 1 erosion, paper)",
      sizes: "SPEC §9 (endocytic within 400 nm of the plasma membrane; caveolae ~61 nm deep, ~81 nm wide)",
    },
    notes: "ASEM's code README suggests an exclusion zone of 2/2 for coated pits; the paper's 3/1 is used.",
  }),
  ...["vesicle", "nucleus", "nuclear_envelope", "plasma_membrane", "lipid_droplet"].map((name) =>
    preset({
      name: name as OrganelleName,
      title: TITLES[name]!,
      cleanup: NO_CLEANUP,
      biasDilation: 0,
      exclusion: undefined,
      sizes: {},
      sources: { cleanup: NOT_GIVEN, bias: "SPEC §2 (others 0)", exclusion: NOT_GIVEN, sizes: NOT_GIVEN },
    }),
  ),
  preset({
    name: "ribosome",
    title: "ribosomes",
    cleanup: NO_CLEANUP,
    biasDilation: 0,
    exclusion: undefined,
    sizes: { radiusNm: { outer: 10 } },
    sources: {
      cleanup: NOT_GIVEN,
      bias: "SPEC §2 (others 0)",
      exclusion: NOT_GIVEN,
      sizes: "SPEC §8 (COSEM: spheres of radius 10 nm)",
    },
  }),
  preset({
    name: "microtubule",
    title: "microtubules",
    cleanup: NO_CLEANUP,
    biasDilation: 0,
    exclusion: undefined,
    sizes: { radiusNm: { inner: 6, outer: 12.5 } },
    sources: {
      cleanup: NOT_GIVEN,
      bias: "SPEC §2 (others 0)",
      exclusion: NOT_GIVEN,
      sizes: "SPEC §8 (COSEM: tubes of inner radius 6 nm, outer 12.5 nm)",
    },
  }),
];

/** Other spellings people use for the same organelles. */
const ALIASES: Readonly<Record<string, OrganelleName>> = {
  mitochondria: "mito",
  mitochondrion: "mito",
  endoplasmic_reticulum: "er",
  golgi_apparatus: "golgi",
  np: "nuclear_pore",
  nuclear_pores: "nuclear_pore",
  clathrin_coated_pit: "ccp",
  clathrin_coated_pits: "ccp",
  coated_pit: "ccp",
  coated_pits: "ccp",
  vesicles: "vesicle",
  nuclear_membrane: "nuclear_envelope",
  ne: "nuclear_envelope",
  pm: "plasma_membrane",
  ld: "lipid_droplet",
  lipid_droplets: "lipid_droplet",
  ribosomes: "ribosome",
  microtubules: "microtubule",
};

/** Every preset, in table order. */
export const ORGANELLE_PRESETS: readonly OrganellePreset[] = Object.freeze([...TABLE]);

/** The canonical name for `name` (case-insensitive, aliases allowed), or undefined. */
export function resolveOrganelleName(name: string): OrganelleName | undefined {
  const key = name
    .trim()
    .toLowerCase()
    .replace(/[-\s]+/g, "_");
  if ((ORGANELLE_NAMES as readonly string[]).includes(key)) return key as OrganelleName;
  return ALIASES[key];
}

/** The preset of an organelle; an unknown name is an error that lists the known ones. */
export function getPreset(name: string): OrganellePreset {
  const canonical = resolveOrganelleName(name);
  const p = canonical && TABLE.find((t) => t.name === canonical);
  if (!p) {
    throw invalidArgument(`unknown organelle '${name}'; known organelles: ${ORGANELLE_NAMES.join(", ")}`);
  }
  return p;
}

/**
 * Cell-mask defaults (SPEC §2, ASEM's scripts/01_data_formatting/20_create_mask.py): keep voxels with
 * windowLow < v < windowHigh, skimage binary opening with ball(3) then closing with ball(2) (radii in
 * voxels), fill background components smaller than 100,000 voxels (skimage remove_small_holes, which
 * also fills small background pieces at the volume border), remove objects smaller than 100,000 voxels.
 * SPEC: "parameters tuned per dataset".
 */
export const CELL_MASK_DEFAULTS = deepFreeze({
  windowLow: 2,
  windowHigh: 180,
  openingRadiusVoxels: 3,
  closingRadiusVoxels: 2,
  fillHolesSmallerThan: 100_000,
  removeObjectsSmallerThan: 100_000,
  /** 6 = faces (skimage connectivity=1, ASEM's default). */
  connectivity: 6 as const,
  source: "SPEC §2; ASEM scripts/01_data_formatting/20_create_mask.py",
});

/** 3D CLAHE defaults (SPEC §2: kernel 128, clip limit 0.02, 256 bins, skimage equalize_adapthist semantics). */
export const CLAHE_DEFAULTS = deepFreeze({
  kernelVoxels: 128,
  clipLimit: 0.02,
  nbins: 256,
  source: "SPEC §2; ASEM scripts/01_data_formatting/40_equalize_histogram.py",
});

/** Ground truth should lie at least this many voxels from the volume border: the network's context (SPEC §2, §4). */
export const GT_BORDER_CONTEXT_VOXELS = 47;

/** Voxels of `voxelSize` (nm, z,y,x) that make up `volumeNm3`, rounded up: a size filter in voxels. */
export function voxelsForVolume(volumeNm3: number, voxelSize: readonly [number, number, number]): number {
  if (!(Number.isFinite(volumeNm3) && volumeNm3 >= 0)) {
    throw invalidArgument(`volume ${volumeNm3} nm^3: must be a number >= 0`);
  }
  return Math.ceil(volumeNm3 / (voxelSize[0] * voxelSize[1] * voxelSize[2]) - 1e-9);
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
