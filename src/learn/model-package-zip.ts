import * as zlib from "node:zlib";
import { invalidData } from "../core/errors.ts";

/*
 * The zip container of model packages (bioimage.io packages are plain zip files with rdf.yaml at the root).
 * Only what packages need: regular files, deflate or stored, no zip64 (a package above 4 GiB is refused on
 * writing; reading names the limit), no encryption. Every entry's CRC-32 is checked on reading, so a damaged
 * archive is one clear line rather than a wrong weight.
 */

export interface ZipEntry {
  readonly name: string;
  readonly data: Uint8Array;
}

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const END = 0x06054b50;
const U32 = 0xffffffff;

/** DOS date/time of a fixed instant (1980-01-01 00:00), so packages of the same content are the same bytes. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

export function writeZip(entries: readonly ZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name)) throw invalidData(`zip: two entries named ${e.name}`);
    seen.add(e.name);
    const name = Buffer.from(e.name, "utf8");
    const crc = zlib.crc32(e.data) >>> 0;
    const deflated = zlib.deflateRawSync(e.data, { level: 6 });
    // Stored when deflate does not help (e.g. already compressed PNG).
    const stored = deflated.length >= e.data.length;
    const body = stored ? Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength) : deflated;
    if (body.length >= U32 || e.data.length >= U32 || offset >= U32) {
      throw invalidData(`zip: ${e.name} is too large for a zip without zip64 (4 GiB)`);
    }
    const method = stored ? 0 : 8;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(CENTRAL, 0);
    cd.writeUInt16LE((3 << 8) | 20, 4); // made by: unix, 2.0
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt16LE(method, 10);
    cd.writeUInt16LE(DOS_TIME, 12);
    cd.writeUInt16LE(DOS_DATE, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(body.length, 20);
    cd.writeUInt32LE(e.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE((0o100644 << 16) >>> 0, 38); // regular file, rw-r--r--
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    parts.push(local, name, body);
    offset += local.length + name.length + body.length;
  }
  const cdBytes = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBytes, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}

/** Reads every entry of a zip archive (`what` names the file in errors); directories are skipped. */
export function readZip(bytes: Uint8Array, what: string): ZipEntry[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (m: string) =>
    invalidData(`${what}: not a readable zip archive (${m}); download or export the package again`);
  if (buf.length < 22 || buf.readUInt32LE(0) !== LOCAL) throw bad("no zip header");
  let endAt = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65_535); i--) {
    if (buf.readUInt32LE(i) === END) {
      endAt = i;
      break;
    }
  }
  if (endAt < 0) throw bad("no end record; the file is truncated");
  const count = buf.readUInt16LE(endAt + 10);
  const cdSize = buf.readUInt32LE(endAt + 12);
  const cdOffset = buf.readUInt32LE(endAt + 16);
  if (count === 0xffff || cdOffset === U32) throw bad("zip64 archives are not supported");
  if (cdOffset + cdSize > endAt) throw bad("central directory out of range; the file is truncated");
  const out: ZipEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > endAt || buf.readUInt32LE(p) !== CENTRAL)
      throw bad(`central directory entry ${i} is damaged`);
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const csize = buf.readUInt32LE(p + 20);
    const usize = buf.readUInt32LE(p + 24);
    const nlen = buf.readUInt16LE(p + 28);
    const xlen = buf.readUInt16LE(p + 30);
    const clen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nlen).toString("utf8");
    p += 46 + nlen + xlen + clen;
    if (name.endsWith("/")) continue;
    if (flags & 1) throw bad(`${name} is encrypted`);
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== LOCAL)
      throw bad(`${name}: local header damaged`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    if (start + csize > buf.length) throw bad(`${name} is cut short; the file is truncated`);
    const body = buf.subarray(start, start + csize);
    let data: Buffer;
    if (method === 0) data = Buffer.from(body);
    else if (method === 8) {
      try {
        data = zlib.inflateRawSync(body);
      } catch {
        throw bad(`${name}: compressed data damaged`);
      }
    } else throw bad(`${name}: compression method ${method} (only stored and deflate are read)`);
    if (data.length !== usize || zlib.crc32(data) >>> 0 !== crc) throw bad(`${name}: CRC-32 mismatch`);
    out.push({ name, data });
  }
  return out;
}
