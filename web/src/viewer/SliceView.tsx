/*
 * One orthogonal slice view: a canvas that draws its layer stack from the tile source, asks for missing
 * tiles (cancelling those a newer frame no longer needs), and turns pointer input into navigation:
 * drag pans, wheel moves through slices, ctrl/shift + wheel zooms. A `tool` (the annotator's brushes,
 * later) gets the pointer first and may take it.
 */
import { useEffect, useRef } from "react";
import type { Vec3 } from "../api.ts";
import type { Axis } from "../data/protocol.ts";
import { planeDims } from "../data/protocol.ts";
import type { TileSource } from "../data/tile-source.ts";
import { screenToWorld, type ViewGeometry } from "./geometry.ts";
import type { SliceLayer } from "./layers.ts";

export interface ToolEvent {
  world: Vec3;
  geometry: ViewGeometry;
  event: PointerEvent;
}

export interface ViewerTool {
  readonly id: string;
  /** Return true to take the pointer (no panning). */
  pointerDown?(e: ToolEvent): boolean;
  pointerMove?(e: ToolEvent): void;
  pointerUp?(e: ToolEvent): void;
}

export interface SliceViewProps {
  axis: Axis;
  position: Vec3;
  scale: number;
  /** Step along the axis for one wheel notch (nm). */
  step: number;
  layers: readonly SliceLayer[];
  source: TileSource;
  tool?: ViewerTool;
  onNavigate: (position: Vec3, scale: number) => void;
  onHover: (world: Vec3 | null, geometry: ViewGeometry) => void;
}

const NAMES = ["xy", "xz", "yz"] as const;

export function SliceView(props: SliceViewProps) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const propsRef = useRef(props);
  propsRef.current = props;
  const geometryRef = useRef<ViewGeometry | null>(null);

  // Draw loop: one frame per change or tile arrival, coalesced with requestAnimationFrame.
  useEffect(() => {
    const canvas = canvasRef.current!;
    let frame = 0;
    let controller = new AbortController();
    const draw = () => {
      frame = 0;
      const p = propsRef.current;
      const rect = canvas.getBoundingClientRect();
      const width = Math.max(1, Math.round(rect.width));
      const height = Math.max(1, Math.round(rect.height));
      if (canvas.width !== width) canvas.width = width;
      if (canvas.height !== height) canvas.height = height;
      const geometry: ViewGeometry = { axis: p.axis, width, height, position: p.position, scale: p.scale };
      geometryRef.current = geometry;
      const ctx = canvas.getContext("2d")!;
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, width, height);
      const next = new AbortController();
      const need: Parameters<SliceLayer["draw"]>[0]["need"] = (r) => {
        p.source.getTile({ ...r, signal: next.signal }).catch(() => {});
      };
      for (const layer of p.layers) layer.draw({ ctx, geometry, source: p.source, need });
      // Abort the previous frame's requests only after this frame re-requested what it still needs.
      controller.abort();
      controller = next;
    };
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(draw);
    };
    (canvas as unknown as { redraw: () => void }).redraw = schedule;
    const off = propsRef.current.source.onTile(schedule);
    const resize = new ResizeObserver(schedule);
    resize.observe(canvas);
    schedule();
    return () => {
      off();
      resize.disconnect();
      cancelAnimationFrame(frame);
      controller.abort();
    };
  }, []);

  useEffect(() => {
    (canvasRef.current as unknown as { redraw?: () => void }).redraw?.();
  });

  useEffect(() => {
    const canvas = canvasRef.current!;
    // Non-passive so the page does not scroll while the user scrolls slices.
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const p = propsRef.current;
      const dir = Math.sign(e.deltaY);
      if (e.ctrlKey || e.shiftKey || e.metaKey) {
        p.onNavigate(p.position, p.scale * (dir > 0 ? 1.25 : 0.8));
      } else {
        const pos: Vec3 = [...p.position];
        pos[p.axis] += dir * p.step;
        p.onNavigate(pos, p.scale);
      }
    };
    canvas.addEventListener("wheel", onWheel, { passive: false });
    return () => canvas.removeEventListener("wheel", onWheel);
  }, []);

  const drag = useRef<{ x: number; y: number; position: Vec3; tool: boolean } | null>(null);
  const toolEvent = (e: React.PointerEvent<HTMLCanvasElement>): ToolEvent | null => {
    const g = geometryRef.current;
    if (!g) return null;
    const r = e.currentTarget.getBoundingClientRect();
    return {
      world: screenToWorld(g, e.clientX - r.left, e.clientY - r.top),
      geometry: g,
      event: e.nativeEvent,
    };
  };

  return (
    <div className="slice-view">
      <canvas
        ref={canvasRef}
        data-testid={`view-${NAMES[props.axis]}`}
        onPointerDown={(e) => {
          const te = toolEvent(e);
          const byTool = !!te && !!props.tool?.pointerDown?.(te);
          drag.current = { x: e.clientX, y: e.clientY, position: props.position, tool: byTool };
          e.currentTarget.setPointerCapture(e.pointerId);
        }}
        onPointerMove={(e) => {
          const te = toolEvent(e);
          if (te) props.onHover(te.world, te.geometry);
          const d = drag.current;
          if (!d) return;
          if (d.tool) {
            if (te) props.tool?.pointerMove?.(te);
            return;
          }
          const [rd, cd] = planeDims(props.axis);
          const pos: Vec3 = [...d.position];
          pos[cd] -= (e.clientX - d.x) * props.scale;
          pos[rd] -= (e.clientY - d.y) * props.scale;
          props.onNavigate(pos, props.scale);
        }}
        onPointerUp={(e) => {
          const te = toolEvent(e);
          if (drag.current?.tool && te) props.tool?.pointerUp?.(te);
          drag.current = null;
        }}
        onPointerLeave={() => geometryRef.current && props.onHover(null, geometryRef.current)}
      />
      <span className="view-label">{NAMES[props.axis]}</span>
    </div>
  );
}
