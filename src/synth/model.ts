import { invalidArgument } from "../core/errors.ts";
import { quaternionMatrix, Rng } from "../core/random.ts";
import { DEFAULT_CLASSES, type OrganelleClass, validateClasses } from "./classes.ts";
import {
  type EllipsoidSpec,
  ellipsoidLipschitz,
  ellipsoidSdf,
  type NoiseSpec,
  packEllipsoid,
  perpendicular,
  rotateAbout,
  type Vec3,
  vadd,
  vcross,
  vlen,
  vnorm,
  vscale,
  vsub,
} from "./geometry.ts";
import { SphereSet, tubeSpheres } from "./spheres.ts";

/*
 * The synthetic cell as data: every organelle with its parameters in world units (nm, z,y,x). The model is
 * built once from a seed and the physical size of the volume (never from the voxel size, so the same seed at
 * 5 nm and at 10 nm is the same cell), stored as JSON next to the images, and rendered block by block by
 * render.ts. Later analyses compare what they measure with these numbers.
 */

/** Membrane and lumen thicknesses (nm) the renderer draws and labels. */
export interface MembraneSpec {
  readonly plasma: number;
  readonly nuclear: number;
  readonly nuclearLumen: number;
  readonly mito: number;
  readonly mitoIntermembrane: number;
  readonly crista: number;
  readonly cristaLumen: number;
  readonly er: number;
  readonly golgi: number;
  readonly vesicle: number;
}

export const MEMBRANES: MembraneSpec = {
  plasma: 8,
  nuclear: 8,
  nuclearLumen: 30,
  mito: 7,
  mitoIntermembrane: 8,
  crista: 7,
  cristaLumen: 10,
  er: 7,
  golgi: 7,
  vesicle: 6,
};

export interface NucleusSpec extends EllipsoidSpec {
  readonly id: number;
  /** A denser, granular region inside the nucleus (texture only; labelled as nucleus). */
  readonly nucleolus: { readonly center: Vec3; readonly radius: number };
  readonly chromatinSeed: number;
}

export interface PoreSpec {
  readonly id: number;
  /** Middle of the envelope at the pore. */
  readonly center: Vec3;
  /** Unit normal of the envelope, pointing out of the nucleus. */
  readonly axis: Vec3;
  /** Diameter (nm) of the channel through both membranes. */
  readonly diameter: number;
}

/**
 * A clathrin-coated structure at the plasma membrane, or a caveola. Pits and caveolae are invaginations:
 * the cell surface is carved by a cavity (a sphere of `radius` centred `centerDepth` nm inside the surface
 * along `normal`, joined to the outside by a neck of radius `neckRadius` when it lies deeper than its
 * radius), lined by the plasma membrane and, for coated pits, a dense coat `coat` nm thick on the
 * cytoplasmic side. Coated vesicles are closed spheres of membrane and coat centred `centerDepth` nm inside.
 * The truth of ASEM's measurements is recorded with each: depth and width of the cavity (outer leaflet),
 * and for vesicles their distance to the plasma membrane.
 */
export interface PitSpec {
  readonly id: number;
  readonly kind: "pit" | "caveola" | "vesicle";
  /** Point of the (unperturbed) cell surface the structure is centred on. */
  readonly surface: Vec3;
  /** Unit normal of the cell surface there, pointing into the cell. */
  readonly normal: Vec3;
  /** Radius (nm) of the cavity's sphere (the vesicle's lumen). */
  readonly radius: number;
  /** Depth (nm) of the sphere's centre below the surface along `normal` (negative: above, a shallow cap). */
  readonly centerDepth: number;
  /** Radius (nm) of the neck joining a deep cavity to the outside; 0 for none. */
  readonly neckRadius: number;
  /** Coat thickness (nm) on the cytoplasmic side of the membrane; 0 for caveolae. */
  readonly coat: number;
  /** Invaginations: depth (nm) from the surface to the bottom of the cavity (centerDepth + radius). */
  readonly depth?: number;
  /** Invaginations: width (nm) of the cavity at half its depth, across the normal. */
  readonly width?: number;
  /** Invaginations: narrowest width (nm) of the cavity between the surface and its widest level. */
  readonly neck?: number;
  /** Vesicles: gap (nm) between the surface point and the outside of the coat, along the normal. */
  readonly distance?: number;
}

/** Parameters of the pore diameter distribution (nm): a normal cut to [min, max]. */
export interface PoreDiameterSpec {
  readonly mean: number;
  readonly sd: number;
  readonly min: number;
  readonly max: number;
}

export const DEFAULT_PORE_DIAMETER: PoreDiameterSpec = { mean: 95, sd: 12, min: 65, max: 130 };

/** Coated structures laid out when `ccp` is drawn and no count is given. */
export const DEFAULT_PIT_COUNT = 12;

export interface CristaSpec {
  /** Position (nm) along the mitochondrion's axis from its first point. */
  readonly position: number;
  /** Direction (radians, in the axis' transported frame) of the side the crista grows from. */
  readonly angle: number;
  /** How far (nm) it reaches across the matrix from that side (2 x matrix radius: a full septum). */
  readonly depth: number;
  /** Tilt of the lamella against the cross-section (axial nm per nm along frame axes 1 and 2). */
  readonly tilt: readonly [number, number];
}

