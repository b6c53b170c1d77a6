/*
 * The viewer: three orthogonal slice views (or one) sharing a position and zoom, a layer panel (visibility,
 * opacity, contrast/brightness, colour maps), hover read-out of label ids with their measurements, ROI boxes,
 * and the 3D mesh view. Layers and the pointer tool are plain values handed to the views, so other tools
 * (the annotator) plug in beside navigation.
 */
import { useEffect, useMemo, useRef, useState } from "react";
import { type ArrayInfo, api, type DatasetDetail, type SavedView, type Segment, type Vec3 } from "../api.ts";
import type { Axis } from "../data/protocol.ts";
import { TileSource } from "../data/tile-source.ts";
import { num } from "../format.ts";
import type { Colormap, LayerStyle } from "../viewer/colorize.ts";
import type { ViewGeometry } from "../viewer/geometry.ts";
import {
  CrosshairLayer,
  type ImageLayerState,
  ImageSliceLayer,
  RoiLayer,
  type SliceLayer,
} from "../viewer/layers.ts";
import { type MeshSelection, MeshView } from "../viewer/MeshView.tsx";
import { SliceView } from "../viewer/SliceView.tsx";
import { WithDataset } from "./WithDataset.tsx";

type Layout = "grid" | "xy" | "xz" | "yz" | "3d";

function defaultWindow(a: ArrayInfo): [number, number] {
  if (a.contrast) return a.contrast;
  if (a.kind === "probability") return a.dtype.startsWith("float") ? [0, 1] : [0, 255];
  if (a.dtype === "uint8") return [0, 255];
  if (a.dtype === "uint16") return [0, 65535];
  return [0, 1];
}

function initialLayer(a: ArrayInfo, index: number, firstLabel: boolean): ImageLayerState {
  const style: LayerStyle = {
    kind: a.kind,
    window: defaultWindow(a),
    brightness: 0,
    contrast: 1,
    colormap: a.kind === "probability" ? "magma" : "grey",
    color: a.color ?? "#ffd400",
  };
  const visible = a.group === "em" ? index === 0 : firstLabel;
  return { array: a, visible, opacity: a.kind === "intensity" ? 1 : 0.5, style };
}

function initialLayers(d: DatasetDetail): ImageLayerState[] {
  const order = ["em", "masks", "predictions", "labels", "segmentations", "analysis"];
  const arrays = [...d.arrays].sort((a, b) => order.indexOf(a.group) - order.indexOf(b.group));
  // Show one label array at first: a segmentation if there is one, else mitochondria, else the first.
  const labels = arrays.filter((a) => a.kind === "label");
  const shown =
    labels.find((a) => a.group === "segmentations") ??
    labels.find((a) => a.path.endsWith("/mito")) ??
    labels[0];
  let emIndex = 0;
  return arrays.map((a) => initialLayer(a, a.group === "em" ? emIndex++ : -1, a === shown));
}

export function ViewerPage({ id, viewName }: { id: string; viewName?: string }) {
  return <WithDataset id={id}>{(dataset) => <Viewer dataset={dataset} viewName={viewName} />}</WithDataset>;
}

interface Hover {
  world: Vec3;
  values: { array: string; value: number }[];
}

