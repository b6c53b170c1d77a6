"""Framing (docs/engine.md): every message, either way, is

    u32 LE header length | u64 LE body length | JSON header (UTF-8) | body

where the body is the concatenation of the buffers listed in header["buffers"] as
{name, dtype, shape, bytes}, raw little-endian. The body length sits in the fixed prefix so that a frame
whose header is broken can still be skipped whole: the stream stays in step and the engine keeps serving.

Standard library only: this module must work (and report a missing torch) without torch."""

from __future__ import annotations

import json
import math
import struct
import sys
from typing import Any, BinaryIO, Dict, List, Optional, Tuple

PREFIX = struct.Struct("<IQ")
# A header is a few kilobytes of JSON; anything near this is a broken stream, not a message.
MAX_HEADER_BYTES = 16 * 1024 * 1024

ITEMSIZE = {
    "uint8": 1,
    "int8": 1,
    "bool": 1,
    "uint16": 2,
    "int16": 2,
    "float16": 2,
    "uint32": 4,
    "int32": 4,
    "float32": 4,
    "int64": 8,
    "float64": 8,
}

if sys.byteorder != "little":  # buffers are sent as raw memory
    raise SystemExit("organelle_engine: big-endian machines are not supported")


class FrameError(Exception):
    """A frame that cannot be used; `request_id` is known when its header was readable."""

    def __init__(self, message: str, request_id: Any = None, fatal: bool = False):
        super().__init__(message)
        self.request_id = request_id
        self.fatal = fatal


class Frame:
    __slots__ = ("header", "buffers")

    def __init__(self, header: Dict[str, Any], buffers: Dict[str, Tuple[str, List[int], bytearray]]):
        self.header = header
        self.buffers = buffers


def _read_exact(stream: BinaryIO, n: int) -> Optional[bytearray]:
    """n bytes, or None at a clean end of stream before the first byte."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        r = stream.readinto(view[got:])
        if not r:
            if got == 0:
                return None
            raise FrameError(f"stream ended inside a frame ({got} of {n} bytes)", fatal=True)
        got += r
    return buf


def _skip(stream: BinaryIO, n: int) -> None:
    while n > 0:
        chunk = _read_exact(stream, min(n, 1 << 20))
        if chunk is None:
            raise FrameError("stream ended inside a frame", fatal=True)
        n -= len(chunk)


def _check_buffers(listed: Any, body: int) -> List[Tuple[str, str, List[int], int]]:
    if listed is None:
        listed = []
    if not isinstance(listed, list):
        raise ValueError("'buffers' must be a list")
    out = []
    total = 0
    names = set()
    for i, b in enumerate(listed):
        if not isinstance(b, dict):
            raise ValueError(f"buffers[{i}] must be an object")
        name, dtype, shape, nbytes = b.get("name"), b.get("dtype"), b.get("shape"), b.get("bytes")
        if not isinstance(name, str) or name in names:
            raise ValueError(f"buffers[{i}]: 'name' must be a unique string")
        names.add(name)
        if dtype not in ITEMSIZE:
            raise ValueError(f"buffer '{name}': dtype {dtype!r} is not one of {', '.join(ITEMSIZE)}")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise ValueError(f"buffer '{name}': shape must be a list of whole numbers >= 0")
        count = 1
        for s in shape:
            count *= s
        if nbytes != count * ITEMSIZE[dtype]:
            raise ValueError(
                f"buffer '{name}': {nbytes} bytes listed, but {dtype} {shape} needs {count * ITEMSIZE[dtype]}"
            )
        total += nbytes
        out.append((name, dtype, list(shape), nbytes))
    if total != body:
        raise ValueError(f"the buffers list {total} bytes but the frame body has {body}")
    return out


def read_frame(stream: BinaryIO) -> Optional[Frame]:
    """The next frame, None at end of stream. A FrameError leaves the stream at the next frame unless fatal."""
    prefix = _read_exact(stream, PREFIX.size)
    if prefix is None:
        return None
    header_len, body_len = PREFIX.unpack(prefix)
    if header_len > MAX_HEADER_BYTES:
        raise FrameError(f"header length {header_len} is implausible: the stream is out of step", fatal=True)
    raw = _read_exact(stream, header_len)
    if raw is None:
        raise FrameError("stream ended inside a frame", fatal=True)
    try:
        header = json.loads(raw.decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("the header must be a JSON object")
    except (ValueError, UnicodeDecodeError) as e:
        _skip(stream, body_len)
        raise FrameError(f"malformed header: {e}") from None
    request_id = header.get("id")
    try:
        listed = _check_buffers(header.get("buffers"), body_len)
    except ValueError as e:
        _skip(stream, body_len)
        raise FrameError(str(e), request_id) from None
    buffers = {}
    for name, dtype, shape, nbytes in listed:
        data = _read_exact(stream, nbytes) if nbytes else bytearray()
        if data is None:
            raise FrameError("stream ended inside a frame", fatal=True)
        buffers[name] = (dtype, shape, data)
    return Frame(header, buffers)


def _finite(v: Any) -> Any:
    """JSON has no NaN/Infinity (JavaScript's JSON.parse rejects them): they travel as null."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def write_frame(stream: BinaryIO, header: Dict[str, Any], buffers: List[Tuple[str, str, List[int], Any]]) -> None:
    """buffers: (name, dtype, shape, data) where data is bytes-like or has a `.view` memoryview; written
    as they are (no copy)."""
    views = [memoryview(getattr(b, "view", b)).cast("B") for _, _, _, b in buffers]
    header = dict(header)
    header["buffers"] = [
        {"name": n, "dtype": d, "shape": list(s), "bytes": v.nbytes} for (n, d, s, _), v in zip(buffers, views)
    ]
    raw = json.dumps(_finite(header), separators=(",", ":"), allow_nan=False).encode("utf-8")
    stream.write(PREFIX.pack(len(raw), sum(v.nbytes for v in views)))
    stream.write(raw)
    for v in views:
        stream.write(v)
    stream.flush()