export interface MitoSpec {
  readonly id: number;
  /** Polyline of the axis (nm); the mitochondrion is a tube of `radius` around it with rounded ends. */
  readonly points: readonly Vec3[];
  readonly radius: number;
  /** End-to-end length along the axis including the rounded ends (nm). */
  readonly length: number;
  readonly noise: NoiseSpec;
  readonly cristae: readonly CristaSpec[];
}

export interface TubeSpec {
  readonly points: readonly Vec3[];
  readonly radius: number;
}

/** A curved flat cisterna: a piece of a spherical shell, `thickness` thick, with a rounded rim. */
export interface CisternaSpec {
  readonly sphereCenter: Vec3;
  /** Unit vector from the sphere centre to the middle of the cisterna. */
  readonly axis: Vec3;
  readonly curvatureRadius: number;
  /** Angular radius (radians) of the cap; its arc radius is curvatureRadius x halfAngle. */
  readonly halfAngle: number;
  readonly thickness: number;
}

export interface ErSpec {
  readonly id: number;
  readonly kind: "network" | "sheets";
  readonly tubes: readonly TubeSpec[];
  readonly sheets: readonly CisternaSpec[];
}

export interface GolgiSpec {
  readonly id: number;
  readonly cisternae: readonly CisternaSpec[];
}

export interface VesicleSpec {
  readonly id: number;
  readonly center: Vec3;
  readonly radius: number;
  /** Grey value (0..255, before imaging) of the lumen: light, grey or dense-core. */
  readonly content: number;
  /** Id of the Golgi stack it buds from, if any. */
  readonly golgi?: number;
}

export interface LipidDropletSpec {
  readonly id: number;
  readonly center: Vec3;
  readonly radius: number;
}

export interface CellModel {
  readonly format: "organelle-synth-cell";
  readonly version: 1;
  readonly seed: number;
  /** Physical size (nm, z,y,x) of the volume the cell was laid out in; the volume starts at 0. */
  readonly extent: Vec3;
  /** Classes drawn and labelled (the layout is always that of the full cell; see `buildCellModel`). */
  readonly classes: readonly OrganelleClass[];
  readonly membranes: MembraneSpec;
  readonly cell: EllipsoidSpec;
  readonly nucleus: NucleusSpec | null;
  readonly pores: readonly PoreSpec[];
  readonly mitos: readonly MitoSpec[];
  readonly er: readonly ErSpec[];
  readonly golgi: readonly GolgiSpec[];
  readonly vesicles: readonly VesicleSpec[];
  readonly lipidDroplets: readonly LipidDropletSpec[];
  /** Coated pits, coated vesicles and caveolae; present only when the `ccp` class is drawn. */
  readonly pits?: readonly PitSpec[];
}

export interface CellParams {
  readonly seed: number;
  /** Physical size of the volume (nm, z,y,x). */
  readonly extent: Vec3;
  /** Classes to draw and label (default: DEFAULT_CLASSES). */
  readonly classes?: readonly OrganelleClass[];
  /** Pore diameters (default DEFAULT_PORE_DIAMETER). */
  readonly poreDiameter?: PoreDiameterSpec;
  /** Coated structures to lay out when `ccp` is drawn (default DEFAULT_PIT_COUNT). */
  readonly pits?: number;
}

/** Minimum clearance (nm) between different organelles, and to the plasma membrane and the nucleus. */
export const GAP = { organelle: 15, plasma: 50, nucleus: 60 } as const;

/** Organelle density targets per um^3 of cytoplasm (counts) or volume fractions. */
const DENSITY = {
  mitoFraction: 0.12,
  erNetworkFraction: 0.08,
  erSheetStacksPerUm3: 1 / 4,
  golgiPerUm3: 1 / 12,
  vesiclesPerUm3: 90,
  lipidDropletsPerUm3: 1 / 5,
  poresPerUm2: 8,
} as const;

/**
 * Lays out a cell. The layout is always that of the full cell, in a fixed order (nucleus, pores,
 * Golgi, mitochondria, ER sheets, lipid droplets, ER networks, vesicles) with rejection sampling so nothing overlaps;
 * classes that were not asked for are dropped afterwards. That way an organelle's position and id depend
 * only on the seed and the extent, not on which classes are drawn.
 */
