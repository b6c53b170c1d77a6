import { type Coordinate, coord } from "../core/coordinate.ts";
import { hashFast3 } from "../core/random.ts";
import type { VoxelBox } from "../core/roi.ts";
import { classIndex, type OrganelleClass } from "./classes.ts";
import type { Vec3 } from "./geometry.ts";
import { applyImaging, blurMargin, type ImagingParams } from "./imaging.ts";
import { CRISTA_MAX_TILT, envelopeWidth } from "./model.ts";
import { fbm3, valueNoise3 } from "./noise.ts";
import {
  KIND_CISTERNA,
  KIND_DROPLET,
  KIND_MITO,
  KIND_SPHERE,
  KIND_TUBE,
  MITO_LAYOUT,
  NECK_OUTSIDE,
  PIT,
  PIT_STRIDE,
  ROUGH_ER_SHELL,
  type Scene,
  tubeHit,
} from "./scene.ts";

/*
 * Renders a box of voxels of a compiled cell: the scene's electron density (what a FIB-SEM image shows
 * before the microscope's blur and noise), exact labels and the cell mask. Every value is a function of the
 * voxel's global index alone: shapes are analytic, textures are hashed from world positions, and tiles of
 * voxels skip only shapes that provably cannot reach them. So any block decomposition gives identical bytes.
 */

/** Grey levels (0 black .. 255 white) of the scene before imaging; FIB-SEM contrast as usually displayed. */
export const GREY = {
  resin: 222,
  cytoplasm: 138,
  ribosome: 62,
  membrane: 42,
  plasmaMembrane: 40,
  nucleoplasm: 146,
  heterochromatin: 96,
  nucleolus: 84,
  envelopeLumen: 136,
  pore: 100,
  mitoMatrix: 100,
  mitoIntermembrane: 132,
  cristaLumen: 125,
  erLumen: 150,
  golgiLumen: 144,
  droplet: 118,
  dropletRim: 80,
  coat: 50,
  coatedVesicleLumen: 160,
} as const;

/** Particles on jittered lattices (nm): free ribosomes, fine cytosolic granules, membrane-bound ribosomes. */
const RIBOSOME = { lattice: 36, radius: 11, probability: 0.45 } as const;
const GRANULE = { lattice: 16, radius: 5, probability: 0.7 } as const;
const ROUGH = { lattice: 30, radius: 10, probability: 0.6 } as const;
/** Heterochromatin lines the envelope up to this depth (nm), except at pores. */
const PERIPHERAL_CHROMATIN = 130;
const PORE_CHROMATIN_CLEARANCE = 80;
const TILE = 8;
const BIG = 1e30;

export interface RenderGrid {
  /** Voxel size (nm, z,y,x). */
  readonly voxelSize: Coordinate;
  /** World position (nm) of the corner of voxel (0,0,0); default 0. */
  readonly offset?: Coordinate;
}

export interface SceneBlock {
  readonly box: VoxelBox;
  /** Density (grey levels, float) of `box`. */
  readonly density: Float32Array;
  /** 0 outside any organelle, else 1 + index in ORGANELLE_CLASSES; per voxel of `box`. */
  readonly classCode: Uint8Array;
  /** Instance id within its class (0 where classCode is 0). */
  readonly instance: Uint32Array;
  /** 1 inside the cell. */
  readonly mask: Uint8Array;
}

export interface RenderedBlock {
  readonly box: VoxelBox;
  readonly raw: Uint8Array;
  readonly classCode: Uint8Array;
  readonly instance: Uint32Array;
  readonly mask: Uint8Array;
}

export interface RenderOptions {
  /** Skip shapes per tile of voxels (default true). Off only to test that skipping changes nothing. */
  readonly cull?: boolean;
}

/** Renders raw (with the imaging model), labels and mask of `box`. */
export function renderBlock(
  scene: Scene,
  grid: RenderGrid,
  imaging: ImagingParams,
  box: VoxelBox,
  options: RenderOptions = {},
): RenderedBlock {
  const margin = blurMargin(imaging, grid.voxelSize);
  const grown: VoxelBox = {
    begin: coord(box.begin[0] - margin[0], box.begin[1] - margin[1], box.begin[2] - margin[2]),
    shape: coord(box.shape[0] + 2 * margin[0], box.shape[1] + 2 * margin[1], box.shape[2] + 2 * margin[2]),
  };
  const s = renderScene(scene, grid, grown, box, options, densityScratch(grown));
  const raw = applyImaging(s.density, grown, box, grid, imaging);
  return { box, raw, classCode: s.classCode, instance: s.instance, mask: s.mask };
}

