#!/usr/bin/env bash
# Installs what organelle needs on a fresh clone: npm packages, and the Debian packages used by the
# interoperability tests and benchmarks (python3-zarr & co as independent reference implementations).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  # onnxruntime-node ships its CPU binaries in the package; its install script would only fetch CUDA extras.
  # `npm install` rather than `npm ci`: npm 11 leaves Biome's optional per-platform packages out of the
  # lock file and `npm ci` then refuses it; `npm install` installs the locked versions all the same.
  ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error
fi

# Debian packages: reference implementations for tests (never needed to run organelle itself).
need=()
python3_bin=/usr/bin/python3
have_py() { [ -x "$python3_bin" ] && "$python3_bin" -c "import $1" >/dev/null 2>&1; }
have_py numpy || need+=(python3-numpy)
have_py zarr || need+=(python3-zarr)
have_py scipy || need+=(python3-scipy)
have_py skimage || need+=(python3-skimage)
have_py tifffile || need+=(python3-tifffile)
have_py networkx || need+=(python3-networkx)
# PyTorch runs the torch engine (training, export); skipped when ORGANELLE_PYTHON already has it (a GPU box).
{ [ -n "${ORGANELLE_PYTHON:-}" ] && "$ORGANELLE_PYTHON" -c "import torch" >/dev/null 2>&1; } || have_py torch || need+=(python3-torch)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
# The web app's browser tests drive Debian's chromium through playwright-core; nginx is bench/serve's peer.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${need[*]}" >&2
    echo "setup: install them with: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