function Viewer({ dataset, viewName }: { dataset: DatasetDetail; viewName?: string }) {
  const source = useMemo(() => new TileSource(), []);
  useEffect(() => () => source.dispose(), [source]);
  const [layers, setLayers] = useState<ImageLayerState[]>(() => initialLayers(dataset));
  const extent: Vec3 = [0, 1, 2].map((d) => dataset.shape[d]! * dataset.voxelSize[d]!) as Vec3;
  const [position, setPosition] = useState<Vec3>(() => extent.map((e) => e / 2) as Vec3);
  const [scale, setScale] = useState(() => Math.max(...extent) / 360);
  const [layout, setLayout] = useState<Layout>("grid");
  const [showRois, setShowRois] = useState(true);
  const [hover, setHover] = useState<Hover | null>(null);
  const [segment, setSegment] = useState<Segment | null>(null);
  const [selection, setSelection] = useState<MeshSelection | null>(null);
  const [selectionSegment, setSelectionSegment] = useState<Segment | null>(null);
  const [message, setMessage] = useState("");

  // A saved view named in the URL sets position, zoom and layers once.
  useEffect(() => {
    const v = dataset.views.find((x) => x.name === viewName);
    if (!v) return;
    setPosition(v.position);
    setScale(v.scale);
    if (v.orientation) setLayout(v.orientation);
    setLayers((ls) =>
      ls.map((l) => {
        const vl = v.layers.find((x) => x.array === l.array.path);
        if (!vl) return { ...l, visible: false };
        return {
          ...l,
          visible: vl.visible,
          opacity: vl.opacity ?? l.opacity,
          style: { ...l.style, window: vl.contrast ?? l.style.window, color: vl.color ?? l.style.color },
        };
      }),
    );
  }, [dataset, viewName]);

  const sliceLayers = useMemo<SliceLayer[]>(() => {
    const out: SliceLayer[] = layers.filter((l) => l.visible).map((l) => new ImageSliceLayer(l));
    if (showRois && dataset.rois.length) out.push(new RoiLayer(dataset.rois));
    out.push(new CrosshairLayer());
    return out;
  }, [layers, showRois, dataset.rois]);

  const step = (axis: Axis) => {
    const sizes = layers.filter((l) => l.visible).map((l) => l.array.voxelSize[axis]);
    return sizes.length ? Math.min(...sizes) : dataset.voxelSize[axis];
  };

  const onHover = (world: Vec3 | null, g: ViewGeometry) => {
    if (!world) return;
    const values: Hover["values"] = [];
    for (const l of sliceLayers) {
      if (!(l instanceof ImageSliceLayer) || l.state.array.kind !== "label") continue;
      const v = l.valueAt(source, g, world);
      if (v !== undefined) values.push({ array: l.id, value: v });
    }
    setHover({ world, values });
  };

  // A layer hidden since the pointer last moved drops out of the read-out at once.
  const shownValues = hover?.values.filter((v) => layers.some((l) => l.visible && l.array.path === v.array));
  // Measurements of the hovered label, fetched once per (array, id).
  const hovered = shownValues?.find((v) => v.value !== 0);
  const hoveredArray = hovered?.array ?? "";
  const hoveredId = hovered?.value ?? 0;
  useEffect(() => {
    if (!hoveredArray || !hoveredId) return;
    const c = new AbortController();
    const t = setTimeout(() => {
      api.segment(dataset.id, hoveredArray, hoveredId, c.signal).then(setSegment, () => {});
    }, 120);
    return () => {
      clearTimeout(t);
      c.abort();
    };
  }, [hoveredArray, hoveredId, dataset.id]);

  useEffect(() => {
    setSelectionSegment(null);
    if (!selection) return;
    const array =
      dataset.arrays.find((a) => a.kind === "label" && a.path.split("/").pop() === selection.set.name) ??
      dataset.arrays.find((a) => a.kind === "label" && a.path.endsWith(`/${selection.set.organelle}`));
    if (!array) return;
    const c = new AbortController();
    api.segment(dataset.id, array.path, selection.id, c.signal).then(setSelectionSegment, () => {});
    return () => c.abort();
  }, [selection, dataset]);

  const navigate = (p: Vec3, s: number) => {
    setPosition(p);
    setScale(s);
  };
  const update = (i: number, patch: Partial<ImageLayerState> | ((l: ImageLayerState) => ImageLayerState)) =>
    setLayers((ls) =>
      ls.map((l, k) => (k === i ? (typeof patch === "function" ? patch(l) : { ...l, ...patch }) : l)),
    );
  const setStyle = (i: number, patch: Partial<LayerStyle>) =>
    update(i, (l) => ({ ...l, style: { ...l.style, ...patch } }));

  const saveView = async (name: string) => {
    const view: SavedView = {
      name,
      position,
      scale,
      orientation: layout === "grid" ? "xy" : layout,
      layers: layers.map((l) => ({
        array: l.array.path,
        visible: l.visible,
        opacity: l.opacity,
        contrast: l.style.window,
        color: l.style.color,
      })),
    };
    try {
      await api.saveView(dataset.id, view);
      setMessage(`saved view "${name}"`);
    } catch (e) {
      setMessage(e instanceof Error ? e.message : String(e));
    }
  };

  const view = (axis: Axis) => (
    <SliceView
      key={axis}
      axis={axis}
      position={position}
      scale={scale}
      step={step(axis)}
      layers={sliceLayers}
      source={source}
      onNavigate={navigate}
      onHover={onHover}
    />
  );
  const mesh = dataset.meshes.length ? (
    <MeshView sets={dataset.meshes} onSelect={setSelection} />
  ) : (
    <div className="mesh-view empty">no meshes (run organelle mesh)</div>
  );

  return (
    <div className="viewer">
      <aside className="panel">
        <h2>
          <a href={`#/d/${encodeURIComponent(dataset.id)}`}>{dataset.title || dataset.name}</a>
        </h2>
        <p>
          <a href={`#/d/${encodeURIComponent(dataset.id)}/annotate`} data-testid="open-annotator">
            annotate a block…
          </a>
        </p>
        <div className="layout-buttons">
          {(["grid", "xy", "xz", "yz", "3d"] as Layout[]).map((l) => (
            <button
              type="button"
              key={l}
              className={layout === l ? "active" : ""}
              data-testid={`layout-${l}`}
              onClick={() => setLayout(l)}
            >
              {l === "grid" ? "3 views + 3D" : l}
            </button>
          ))}
        </div>
        <div className="row">
          <button type="button" onClick={() => setScale(scale * 0.8)}>
            zoom in
          </button>
          <button type="button" onClick={() => setScale(scale * 1.25)}>
            zoom out
          </button>
          <label>
            <input type="checkbox" checked={showRois} onChange={(e) => setShowRois(e.target.checked)} /> ROIs
            ({dataset.rois.length})
          </label>
        </div>
        <p className="muted" data-testid="position">
          z {Math.round(position[0])} · y {Math.round(position[1])} · x {Math.round(position[2])} nm ·{" "}
          {num(scale)} nm/px
        </p>
        <h3>Layers</h3>
        {layers.map((l, i) => (
          <div className="layer" key={l.array.path}>
            <label>
              <input
                type="checkbox"
                data-testid={`layer-${l.array.path}`}
                checked={l.visible}
                onChange={(e) => update(i, { visible: e.target.checked })}
              />{" "}
              {l.array.path} <span className="muted">({l.array.kind})</span>
            </label>
            {l.visible && (
              <div className="layer-controls">
                <label>
                  opacity
                  <input
                    type="range"
                    min={0}
                    max={1}
                    step={0.05}
                    value={l.opacity}
                    onChange={(e) => update(i, { opacity: Number(e.target.value) })}
                  />
                </label>
                {(l.array.kind === "intensity" || l.array.kind === "probability") && (
                  <>
                    <label>
                      brightness
                      <input
                        type="range"
                        min={-0.5}
                        max={0.5}
                        step={0.02}
                        value={l.style.brightness}
                        data-testid={`brightness-${l.array.path}`}
                        onChange={(e) => setStyle(i, { brightness: Number(e.target.value) })}
                      />
                    </label>
                    <label>
                      contrast
                      <input
                        type="range"
                        min={0.25}
                        max={4}
                        step={0.05}
                        value={l.style.contrast}
                        onChange={(e) => setStyle(i, { contrast: Number(e.target.value) })}
                      />
                    </label>
                  </>
                )}
                {l.array.kind === "probability" && (
                  <label>
                    colour map
                    <select
                      value={l.style.colormap}
                      onChange={(e) => setStyle(i, { colormap: e.target.value as Colormap })}
                    >
                      {["magma", "green", "red", "cyan", "grey"].map((c) => (
                        <option key={c}>{c}</option>
                      ))}
                    </select>
                  </label>
                )}
              </div>
            )}
          </div>
        ))}
        <h3>Under the pointer</h3>
        <div data-testid="hover-readout" className="readout">
          {hover ? (
            <>
              <div>{hover.world.map((v) => Math.round(v)).join(", ")} nm</div>
              {shownValues?.map((v) => (
                <div key={v.array}>
                  {v.array}: <b data-testid={`hover-id-${v.array}`}>{v.value}</b>
                </div>
              ))}
              {hovered && segment && segment.id === hovered.value && segment.measurements && (
                <Measurements m={segment.measurements} />
              )}
            </>
          ) : (
            <span className="muted">move over a view</span>
          )}
        </div>
        {selection && (
          <div className="readout" data-testid="mesh-selection">
            selected {selection.set.name} #{selection.id}
            {selectionSegment?.measurements && <Measurements m={selectionSegment.measurements} />}
          </div>
        )}
        <SaveView onSave={saveView} />
        {message && <p className="muted">{message}</p>}
      </aside>
      <main className={`views layout-${layout}`}>
        {layout === "grid" && (
          <>
            {view(0)}
            {view(1)}
            {view(2)}
            {mesh}
          </>
        )}
        {layout === "xy" && view(0)}
        {layout === "xz" && view(1)}
        {layout === "yz" && view(2)}
        {layout === "3d" && mesh}
      </main>
    </div>
  );
}

function Measurements({ m }: { m: Record<string, unknown> }) {
  const keys = Object.keys(m).slice(0, 8);
  return (
    <table className="measurements">
      <tbody>
        {keys.map((k) => (
          <tr key={k}>
            <td>{k}</td>
            <td>{num(m[k])}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SaveView({ onSave }: { onSave: (name: string) => void }) {
  const [name, setName] = useState("");
  const ref = useRef<HTMLInputElement>(null);
  return (
    <form
      className="row"
      onSubmit={(e) => {
        e.preventDefault();
        if (name.trim()) onSave(name.trim());
      }}
    >
      <input ref={ref} placeholder="view name" value={name} onChange={(e) => setName(e.target.value)} />
      <button type="submit">save view</button>
    </form>
  );
}
