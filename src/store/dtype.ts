import { invalidArgument } from "../core/errors.ts";

/** Element types organelle stores. uint64 appears in published COSEM segmentations (read-mostly). */
export type DType = "uint8" | "uint16" | "uint32" | "int32" | "float32" | "float64" | "uint64";

export type VoxelArray =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array;

export const DTYPES: readonly DType[] = [
  "uint8",
  "uint16",
  "uint32",
  "int32",
  "float32",
  "float64",
  "uint64",
];

export function isDType(s: string): s is DType {
  return (DTYPES as readonly string[]).includes(s);
}

export function parseDType(s: string, what = "dtype"): DType {
  if (!isDType(s)) throw invalidArgument(`${what}: '${s}' is not one of ${DTYPES.join(", ")}`);
  return s;
}

export function bytesPerElement(d: DType): number {
  switch (d) {
    case "uint8":
      return 1;
    case "uint16":
      return 2;
    case "uint32":
    case "int32":
    case "float32":
      return 4;
    case "float64":
    case "uint64":
      return 8;
  }
}

export function allocate(d: DType, n: number, shared = false): VoxelArray {
  const buf = shared
    ? new SharedArrayBuffer(n * bytesPerElement(d))
    : new ArrayBuffer(n * bytesPerElement(d));
  return viewOf(d, buf);
}

export function viewOf(d: DType, buf: ArrayBufferLike, byteOffset = 0, length?: number): VoxelArray {
  switch (d) {
    case "uint8":
      return new Uint8Array(buf, byteOffset, length);
    case "uint16":
      return new Uint16Array(buf, byteOffset, length);
    case "uint32":
      return new Uint32Array(buf, byteOffset, length);
    case "int32":
      return new Int32Array(buf, byteOffset, length);
    case "float32":
      return new Float32Array(buf, byteOffset, length);
    case "float64":
      return new Float64Array(buf, byteOffset, length);
    case "uint64":
      return new BigUint64Array(buf, byteOffset, length);
  }
}

export function dtypeOf(a: VoxelArray): DType {
  if (a instanceof Uint8Array) return "uint8";
  if (a instanceof Uint16Array) return "uint16";
  if (a instanceof Uint32Array) return "uint32";
  if (a instanceof Int32Array) return "int32";
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Float64Array) return "float64";
  return "uint64";
}

/** Zarr v2 dtype strings (numpy typestr, little-endian). */
export function toZarrV2DType(d: DType): string {
  return {
    uint8: "|u1",
    uint16: "<u2",
    uint32: "<u4",
    int32: "<i4",
    float32: "<f4",
    float64: "<f8",
    uint64: "<u8",
  }[d];
}

export function fromZarrDType(s: string): DType {
  const map: Record<string, DType> = {
    "|u1": "uint8",
    "<u1": "uint8",
    "<u2": "uint16",
    "<u4": "uint32",
    "<i4": "int32",
    "<f4": "float32",
    "<f8": "float64",
    "<u8": "uint64",
    uint8: "uint8",
    uint16: "uint16",
    uint32: "uint32",
    int32: "int32",
    float32: "float32",
    float64: "float64",
    uint64: "uint64",
  };
  const d = map[s];
  if (!d) throw invalidArgument(`unsupported array data type '${s}' (supported: ${DTYPES.join(", ")})`);
  return d;
}