/** The instance labels of one class from a rendered block (into `out` when given). */
export function labelsOf(
  block: { classCode: Uint8Array; instance: Uint32Array },
  cls: OrganelleClass,
  out?: Uint32Array,
): Uint32Array {
  const code = classIndex(cls) + 1;
  const n = block.classCode.length;
  const labels = out && out.length === n ? out : new Uint32Array(n);
  const cc = block.classCode;
  const ids = block.instance;
  for (let i = 0; i < n; i++) labels[i] = cc[i] === code ? ids[i]! : 0;
  return labels;
}

/**
 * Evaluates the scene on `box` (density) and labels/mask on `labelBox` (inside `box`). Exported for the
 * tests and for previews without the imaging model.
 */
export function renderScene(
  scene: Scene,
  grid: RenderGrid,
  box: VoxelBox,
  labelBox: VoxelBox = box,
  options: RenderOptions = {},
  density?: Float32Array,
): SceneBlock {
  const n = box.shape[0] * box.shape[1] * box.shape[2];
  const out = density && density.length === n ? density : new Float32Array(n);
  return new SceneRenderer(scene, grid, box, labelBox, options.cull ?? true, out).run();
}

/** The density of a block is consumed by the imaging model right away: one buffer per thread serves all. */
let densityBuffer = new Float32Array(0);
function densityScratch(box: VoxelBox): Float32Array {
  const n = box.shape[0] * box.shape[1] * box.shape[2];
  if (densityBuffer.length < n) densityBuffer = new Float32Array(n);
  return densityBuffer.subarray(0, n);
}

/** Scratch buffers reused across blocks (one renderer runs at a time per thread). */
let candidateScratch = new Int32Array(1024);
let tileScratch = new Int32Array(1024);
let sdfScratch = new Float64Array(1024);
let poreScratch = new Int32Array(256);
let pitScratch = new Int32Array(64);

/**
 * One block's evaluation. Split into per-tile and per-voxel methods on purpose: small hot functions that V8
 * optimises separately, with the block's constants in fields.
 */
class SceneRenderer {
  private readonly scene: Scene;
  private readonly box: VoxelBox;
  private readonly labelBox: VoxelBox;
  private readonly cull: boolean;
  private readonly vs: Coordinate;
  private readonly origin: Coordinate;
  private readonly density: Float32Array;
  private readonly classCode: Uint8Array;
  private readonly instance: Uint32Array;
  private readonly mask: Uint8Array;
  private readonly aa: number;
  private readonly hw: number;
  private readonly invAa: number;
  private readonly codePm: number;
  private readonly codeNucleus: number;
  private readonly codeEnvelope: number;
  private readonly codePore: number;
  private readonly codeCcp: number;
  private readonly codeEr: number;
  private readonly nucleusId: number;
  private readonly tpm: number;
  private readonly tn: number;
  private readonly w: number;
  private readonly tMito: number;
  private readonly tEr: number;
  private readonly tGolgi: number;
  private readonly tVesicle: number;
  private readonly hasNucleus: boolean;
  private readonly nucleolus: { center: readonly number[]; radius: number } | undefined;
  private readonly chromatinSeed: number;
  private readonly grainSeed: number;
  private readonly riboSeed: number;
  private readonly roughSeed: number;
  private readonly wobbleSeed: number;
  private readonly nucleolusSeed: number;
  private readonly chromatinBand: number;
  private readonly poreReach: number;
  private readonly cands: Int32Array;
  private readonly nCands: number;
  private readonly tileCands: Int32Array;
  private readonly sArr: Float64Array;
  private readonly tilePores: Int32Array;
  private readonly tilePits: Int32Array;
  // Per-tile state.
  private nTile = 0;
  private nTilePores = 0;
  private nTilePits = 0;
  private cellIn = false;
  private nucFar = true;
  private nucDeep = false;
  // Per-voxel results besides the density.
  private code = 0;
  private id = 0;

