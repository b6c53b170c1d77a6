#!/usr/bin/python3
"""Independent check of an organelle model package against the bioimage.io model description 0.5.

Usage: /usr/bin/python3 test/model-package-check.py PACKAGE.zip|DIR [--tolerance 1e-4]

Written without organelle's code and without the bioimageio packages (not installed here): Python's zipfile
reads the archive, PyYAML the rdf.yaml, numpy the test tensors, torch.jit the TorchScript weights. Checks:

- rdf.yaml: format_version 0.5.x, type model, name/description/license/documentation, authors and cite
  entries, one input and one output with axes batch, channel, z, y, x (space axes with size and scale in a
  length unit; output sizes as integers or references {tensor_id, axis_id, offset} to the input);
  weights with source + sha256 (onnx: opset_version; torchscript: pytorch_version), at most one without
  `parent`, and a parent that names another weight entry;
- every referenced file exists and matches its sha256;
- the test input, preprocessed as the RDF says (ensure_dtype, scale_linear), through the TorchScript weights,
  postprocessed, equals the test output within the tolerance, with the shape the axes describe;
- organelle's model.json (when present) agrees with the RDF on voxel size and input shape.

Prints one line per check and exits 1 at the first failure. (ONNX weights are run by `organelle
import-model` with ONNX Runtime; Debian's Python has no ONNX runtime.)
"""

import hashlib
import io
import json
import os
import re
import sys
import zipfile

import numpy as np
import yaml

UNIT_NM = {"nanometer": 1.0, "micrometer": 1000.0, "angstrom": 0.1}


def fail(msg):
    print(f"FAIL {msg}")
    sys.exit(1)


def ok(msg):
    print(f"ok   {msg}")


