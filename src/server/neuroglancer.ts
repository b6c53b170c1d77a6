import type { ArraySummary, DatasetDetail } from "../catalog/dataset-summary.ts";

/*
 * Neuroglancer viewer state for a dataset (the JSON that follows "#!" in a Neuroglancer URL).
 * Keys as Neuroglancer's ViewerState documents them: a global coordinate space `dimensions` (x, y, z
 * in nm, named like the OME-Zarr axes so sources map onto them), `position` in those units,
 * `crossSectionScale` (nm per screen pixel) and `projectionScale`, `layers` (image / segmentation,
 * each with a data `source` URL), `layout` and `selectedLayer`.
 *
 * Sources: "zarr://<http url of the multiscale group>" for OME-Zarr 0.4 (Zarr v2), "zarr3://" for
 * OME-Zarr 0.5 (Zarr v3), "n5://" for N5; legacy precomputed meshes ride along as a second source
 * "precomputed://<url of meshes/<name>>" of the segmentation layer.
 */

export const NEUROGLANCER_APP = "https://neuroglancer-demo.appspot.com/";

export interface ViewLayer {
  readonly array: string;
  readonly visible: boolean;
  readonly opacity?: number;
  readonly contrast?: [number, number];
  readonly color?: string;
}

export interface View {
  readonly name: string;
  /** z, y, x in nm. */
  readonly position: [number, number, number];
  /** nm per screen pixel. */
  readonly scale: number;
  readonly orientation?: "xy" | "xz" | "yz" | "3d";
  readonly layers: readonly ViewLayer[];
}

export interface NeuroglancerLayer {
  type: "image" | "segmentation";
  name: string;
  source: string | { url: string }[];
  visible: boolean;
  opacity?: number;
  shader?: string;
  shaderControls?: Record<string, unknown>;
  segments?: string[];
  segmentDefaultColor?: string;
}

export interface NeuroglancerState {
  dimensions: Record<"x" | "y" | "z", [number, string]>;
  position: [number, number, number];
  crossSectionScale: number;
  projectionScale: number;
  layers: NeuroglancerLayer[];
  layout: string;
  selectedLayer: { layer: string; visible: boolean };
}

const GREY_SHADER = "#uicontrol invlerp normalized\nvoid main() {\n  emitGrayscale(normalized());\n}\n";
const PROBABILITY_SHADER =
  '#uicontrol invlerp normalized\n#uicontrol vec3 color color(default="#ff0000")\nvoid main() {\n  float v = normalized();\n  emitRGBA(vec4(color, v));\n}\n';

function sourceScheme(a: ArraySummary): string {
  if (a.format.startsWith("N5")) return "n5://";
  if (a.format.includes("Zarr v3")) return "zarr3://";
  return "zarr://";
}

/** The Neuroglancer source URL of an array, served at `origin` (e.g. "http://127.0.0.1:8321"). */
export function arraySource(origin: string, a: ArraySummary): string {
  return `${sourceScheme(a)}${origin}${a.url}`;
}

function layerName(a: ArraySummary): string {
  return a.path;
}

/** A state showing the dataset (or a saved view of it). */
export function neuroglancerState(d: DatasetDetail, origin: string, view?: View): NeuroglancerState {
  const raw = d.arrays.find((a) => a.group === "em") ?? d.arrays[0];
  const hasSeg = d.arrays.some((a) => a.group === "segmentations");
  const viewLayers = new Map(view?.layers.map((l) => [l.array, l]));
  const layers: NeuroglancerLayer[] = [];
  for (const a of d.arrays) {
    const v = viewLayers.get(a.path);
    const defaultVisible =
      a === raw || a.group === "segmentations" || (!hasSeg && a.group === "labels" && a.kind === "label");
    const visible = v ? v.visible : defaultVisible;
    const color = v?.color ?? a.color ?? "#ffffff";
    const source = arraySource(origin, a);
    if (a.kind === "label" || a.kind === "mask") {
      const mesh = d.meshes.find((m) => m.name === a.path.split("/").pop());
      layers.push({
        type: "segmentation",
        name: layerName(a),
        source: mesh ? [{ url: source }, { url: `precomputed://${origin}${mesh.url}` }] : source,
        visible,
        ...(v?.opacity !== undefined ? { opacity: v.opacity } : {}),
        segments: mesh ? mesh.ids.map(String) : [],
        segmentDefaultColor: color,
      });
    } else {
      const contrast = v?.contrast ?? a.contrast ?? [0, 255];
      const probability = a.kind === "probability";
      layers.push({
        type: "image",
        name: layerName(a),
        source,
        visible,
        ...(v?.opacity !== undefined ? { opacity: v.opacity } : probability ? { opacity: 0.6 } : {}),
        shader: probability ? PROBABILITY_SHADER : GREY_SHADER,
        shaderControls: probability
          ? { normalized: { range: contrast }, color }
          : { normalized: { range: contrast } },
      });
    }
  }
  const vs = raw?.voxelSize ?? [1, 1, 1];
  const shape = raw?.shape ?? [1, 1, 1];
  const off = raw?.offset ?? [0, 0, 0];
  const extent = [0, 1, 2].map((k) => shape[k]! * vs[k]!);
  const centre =
    view?.position ?? ([0, 1, 2].map((k) => off[k]! + extent[k]! / 2) as [number, number, number]);
  const fit = Math.max(extent[1]!, extent[2]!) / 800;
  return {
    dimensions: { x: [1e-9, "m"], y: [1e-9, "m"], z: [1e-9, "m"] },
    position: [centre[2], centre[1], centre[0]],
    crossSectionScale: view?.scale ?? Math.max(fit, Math.min(...vs) / 2),
    projectionScale: Math.max(...extent) * 1.5,
    layers,
    layout: view?.orientation === "3d" ? "3d" : (view?.orientation ?? "4panel"),
    selectedLayer: { layer: raw ? layerName(raw) : "", visible: true },
  };
}

export function neuroglancerUrl(state: NeuroglancerState): string {
  return `${NEUROGLANCER_APP}#!${encodeURIComponent(JSON.stringify(state))}`;
}
