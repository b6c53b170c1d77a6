import * as zlib from "node:zlib";
import * as zarr from "zarrita";
import { registerZstdCodec } from "./zstd-codec.ts";

/*
 * zarrita decodes gzip/zlib through the web streams API and cannot encode them. Node has both in
 * zlib (native, and faster than the streams path), so we register codecs that do both directions.
 * zstd is numcodecs' WebAssembly build called without its per-byte copy (see zstd-codec.ts); blosc comes
 * from numcodecs through zarrita's default registry.
 */
class NodeGzipCodec {
  readonly kind = "bytes_to_bytes";
  private readonly level: number;
  constructor(level: number) {
    this.level = level;
  }
  static fromConfig(config: { level?: number } = {}): NodeGzipCodec {
    return new NodeGzipCodec(config.level ?? 5);
  }
  encode(bytes: Uint8Array): Uint8Array {
    return new Uint8Array(zlib.gzipSync(bytes, { level: this.level }));
  }
  decode(bytes: Uint8Array): Uint8Array {
    return new Uint8Array(zlib.gunzipSync(bytes));
  }
}

class NodeZlibCodec {
  readonly kind = "bytes_to_bytes";
  private readonly level: number;
  constructor(level: number) {
    this.level = level;
  }
  static fromConfig(config: { level?: number } = {}): NodeZlibCodec {
    return new NodeZlibCodec(config.level ?? 5);
  }
  encode(bytes: Uint8Array): Uint8Array {
    return new Uint8Array(zlib.deflateSync(bytes, { level: this.level }));
  }
  decode(bytes: Uint8Array): Uint8Array {
    return new Uint8Array(zlib.inflateSync(bytes));
  }
}

let registered = false;

/** Idempotent; called by the store modules before any array is opened. */
export function registerNodeCodecs(): void {
  if (registered) return;
  registered = true;
  const gzip = async () => NodeGzipCodec as never;
  const zl = async () => NodeZlibCodec as never;
  zarr.registry.set("gzip", gzip);
  zarr.registry.set("numcodecs.gzip", gzip);
  zarr.registry.set("zlib", zl);
  zarr.registry.set("numcodecs.zlib", zl);
  registerZstdCodec();
}
