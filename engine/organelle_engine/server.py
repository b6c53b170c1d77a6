"""The request loop. A reader thread decodes the next frames while the main thread computes and a writer
thread sends results, so a GPU does not wait for the pipe. Every request gets exactly one response, in
order: {id, ok: true, ...} or {id, ok: false, error: {type, message, traceback}}. Only a stream that is
out of step (a broken frame prefix, or the stream ending inside a frame) ends the engine."""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
import traceback
from typing import Any, BinaryIO, Dict, List, Optional, Tuple

from .protocol import FrameError, read_frame, write_frame

_END = object()


def _log_enabled() -> bool:
    return os.environ.get("ORGANELLE_ENGINE_LOG", "") not in ("", "0")


def _log(msg: str) -> None:
    sys.stderr.write(f"organelle_engine: {msg}\n")
    sys.stderr.flush()


def _torch_missing(e: BaseException) -> Dict[str, Any]:
    return {
        "type": "TorchMissing",
        "message": (
            f"PyTorch cannot be imported by {sys.executable} ({type(e).__name__}: {e}); install it "
            "(Debian/Ubuntu: apt-get install python3-torch) or set ORGANELLE_PYTHON to a Python that has PyTorch"
        ),
        "traceback": traceback.format_exc(),
    }


def serve(stdin: BinaryIO, stdout: BinaryIO) -> int:
    # Nothing but frames may reach stdout: anything printed by accident goes to stderr instead.
    sys.stdout = sys.stderr
    log = _log_enabled()
    try:
        from . import handlers

        engine: Any = handlers.Engine()
        missing: Optional[Dict[str, Any]] = None
    except ImportError as e:
        handlers = None
        engine = None
        missing = _torch_missing(e)
        _log(missing["message"])

    inbox: "queue.Queue[Any]" = queue.Queue(maxsize=4)
    outbox: "queue.Queue[Any]" = queue.Queue(maxsize=4)

    def reader() -> None:
        while True:
            try:
                frame = read_frame(stdin)
            except FrameError as e:
                inbox.put(e)
                if e.fatal:
                    break
                continue
            except Exception as e:  # an unreadable stdin (closed by the parent)
                inbox.put(FrameError(f"reading the request stream failed: {e}", fatal=True))
                break
            inbox.put(_END if frame is None else frame)
            if frame is None:
                break

    failed = threading.Event()

    def writer() -> None:
        while True:
            item = outbox.get()
            if item is _END:
                return
            header, buffers = item
            try:
                write_frame(stdout, header, buffers)
            except (BrokenPipeError, OSError) as e:
                _log(f"the client closed the response stream ({e}); stopping")
                failed.set()
                return

    threads = [threading.Thread(target=reader, daemon=True), threading.Thread(target=writer, daemon=True)]
    for t in threads:
        t.start()

    def respond(header: Dict[str, Any], buffers: List[Tuple[str, str, List[int], Any]]) -> None:
        outbox.put((header, buffers))

    def error(request_id: Any, fields: Dict[str, Any]) -> None:
        respond({"id": request_id, "ok": False, "error": fields}, [])

    code = 0
    while not failed.is_set():
        item = inbox.get()
        if item is _END:
            break
        if isinstance(item, FrameError):
            error(item.request_id, {"type": "ProtocolError", "message": str(item), "traceback": ""})
            if item.fatal:
                code = 2
                break
            continue
        header = item.header
        request_id = header.get("id")
        kind = header.get("type")
        if kind == "shutdown":
            respond({"id": request_id, "ok": True, "type": "shutdown"}, [])
            break
        if missing is not None:
            error(request_id, missing)
            continue
        handler = engine.handlers.get(kind)
        if handler is None:
            known = ", ".join(sorted([*engine.handlers, "shutdown"]))
            error(request_id, {"type": "ProtocolError", "message": f"unknown message type {kind!r}; known: {known}", "traceback": ""})
            continue
        start = time.perf_counter()
        try:
            tensors = handlers.Tensors(
                {name: handlers.to_tensor(d, s, b) for name, (d, s, b) in item.buffers.items()},
                {name: d for name, (d, _, _) in item.buffers.items()},
            )
            fields, results = handler(header, tensors)
            buffers = [_host_buffer(name, dtype, t) for name, dtype, t in results]
            respond({"id": request_id, "ok": True, "type": kind, **fields}, buffers)
            if log:
                _log(f"{kind} #{request_id} ok in {1000 * (time.perf_counter() - start):.1f} ms")
        except Exception as e:
            fields = handlers.error_fields(e)
            if log:
                _log(f"{kind} #{request_id} failed: {fields['type']}: {fields['message']}")
            error(request_id, fields)
    outbox.put(_END)
    threads[1].join()
    return code


def _host_buffer(name: str, dtype: str, t: Any) -> Tuple[str, str, List[int], Any]:
    """A result tensor as (name, dtype, shape, bytes-like) for write_frame, without copying CPU memory.
    The memoryview points into the tensor, so the tuple also keeps the tensor alive until it is written."""
    import ctypes

    host = t.detach().cpu().contiguous()
    nbytes = host.numel() * host.element_size()
    if nbytes == 0:
        return (name, dtype, list(host.shape), b"")
    view = memoryview((ctypes.c_char * nbytes).from_address(host.data_ptr())).cast("B")
    return (name, dtype, list(host.shape), _Pinned(view, host))


class _Pinned:
    """A memoryview plus the tensor that owns its memory."""

    __slots__ = ("view", "owner")

    def __init__(self, view: memoryview, owner: Any):
        self.view = view
        self.owner = owner
