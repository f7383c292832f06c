#!/usr/bin/env bash
# The README's test command runs this: prerequisites, lint, type-check + build,
# then every test (unit, x/mod conformance, differential oracle, end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh
bash scripts/prereqs-go-switch.sh
npx biome check .
npx tsc -p tsconfig.json
# Node 20's test runner takes no globs: bash expands them.
shopt -s globstar nullglob
files=(src/**/*.test.ts test/**/*.test.ts)
node --import tsx --test --test-concurrency=2 --test-timeout=600000 "${files[@]}"
