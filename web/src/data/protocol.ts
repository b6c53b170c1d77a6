/*
 * Messages between the tile source (main thread) and the chunk workers. A request names one chunk of one
 * scale level and the plane through it that a slice view needs; the worker answers with that plane only,
 * so the main thread never touches whole 3D chunks.
 */
export type Axis = 0 | 1 | 2;

export interface PlaneRequest {
  type: "plane";
  id: number;
  /** Absolute URL of the scale level's zarr array. */
  url: string;
  chunk: [number, number, number];
  axis: Axis;
  /** Index of the plane inside the chunk along `axis`. */
  local: number;
}

export interface CancelRequest {
  type: "cancel";
  id: number;
}

export type WorkerRequest = PlaneRequest | CancelRequest;

export type PlaneData =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array;

export type WorkerReply =
  | { type: "plane"; id: number; data: PlaneData; rows: number; cols: number }
  | { type: "error"; id: number; message: string; aborted: boolean };

/** The two in-plane dimensions (rows, cols) of a view looking along `axis`. */
export function planeDims(axis: Axis): [Axis, Axis] {
  return axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
}
