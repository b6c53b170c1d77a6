import { invalidData } from "../core/errors.ts";

/*
 * NumPy .npy files (format 1.0, C order, little endian) for a package's test tensors: bioimage.io stores
 * test inputs and outputs this way. Only the dtypes packages use: uint8/uint16 (raw), float32 (probabilities).
 */

export type NpyArray =
  | { readonly dtype: "uint8"; readonly shape: readonly number[]; readonly data: Uint8Array }
  | { readonly dtype: "uint16"; readonly shape: readonly number[]; readonly data: Uint16Array }
  | { readonly dtype: "float32"; readonly shape: readonly number[]; readonly data: Float32Array };

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
const DESCR = { uint8: "|u1", uint16: "<u2", float32: "<f4" } as const;

export function writeNpy(a: NpyArray): Buffer {
  const n = a.shape.reduce((p, v) => p * v, 1);
  if (n !== a.data.length)
    throw invalidData(`npy: shape [${a.shape.join(", ")}] holds ${n} values, not ${a.data.length}`);
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(", ")})`;
  let header = `{'descr': '${DESCR[a.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  // The header (with the 10-byte preamble) is padded with spaces to a multiple of 64, ending in a newline.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = `${header.padEnd(total - 10 - 1, " ")}\n`;
  const pre = Buffer.alloc(10);
  MAGIC.copy(pre, 0);
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  return Buffer.concat([pre, Buffer.from(header, "latin1"), body]);
}

export function readNpy(bytes: Uint8Array, what: string): NpyArray {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (m: string) => invalidData(`${what}: not a readable .npy file (${m})`);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw bad("no NUMPY magic");
  const major = buf[6]!;
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  if (major < 1 || major > 3 || hstart + hlen > buf.length) throw bad(`format version ${major}`);
  const header = buf.subarray(hstart, hstart + hlen).toString("latin1");
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad("header unreadable");
  if (fortran === "True") throw bad("Fortran order is not supported; save it in C order");
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(Number);
  if (!shape.every((v) => Number.isInteger(v) && v >= 0)) throw bad(`shape (${shapeText})`);
  const n = shape.reduce((p, v) => p * v, 1);
  const start = hstart + hlen;
  const body = buf.subarray(start);
  if (descr === "|u1" || descr === "<u1") {
    if (body.length !== n) throw bad(`expected ${n} bytes of data, found ${body.length}`);
    return { dtype: "uint8", shape, data: new Uint8Array(body) };
  }
  if (descr === "<u2") {
    if (body.length !== n * 2) throw bad(`expected ${n * 2} bytes of data, found ${body.length}`);
    const data = new Uint16Array(n);
    new Uint8Array(data.buffer).set(body);
    return { dtype: "uint16", shape, data };
  }
  if (descr === "<f4") {
    if (body.length !== n * 4) throw bad(`expected ${n * 4} bytes of data, found ${body.length}`);
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(body);
    return { dtype: "float32", shape, data };
  }
  throw bad(`dtype ${descr}; organelle reads uint8 and little-endian uint16 and float32`);
}