  constructor(
    scene: Scene,
    grid: RenderGrid,
    box: VoxelBox,
    labelBox: VoxelBox,
    cull: boolean,
    density: Float32Array,
  ) {
    this.scene = scene;
    this.box = box;
    this.labelBox = labelBox;
    this.cull = cull;
    this.vs = grid.voxelSize;
    this.origin = grid.offset ?? coord(0, 0, 0);
    const model = scene.model;
    const m = model.membranes;
    const ln = labelBox.shape[0] * labelBox.shape[1] * labelBox.shape[2];
    this.density = density;
    this.classCode = new Uint8Array(ln);
    this.instance = new Uint32Array(ln);
    this.mask = new Uint8Array(ln);
    // Antialiasing: a membrane covers the fraction of a voxel-wide box filter that overlaps its band.
    this.aa = Math.cbrt(this.vs[0] * this.vs[1] * this.vs[2]);
    this.hw = this.aa / 2;
    this.invAa = 1 / this.aa;
    const code = (c: OrganelleClass) => (model.classes.includes(c) ? classIndex(c) + 1 : 0);
    this.codePm = code("plasma_membrane");
    this.codeNucleus = code("nucleus");
    this.codeEnvelope = code("nuclear_envelope");
    this.codePore = code("nuclear_pore");
    this.codeCcp = code("ccp");
    this.codeEr = classIndex("er") + 1;
    this.nucleusId = model.nucleus?.id ?? 0;
    this.tpm = m.plasma;
    this.tn = m.nuclear;
    this.w = envelopeWidth(m);
    this.tMito = m.mito;
    this.tEr = m.er;
    this.tGolgi = m.golgi;
    this.tVesicle = m.vesicle;
    this.hasNucleus = scene.nucleus !== undefined;
    this.nucleolus = model.nucleus?.nucleolus;
    this.chromatinSeed = (model.nucleus?.chromatinSeed ?? 0) >>> 0;
    const seed = (model.seed | 0) >>> 0;
    this.grainSeed = (seed ^ 0x1b873593) >>> 0;
    this.riboSeed = (seed ^ 0x2545f491) >>> 0;
    this.roughSeed = (seed ^ 0x6c8e9cf5) >>> 0;
    this.wobbleSeed = (seed ^ 0x3c6ef372) >>> 0;
    this.nucleolusSeed = (seed ^ 0x5851f42d) >>> 0;
    this.chromatinBand = this.w + PERIPHERAL_CHROMATIN + this.hw;
    const maxPoreRadius = model.pores.reduce((a, p) => Math.max(a, p.diameter / 2), 0);
    this.poreReach = Math.hypot(
      maxPoreRadius + this.w / 2 + PORE_CHROMATIN_CLEARANCE,
      this.w / 2 + this.chromatinBand + 60,
    );

    if (candidateScratch.length < scene.count) {
      candidateScratch = new Int32Array(scene.count);
      tileScratch = new Int32Array(scene.count);
      sdfScratch = new Float64Array(scene.count);
    }
    const nPores = scene.pores.length / 7;
    if (poreScratch.length < nPores) poreScratch = new Int32Array(nPores);
    this.cands = candidateScratch;
    this.tileCands = tileScratch;
    this.sArr = sdfScratch;
    this.tilePores = poreScratch;
    const nPits = scene.pits.length / PIT_STRIDE;
    if (pitScratch.length < nPits) pitScratch = new Int32Array(nPits);
    this.tilePits = pitScratch;
    const lo: Vec3 = [0, 1, 2].map((d) => this.origin[d]! + (box.begin[d]! + 0.5) * this.vs[d]!) as Vec3;
    const hi: Vec3 = [0, 1, 2].map(
      (d) => this.origin[d]! + (box.begin[d]! + box.shape[d]! - 0.5) * this.vs[d]!,
    ) as Vec3;
    this.nCands = scene.query(lo, hi, this.hw + 1, this.cands);
  }

  run(): SceneBlock {
    const [bz, by, bx] = this.box.begin;
    const [nz, ny, nx] = this.box.shape;
    // Tiles sit on a global grid, so the same voxels form the same tiles in every block.
    for (let tz = Math.floor(bz / TILE) * TILE; tz < bz + nz; tz += TILE) {
      for (let ty = Math.floor(by / TILE) * TILE; ty < by + ny; ty += TILE) {
        for (let tx = Math.floor(bx / TILE) * TILE; tx < bx + nx; tx += TILE) {
          this.tile(
            Math.max(tz, bz),
            Math.min(tz + TILE, bz + nz),
            Math.max(ty, by),
            Math.min(ty + TILE, by + ny),
            Math.max(tx, bx),
            Math.min(tx + TILE, bx + nx),
          );
        }
      }
    }
    return {
      box: this.box,
      density: this.density,
      classCode: this.classCode,
      instance: this.instance,
      mask: this.mask,
    };
  }