export function buildCellModel(params: CellParams): CellModel {
  const extent = params.extent;
  if (!extent.every((e) => Number.isFinite(e) && e > 0)) {
    throw invalidArgument(`cell extent ${extent.join(",")} nm: every axis must be a positive number`);
  }
  if (!Number.isSafeInteger(params.seed)) {
    throw invalidArgument(`seed ${params.seed}: must be an integer`);
  }
  const classes = validateClasses(params.classes ?? DEFAULT_CLASSES);
  const poreDiameter = params.poreDiameter ?? DEFAULT_PORE_DIAMETER;
  checkPoreDiameter(poreDiameter);
  const layout = new Layout(params.seed, extent);
  const nucleus = layout.placeNucleus();
  const pores = layout.placePores(poreDiameter);
  const golgi = layout.placeGolgi();
  const mitos = layout.placeMitos();
  const erSheets = layout.placeErSheets();
  const lipidDroplets = layout.placeLipidDroplets();
  const erNetworks = layout.placeErNetworks(erSheets.length);
  const vesicles = layout.placeVesicles(golgi);
  const has = (c: OrganelleClass) => classes.includes(c);
  // Last, and only when drawn: nothing laid out before depends on them.
  const pitCount = params.pits ?? DEFAULT_PIT_COUNT;
  if (!(Number.isInteger(pitCount) && pitCount >= 0 && pitCount <= 10000)) {
    throw invalidArgument(`--pits ${pitCount}: must be a whole number within 0..10000`);
  }
  const pits = has("ccp") ? layout.placePits(pitCount) : undefined;
  return {
    format: "organelle-synth-cell",
    version: 1,
    seed: params.seed,
    extent: [...extent],
    classes,
    membranes: MEMBRANES,
    cell: layout.cell,
    nucleus: has("nucleus") ? nucleus : null,
    pores: has("nuclear_pore") ? pores : [],
    mitos: has("mito") ? mitos : [],
    er: has("er") ? [...erSheets, ...erNetworks] : [],
    golgi: has("golgi") ? golgi : [],
    vesicles: has("vesicle") ? vesicles : [],
    lipidDroplets: has("lipid_droplet") ? lipidDroplets : [],
    ...(pits ? { pits } : {}),
  };
}

function checkPoreDiameter(p: PoreDiameterSpec): void {
  const ok =
    [p.mean, p.sd, p.min, p.max].every(Number.isFinite) &&
    p.sd >= 0 &&
    p.min > 0 &&
    p.min <= p.mean &&
    p.mean <= p.max &&
    p.max <= 400;
  if (!ok) {
    throw invalidArgument(
      `--pore-diameter ${p.mean},${p.sd},${p.min},${p.max}: give MEAN,SD[,MIN,MAX] in nm with 0 < MIN <= MEAN <= MAX <= 400 and SD >= 0`,
    );
  }
}

/** Envelope thickness: two membranes and the lumen. */
export function envelopeWidth(m: MembraneSpec): number {
  return 2 * m.nuclear + m.nuclearLumen;
}

class Layout {
  readonly seed: number;
  readonly extent: Vec3;
  readonly cell: EllipsoidSpec;
  private readonly cellPacked: Float64Array;
  private readonly cellL: number;
  private nucleus: NucleusSpec | undefined;
  private nucleusPacked: Float64Array | undefined;
  private nucleusL = 1;
  private readonly spheres = new SphereSet();
  private nextOwner = 1;
  private cytoplasmUm3 = 0;

  constructor(seed: number, extent: Vec3) {
    this.seed = seed;
    this.extent = extent;
    const rng = Rng.derive(seed, "cell");
    const maxE = Math.max(...extent);
    const radii = extent.map((e) => 0.47 * Math.max(e, 0.75 * maxE) * rng.range(0.95, 1.03)) as Vec3;
    const center = extent.map((e) => e / 2 + rng.range(-0.02, 0.02) * e) as Vec3;
    const rmin = Math.min(...radii);
    this.cell = {
      center,
      radii,
      rotation: smallRotation(rng, 0.15),
      noise: { amplitude: 0.03 * rmin, wavelength: rmin, octaves: 2, seed: rng.next() },
    };
    this.cellPacked = packEllipsoid(this.cell);
    this.cellL = ellipsoidLipschitz(this.cell);
  }

  private rng(name: string): Rng {
    return Rng.derive(this.seed, name);
  }

  cellSdf(p: Vec3): number {
    return ellipsoidSdf(this.cellPacked, p[0], p[1], p[2]);
  }

  nucleusSdf(p: Vec3): number {
    return this.nucleusPacked ? ellipsoidSdf(this.nucleusPacked, p[0], p[1], p[2]) : Number.POSITIVE_INFINITY;
  }

  /** True when every sphere lies inside the cytoplasm with the required clearances and touches nothing. */
  private fits(spheres: readonly number[], owner: number): boolean {
    for (let i = 0; i < spheres.length; i += 4) {
      const p: Vec3 = [spheres[i]!, spheres[i + 1]!, spheres[i + 2]!];
      const r = spheres[i + 3]!;
      // f(p) < -L (r + gap) guarantees the true distance exceeds r + gap for an L-Lipschitz f.
      if (this.cellSdf(p) > -this.cellL * (r + GAP.plasma)) return false;
      if (this.nucleusPacked && this.nucleusSdf(p) < this.nucleusL * (r + GAP.nucleus)) return false;
    }
    return this.spheres.fits(spheres, owner, GAP.organelle);
  }

  /** A uniformly random point in the part of the cell's bounding box that lies in the volume. */
  private samplePoint(rng: Rng): Vec3 {
    const c = this.cell.center;
    const reach = Math.max(...this.cell.radii) * 1.1;
    const p = [0, 1, 2].map((d) => {
      const lo = Math.max(0, c[d]! - reach);
      const hi = Math.min(this.extent[d]!, c[d]! + reach);
      return rng.range(lo, hi);
    });
    return p as Vec3;
  }

