"""Entry point: `python3 -m organelle_engine`. Thread settings must be in the environment before torch
(and the BLAS it links) is imported: OpenBLAS threads fighting torch's own pool make CPU convolutions
several times slower."""

import os
import signal
import sys


def _configure_threads() -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    os.environ.setdefault("OMP_NUM_THREADS", str(cores))
    # Deterministic cuBLAS needs this before the CUDA context exists; harmless otherwise.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def main() -> int:
    # A Ctrl-C in a terminal reaches the whole process group; the TypeScript parent decides how to stop
    # (it saves a stop checkpoint first, then closes our stdin), so the engine must not die on it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _configure_threads()
    from .server import serve

    code = serve(sys.stdin.buffer, sys.stdout.buffer)
    sys.stderr.flush()
    # The reader thread may be blocked reading stdin; a normal interpreter shutdown would wait on it.
    os._exit(code)


if __name__ == "__main__":
    main()