  /**
   * Decides what can reach a tile from its centre: shapes whose distance bound says they cannot are
   * skipped, the cell and nucleus are classified as far inside/outside where possible. Only skips that
   * cannot change any voxel are made, so the result equals evaluating everything.
   */
  private tile(z0: number, z1: number, y0: number, y1: number, x0: number, x1: number): void {
    const scene = this.scene;
    const [vz, vy, vx] = this.vs;
    const [oz, oy, ox] = this.origin;
    const hw = this.hw;
    const cz = oz + ((z0 + z1) / 2) * vz;
    const cy = oy + ((y0 + y1) / 2) * vy;
    const cx = ox + ((x0 + x1) / 2) * vx;
    const hz = ((z1 - z0 - 1) / 2) * vz;
    const hy = ((y1 - y0 - 1) / 2) * vy;
    const hx = ((x1 - x0 - 1) / 2) * vx;
    const hd = Math.sqrt(hz * hz + hy * hy + hx * hx);

    // Coated structures within reach of the tile: a pit carves the cell surface, so no tile near one
    // counts as deep inside the cell.
    let nTilePits = 0;
    const pits = scene.pits;
    for (let o = 0; o < pits.length; o += PIT_STRIDE) {
      const dz = cz - pits[o + PIT.ref]!;
      const dy = cy - pits[o + PIT.ref + 1]!;
      const dx = cx - pits[o + PIT.ref + 2]!;
      if (this.cull && Math.sqrt(dz * dz + dy * dy + dx * dx) - hd > pits[o + PIT.reach]! + hw + 1) continue;
      this.tilePits[nTilePits++] = o;
    }
    this.nTilePits = nTilePits;
    let cellOut = false;
    this.cellIn = false;
    this.nucFar = !this.hasNucleus;
    this.nucDeep = false;
    if (this.cull) {
      const sc0 = scene.cellSdf(cz, cy, cx);
      const reach = scene.cellLipschitz * hd;
      cellOut = sc0 - reach > hw;
      this.cellIn = nTilePits === 0 && sc0 + reach < -(this.tpm + hw);
      if (this.hasNucleus) {
        const sn0 = scene.nucleusSdf(cz, cy, cx);
        const nreach = scene.nucleusLipschitz * hd;
        this.nucFar = sn0 - nreach > Math.max(hw, ROUGH_ER_SHELL) + 1;
        this.nucDeep = sn0 + nreach < -this.chromatinBand - 1;
      }
    }
    const [bz, by, bx] = this.box.begin;
    const [, ny, nx] = this.box.shape;
    const density = this.density;
    if (cellOut) {
      for (let z = z0; z < z1; z++) {
        for (let y = y0; y < y1; y++) {
          const row = ((z - bz) * ny + (y - by)) * nx - bx;
          for (let x = x0; x < x1; x++) density[row + x] = GREY.resin;
        }
      }
      return;
    }
    let nTile = 0;
    if (!this.nucDeep) {
      const lips = scene.lipschitz;
      const reach = scene.reach;
      for (let k = 0; k < this.nCands; k++) {
        const i = this.cands[k]!;
        if (this.cull && scene.sdf(i, cz, cy, cx) - lips[i]! * hd > reach[i]! + hw + 1) continue;
        this.tileCands[nTile++] = i;
      }
    }
    this.nTile = nTile;
    let nTilePores = 0;
    if (!this.nucFar && !this.nucDeep) {
      const pores = scene.pores;
      const nPores = pores.length / 7;
      for (let p = 0; p < nPores; p++) {
        const o = p * 7;
        const dz = cz - pores[o]!;
        const dy = cy - pores[o + 1]!;
        const dx = cx - pores[o + 2]!;
        if (this.cull && Math.sqrt(dz * dz + dy * dy + dx * dx) - hd > this.poreReach) continue;
        this.tilePores[nTilePores++] = p;
      }
    }
    this.nTilePores = nTilePores;

    const [lbz, lby, lbx] = this.labelBox.begin;
    const [lnz, lny, lnx] = this.labelBox.shape;
    for (let z = z0; z < z1; z++) {
      const pz = oz + (z + 0.5) * vz;
      const lz = z - lbz;
      const zIn = lz >= 0 && lz < lnz;
      for (let y = y0; y < y1; y++) {
        const py = oy + (y + 0.5) * vy;
        const ly = y - lby;
        const yzIn = zIn && ly >= 0 && ly < lny;
        const row = ((z - bz) * ny + (y - by)) * nx - bx;
        const lrow = (lz * lny + ly) * lnx - lbx;
        for (let x = x0; x < x1; x++) {
          const px = ox + (x + 0.5) * vx;
          this.code = -1;
          density[row + x] = this.voxel(pz, py, px);
          const lx = x - lbx;
          if (yzIn && lx >= 0 && lx < lnx && this.code >= 0) {
            const li = lrow + x;
            this.mask[li] = 1;
            if (this.code > 0) {
              this.classCode[li] = this.code;
              this.instance[li] = this.id;
            }
          }
        }
      }
    }
  }