  /** A point `min`..`min + spread` nm outside the nucleus' surface in a random direction. */
  private samplePointNearNucleus(rng: Rng, min: number, spread: number): Vec3 {
    if (!this.nucleus || !this.nucleusPacked) return this.samplePoint(rng);
    const dir = rng.direction();
    const surface = surfacePoint(this.nucleusPacked, this.nucleus, dir);
    return vadd(surface, vscale(dir, min + rng.range(0, spread)));
  }

  /**
   * The outward direction from the nucleus at `p`, tilted by up to `maxTilt` radians: stacked cisternae lie
   * roughly parallel to the nuclear envelope, as perinuclear ER sheets and Golgi stacks do, and so fit into
   * the shell of cytoplasm around it.
   */
  private radialAxis(rng: Rng, p: Vec3, maxTilt: number): Vec3 {
    const from = this.nucleus?.center ?? this.cell.center;
    const out = vnorm(vsub(p, from));
    return vnorm(rotateAbout(out, perpendicularRandom(out, rng), rng.range(0, maxTilt)));
  }

  placeNucleus(): NucleusSpec {
    const rng = this.rng("nucleus");
    const cellR = Math.min(...this.cell.radii);
    const radii = [0, 1, 2].map(() => 0.4 * cellR * rng.range(0.9, 1.1)) as Vec3;
    // Eccentric, as in most cells: leaves a thick side of cytoplasm where large organelles fit.
    const center = vadd(this.cell.center, vscale(rng.direction(), 0.3 * cellR));
    const rotation = rng.rotation();
    const noiseSeed = rng.next();
    const nucleolusDir = rng.direction();
    const chromatinSeed = rng.next();
    let scale = 1;
    for (let attempt = 0; attempt < 12; attempt++, scale *= 0.92) {
      const r = vscale(radii, scale) as Vec3;
      const rmin = Math.min(...r);
      const spec: NucleusSpec = {
        id: 1,
        center,
        radii: r,
        rotation,
        noise: { amplitude: 0.025 * rmin, wavelength: 0.8 * rmin, octaves: 2, seed: noiseSeed },
        nucleolus: { center: vadd(center, vscale(nucleolusDir, 0.3 * rmin)), radius: 0.28 * rmin },
        chromatinSeed,
      };
      const packed = packEllipsoid(spec);
      if (this.nucleusInsideCell(packed, spec, 0.15 * cellR)) {
        this.nucleus = spec;
        this.nucleusPacked = packed;
        this.nucleusL = ellipsoidLipschitz(spec);
        this.cytoplasmUm3 = this.estimateCytoplasm();
        return spec;
      }
    }
    throw new Error("synthetic cell: could not fit a nucleus into the cell");
  }

  private nucleusInsideCell(packed: Float64Array, spec: EllipsoidSpec, clearance: number): boolean {
    const rng = this.rng("nucleus-check");
    for (let i = 0; i < 600; i++) {
      const p = surfacePoint(packed, spec, rng.direction());
      if (this.cellSdf(p) > -this.cellL * clearance) return false;
    }
    return true;
  }

  private estimateCytoplasm(): number {
    const rng = this.rng("cytoplasm-volume");
    const n = 20000;
    let inside = 0;
    for (let i = 0; i < n; i++) {
      const p: Vec3 = [
        rng.range(0, this.extent[0]),
        rng.range(0, this.extent[1]),
        rng.range(0, this.extent[2]),
      ];
      if (this.cellSdf(p) < 0 && this.nucleusSdf(p) > 0) inside++;
    }
    return ((inside / n) * this.extent[0] * this.extent[1] * this.extent[2]) / 1e9;
  }

  placePores(dist: PoreDiameterSpec): PoreSpec[] {
    const nucleus = this.nucleus;
    const packed = this.nucleusPacked;
    if (!nucleus || !packed) return [];
    const rng = this.rng("pores");
    const area = ellipsoidArea(nucleus.radii) / 1e6;
    const target = Math.round(area * DENSITY.poresPerUm2);
    const w = envelopeWidth(MEMBRANES);
    const pores: PoreSpec[] = [];
    for (let attempt = 0; attempt < target * 30 && pores.length < target; attempt++) {
      const surface = surfacePoint(packed, nucleus, rng.direction());
      const axis = gradient(packed, surface);
      const center = vsub(surface, vscale(axis, w / 2));
      const diameter = rng.normalIn(dist.mean, dist.sd, dist.min, dist.max);
      const clear = pores.every(
        (p) => vlen(vsub(p.center, center)) > (p.diameter + diameter) / 2 + 2 * w + 120,
      );
      if (!clear) continue;
      if (!this.insideVolume(center, 0)) continue;
      pores.push({ id: pores.length + 1, center, axis, diameter });
    }
    return pores;
  }

  private insideVolume(p: Vec3, margin: number): boolean {
    return p.every((v, d) => v >= -margin && v <= this.extent[d]! + margin);
  }

