#!/usr/bin/env bash
# The whole suite: dependencies, services, typecheck, import rules, then every test file
# under node's built-in runner (its closing summary is what CI reads).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
bash test/ensure-services.sh
npx tsc --noEmit -p tsconfig.json
node --import tsx scripts/check-imports.ts
mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency="${CTLOG_TEST_CONCURRENCY:-2}" "${files[@]}"
