/*
 * The annotator (#/d/<id>/annotate): choose a sub-volume (a box drawn in any view, or typed in nm), open a
 * session on the server (supervoxels are computed once), paint foreground/background seeds with a brush on
 * any of the three planes, "segment" runs the graph cut and shows the 3D result in all three views, voxel
 * corrections override it, undo/redo, and save writes labels/<organelle> with the ROI registered as a
 * training or validation block. The three views are the viewer's SliceViews with the annotation drawn as
 * one more SliceLayer and the brush as their ViewerTool.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { type ArrayInfo, api, type DatasetDetail, type Vec3 } from "../api.ts";
import type { Axis } from "../data/protocol.ts";
import { TileSource } from "../data/tile-source.ts";
import { num } from "../format.ts";
import { WithDataset } from "../pages/WithDataset.tsx";
import type { ViewGeometry } from "../viewer/geometry.ts";
import { CrosshairLayer, ImageSliceLayer, RoiLayer, type SliceLayer } from "../viewer/layers.ts";
import { SliceView, type ViewerTool } from "../viewer/SliceView.tsx";
import { EditMirror, Preview } from "./edits.ts";
import { AnnotationLayer, BoxLayer, BrushCursorLayer } from "./layers.ts";
import {
  annotateApi,
  type EditLabel,
  type SaveReply,
  type SessionCounts,
  type SessionInfo,
} from "./session-api.ts";
import { decodeRuns, type PlaneStroke, type SubVolume, strokeVoxels, voxelCount } from "./subvolume.ts";
import { TrainPanel } from "./TrainPanel.tsx";
import { boxTool, brushTool } from "./tools.ts";

export function AnnotatorPage({ id }: { id: string }) {
  return <WithDataset id={id}>{(dataset) => <Annotator dataset={dataset} />}</WithDataset>;
}

/** Most a session holds (src/annotate/annotation-store.ts MAX_SESSION_VOXELS). */
const MAX_VOXELS = 256 ** 3;
/** The presets' names (docs/presets.md); save writes labels/<name>. */
const ORGANELLES = [
  "mito",
  "er",
  "golgi",
  "nucleus",
  "nuclear_envelope",
  "nuclear_pore",
  "plasma_membrane",
  "vesicle",
  "lipid_droplet",
  "ccp",
  "ribosome",
  "microtubule",
];
const SEED_VALUE: Record<EditLabel, number> = { fg: 1, bg: 2, erase: 0 };
const BRUSH_COLOR: Record<EditLabel, string> = { fg: "#3ddc84", bg: "#ff4d4d", erase: "#ffffff" };

type Mode = "navigate" | "strokes" | "correct";

interface Box {
  begin: Vec3;
  end: Vec3;
}

const parseVec = (s: string): Vec3 | null => {
  const v = s
    .split(/[\s,x×]+/)
    .filter(Boolean)
    .map(Number);
  return v.length === 3 && v.every((x) => Number.isFinite(x)) ? (v as Vec3) : null;
};
const fmtVec = (v: readonly number[]) => v.map((x) => Math.round(x)).join(", ");

function emArray(d: DatasetDetail): ArrayInfo | undefined {
  return d.arrays.find((a) => a.path === "raw") ?? d.arrays.find((a) => a.group === "em");
}

function defaultOrganelle(d: DatasetDetail): string {
  const label = d.arrays.find((a) => a.group === "labels" && a.kind === "label");
  const name = label?.path.split("/").pop();
  return name && ORGANELLES.includes(name) ? name : "mito";
}

/** Snaps a box outwards to raw's voxel grid and clips it to the array. */
function snap(b: Box, raw: ArrayInfo): Box {
  const begin = [0, 1, 2].map((d) => {
    const vs = raw.voxelSize[d]!;
    const lo = raw.offset[d]!;
    return Math.max(lo, lo + Math.floor((b.begin[d]! - lo) / vs) * vs);
  }) as Vec3;
  const end = [0, 1, 2].map((d) => {
    const vs = raw.voxelSize[d]!;
    const lo = raw.offset[d]!;
    return Math.min(lo + raw.shape[d]! * vs, lo + Math.ceil((b.end[d]! - lo) / vs) * vs);
  }) as Vec3;
  return { begin, end };
}

interface Session {
  info: SessionInfo;
  sub: SubVolume;
  edits: EditMirror;
  mask: Uint8Array | null;
}