  placeGolgi(): GolgiSpec[] {
    const rng = this.rng("golgi");
    const target = Math.max(1, Math.round(this.cytoplasmUm3 * DENSITY.golgiPerUm3));
    const stacks: GolgiSpec[] = [];
    const attempts = target * 200;
    for (let attempt = 0; attempt < attempts && stacks.length < target; attempt++) {
      const n = rng.int(3, 6);
      const thickness = rng.range(20, 30);
      const spacing = thickness + rng.range(18, 30);
      const extentNm = rng.range(250, 450) * shrinking(attempt, attempts);
      const R = rng.range(450, 900);
      // Juxtanuclear, as Golgi stacks usually are: just outside the nucleus' clearance.
      const apex = this.samplePointNearNucleus(rng, GAP.nucleus + (n * spacing) / 2 + 60, 350);
      const axis = this.radialAxis(rng, apex, 0.6);
      // The middle cisterna passes through `apex`; the convex side faces away from the sphere centre.
      const sphereCenter = vsub(apex, vscale(axis, R));
      const cisternae: CisternaSpec[] = [];
      for (let k = 0; k < n; k++) {
        const offset = (k - (n - 1) / 2) * spacing;
        const radius = R + offset;
        const taper = 1 - (0.3 * Math.abs(k - (n - 1) / 2)) / Math.max(1, (n - 1) / 2);
        const arc = extentNm * taper * rng.range(0.9, 1.1);
        cisternae.push({ sphereCenter, axis, curvatureRadius: radius, halfAngle: arc / radius, thickness });
      }
      const spheres = cisternae.flatMap((c) => cisternaSpheres(c));
      const owner = this.nextOwner;
      if (!this.fits(spheres, owner)) continue;
      this.commit(spheres);
      stacks.push({ id: stacks.length + 1, cisternae });
    }
    return stacks;
  }

  placeErSheets(): ErSpec[] {
    const rng = this.rng("er-sheets");
    const target = Math.max(1, Math.round(this.cytoplasmUm3 * DENSITY.erSheetStacksPerUm3));
    const stacks: ErSpec[] = [];
    const attempts = target * 400;
    for (let attempt = 0; attempt < attempts && stacks.length < target; attempt++) {
      // Stacks of two or three; a single sheet where a crowded cell leaves no room for a stack.
      const n = attempt < attempts / 2 ? rng.int(2, 3) : rng.int(1, 2);
      const thickness = rng.range(30, 50);
      const spacing = thickness + rng.range(40, 70);
      const extentNm = rng.range(200, 500) * shrinking(attempt, attempts);
      const R = rng.range(1500, 4000);
      // Half the stacks perinuclear, half anywhere in the cytoplasm.
      const apex =
        attempt % 2 === 0
          ? this.samplePointNearNucleus(rng, GAP.nucleus + (n * spacing) / 2 + 60, 300)
          : this.samplePoint(rng);
      const axis = this.radialAxis(rng, apex, 0.35);
      const sphereCenter = vsub(apex, vscale(axis, R));
      const sheets: CisternaSpec[] = [];
      for (let k = 0; k < n; k++) {
        const radius = R + (k - (n - 1) / 2) * spacing;
        const arc = extentNm * rng.range(0.8, 1.1);
        sheets.push({ sphereCenter, axis, curvatureRadius: radius, halfAngle: arc / radius, thickness });
      }
      const spheres = sheets.flatMap((c) => cisternaSpheres(c));
      if (!this.fits(spheres, this.nextOwner)) continue;
      this.commit(spheres);
      stacks.push({ id: stacks.length + 1, kind: "sheets", tubes: [], sheets });
    }
    return stacks;
  }

  placeMitos(): MitoSpec[] {
    const rng = this.rng("mito");
    const targetVolume = this.cytoplasmUm3 * DENSITY.mitoFraction * 1e9;
    const cellR = Math.min(...this.cell.radii);
    const mitos: MitoSpec[] = [];
    let volume = 0;
    // Attempts scale with the cell so big cells fill up as densely as small ones.
    const attempts = Math.max(1000, Math.round(40 * this.cytoplasmUm3));
    for (let attempt = 0; attempt < attempts && volume < targetVolume; attempt++) {
      const radius = 125 + rng.range(0, 75) * shrinking(attempt, attempts);
      const maxLength = Math.max(2 * radius + 100, Math.min(2000, 1.2 * cellR));
      const length = Math.max(2 * radius + 100, rng.range(500, maxLength) * shrinking(attempt, attempts));
      const axisLength = length - 2 * radius;
      const segments = axisLength < 300 ? 1 : rng.int(1, 3);
      let dir = rng.direction();
      const pts: Vec3[] = [[0, 0, 0]];
      for (let s = 0; s < segments; s++) {
        if (s > 0) dir = vnorm(rotateAbout(dir, perpendicularRandom(dir, rng), rng.range(0.15, 0.6)));
        pts.push(vadd(pts[pts.length - 1]!, vscale(dir, axisLength / segments)));
      }
      const mid = vscale(vadd(pts[0]!, pts[pts.length - 1]!), 0.5);
      const at = this.samplePoint(rng);
      const points = pts.map((p) => vadd(vsub(p, mid), at));
      const noise: NoiseSpec = { amplitude: 10, wavelength: 350, octaves: 1, seed: rng.next() };
      const spheres = tubeSpheres(points, radius + noise.amplitude);
      const cristae = makeCristae(rng, radius, axisLength);
      if (!this.fits(spheres, this.nextOwner)) continue;
      this.commit(spheres);
      mitos.push({ id: mitos.length + 1, points, radius, length, noise, cristae });
      volume += Math.PI * radius * radius * axisLength + (4 / 3) * Math.PI * radius ** 3;
    }
    return mitos;
  }