def load_files(src):
    if os.path.isdir(src):
        out = {}
        for root, _, names in os.walk(src):
            for n in names:
                p = os.path.join(root, n)
                with open(p, "rb") as f:
                    out[os.path.relpath(p, src)] = f.read()
        return out
    try:
        with zipfile.ZipFile(src) as z:
            bad = z.testzip()
            if bad is not None:
                fail(f"zip entry {bad} has a CRC error")
            return {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
    except zipfile.BadZipFile as e:
        fail(f"not a zip file: {e}")


def main():
    args = sys.argv[1:]
    tol = 1e-4
    if "--tolerance" in args:
        i = args.index("--tolerance")
        tol = float(args[i + 1])
        del args[i : i + 2]
    if len(args) != 1:
        print(__doc__)
        sys.exit(2)
    files = load_files(args[0])
    ok(f"{len(files)} files read")
    if "rdf.yaml" not in files:
        fail("no rdf.yaml at the package root")
    rdf = yaml.safe_load(files["rdf.yaml"])

    # --- keys of a 0.5 model description
    if not re.fullmatch(r"0\.5\.\d+", str(rdf.get("format_version"))):
        fail(f"format_version {rdf.get('format_version')!r} is not 0.5.x")
    if rdf.get("type") != "model":
        fail("type is not model")
    for key in ("name", "description", "license", "documentation"):
        if not isinstance(rdf.get(key), str) or not rdf[key].strip():
            fail(f"{key} missing")
    if not rdf.get("authors") or not all(isinstance(a, dict) and a.get("name") for a in rdf["authors"]):
        fail("authors must be a non-empty list of {name}")
    if not rdf.get("cite") or not all(a.get("text") and (a.get("doi") or a.get("url")) for a in rdf["cite"]):
        fail("cite must be a non-empty list of {text, doi|url}")
    if not re.fullmatch(r"[A-Za-z0-9_\- ()]{1,128}", rdf["name"]):
        fail(f"name {rdf['name']!r} has characters bioimage.io names do not allow")
    ok(f"rdf keys (format_version {rdf['format_version']}, name {rdf['name']})")

    ins, outs = rdf.get("inputs"), rdf.get("outputs")
    if not isinstance(ins, list) or not isinstance(outs, list) or len(ins) != 1 or len(outs) != 1:
        fail("expected one input and one output")
    inp, out = ins[0], outs[0]

    def axes(t, where):
        ax = t.get("axes")
        kinds = [a.get("id") if a.get("type") == "space" else a.get("type") for a in ax]
        if kinds != ["batch", "channel", "z", "y", "x"]:
            fail(f"{where} axes are {kinds}")
        if not isinstance(ax[1].get("channel_names"), list) or not ax[1]["channel_names"]:
            fail(f"{where} channel axis needs channel_names")
        return ax

    in_ax, out_ax = axes(inp, "input"), axes(out, "output")

    def scale_nm(a):
        unit = a.get("unit", "nanometer")
        if unit not in UNIT_NM:
            fail(f"space axis {a['id']}: unit {unit!r}")
        return float(a.get("scale", 1.0)) * UNIT_NM[unit]

    in_size = []
    for a in in_ax[2:]:
        if not isinstance(a.get("size"), int):
            fail(f"input axis {a['id']}: size {a.get('size')!r} is not fixed")
        in_size.append(a["size"])
    out_size = []
    for i, a in enumerate(out_ax[2:]):
        s = a.get("size")
        if isinstance(s, int):
            out_size.append(s)
        elif isinstance(s, dict) and s.get("tensor_id") == inp["id"] and s.get("axis_id") == a["id"]:
            ref = in_ax[2 + i]
            out_size.append(int(in_size[i] * scale_nm(ref) / scale_nm(a) + s.get("offset", 0)))
        else:
            fail(f"output axis {a['id']}: size {s!r}")
        if a.get("halo", 0) != 0:
            fail(f"output axis {a['id']}: halo {a['halo']} (organelle crops context in the network)")
    voxel = [scale_nm(a) for a in in_ax[2:]]
    ok(f"axes: input {in_size} -> output {out_size} voxels at {voxel} nm")

    # --- files and sha256
    refs = [("documentation", rdf["documentation"], None)]
    refs += [(f"covers[{i}]", c, None) for i, c in enumerate(rdf.get("covers", []))]
    refs += [(f"attachments[{i}]", a["source"], a.get("sha256")) for i, a in enumerate(rdf.get("attachments", []))]
    for where, t in (("input", inp), ("output", out)):
        tt = t.get("test_tensor") or fail(f"{where} test_tensor missing")
        refs.append((f"{where}.test_tensor", tt["source"], tt.get("sha256") or fail(f"{where} test sha256")))
    weights = rdf.get("weights") or fail("weights missing")
    if "torchscript" not in weights:
        fail("no torchscript weights (this check runs them)")
    for fmt, w in weights.items():
        refs.append((f"weights.{fmt}", w["source"], w.get("sha256") or fail(f"weights.{fmt}.sha256 missing")))
    if "onnx" in weights and not isinstance(weights["onnx"].get("opset_version"), int):
        fail("weights.onnx.opset_version missing")
    if not weights["torchscript"].get("pytorch_version"):
        fail("weights.torchscript.pytorch_version missing")
    roots = [f for f, w in weights.items() if "parent" not in w]
    if len(roots) != 1:
        fail(f"exactly one weights entry may lack 'parent'; these do: {roots}")
    for f, w in weights.items():
        if "parent" in w and w["parent"] not in weights:
            fail(f"weights.{f}.parent {w['parent']!r} is not a weights entry")
    for where, source, sha in refs:
        if source not in files:
            fail(f"{where}: {source} is not in the package")
        if sha is not None and hashlib.sha256(files[source]).hexdigest() != sha.lower():
            fail(f"{where}: {source} does not match its sha256")
    ok(f"{len(refs)} referenced files present, sha256 match")

    # --- test input through the TorchScript weights
    import torch

    x = np.load(io.BytesIO(files[inp["test_tensor"]["source"]]))
    y_ref = np.load(io.BytesIO(files[out["test_tensor"]["source"]]))
    if list(x.shape) != [1, len(in_ax[1]["channel_names"])] + in_size:
        fail(f"test input shape {x.shape} does not match the input axes")
    if list(y_ref.shape) != [1, len(out_ax[1]["channel_names"])] + out_size:
        fail(f"test output shape {y_ref.shape} does not match the output axes")
    dtype = inp.get("data", {}).get("type")
    if dtype and str(x.dtype) != dtype:
        fail(f"test input dtype {x.dtype}, the RDF says {dtype}")

    def apply(a, ops):
        for op in ops or []:
            k = op.get("kwargs", {})
            if op["id"] == "ensure_dtype":
                a = a.astype(k["dtype"])
            elif op["id"] == "scale_linear":
                a = a * np.float32(k.get("gain", 1.0)) + np.float32(k.get("offset", 0.0))
            elif op["id"] == "sigmoid":
                a = 1 / (1 + np.exp(-a))
            else:
                fail(f"processing op {op['id']} is not implemented by this check")
        return a.astype(np.float32)

    xp = apply(x, inp.get("preprocessing"))
    module = torch.jit.load(io.BytesIO(files[weights["torchscript"]["source"]]), map_location="cpu")
    with torch.no_grad():
        y = module(torch.from_numpy(np.ascontiguousarray(xp))).numpy()
    y = apply(y, out.get("postprocessing"))
    diff = float(np.max(np.abs(y - y_ref)))
    if not diff <= tol:
        fail(f"TorchScript output differs from the test output by {diff} (> {tol})")
    if y_ref.min() < 0 or y_ref.max() > 1:
        fail("test output is not a probability in [0, 1]")
    ok(f"TorchScript reproduces the test output (max |diff| {diff:.2e}, tolerance {tol})")

    # --- organelle's own description
    if "model.json" in files:
        mj = json.loads(files["model.json"])
        if not np.allclose(mj["voxelSize"], voxel, rtol=1e-6):
            fail(f"model.json voxelSize {mj['voxelSize']} differs from the RDF's {voxel}")
        if mj.get("onnx", {}).get("inputShape") != in_size:
            fail(f"model.json onnx.inputShape {mj.get('onnx', {}).get('inputShape')} differs from {in_size}")
        ok(f"model.json agrees (organelle {mj['organelle']}, voxel size {mj['voxelSize']} nm)")
    print("package OK")


if __name__ == "__main__":
    main()
