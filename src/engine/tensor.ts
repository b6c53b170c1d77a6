import { invalidArgument } from "../core/errors.ts";

/** Element types that travel between TypeScript and an engine (little-endian, C order). */
export type TensorDType = "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";

export type TensorData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** An n-dimensional array: `data` in C order over `shape` (e.g. [batch, channels, z, y, x]). */
export interface Tensor<D extends TensorData = TensorData> {
  readonly dtype: TensorDType;
  readonly shape: readonly number[];
  readonly data: D;
}

export const TENSOR_DTYPES: readonly TensorDType[] = [
  "uint8",
  "int8",
  "uint16",
  "int16",
  "uint32",
  "int32",
  "float32",
  "float64",
];

export function isTensorDType(s: unknown): s is TensorDType {
  return typeof s === "string" && (TENSOR_DTYPES as readonly string[]).includes(s);
}

export function tensorDTypeOf(data: TensorData): TensorDType {
  if (data instanceof Uint8Array) return "uint8";
  if (data instanceof Int8Array) return "int8";
  if (data instanceof Uint16Array) return "uint16";
  if (data instanceof Int16Array) return "int16";
  if (data instanceof Uint32Array) return "uint32";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof Float32Array) return "float32";
  return "float64";
}

export function itemSize(d: TensorDType): number {
  switch (d) {
    case "uint8":
    case "int8":
      return 1;
    case "uint16":
    case "int16":
      return 2;
    case "uint32":
    case "int32":
    case "float32":
      return 4;
    case "float64":
      return 8;
  }
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** A tensor over `data` (not copied); its length must match the shape. */
export function tensor<D extends TensorData>(data: D, shape: readonly number[]): Tensor<D> {
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0)
      throw invalidArgument(`tensor shape [${shape.join(", ")}]: sizes must be whole numbers >= 0`);
  }
  if (data.length !== numel(shape)) {
    throw invalidArgument(
      `tensor shape [${shape.join(", ")}] needs ${numel(shape)} elements, the data has ${data.length}`,
    );
  }
  return { dtype: tensorDTypeOf(data), shape: Object.freeze([...shape]), data };
}

/** A typed-array view of `dtype` over bytes; copies only when the bytes are not aligned for the type. */
export function viewBytes(dtype: TensorDType, bytes: Uint8Array): TensorData {
  const size = itemSize(dtype);
  let b = bytes;
  if (b.byteOffset % size !== 0) b = b.slice();
  const n = b.byteLength / size;
  switch (dtype) {
    case "uint8":
      return new Uint8Array(b.buffer, b.byteOffset, n);
    case "int8":
      return new Int8Array(b.buffer, b.byteOffset, n);
    case "uint16":
      return new Uint16Array(b.buffer, b.byteOffset, n);
    case "int16":
      return new Int16Array(b.buffer, b.byteOffset, n);
    case "uint32":
      return new Uint32Array(b.buffer, b.byteOffset, n);
    case "int32":
      return new Int32Array(b.buffer, b.byteOffset, n);
    case "float32":
      return new Float32Array(b.buffer, b.byteOffset, n);
    case "float64":
      return new Float64Array(b.buffer, b.byteOffset, n);
  }
}

/** The bytes of a tensor's data (a view, not a copy). */
export function tensorBytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}