  /** Density at a world point; sets `code` (-1 outside the cell, 0 unlabelled, else class code) and `id`. */
  private voxel(pz: number, py: number, px: number): number {
    const scene = this.scene;
    const hw = this.hw;
    const invAa = this.invAa;
    let sc = this.cellIn ? -BIG : scene.cellSdf(pz, py, px);
    if (this.nTilePits > 0) sc = this.carve(sc, pz, py, px);
    else this.pitHit = -1;
    if (sc >= 0) {
      let d: number = GREY.resin;
      if (sc < hw) d += (GREY.plasmaMembrane - d) * band(sc, -this.tpm, 0, hw, invAa);
      return d;
    }
    this.code = 0;
    this.id = 0;
    const w = this.w;
    const sn = this.nucFar ? BIG : this.nucDeep ? -BIG : scene.nucleusSdf(pz, py, px);

    // Nuclear pores: the nearest pore's lateral distance and, inside its rim, the torus that joins the two
    // membranes around the channel.
    let rho = BIG;
    let poreIdx = -1;
    const pores = scene.pores;
    if (this.nTilePores > 0 && sn < hw && sn > -this.chromatinBand) {
      const poreReach2 = this.poreReach * this.poreReach;
      for (let k = 0; k < this.nTilePores; k++) {
        const o = this.tilePores[k]! * 7;
        const dz = pz - pores[o]!;
        const dy = py - pores[o + 1]!;
        const dx = px - pores[o + 2]!;
        const d2 = dz * dz + dy * dy + dx * dx;
        // Only pores within reach count: the axis line of a pore across the nucleus passes near too.
        if (d2 > poreReach2) continue;
        const along = dz * pores[o + 3]! + dy * pores[o + 4]! + dx * pores[o + 5]!;
        const r2 = d2 - along * along;
        const r = r2 > 0 ? Math.sqrt(r2) : 0;
        if (r < rho) {
          rho = r;
          poreIdx = this.tilePores[k]!;
        }
      }
    }
    const rimRadius = poreIdx >= 0 ? pores[poreIdx * 7 + 6]! + w / 2 : 0;
    const inPoreZone = poreIdx >= 0 && rho < rimRadius;
    let torus = BIG;
    if (inPoreZone) {
      const h = sn + w / 2;
      torus = Math.sqrt((rho - rimRadius) * (rho - rimRadius) + h * h) - w / 2;
    }

    // 0 cytoplasm, 1 nucleoplasm, 2 envelope, 3 pore channel
    let region = 0;
    if (sn < 0) {
      if (sn <= -w) region = 1;
      else if (!inPoreZone || torus < 0) region = 2;
      else if (rho < rimRadius - w / 2 && Math.abs(sn + w / 2) < w / 2) region = 3;
      else region = sn + w / 2 < 0 ? 1 : 0;
    }

    let d: number;
    if (region === 0) {
      d = this.cytoplasmic(pz, py, px, sn);
    } else if (region === 1) {
      this.code = this.codeNucleus;
      this.id = this.nucleusId;
      let poreClear = 1;
      if (poreIdx >= 0 && rho < rimRadius + PORE_CHROMATIN_CLEARANCE) {
        poreClear = Math.max(0, (rho - rimRadius) / PORE_CHROMATIN_CLEARANCE);
      }
      d = nucleoplasm(pz, py, px, sn, w, poreClear, this.chromatinSeed, this.grainSeed, this.aa);
      const nucleolus = this.nucleolus;
      if (nucleolus) {
        const qz = pz - nucleolus.center[0]!;
        const qy = py - nucleolus.center[1]!;
        const qx = px - nucleolus.center[2]!;
        let dn = Math.sqrt(qz * qz + qy * qy + qx * qx) - nucleolus.radius;
        // The wavy outline only matters within its amplitude of the sphere.
        if (dn < 30 + hw) dn += 30 * valueNoise3(pz / 120, py / 120, px / 120, this.nucleolusSeed);
        if (dn < hw) {
          const f = dn <= -hw ? 1 : 0.5 - dn * invAa;
          const v = GREY.nucleolus + 40 - 70 * particles(pz, py, px, GRANULE, this.nucleolusSeed, this.aa);
          d += (v - d) * f;
        }
      }
    } else if (region === 2) {
      this.code = this.codeEnvelope;
      this.id = this.nucleusId;
      d = GREY.envelopeLumen;
    } else {
      this.code = this.codePore;
      this.id = this.codePore ? scene.poreIds[poreIdx]! : 0;
      d = GREY.pore + 10 - 30 * particles(pz, py, px, GRANULE, this.grainSeed, this.aa);
    }

    // Nuclear membranes: flat bands, or the torus around a pore.
    if (sn < hw && sn > -w - hw) {
      if (inPoreZone) {
        if (torus < hw) d += (GREY.membrane - d) * band(torus, -this.tn, 0, hw, invAa);
      } else {
        d += (GREY.membrane - d) * band(sn, -this.tn, 0, hw, invAa);
        d += (GREY.membrane - d) * band(sn, -w, -w + this.tn, hw, invAa);
      }
    }
    // Plasma membrane.
    if (sc > -this.tpm - hw) {
      d += (GREY.plasmaMembrane - d) * band(sc, -this.tpm, 0, hw, invAa);
      if (sc > -this.tpm && this.code === 0 && this.codePm !== 0) {
        this.code = this.codePm;
        this.id = 1;
      }
    }
    if (this.pitHit >= 0) d = this.coated(d);
    return d;
  }

