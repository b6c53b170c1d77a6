/*
 * What a slice view draws is a stack of SliceLayers, bottom first. A layer draws itself from whatever the
 * tile source already holds and reports the tiles it still needs; the view requests them and redraws on
 * arrival. Image arrays, ROI boxes and the crosshair are layers; the annotator's paint layer (issue 8) is
 * another implementation of the same interface.
 */
import type { ArrayInfo, RoiInfo, Vec3 } from "../api.ts";
import { Lru } from "../data/lru.ts";
import { planeDims } from "../data/protocol.ts";
import type { TileRequest, TileSource } from "../data/tile-source.ts";
import { tileKey } from "../data/tile-source.ts";
import { colorize, type LayerStyle, styleKey } from "./colorize.ts";
import { chooseLevel, type ViewGeometry, voxelIndex, worldToScreen } from "./geometry.ts";

export interface DrawContext {
  ctx: CanvasRenderingContext2D;
  geometry: ViewGeometry;
  source: TileSource;
  /** Ask for a tile that is not in the source yet. */
  need: (r: Omit<TileRequest, "signal">) => void;
}

export interface SliceLayer {
  readonly id: string;
  draw(dc: DrawContext): void;
  /** The layer's value under a world point, when it has one (label ids for the hover read-out). */
  valueAt?(source: TileSource, geometry: ViewGeometry, world: Vec3): number | undefined;
}

export interface ImageLayerState {
  array: ArrayInfo;
  visible: boolean;
  opacity: number;
  style: LayerStyle;
}

const colored = new Lru<string, HTMLCanvasElement>(600);

/** A zarr array drawn through its pyramid, chunk tiles at the level the zoom asks for. */
export class ImageSliceLayer implements SliceLayer {
  readonly id: string;
  constructor(readonly state: ImageLayerState) {
    this.id = state.array.path;
  }

  private visibleTiles(g: ViewGeometry, level: number): Omit<TileRequest, "signal">[] {
    const a = this.state.array;
    const s = a.scales[level]!;
    const [rd, cd] = planeDims(g.axis);
    const index = voxelIndex(a, level, g.axis, g.position[g.axis]);
    if (index < 0 || index >= s.shape[g.axis]) return [];
    const range = (d: 0 | 1 | 2, half: number): [number, number] => {
      const lo = voxelIndex(a, level, d, g.position[d] - half * g.scale);
      const hi = voxelIndex(a, level, d, g.position[d] + half * g.scale);
      const c = s.chunks[d];
      return [Math.max(0, Math.floor(lo / c)), Math.min(Math.ceil(s.shape[d] / c) - 1, Math.floor(hi / c))];
    };
    const [r0, r1] = range(rd, g.height / 2);
    const [c0, c1] = range(cd, g.width / 2);
    const out: Omit<TileRequest, "signal">[] = [];
    for (let row = r0; row <= r1; row++) {
      for (let col = c0; col <= c1; col++) out.push({ array: a, axis: g.axis, index, level, row, col });
    }
    return out;
  }

  draw(dc: DrawContext): void {
    const { ctx, geometry: g, source } = dc;
    const level = chooseLevel(this.state.array, g);
    const tiles = this.visibleTiles(g, level);
    const missing = tiles.filter((req) => !source.peekTile(req));
    ctx.save();
    ctx.globalAlpha = this.state.opacity;
    ctx.imageSmoothingEnabled = false;
    if (missing.length) {
      for (const req of missing) dc.need(req);
      // While the new level loads, whatever coarser level is cached stands in (coarsest first, so the
      // finer ones paint over it) instead of black.
      for (let l = this.state.array.scales.length - 1; l > level; l--)
        this.drawTiles(dc, this.visibleTiles(g, l));
    }
    this.drawTiles(dc, tiles);
    ctx.restore();
  }

