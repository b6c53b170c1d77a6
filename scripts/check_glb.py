#!/usr/bin/env python3
"""Independent structural check of binary glTF 2.0 files (.glb), written from the Khronos glTF 2.0
specification with struct/json only (no glTF library): header, chunk layout and padding, buffer views
and accessors inside the BIN chunk and 4-byte aligned, POSITION min/max equal to the data, indices in
range, unit normals, nodes/meshes/materials references. Prints one JSON line per file:
{"file", "nodes": [{"name", "vertices", "triangles", "min", "max", "color"}]} and exits 1 on the
first violation (message on stderr).

usage: check_glb.py FILE.glb [FILE.glb ...]
"""
import json
import math
import struct
import sys

COMPONENT = {5120: ("b", 1), 5121: ("B", 1), 5122: ("h", 2), 5123: ("H", 2), 5125: ("I", 4), 5126: ("f", 4)}
NCOMP = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


class Invalid(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Invalid(msg)


def check(path):
    data = open(path, "rb").read()
    need(len(data) >= 20, "shorter than a header and a chunk header")
    magic, version, length = struct.unpack_from("<III", data, 0)
    need(magic == 0x46546C67, "magic is not 'glTF'")
    need(version == 2, f"version {version}, expected 2")
    need(length == len(data), f"header length {length} != file size {len(data)}")
    need(length % 4 == 0, "file length not a multiple of 4")
    jlen, jtype = struct.unpack_from("<II", data, 12)
    need(jtype == 0x4E4F534A, "first chunk is not JSON")
    need(jlen % 4 == 0, "JSON chunk length not a multiple of 4")
    jbytes = data[20 : 20 + jlen]
    stripped = jbytes.rstrip(b" ")
    need(all(c == 0x20 for c in jbytes[len(stripped) :]), "JSON padding is not spaces")
    gltf = json.loads(jbytes.decode("utf-8"))
    at = 20 + jlen
    bin_chunk = b""
    if at < length:
        blen, btype = struct.unpack_from("<II", data, at)
        need(btype == 0x004E4942, "second chunk is not BIN")
        need(blen % 4 == 0, "BIN chunk length not a multiple of 4")
        bin_chunk = data[at + 8 : at + 8 + blen]
        need(at + 8 + blen == length, "bytes after the BIN chunk")
    need(gltf.get("asset", {}).get("version") == "2.0", "asset.version is not '2.0'")
    buffers = gltf.get("buffers", [])
    if buffers:
        need(len(buffers) == 1 and "uri" not in buffers[0], "a GLB's single buffer has no uri")
        need(buffers[0]["byteLength"] <= len(bin_chunk), "buffer longer than the BIN chunk")
        need(len(bin_chunk) - buffers[0]["byteLength"] < 4, "BIN chunk padded by more than 3 bytes")
        need(all(b == 0 for b in bin_chunk[buffers[0]["byteLength"] :]), "BIN padding is not zeros")
    views = gltf.get("bufferViews", [])
    for i, v in enumerate(views):
        need(v["buffer"] == 0, f"bufferView {i}: buffer {v['buffer']}")
        need(v.get("byteOffset", 0) + v["byteLength"] <= buffers[0]["byteLength"], f"bufferView {i} outside the buffer")

    def read(ai):
        acc = gltf["accessors"][ai]
        fmt, size = COMPONENT[acc["componentType"]]
        n = NCOMP[acc["type"]]
        view = views[acc["bufferView"]]
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        need(start % size == 0, f"accessor {ai} not aligned to its component size")
        need(acc["count"] >= 1, f"accessor {ai}: count {acc['count']} < 1")
        need(acc.get("byteOffset", 0) + acc["count"] * n * size <= view["byteLength"], f"accessor {ai} past its bufferView")
        vals = struct.unpack_from("<" + fmt * (acc["count"] * n), bin_chunk, start)
        return acc, [vals[k : k + n] for k in range(0, len(vals), n)]

    materials = gltf.get("materials", [])
    out = []
    scene = gltf["scenes"][gltf.get("scene", 0)]
    for ni in scene["nodes"]:
        node = gltf["nodes"][ni]
        rec = {"name": node.get("name"), "vertices": 0, "triangles": 0}
        if "mesh" in node:
            mesh = gltf["meshes"][node["mesh"]]
            need(len(mesh["primitives"]) >= 1, f"mesh {node['mesh']} without primitives")
            for prim in mesh["primitives"]:
                need(prim.get("mode", 4) == 4, "primitive is not TRIANGLES")
                pacc, pos = read(prim["attributes"]["POSITION"])
                need(pacc["componentType"] == 5126 and pacc["type"] == "VEC3", "POSITION is not float VEC3")
                need("min" in pacc and "max" in pacc, "POSITION without min/max")
                for d in range(3):
                    lo = min(p[d] for p in pos)
                    hi = max(p[d] for p in pos)
                    need(lo == pacc["min"][d] and hi == pacc["max"][d], f"POSITION min/max differ from the data on axis {d}")
                if "NORMAL" in prim["attributes"]:
                    nacc, nrm = read(prim["attributes"]["NORMAL"])
                    need(nacc["count"] == pacc["count"], "NORMAL count != POSITION count")
                    for q in nrm:
                        need(abs(math.sqrt(q[0] ** 2 + q[1] ** 2 + q[2] ** 2) - 1) < 1e-4, "NORMAL not unit length")
                iacc, idx = read(prim["indices"])
                need(iacc["type"] == "SCALAR" and iacc["componentType"] in (5121, 5123, 5125), "indices not unsigned SCALAR")
                need(views[iacc["bufferView"]].get("target", 34963) == 34963, "indices view target is not ELEMENT_ARRAY_BUFFER")
                need(iacc["count"] % 3 == 0, "index count not a multiple of 3")
                need(max(i[0] for i in idx) < pacc["count"], "index out of range")
                rec["vertices"] += pacc["count"]
                rec["triangles"] += iacc["count"] // 3
                rec["min"] = pacc["min"]
                rec["max"] = pacc["max"]
                if "material" in prim:
                    rec["color"] = materials[prim["material"]]["pbrMetallicRoughness"]["baseColorFactor"]
        out.append(rec)
    return {"file": path, "nodes": out}


def main():
    for p in sys.argv[1:]:
        try:
            print(json.dumps(check(p)))
        except (Invalid, KeyError, IndexError, struct.error, ValueError) as e:
            print(f"{p}: invalid glTF binary: {e}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