  // Nearest coated structure of the last carve(): record offset (-1 none) and signed distance to its
  // cavity (invaginations) or lumen (vesicles).
  private pitHit = -1;
  private pitDist = BIG;

  /** The cell's signed distance with the cavities of the tile's invaginations cut out. */
  private carve(sc: number, pz: number, py: number, px: number): number {
    const pits = this.scene.pits;
    this.pitHit = -1;
    this.pitDist = BIG;
    let out = sc;
    for (let k = 0; k < this.nTilePits; k++) {
      const o = this.tilePits[k]!;
      const r = pits[o + PIT.radius]!;
      const c = pits[o + PIT.centerDepth]!;
      let dist: number;
      if (pits[o + PIT.vesicle]! > 0) {
        const dz = pz - pits[o + PIT.ref]!;
        const dy = py - pits[o + PIT.ref + 1]!;
        const dx = px - pits[o + PIT.ref + 2]!;
        dist = Math.sqrt(dz * dz + dy * dy + dx * dx) - r;
      } else {
        const qz = pz - pits[o]!;
        const qy = py - pits[o + 1]!;
        const qx = px - pits[o + 2]!;
        const along = qz * pits[o + 3]! + qy * pits[o + 4]! + qx * pits[o + 5]!;
        const rad2 = Math.max(0, qz * qz + qy * qy + qx * qx - along * along);
        dist = Math.sqrt(rad2 + (along - c) * (along - c)) - r;
        const rn = pits[o + PIT.neck]!;
        if (rn > 0 && c > 0) {
          // Capped cylinder from NECK_OUTSIDE nm outside the surface down to the sphere's centre.
          const ex = Math.sqrt(rad2) - rn;
          const ey = Math.abs(along - (c - NECK_OUTSIDE) / 2) - (c + NECK_OUTSIDE) / 2;
          const cyl = Math.min(Math.max(ex, ey), 0) + Math.hypot(Math.max(ex, 0), Math.max(ey, 0));
          if (cyl < dist) dist = cyl;
        }
        if (-dist > out) out = -dist;
      }
      if (dist < this.pitDist) {
        this.pitDist = dist;
        this.pitHit = o;
      }
    }
    return out;
  }

  /** Inside the cell near a coated structure: its coat (and a vesicle's lumen and membrane), and labels. */
  private coated(d: number): number {
    const pits = this.scene.pits;
    const o = this.pitHit;
    const s = this.pitDist;
    const hw = this.hw;
    const invAa = this.invAa;
    const tpm = this.tpm;
    const coat = pits[o + PIT.coat]!;
    let out = d;
    if (pits[o + PIT.vesicle]! > 0) {
      if (s < hw) out += (GREY.coatedVesicleLumen - out) * band(s, -BIG, 0, hw, invAa);
      out += (GREY.plasmaMembrane - out) * band(s, 0, tpm, hw, invAa);
    }
    if (coat > 0) out += (GREY.coat - out) * band(s, tpm, tpm + coat, hw, invAa);
    if (this.codeCcp !== 0 && s >= 0 && s < tpm + coat && (this.code === 0 || this.code === this.codePm)) {
      this.code = this.codeCcp;
      this.id = pits[o + PIT.id]!;
    }
    return out;
  }