  placeLipidDroplets(): LipidDropletSpec[] {
    const rng = this.rng("lipid-droplets");
    const target = Math.max(1, Math.round(this.cytoplasmUm3 * DENSITY.lipidDropletsPerUm3));
    const droplets: LipidDropletSpec[] = [];
    for (let attempt = 0; attempt < target * 60 && droplets.length < target; attempt++) {
      const radius = rng.range(100, 220);
      const center = this.samplePoint(rng);
      const spheres = [...center, radius];
      if (!this.fits(spheres, this.nextOwner)) continue;
      this.commit(spheres);
      droplets.push({ id: droplets.length + 1, center, radius });
    }
    return droplets;
  }

  placeErNetworks(firstId: number): ErSpec[] {
    const rng = this.rng("er-networks");
    const targetVolume = this.cytoplasmUm3 * DENSITY.erNetworkFraction * 1e9;
    const networks: ErSpec[] = [];
    let volume = 0;
    const attempts = Math.max(4000, Math.round(200 * this.cytoplasmUm3));
    for (let attempt = 0; attempt < attempts && volume < targetVolume; attempt++) {
      const radius = rng.range(25, 30);
      const owner = this.nextOwner;
      const main = this.growTube(rng, this.samplePoint(rng), rng.direction(), radius, rng.int(8, 24), owner);
      if (!main) continue;
      const tubes: TubeSpec[] = [main];
      const branches = rng.int(1, 4);
      for (let b = 0; b < branches && main.points.length > 2; b++) {
        const from = main.points[rng.int(1, main.points.length - 2)]!;
        const branch = this.growTube(rng, from, rng.direction(), radius, rng.int(4, 14), owner);
        if (branch) tubes.push(branch);
      }
      this.nextOwner++;
      networks.push({ id: firstId + networks.length + 1, kind: "network", tubes, sheets: [] });
      for (const t of tubes) volume += Math.PI * radius * radius * polylineLength(t.points);
    }
    return networks;
  }

  /**
   * A persistent random walk from `start`, one step at a time, stopping at the first step that would come
   * too close to another organelle. Returns undefined when the tube stays shorter than 250 nm.
   */
  private growTube(
    rng: Rng,
    start: Vec3,
    direction: Vec3,
    radius: number,
    steps: number,
    owner: number,
  ): TubeSpec | undefined {
    const points: Vec3[] = [start];
    const accepted: number[] = [];
    let dir = direction;
    for (let s = 0; s < steps; s++) {
      dir = vnorm(vadd(dir, vscale(rng.direction(), 0.4)));
      const prev = points[points.length - 1]!;
      const next = vadd(prev, vscale(dir, rng.range(70, 110)));
      const spheres = tubeSpheres([prev, next], radius);
      if (!this.fits(spheres, owner)) break;
      points.push(next);
      accepted.push(...spheres);
    }
    if (points.length < 2 || polylineLength(points) < 250) return undefined;
    // Added under the network's owner: its later branches may touch this tube, nothing else may.
    this.spheres.add(accepted, owner);
    return { points, radius };
  }

  placeVesicles(golgi: readonly GolgiSpec[]): VesicleSpec[] {
    const rng = this.rng("vesicles");
    const vesicles: VesicleSpec[] = [];
    const content = () => {
      const u = rng.float();
      if (u < 0.65) return rng.range(175, 195);
      if (u < 0.85) return rng.range(135, 155);
      return rng.range(70, 95);
    };
    for (const stack of golgi) {
      const target = rng.int(6, 14);
      let placed = 0;
      for (let attempt = 0; attempt < target * 25 && placed < target; attempt++) {
        const c = stack.cisternae[rng.int(0, stack.cisternae.length - 1)]!;
        const radius = rng.range(20, 32);
        const beyond = (rng.range(25, 90) + radius) / c.curvatureRadius;
        const angle = c.halfAngle + beyond;
        const side = rotateAbout(perpendicular(c.axis), c.axis, rng.range(0, 2 * Math.PI));
        const dir = vadd(vscale(c.axis, Math.cos(angle)), vscale(side, Math.sin(angle)));
        const center = vadd(c.sphereCenter, vscale(dir, c.curvatureRadius + rng.range(-30, 30)));
        const spheres = [...center, radius];
        if (!this.fits(spheres, this.nextOwner)) continue;
        this.commit(spheres);
        vesicles.push({ id: vesicles.length + 1, center, radius, content: content(), golgi: stack.id });
        placed++;
      }
    }
    const target = Math.round(this.cytoplasmUm3 * DENSITY.vesiclesPerUm3);
    let free = 0;
    for (let attempt = 0; attempt < target * 20 && free < target; attempt++) {
      const radius = rng.range(20, 50);
      const center = this.samplePoint(rng);
      const spheres = [...center, radius];
      if (!this.fits(spheres, this.nextOwner)) continue;
      this.commit(spheres);
      vesicles.push({ id: vesicles.length + 1, center, radius, content: content() });
      free++;
    }
    return vesicles;
  }