function Annotator({ dataset: initial }: { dataset: DatasetDetail }) {
  const [dataset, setDataset] = useState(initial);
  const raw = emArray(dataset);
  const source = useMemo(() => new TileSource(), []);
  useEffect(() => () => source.dispose(), [source]);
  const extent: Vec3 = [0, 1, 2].map((d) => dataset.shape[d]! * dataset.voxelSize[d]!) as Vec3;
  const [position, setPosition] = useState<Vec3>(() => extent.map((e) => e / 2) as Vec3);
  const [scale, setScale] = useState(() => Math.max(...extent) / 360);

  // Choosing the sub-volume.
  const [box, setBox] = useState<Box | null>(() => {
    if (!raw) return null;
    const half = [0, 1, 2].map((d) => Math.min(48 * raw.voxelSize[d]!, extent[d]! / 4)) as Vec3;
    return snap(
      {
        begin: position.map((p, d) => p - half[d]!) as Vec3,
        end: position.map((p, d) => p + half[d]!) as Vec3,
      },
      raw,
    );
  });
  const [organelle, setOrganelle] = useState(() => defaultOrganelle(initial));
  const [from, setFrom] = useState("");
  const [svMode, setSvMode] = useState<"fast" | "exact">("fast");
  const [svCount, setSvCount] = useState("");
  const [creating, setCreating] = useState(false);

  // The session.
  const [session, setSession] = useState<Session | null>(null);
  const [version, setVersion] = useState(0);
  const bump = useCallback(() => setVersion((v) => v + 1), []);
  const [mode, setMode] = useState<Mode>("strokes");
  const [label, setLabel] = useState<EditLabel>("fg");
  const [radius, setRadius] = useState(2);
  const [showSeeds, setShowSeeds] = useState(true);
  const [showMask, setShowMask] = useState(true);
  const [maskOpacity, setMaskOpacity] = useState(0.45);
  const [counts, setCounts] = useState<SessionCounts | null>(null);
  const [annotationSeconds, setAnnotationSeconds] = useState(0);
  const [lastCut, setLastCut] = useState<{ server: number; roundTrip: number; foreground: number } | null>(
    null,
  );
  const [busy, setBusy] = useState("");
  const [message, setMessage] = useState("");
  const [saved, setSaved] = useState<SaveReply | null>(null);
  const [cursor, setCursor] = useState<{ axis: Axis; world: Vec3 } | null>(null);
  // Edits go to the server one at a time, in order, so the mirrored undo stack matches the server's.
  const queue = useRef<Promise<unknown>>(Promise.resolve());
  const enqueue = useCallback(<T,>(job: () => Promise<T>): Promise<T> => {
    const p = queue.current.then(job, job);
    queue.current = p.catch(() => {});
    return p;
  }, []);

  const fail = (e: unknown) => setMessage(e instanceof Error ? e.message : String(e));

  const refreshInfo = useCallback(async (s: Session) => {
    const info = await annotateApi.get(s.info.id);
    setCounts(info.counts);
    setAnnotationSeconds(info.annotationSeconds);
  }, []);

  const loadMask = useCallback(
    async (s: Session) => {
      const m = await annotateApi.mask(s.info.id);
      s.mask = decodeRuns(m.runs, voxelCount(s.sub));
      bump();
    },
    [bump],
  );

  const create = async () => {
    if (!box || !raw) return;
    setCreating(true);
    setMessage("");
    const t0 = performance.now();
    try {
      const count = Number(svCount);
      const info = await annotateApi.create({
        dataset: dataset.id,
        organelle,
        roi: { begin: box.begin, shape: box.end.map((e, d) => e - box.begin[d]!) as Vec3 },
        ...(from ? { from } : {}),
        supervoxels: { mode: svMode, ...(svCount && count > 0 ? { count } : {}) },
      });
      const sub: SubVolume = { begin: info.roi.begin, voxelSize: info.voxelSize, shape: info.shape };
      const s: Session = { info, sub, edits: new EditMirror(voxelCount(sub)), mask: null };
      if (info.from) await loadMask(s);
      setSession(s);
      setCounts(info.counts);
      setAnnotationSeconds(info.annotationSeconds);
      setSaved(null);
      setLastCut(null);
      setMode("strokes");
      const centre = [0, 1, 2].map((d) => info.roi.begin[d]! + info.roi.shape[d]! / 2) as Vec3;
      setPosition(centre);
      setScale(Math.max(...info.roi.shape) / 300);
      setMessage(
        `session: ${info.shape.join("×")} voxels, ${info.supervoxels} supervoxels in ${num(info.seconds)} s (${num((performance.now() - t0) / 1000)} s with reading)`,
      );
    } catch (e) {
      fail(e);
    } finally {
      setCreating(false);
    }
  };

  const sendStroke = (
    s: Session,
    layer: "seeds" | "corrections",
    lab: EditLabel,
    st: PlaneStroke,
    p: Preview,
  ) =>
    enqueue(async () => {
      const body = { label: lab, axis: st.axis, index: st.index, points: st.points, radius: st.radius };
      try {
        const r =
          layer === "seeds"
            ? await annotateApi.stroke(s.info.id, body)
            : await annotateApi.correct(s.info.id, body);
        s.edits.commit(p, strokeVoxels(s.sub, st));
        setCounts(r.counts);
        if (layer === "corrections" && s.mask) await loadMask(s);
        await refreshInfo(s);
      } catch (e) {
        s.edits.rollback(p);
        fail(e);
      }
      bump();
    });

  // A tool must outlive the drag it is in, so it reads the box through a ref rather than being rebuilt.
  const boxRef = useRef(box);
  boxRef.current = box;
  // The tool is rebuilt only when its settings change; the latest sendStroke is read through a ref.
  const strokeRef = useRef(sendStroke);
  strokeRef.current = sendStroke;
  const tool = useMemo<ViewerTool | undefined>(() => {
    if (!session) {
      return raw
        ? boxTool({
            current: () => boxRef.current,
            onChange: (begin, end) => setBox(snap({ begin, end }, raw)),
          })
        : undefined;
    }
    if (mode === "navigate") return undefined;
    const s = session;
    const layer = mode === "strokes" ? "seeds" : "corrections";
    let preview: Preview | null = null;
    return brushTool({
      sub: s.sub,
      radius,
      onPaint: (indices) => {
        if (!preview) preview = new Preview(layer, SEED_VALUE[label]);
        s.edits.preview(preview, indices);
        bump();
      },
      onStroke: (st) => {
        const p = preview ?? new Preview(layer, SEED_VALUE[label]);
        preview = null;
        void strokeRef.current(s, layer, label, st, p);
      },
    });
  }, [session, mode, label, radius, raw, bump]);

  const segment = () =>
    session &&
    enqueue(async () => {
      setBusy("segmenting…");
      const t0 = performance.now();
      try {
        const m = await annotateApi.segment(session.info.id);
        session.mask = decodeRuns(m.runs, voxelCount(session.sub));
        session.edits.cut();
        setLastCut({
          server: m.seconds,
          roundTrip: (performance.now() - t0) / 1000,
          foreground: m.foreground,
        });
        await refreshInfo(session);
      } catch (e) {
        fail(e);
      } finally {
        setBusy("");
        bump();
      }
    });

  const undoRedo = (which: "undo" | "redo") =>
    session &&
    enqueue(async () => {
      try {
        const r =
          which === "undo"
            ? await annotateApi.undo(session.info.id)
            : await annotateApi.redo(session.info.id);
        const serverStep = "undone" in r ? r.undone : r.redone;
        const mine = which === "undo" ? session.edits.undo() : session.edits.redo();
        if (serverStep !== mine)
          setMessage(
            `${which}: the server ${which === "undo" ? "undid" : "redid"} ${serverStep ?? "nothing"}, this page ${mine ?? "nothing"}; reload the session`,
          );
        setCounts(r.counts);
        if (serverStep === "cut" || session.mask) await loadMask(session);
        await refreshInfo(session);
      } catch (e) {
        fail(e);
      }
      bump();
    });

  const save = async (kind: "training" | "validation", instance: boolean | undefined, name: string) => {
    if (!session) return;
    setBusy("saving…");
    try {
      const r = await enqueue(() =>
        annotateApi.save(session.info.id, {
          kind,
          ...(instance !== undefined ? { instance } : {}),
          ...(name ? { name } : {}),
        }),
      );
      setSaved(r);
      setMessage(r.warnings.join("; "));
      setDataset(await api.dataset(dataset.id));
      await refreshInfo(session);
    } catch (e) {
      fail(e);
    } finally {
      setBusy("");
    }
  };

  const closeSession = async () => {
    if (!session) return;
    await annotateApi.close(session.info.id).catch(() => {});
    setSession(null);
    setSaved(null);
    setCounts(null);
  };

  // Keyboard: 1/2/3 foreground/background/erase, b strokes, c corrections, n navigate, s segment,
  // ctrl+z undo, ctrl+shift+z / ctrl+y redo.
  const keys = useRef<(e: KeyboardEvent) => void>(() => {});
  keys.current = (e: KeyboardEvent) => {
    const t = e.target as HTMLElement | null;
    if (!session || t?.tagName === "INPUT" || t?.tagName === "SELECT" || t?.tagName === "TEXTAREA") return;
    const k = e.key.toLowerCase();
    if ((e.ctrlKey || e.metaKey) && k === "z") undoRedo(e.shiftKey ? "redo" : "undo");
    else if ((e.ctrlKey || e.metaKey) && k === "y") undoRedo("redo");
    else if (e.ctrlKey || e.metaKey || e.altKey) return;
    else if (k === "1") setLabel("fg");
    else if (k === "2") setLabel("bg");
    else if (k === "3") setLabel("erase");
    else if (k === "b") setMode("strokes");
    else if (k === "c") setMode("correct");
    else if (k === "n") setMode("navigate");
    else if (k === "s") segment();
    else if (k === "[" || k === "]") setRadius((r) => Math.max(0, Math.min(30, r + (k === "]" ? 1 : -1))));
    else return;
    e.preventDefault();
  };
  useEffect(() => {
    const on = (e: KeyboardEvent) => keys.current(e);
    window.addEventListener("keydown", on);
    return () => window.removeEventListener("keydown", on);
  }, []);

  const layers = useMemo<SliceLayer[]>(() => {
    const out: SliceLayer[] = [];
    if (raw) {
      out.push(
        new ImageSliceLayer({
          array: raw,
          visible: true,
          opacity: 1,
          style: {
            kind: raw.kind,
            window: raw.contrast ?? (raw.dtype === "uint16" ? [0, 65535] : [0, 255]),
            brightness: 0,
            contrast: 1,
            colormap: "grey",
            color: "#ffffff",
          },
        }),
      );
    }
    if (dataset.rois.length) out.push(new RoiLayer(dataset.rois));
    if (session) {
      out.push(
        new AnnotationLayer(
          {
            sub: session.sub,
            seeds: session.edits.seeds,
            corrections: session.edits.corrections,
            mask: session.mask,
            version,
          },
          { showSeeds, showMask, maskOpacity },
        ),
      );
      const end = [0, 1, 2].map((d) => session.info.roi.begin[d]! + session.info.roi.shape[d]!) as Vec3;
      out.push(new BoxLayer(session.info.roi.begin, end, "#4f9cf5", "annotation ROI"));
      if (mode !== "navigate") {
        const inPlane = Math.min(...session.sub.voxelSize);
        out.push(
          new BrushCursorLayer(
            cursor,
            Math.max(0.5, radius + 0.5) * inPlane,
            mode === "correct" ? "#ffd400" : BRUSH_COLOR[label],
          ),
        );
      }
    } else if (box) {
      out.push(new BoxLayer(box.begin, box.end, "#4f9cf5", "new ROI", true));
    }
    out.push(new CrosshairLayer());
    return out;
  }, [
    raw,
    dataset.rois,
    session,
    version,
    showSeeds,
    showMask,
    maskOpacity,
    box,
    mode,
    cursor,
    radius,
    label,
  ]);

  const onHover = (world: Vec3 | null, g: ViewGeometry) => setCursor(world ? { axis: g.axis, world } : null);
  const navigate = (p: Vec3, s: number) => {
    setPosition(p);
    setScale(s);
  };
  const view = (axis: Axis) => (
    <SliceView
      key={axis}
      axis={axis}
      position={position}
      scale={scale}
      step={raw?.voxelSize[axis] ?? dataset.voxelSize[axis]}
      layers={layers}
      source={source}
      tool={tool}
      onNavigate={navigate}
      onHover={onHover}
    />
  );

  const boxVoxels =
    box && raw ? [0, 1, 2].map((d) => Math.round((box.end[d]! - box.begin[d]!) / raw.voxelSize[d]!)) : null;
  const tooBig = boxVoxels ? boxVoxels.reduce((a, b) => a * b, 1) > MAX_VOXELS : false;
  const candidates = dataset.arrays.filter(
    (a) =>
      (a.group === "predictions" || a.group === "segmentations" || a.group === "labels") &&
      a.kind !== "intensity",
  );

  if (!raw) return <p className="error">{dataset.id} has no EM array to annotate</p>;
  return (
    <div className="viewer annotator">
      <aside className="panel">
        <h2>
          <a href={`#/d/${encodeURIComponent(dataset.id)}`}>{dataset.title || dataset.name}</a> · annotate
        </h2>
        <p className="muted" data-testid="position" data-position={position.join(",")} data-scale={scale}>
          z {Math.round(position[0])} · y {Math.round(position[1])} · x {Math.round(position[2])} nm ·{" "}
          {num(scale)} nm/px
        </p>
        {!session ? (
          <div data-testid="roi-chooser">
            <h3>1 · Sub-volume</h3>
            <p className="muted">
              Drag a box in any view (its depth is centred on that slice), or type it in nm.
            </p>
            <VecField
              label="begin (nm)"
              testid="roi-begin"
              value={box?.begin ?? [0, 0, 0]}
              onChange={(v) => box && setBox(snap({ begin: v, end: box.end }, raw))}
            />
            <VecField
              label="size (nm)"
              testid="roi-size"
              value={box ? (box.end.map((e, d) => e - box.begin[d]!) as Vec3) : [0, 0, 0]}
              onChange={(v) =>
                box &&
                setBox(snap({ begin: box.begin, end: box.begin.map((b, d) => b + v[d]!) as Vec3 }, raw))
              }
            />
            {boxVoxels && (
              <p className={tooBig ? "error" : "muted"} data-testid="roi-voxels">
                {boxVoxels.join(" × ")} voxels at {raw.voxelSize.join("×")} nm
                {tooBig ? ` — more than 256³; choose a smaller box` : ""}
              </p>
            )}
            <label className="field">
              organelle{" "}
              <select
                value={organelle}
                data-testid="organelle"
                onChange={(e) => setOrganelle(e.target.value)}
              >
                {ORGANELLES.map((o) => (
                  <option key={o}>{o}</option>
                ))}
              </select>
            </label>
            <label className="field">
              start from{" "}
              <select value={from} data-testid="from" onChange={(e) => setFrom(e.target.value)}>
                <option value="">nothing (paint strokes)</option>
                {candidates.map((a) => (
                  <option key={a.path} value={a.path}>
                    {a.path}
                  </option>
                ))}
              </select>
            </label>
            <label className="field">
              supervoxels{" "}
              <select value={svMode} onChange={(e) => setSvMode(e.target.value as "fast" | "exact")}>
                <option value="fast">fast SLIC</option>
                <option value="exact">exact (skimage's)</option>
              </select>
              <input
                placeholder="count (auto)"
                size={8}
                value={svCount}
                onChange={(e) => setSvCount(e.target.value.replace(/[^\d]/g, ""))}
              />
            </label>
            <button
              type="button"
              className="primary"
              data-testid="create-session"
              disabled={!box || tooBig || creating}
              onClick={create}
            >
              {creating ? "computing supervoxels…" : "start annotating"}
            </button>
          </div>
        ) : (
          <SessionPanel
            session={session}
            mode={mode}
            setMode={setMode}
            label={label}
            setLabel={setLabel}
            radius={radius}
            setRadius={setRadius}
            overlay={{ showSeeds, setShowSeeds, showMask, setShowMask, maskOpacity, setMaskOpacity }}
            counts={counts}
            annotationSeconds={annotationSeconds}
            lastCut={lastCut}
            busy={busy}
            onSegment={segment}
            onUndo={() => undoRedo("undo")}
            onRedo={() => undoRedo("redo")}
            onSave={save}
            onClose={closeSession}
            saved={saved}
            canUndo={session.edits.canUndo}
            canRedo={session.edits.canRedo}
          />
        )}
        {saved && session && (
          <TrainPanel dataset={dataset} organelle={session.info.organelle} saved={saved} />
        )}
        {message && (
          <p className="muted" data-testid="annotate-message">
            {message}
          </p>
        )}
      </aside>
      <main className="views layout-grid">
        {view(0)}
        {view(1)}
        {view(2)}
        <div className="annotate-help">
          <h3>Annotator</h3>
          <p>
            <b>Strokes</b> (b): 1 foreground, 2 background, 3 erase; [ and ] change the brush. <b>Segment</b>{" "}
            (s) runs the graph cut on the supervoxels and shows the 3D result in all views. <b>Corrections</b>{" "}
            (c) paint voxels of the result directly. Undo ctrl+z, redo ctrl+shift+z. Drag with the middle
            button, or in navigate mode (n), to pan; the wheel moves through slices, ctrl+wheel zooms.
          </p>
          <p className="muted">
            green/red: foreground/background strokes · yellow/violet: corrections · blue: segmentation
          </p>
        </div>
      </main>
    </div>
  );
}

function VecField({
  label,
  value,
  onChange,
  testid,
}: {
  label: string;
  value: Vec3;
  onChange: (v: Vec3) => void;
  testid: string;
}) {
  const [text, setText] = useState(fmtVec(value));
  const shown = fmtVec(value);
  // Follow the box when it changes elsewhere (drawn in a view), keep the user's text while typing.
  const last = useRef(shown);
  if (last.current !== shown) {
    last.current = shown;
    if (parseVec(text)?.join() !== value.join()) setText(shown);
  }
  return (
    <label className="field">
      {label}{" "}
      <input
        data-testid={testid}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onBlur={() => {
          const v = parseVec(text);
          if (v) onChange(v);
          else setText(shown);
        }}
        onKeyDown={(e) => {
          if (e.key === "Enter") (e.target as HTMLInputElement).blur();
        }}
      />
    </label>
  );
}

interface SessionPanelProps {
  session: Session;
  mode: Mode;
  setMode: (m: Mode) => void;
  label: EditLabel;
  setLabel: (l: EditLabel) => void;
  radius: number;
  setRadius: (r: number) => void;
  overlay: {
    showSeeds: boolean;
    setShowSeeds: (v: boolean) => void;
    showMask: boolean;
    setShowMask: (v: boolean) => void;
    maskOpacity: number;
    setMaskOpacity: (v: number) => void;
  };
  counts: SessionCounts | null;
  annotationSeconds: number;
  lastCut: { server: number; roundTrip: number; foreground: number } | null;
  busy: string;
  onSegment: () => void;
  onUndo: () => void;
  onRedo: () => void;
  onSave: (kind: "training" | "validation", instance: boolean | undefined, name: string) => void;
  onClose: () => void;
  saved: SaveReply | null;
  canUndo: boolean;
  canRedo: boolean;
}

function SessionPanel(p: SessionPanelProps) {
  const { info } = p.session;
  const [kind, setKind] = useState<"training" | "validation">("training");
  // undefined: what labels/<organelle> already holds (binary when it is new).
  const [instance, setInstance] = useState<boolean | undefined>(undefined);
  const [name, setName] = useState("");
  const o = p.overlay;
  return (
    <div data-testid="session-panel">
      <h3>2 · Annotate {info.organelle}</h3>
      <p className="muted">
        ROI {fmtVec(info.roi.begin)} + {fmtVec(info.roi.shape)} nm · {info.shape.join("×")} voxels ·{" "}
        {info.supervoxels} supervoxels ({num(info.seconds)} s){info.from ? ` · from ${info.from}` : ""}
      </p>
      <div className="layout-buttons">
        {(
          [
            ["navigate", "navigate"],
            ["strokes", "strokes"],
            ["correct", "correct voxels"],
          ] as [Mode, string][]
        ).map(([m, text]) => (
          <button
            type="button"
            key={m}
            data-testid={`mode-${m}`}
            className={p.mode === m ? "active" : ""}
            onClick={() => p.setMode(m)}
          >
            {text}
          </button>
        ))}
      </div>
      <div className="layout-buttons brush-labels">
        {(["fg", "bg", "erase"] as EditLabel[]).map((l) => (
          <button
            type="button"
            key={l}
            data-testid={`label-${l}`}
            className={p.label === l ? "active" : ""}
            onClick={() => p.setLabel(l)}
          >
            <span className="swatch" style={{ background: BRUSH_COLOR[l] }} />{" "}
            {l === "fg" ? "foreground" : l === "bg" ? "background" : "erase"}
          </button>
        ))}
      </div>
      <label className="field">
        brush radius {p.radius} vox
        <input
          type="range"
          min={0}
          max={30}
          step={1}
          value={p.radius}
          data-testid="brush-radius"
          onChange={(e) => p.setRadius(Number(e.target.value))}
        />
      </label>
      <div className="row">
        <button
          type="button"
          className="primary"
          data-testid="segment"
          disabled={!!p.busy}
          onClick={p.onSegment}
        >
          segment
        </button>
        <button type="button" data-testid="undo" disabled={!p.canUndo} onClick={p.onUndo}>
          undo
        </button>
        <button type="button" data-testid="redo" disabled={!p.canRedo} onClick={p.onRedo}>
          redo
        </button>
      </div>
      {p.busy && <p className="muted">{p.busy}</p>}
      {p.lastCut && (
        <p data-testid="segment-time">
          segmented in {num(p.lastCut.server)} s on the server ({num(p.lastCut.roundTrip)} s round trip):{" "}
          {p.lastCut.foreground.toLocaleString("en")} foreground voxels
        </p>
      )}
      <div className="overlay-controls">
        <label>
          <input type="checkbox" checked={o.showSeeds} onChange={(e) => o.setShowSeeds(e.target.checked)} />{" "}
          strokes and corrections
        </label>
        <label>
          <input
            type="checkbox"
            checked={o.showMask}
            data-testid="show-mask"
            onChange={(e) => o.setShowMask(e.target.checked)}
          />{" "}
          segmentation
          <input
            type="range"
            min={0.1}
            max={1}
            step={0.05}
            value={o.maskOpacity}
            onChange={(e) => o.setMaskOpacity(Number(e.target.value))}
          />
        </label>
      </div>
      {p.counts && (
        <p className="muted" data-testid="session-counts">
          {p.counts.strokes} strokes ({p.counts.foregroundSeeds.toLocaleString("en")} fg /{" "}
          {p.counts.backgroundSeeds.toLocaleString("en")} bg voxels) · {p.counts.corrections} corrections ·{" "}
          {p.counts.segments} cuts
        </p>
      )}
      <p data-testid="annotation-time">
        annotation time: <b>{formatDuration(p.annotationSeconds)}</b>{" "}
        <span className="muted">(pauses over 2 min not counted)</span>
      </p>
      <h3>3 · Save</h3>
      <form
        className="save-form"
        onSubmit={(e) => {
          e.preventDefault();
          p.onSave(kind, instance, name.trim());
        }}
      >
        <label>
          <input type="radio" checked={kind === "training"} onChange={() => setKind("training")} /> training
        </label>
        <label>
          <input
            type="radio"
            checked={kind === "validation"}
            data-testid="role-validation"
            onChange={() => setKind("validation")}
          />{" "}
          validation
        </label>
        <select
          data-testid="instance"
          value={instance === undefined ? "auto" : instance ? "instances" : "binary"}
          onChange={(e) =>
            setInstance(e.target.value === "auto" ? undefined : e.target.value === "instances")
          }
        >
          <option value="auto">labels as the array holds</option>
          <option value="binary">binary (uint8)</option>
          <option value="instances">instances (uint32)</option>
        </select>
        <input
          placeholder="ROI name (auto)"
          value={name}
          size={14}
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit" className="primary" data-testid="save" disabled={!!p.busy}>
          save labels/{info.organelle}
        </button>
      </form>
      {p.saved && (
        <p data-testid="saved">
          saved {p.saved.array} · {p.saved.roi.kind} ROI <b>{p.saved.roi.name}</b> ·{" "}
          {formatDuration(p.saved.annotation.seconds)} of annotation ·{" "}
          {p.saved.annotation.foregroundVoxels.toLocaleString("en")} voxels
          {p.saved.annotation.instances !== null ? ` in ${p.saved.annotation.instances} objects` : ""}
          {p.saved.cleanup.removedVoxels || p.saved.cleanup.filledVoxels
            ? ` (clean-up: −${p.saved.cleanup.removedVoxels} +${p.saved.cleanup.filledVoxels})`
            : ""}
          {p.saved.exclusion ? ` · exclusion zone ${p.saved.exclusion}` : ""}
        </p>
      )}
      <button type="button" onClick={p.onClose} data-testid="close-session">
        close session / new ROI
      </button>
    </div>
  );
}

export function formatDuration(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}
