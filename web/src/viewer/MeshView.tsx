/*
 * 3D view of a dataset's meshes with three.js: one colour per organelle (mesh set), orbit controls, and a
 * click (press and release without dragging) that picks the instance under the pointer.
 */
import { useEffect, useRef, useState } from "react";
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import type { MeshSet } from "../api.ts";
import { hexColor } from "./colorize.ts";
import { loadMesh } from "./meshes.ts";

export interface MeshSelection {
  set: MeshSet;
  id: number;
}

const PALETTE = ["#e6553a", "#3a8ee6", "#4cc46a", "#e6c23a", "#b05be6", "#3ad6d6"];
const MAX_OBJECTS = 400;

export function meshColor(set: MeshSet, sets: readonly MeshSet[]): string {
  return PALETTE[sets.indexOf(set) % PALETTE.length]!;
}

export function MeshView(props: { sets: readonly MeshSet[]; onSelect: (s: MeshSelection | null) => void }) {
  const hostRef = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState("loading meshes…");
  const onSelect = useRef(props.onSelect);
  onSelect.current = props.onSelect;

  useEffect(() => {
    const host = hostRef.current!;
    const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    renderer.setPixelRatio(1);
    renderer.setClearColor(0x111318);
    const canvas = renderer.domElement;
    canvas.dataset.testid = "view-3d";
    host.appendChild(canvas);
    const scene = new THREE.Scene();
    scene.add(new THREE.AmbientLight(0xffffff, 0.6));
    const sun = new THREE.DirectionalLight(0xffffff, 1.6);
    scene.add(sun);
    const camera = new THREE.PerspectiveCamera(40, 1, 1, 1e7);
    scene.add(camera);
    camera.add(sun);
    sun.position.set(1, 1, 2);
    const controls = new OrbitControls(camera, canvas);
    const group = new THREE.Group();
    scene.add(group);
    let selected: THREE.Mesh | null = null;
    let frame = 0;
    const render = () => {
      frame = 0;
      renderer.render(scene, camera);
    };
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(render);
    };
    controls.addEventListener("change", schedule);
    const resize = () => {
      const w = Math.max(1, host.clientWidth);
      const h = Math.max(1, host.clientHeight);
      renderer.setSize(w, h);
      camera.aspect = w / h;
      camera.updateProjectionMatrix();
      schedule();
    };
    const observer = new ResizeObserver(resize);
    observer.observe(host);

    const abort = new AbortController();
    (async () => {
      let count = 0;
      for (const set of props.sets) {
        const color = new THREE.Color(...hexColor(meshColor(set, props.sets)).map((c) => c / 255));
        const ids = set.ids.slice(0, MAX_OBJECTS);
        const meshes = await Promise.all(ids.map((id) => loadMesh(set, id, abort.signal)));
        for (const m of meshes) {
          const geometry = new THREE.BufferGeometry();
          geometry.setAttribute("position", new THREE.BufferAttribute(m.vertices, 3));
          geometry.setIndex(new THREE.BufferAttribute(m.triangles, 1));
          geometry.computeVertexNormals();
          const mesh = new THREE.Mesh(
            geometry,
            new THREE.MeshLambertMaterial({ color, side: THREE.DoubleSide, emissive: 0x000000 }),
          );
          mesh.userData = { set, id: m.id };
          group.add(mesh);
          count++;
        }
      }
      const box = new THREE.Box3().setFromObject(group);
      const center = box.getCenter(new THREE.Vector3());
      const radius = Math.max(1, box.getSize(new THREE.Vector3()).length() / 2);
      controls.target.copy(center);
      camera.position
        .copy(center)
        .add(new THREE.Vector3(0.6, 0.5, 1).normalize().multiplyScalar(radius * 2.6));
      camera.near = radius / 100;
      camera.far = radius * 20;
      camera.updateProjectionMatrix();
      controls.update();
      setStatus(`${count} meshes`);
      host.dataset.loaded = String(count);
      schedule();
    })().catch((e: unknown) => {
      if (!abort.signal.aborted) setStatus(`meshes failed: ${e instanceof Error ? e.message : String(e)}`);
    });

    let down: { x: number; y: number } | null = null;
    const onDown = (e: PointerEvent) => {
      down = { x: e.clientX, y: e.clientY };
    };
    const onUp = (e: PointerEvent) => {
      if (!down || Math.hypot(e.clientX - down.x, e.clientY - down.y) > 4) return;
      const r = canvas.getBoundingClientRect();
      const ndc = new THREE.Vector2(
        ((e.clientX - r.left) / r.width) * 2 - 1,
        -((e.clientY - r.top) / r.height) * 2 + 1,
      );
      const ray = new THREE.Raycaster();
      ray.setFromCamera(ndc, camera);
      const hit = ray.intersectObjects(group.children, false)[0];
      if (selected) (selected.material as THREE.MeshLambertMaterial).emissive.setHex(0x000000);
      selected = (hit?.object as THREE.Mesh | undefined) ?? null;
      if (selected) (selected.material as THREE.MeshLambertMaterial).emissive.setHex(0x666666);
      onSelect.current(selected ? (selected.userData as MeshSelection) : null);
      schedule();
    };
    canvas.addEventListener("pointerdown", onDown);
    canvas.addEventListener("pointerup", onUp);
    return () => {
      abort.abort();
      observer.disconnect();
      cancelAnimationFrame(frame);
      controls.dispose();
      group.traverse((o) => {
        if (o instanceof THREE.Mesh) {
          o.geometry.dispose();
          (o.material as THREE.Material).dispose();
        }
      });
      renderer.dispose();
      canvas.remove();
    };
  }, [props.sets]);

  return (
    <div className="mesh-view" ref={hostRef}>
      <span className="view-label" data-testid="mesh-status">
        3D · {status}
      </span>
    </div>
  );
}