  /**
   * Coated pits (deep with a neck, shallow caps), caveolae and coated vesicles (most within 400 nm of the
   * membrane, some deeper) around the cell surface, in a fixed cycle of kinds. Each keeps clear of the
   * organelles already placed and 400 nm of surface from the others, so a local fit of the membrane
   * around one sees no other.
   */
  placePits(count: number): PitSpec[] {
    const rng = this.rng("coated-pits");
    // The cytoplasm near the membrane is crowded, so most tries fail; each kind takes its turn and keeps
    // to its share: half pits (deep and shallow alternating), a sixth caveolae, the rest vesicles.
    const cycle = ["pit", "vesicle", "caveola", "pit", "vesicle", "pit"] as const;
    const quota = { pit: Math.round(count / 2), caveola: Math.round(count / 6), vesicle: 0 };
    quota.vesicle = count - quota.pit - quota.caveola;
    const placed = { pit: 0, caveola: 0, vesicle: 0 };
    const tpm = MEMBRANES.plasma;
    const pits: PitSpec[] = [];
    for (let attempt = 0; attempt < count * 600 && pits.length < count; attempt++) {
      const kind = cycle[attempt % cycle.length]!;
      if (placed[kind] >= quota[kind]) continue;
      const surface = surfacePoint(this.cellPacked, this.cell, rng.direction());
      const normal = vscale(gradient(this.cellPacked, surface), -1);
      let radius: number;
      let centerDepth: number;
      let neckRadius = 0;
      let coat = rng.range(18, 24);
      if (kind === "caveola") {
        radius = rng.range(28, 36);
        centerDepth = radius * rng.range(0.85, 1.05);
        neckRadius = rng.range(10, 14);
        coat = 0;
      } else if (kind === "vesicle") {
        radius = rng.range(35, 50);
        const far = rng.float() < 0.3;
        const gap = far ? rng.range(480, 700) : rng.range(60, 330);
        centerDepth = gap + radius + tpm + coat;
      } else if (placed.pit % 2 === 0) {
        // deep, with a neck
        radius = rng.range(50, 68);
        centerDepth = radius * rng.range(0.25, 1.2);
        neckRadius = rng.range(9, 20);
      } else {
        // shallow, open
        radius = rng.range(55, 75);
        centerDepth = -radius * rng.range(0.05, 0.45);
      }
      const shell = radius + tpm + coat;
      const center = vadd(surface, vscale(normal, centerDepth));
      // The whole structure and a ring of surface around it stay inside the volume.
      if (!this.insideVolume(surface, -250) || !this.insideVolume(center, -250)) continue;
      if (pits.some((q) => vlen(vsub(q.surface, surface)) < 400 || vlen(vsub(pitCenter(q), center)) < 300))
        continue;
      const spheres = [...center, shell];
      if (kind !== "vesicle" && centerDepth > 0)
        spheres.push(...vadd(surface, vscale(normal, centerDepth / 2)), shell);
      if (this.nucleusPacked && this.nucleusSdf(center) < this.nucleusL * (shell + GAP.nucleus)) continue;
      if (!this.spheres.fits(spheres, this.nextOwner, GAP.organelle)) continue;
      this.commit(spheres);
      placed[kind]++;
      const id = pits.length + 1;
      if (kind === "vesicle") {
        pits.push({
          id,
          kind,
          surface,
          normal,
          radius,
          centerDepth,
          neckRadius,
          coat,
          distance: centerDepth - shell,
        });
      } else {
        const depth = centerDepth + radius;
        const widthAt = (t: number) =>
          2 *
          Math.max(
            Math.sqrt(Math.max(0, radius ** 2 - (t - centerDepth) ** 2)),
            t <= centerDepth ? neckRadius : 0,
          );
        // Narrowest level between the surface and the widest one (the sphere's equator, or the mouth).
        let neck = widthAt(0);
        for (let t = 0; t <= Math.max(0, centerDepth); t += 0.5) neck = Math.min(neck, widthAt(t));
        pits.push({
          id,
          kind,
          surface,
          normal,
          radius,
          centerDepth,
          neckRadius,
          coat,
          depth,
          width: widthAt(depth / 2),
          neck,
        });
      }
    }
    return pits;
  }

  private commit(spheres: readonly number[]): void {
    this.spheres.add(spheres, this.nextOwner);
    this.nextOwner++;
  }
}

