#!/usr/bin/env bash
# The whole suite on a fresh clone: install, build, lint, type-check, unit + end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/build.mjs
npx --no-install biome check .
npx --no-install tsc --noEmit -p tsconfig.json
npx --no-install vitest run "$@"