  /** Cytoplasm and the organelles in it. */
  private cytoplasmic(pz: number, py: number, px: number, sn: number): number {
    const scene = this.scene;
    const tileCands = this.tileCands;
    const sArr = this.sArr;
    const nTile = this.nTile;
    const hw = this.hw;
    const invAa = this.invAa;
    let inside = -1;
    let hitSeg = 0;
    let hitT = 0;
    for (let k = 0; k < nTile; k++) {
      const s = scene.sdf(tileCands[k]!, pz, py, px);
      sArr[k] = s;
      if (s < 0 && inside < 0) {
        inside = k;
        hitSeg = tubeHit[0]!;
        hitT = tubeHit[1]!;
      }
    }
    const kinds = scene.kind;
    const cls = scene.cls;
    let d: number;
    if (inside >= 0) {
      const i = tileCands[inside]!;
      const s = sArr[inside]!;
      this.code = cls[i]!;
      this.id = scene.instance[i]!;
      const o = scene.offset[i]!;
      switch (kinds[i]) {
        case KIND_MITO:
          d = this.mito(o, s, hitSeg, hitT, pz, py, px);
          break;
        case KIND_TUBE:
          d = GREY.erLumen;
          break;
        case KIND_CISTERNA:
          d = this.code === this.codeEr ? GREY.erLumen : GREY.golgiLumen;
          break;
        case KIND_SPHERE:
          d = scene.params[o + 4]!;
          break;
        default:
          d = GREY.droplet;
      }
    } else {
      d = cytoplasm(pz, py, px, this.grainSeed, this.riboSeed, this.aa);
      for (let k = 0; k < nTile; k++) {
        const i = tileCands[k]!;
        const s = sArr[k]!;
        if (kinds[i] === KIND_CISTERNA && cls[i] === this.codeEr && s > 0 && s < ROUGH_ER_SHELL) {
          d = roughRibosomes(d, pz, py, px, this.roughSeed, this.aa);
        }
      }
      if (sn > 0 && sn < ROUGH_ER_SHELL) d = roughRibosomes(d, pz, py, px, this.roughSeed, this.aa);
    }
    // Outer membranes (also their antialiased edge just outside the shape).
    for (let k = 0; k < nTile; k++) {
      const s = sArr[k]!;
      if (s >= hw) continue;
      const i = tileCands[k]!;
      const kind = kinds[i];
      if (kind === KIND_DROPLET) {
        if (s > -3 - hw) d += (GREY.dropletRim - d) * band(s, -3, 0, hw, invAa);
        continue;
      }
      const t =
        kind === KIND_SPHERE
          ? this.tVesicle
          : kind === KIND_MITO
            ? this.tMito
            : cls[i] === this.codeEr
              ? this.tEr
              : this.tGolgi;
      if (s > -t - hw) d += (GREY.membrane - d) * band(s, -t, 0, hw, invAa);
    }
    return d;
  }

  /**
   * Inside a mitochondrion: intermembrane space, inner membrane, matrix and lamellar cristae (thin sacs
   * across the tube, each reaching from one side of the inner membrane, slightly tilted and wavy).
   */
  private mito(o: number, s: number, seg: number, t: number, z: number, y: number, x: number): number {
    const p = this.scene.params;
    const m = this.scene.model.membranes;
    const hw = this.hw;
    const invAa = this.invAa;
    const innerOuter = -(m.mito + m.mitoIntermembrane);
    const innerInner = innerOuter - m.mito;
    let d: number;
    if (s > innerOuter) {
      d = GREY.mitoIntermembrane;
    } else {
      d = GREY.mitoMatrix + 6 - 25 * particles(z, y, x, GRANULE, (this.grainSeed ^ 0x77) >>> 0, this.aa);
      const nSeg = p[o]!;
      const radius = p[o + 1]!;
      const matrixRadius = radius + innerInner;
      const cb = o + 5 + nSeg * MITO_LAYOUT.SEG;
      const nCristae = p[cb]!;
      if (nCristae > 0) {
        const arc = p[seg + 7]! + t;
        const qz = z - (p[seg]! + t * p[seg + 3]!);
        const qy = y - (p[seg + 1]! + t * p[seg + 4]!);
        const qx = x - (p[seg + 2]! + t * p[seg + 5]!);
        const q1 = qz * p[seg + 8]! + qy * p[seg + 9]! + qx * p[seg + 10]!;
        const q2 = qz * p[seg + 11]! + qy * p[seg + 12]! + qx * p[seg + 13]!;
        const wobble = 6 * valueNoise3(z / 90, y / 90, x / 90, this.wobbleSeed);
        const half = m.crista + m.cristaLumen / 2;
        // Tilt moves a crista along the axis by at most CRISTA_MAX_TILT x the distance from the axis.
        const reachAxial = half + CRISTA_MAX_TILT * radius + 8 + hw;
        // First crista whose position may reach this point (positions are sorted).
        let lo = 0;
        let hi = nCristae;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (p[cb + 1 + mid * MITO_LAYOUT.CRISTA]! < arc - reachAxial) lo = mid + 1;
          else hi = mid;
        }
        let cmin = BIG;
        for (let k = lo; k < nCristae; k++) {
          const r = cb + 1 + k * MITO_LAYOUT.CRISTA;
          const pos = p[r]!;
          if (pos > arc + reachAxial) break;
          const axial = arc - pos - (p[r + 4]! * q1 + p[r + 5]! * q2) + wobble;
          const proj = q1 * p[r + 1]! + q2 * p[r + 2]!;
          const edge = matrixRadius - p[r + 3]! - proj;
          const a = Math.abs(axial) - half;
          const c = Math.max(a, edge);
          if (c < cmin) cmin = c;
        }
        if (cmin < -m.crista) d = GREY.cristaLumen;
        if (cmin < hw) d += (GREY.membrane - d) * band(cmin, -m.crista, 0, hw, invAa);
      }
    }
    if (s < innerOuter + hw && s > innerInner - hw) {
      d += (GREY.membrane - d) * band(s, innerInner, innerOuter, hw, invAa);
    }
    return d;
  }
}