function makeCristae(rng: Rng, radius: number, axisLength: number): CristaSpec[] {
  const m = MEMBRANES;
  const matrix = radius - 2 * m.mito - m.mitoIntermembrane;
  const spacing = rng.range(55, 95);
  const from = -0.5 * matrix;
  const to = axisLength + 0.5 * matrix;
  const cristae: CristaSpec[] = [];
  for (let pos = from + rng.range(0, spacing); pos < to; pos += spacing) {
    const full = rng.float() < 0.35;
    cristae.push({
      position: pos + rng.range(-0.2, 0.2) * spacing,
      angle: rng.range(0, 2 * Math.PI),
      depth: (full ? 1 : rng.range(0.4, 0.9)) * 2 * matrix,
      tilt: tilt(rng),
    });
  }
  // Sorted by position so the renderer can find a point's nearest cristae by bisection.
  return cristae.sort((a, b) => a.position - b.position);
}

/** Largest slope (axial nm per nm across) of a crista against the cross-section: 45 degrees. */
export const CRISTA_MAX_TILT = 1;

/** Most cristae lie nearly across the tube; some lean strongly, so every cut through a mito shows some. */
function tilt(rng: Rng): [number, number] {
  const angle = rng.range(0, 2 * Math.PI);
  const slope = Math.min(CRISTA_MAX_TILT, Math.abs(rng.normal()) * (rng.float() < 0.3 ? 0.8 : 0.2));
  return [slope * Math.cos(angle), slope * Math.sin(angle)];
}

/** Spheres covering a cisterna: rings on the cap at most `step` apart, each sphere reaching `step` past it. */
export function cisternaSpheres(c: CisternaSpec, step = 60): number[] {
  const out: number[] = [];
  const R = c.curvatureRadius;
  const rs = c.thickness / 2 + step;
  const u = perpendicular(c.axis);
  const v = vcross(c.axis, u);
  const rings = Math.max(1, Math.ceil((c.halfAngle * R) / step));
  for (let i = 0; i <= rings; i++) {
    const theta = (c.halfAngle * i) / rings;
    const n = i === 0 ? 1 : Math.max(3, Math.ceil((2 * Math.PI * R * Math.sin(theta)) / step));
    for (let k = 0; k < n; k++) {
      const phi = (2 * Math.PI * k) / n;
      const d = vadd(
        vscale(c.axis, Math.cos(theta)),
        vscale(vadd(vscale(u, Math.cos(phi)), vscale(v, Math.sin(phi))), Math.sin(theta)),
      );
      const p = vadd(c.sphereCenter, vscale(d, R));
      out.push(p[0], p[1], p[2], rs);
    }
  }
  return out;
}

/**
 * Large organelles are tried at their drawn size first and smaller as attempts run out, so a crowded or
 * small cell still gets some (a physically plausible size, just from the lower end).
 */
function shrinking(attempt: number, attempts: number): number {
  return 1 - 0.5 * (attempt / attempts);
}

function perpendicularRandom(dir: Vec3, rng: Rng): Vec3 {
  return rotateAbout(perpendicular(dir), dir, rng.range(0, 2 * Math.PI));
}

function polylineLength(points: readonly Vec3[]): number {
  let l = 0;
  for (let i = 0; i + 1 < points.length; i++) l += vlen(vsub(points[i + 1]!, points[i]!));
  return l;
}

/** A rotation by at most `maxAngle` radians about a random axis. */
function smallRotation(rng: Rng, maxAngle: number): number[] {
  const axis = rng.direction();
  const half = rng.range(0, maxAngle) / 2;
  const s = Math.sin(half);
  return quaternionMatrix(Math.cos(half), axis[2] * s, axis[1] * s, axis[0] * s);
}

/** The point where the ray from the ellipsoid's centre along `dir` crosses its (perturbed) surface. */
function surfacePoint(packed: Float64Array, spec: EllipsoidSpec, dir: Vec3): Vec3 {
  const c = spec.center;
  let lo = 0;
  let hi = Math.max(...spec.radii) * 1.5 + spec.noise.amplitude * 2;
  const at = (t: number): Vec3 => vadd(c, vscale(dir, t));
  for (let i = 0; i < 50; i++) {
    const mid = (lo + hi) / 2;
    const p = at(mid);
    if (ellipsoidSdf(packed, p[0], p[1], p[2]) < 0) lo = mid;
    else hi = mid;
  }
  return at((lo + hi) / 2);
}

/** Centre of a coated structure's sphere. */
export function pitCenter(p: PitSpec): Vec3 {
  return vadd(p.surface, vscale(p.normal, p.centerDepth));
}

/** Unit outward normal of an ellipsoid's surface at p (central differences). */
function gradient(packed: Float64Array, p: Vec3): Vec3 {
  const h = 1;
  const g: Vec3 = [0, 0, 0];
  for (let d = 0; d < 3; d++) {
    const e: Vec3 = [d === 0 ? h : 0, d === 1 ? h : 0, d === 2 ? h : 0];
    const a = vadd(p, e);
    const b = vsub(p, e);
    g[d] = ellipsoidSdf(packed, a[0], a[1], a[2]) - ellipsoidSdf(packed, b[0], b[1], b[2]);
  }
  return vnorm(g);
}

/** Surface area of an ellipsoid (Knud Thomsen's approximation, within ~1 %). */
function ellipsoidArea(r: Vec3): number {
  const p = 1.6075;
  const [a, b, c] = r;
  return 4 * Math.PI * (((a * b) ** p + (a * c) ** p + (b * c) ** p) / 3) ** (1 / p);
}