  private drawTiles(dc: DrawContext, requests: Omit<TileRequest, "signal">[]): void {
    const { ctx, geometry: g, source } = dc;
    const a = this.state.array;
    const sk = styleKey(this.state.style);
    const [rd, cd] = planeDims(g.axis);
    for (const req of requests) {
      const tile = source.peekTile(req);
      if (!tile) continue;
      if (tile.validRows <= 0 || tile.validCols <= 0) continue;
      const key = `${tileKey(req)}|${sk}`;
      let canvas = colored.get(key);
      if (!canvas) {
        canvas = document.createElement("canvas");
        canvas.width = tile.validCols;
        canvas.height = tile.validRows;
        canvas.getContext("2d")!.putImageData(colorize(tile, this.state.style), 0, 0);
        colored.set(key, canvas);
      }
      const vs = a.scales[req.level]!.voxelSize;
      const corner: Vec3 = [0, 0, 0];
      corner[rd] = a.offset[rd] + tile.row0 * vs[rd];
      corner[cd] = a.offset[cd] + tile.col0 * vs[cd];
      const [x, y] = worldToScreen(g, corner);
      // Whole-pixel edges so neighbouring tiles meet without hairline seams.
      const x0 = Math.round(x);
      const y0 = Math.round(y);
      const x1 = Math.round(x + (tile.validCols * vs[cd]) / g.scale);
      const y1 = Math.round(y + (tile.validRows * vs[rd]) / g.scale);
      ctx.drawImage(canvas, x0, y0, x1 - x0, y1 - y0);
    }
  }

  valueAt(source: TileSource, g: ViewGeometry, world: Vec3): number | undefined {
    const a = this.state.array;
    const level = chooseLevel(a, g);
    const s = a.scales[level]!;
    const [rd, cd] = planeDims(g.axis);
    const v = [0, 1, 2].map((d) => voxelIndex(a, level, d as 0 | 1 | 2, world[d]!));
    if (v.some((x, d) => x < 0 || x >= s.shape[d]!)) return undefined;
    const row = Math.floor(v[rd]! / s.chunks[rd]);
    const col = Math.floor(v[cd]! / s.chunks[cd]);
    const tile = source.peekTile({ array: a, axis: g.axis, index: v[g.axis]!, level, row, col });
    if (!tile) return undefined;
    return tile.data[(v[rd]! - tile.row0) * tile.cols + (v[cd]! - tile.col0)];
  }
}

const ROI_COLORS = { training: "#3ddc84", validation: "#ffb020" } as const;

/** Training/validation blocks outlined where the slice cuts them. */
export class RoiLayer implements SliceLayer {
  readonly id = "rois";
  constructor(readonly rois: readonly RoiInfo[]) {}

  draw({ ctx, geometry: g }: DrawContext): void {
    ctx.save();
    ctx.lineWidth = 2;
    ctx.font = "12px sans-serif";
    for (const roi of this.rois) {
      const p = g.position[g.axis];
      if (p < roi.begin[g.axis] || p >= roi.begin[g.axis] + roi.shape[g.axis]) continue;
      const end: Vec3 = [
        roi.begin[0] + roi.shape[0],
        roi.begin[1] + roi.shape[1],
        roi.begin[2] + roi.shape[2],
      ];
      const [x0, y0] = worldToScreen(g, roi.begin);
      const [x1, y1] = worldToScreen(g, end);
      ctx.strokeStyle = ROI_COLORS[roi.kind] ?? "#fff";
      ctx.fillStyle = ctx.strokeStyle;
      ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
      ctx.fillText(`${roi.kind} ${roi.name}`, x0 + 3, y0 + 13);
    }
    ctx.restore();
  }
}

/** Lines through the shared position, i.e. where the other two views cut this one. */
export class CrosshairLayer implements SliceLayer {
  readonly id = "crosshair";
  draw({ ctx, geometry: g }: DrawContext): void {
    ctx.save();
    ctx.strokeStyle = "rgba(255,255,255,0.35)";
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    ctx.moveTo(g.width / 2, 0);
    ctx.lineTo(g.width / 2, g.height);
    ctx.moveTo(0, g.height / 2);
    ctx.lineTo(g.width, g.height / 2);
    ctx.stroke();
    ctx.restore();
  }
}