/** Fraction of the box filter [s - hw, s + hw] that overlaps the band [lo, hi]. */
function band(s: number, lo: number, hi: number, hw: number, invAa: number): number {
  const a = Math.max(s - hw, lo);
  const b = Math.min(s + hw, hi);
  return b > a ? (b - a) * invAa : 0;
}

/** Cytosol: fine granules and free ribosomes, each on a jittered lattice in world units. */
function cytoplasm(z: number, y: number, x: number, grainSeed: number, riboSeed: number, aa: number): number {
  let d = GREY.cytoplasm + 18 - 60 * particles(z, y, x, GRANULE, grainSeed, aa);
  const r = particles(z, y, x, RIBOSOME, riboSeed, aa);
  if (r > 0) d += (GREY.ribosome - d) * r;
  return d;
}

/**
 * Coverage (0..1, times a per-particle strength of 0.55..1) of the point by a particle of a jittered
 * lattice: at most one particle per lattice cell, kept inside its cell so only that cell is consulted.
 */
function particles(
  z: number,
  y: number,
  x: number,
  kind: { lattice: number; radius: number; probability: number },
  seed: number,
  aa: number,
): number {
  const g = kind.lattice;
  const r = kind.radius;
  const iz = Math.floor(z / g);
  const iy = Math.floor(y / g);
  const ix = Math.floor(x / g);
  const h = hashFast3(iz, iy, ix, seed);
  if ((h & 255) >= kind.probability * 256) return 0;
  const span = (g - 2 * r) / 127;
  const cz = iz * g + r + ((h >>> 8) & 127) * span;
  const cy = iy * g + r + ((h >>> 15) & 127) * span;
  const cx = ix * g + r + ((h >>> 22) & 127) * span;
  const dz = z - cz;
  const dy = y - cy;
  const dx = x - cx;
  const f = (r - Math.sqrt(dz * dz + dy * dy + dx * dx)) / aa + 0.5;
  if (f <= 0) return 0;
  return Math.min(f, 1) * (0.55 + ((h >>> 29) & 7) / 16);
}

/** Membrane-bound ribosomes (rough ER, outer nuclear membrane): a denser lattice, drawn in a shell. */
function roughRibosomes(d: number, z: number, y: number, x: number, seed: number, aa: number): number {
  const r = particles(z, y, x, ROUGH, seed, aa);
  return r > 0 ? d + (GREY.ribosome - d) * r : d;
}

/** Nucleoplasm with heterochromatin: soft irregular clumps, and a rim along the envelope broken at pores. */
function nucleoplasm(
  z: number,
  y: number,
  x: number,
  sn: number,
  w: number,
  poreClear: number,
  chromatinSeed: number,
  grainSeed: number,
  aa: number,
): number {
  const grain = 16 - 55 * particles(z, y, x, GRANULE, (grainSeed ^ 0x51ed27) >>> 0, aa);
  // Rotated coordinates keep the lattice of the value noise from lining up with the image axes.
  const u = (0.8 * z + 0.36 * y - 0.48 * x) / 260;
  const v = (-0.48 * z + 0.8 * y - 0.36 * x) / 260;
  const t = (0.36 * z + 0.48 * y + 0.8 * x) / 260;
  const blotch = fbm3(u, v, t, chromatinSeed, 2);
  const depth = -sn - w;
  const rim = depth < PERIPHERAL_CHROMATIN ? (1 - depth / PERIPHERAL_CHROMATIN) * poreClear : 0;
  const c = (blotch + 0.9 * rim - 0.28) / 0.3;
  const f = c <= 0 ? 0 : c >= 1 ? 1 : c * c * (3 - 2 * c);
  return GREY.nucleoplasm + grain + (GREY.heterochromatin - GREY.nucleoplasm) * f;
}
