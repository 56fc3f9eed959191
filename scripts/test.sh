#!/usr/bin/env bash
# npm test: typecheck, lint, unit + integration tests (vitest), then one summary line over every runner.
set -uo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1
rm -rf test-results && mkdir -p test-results
status=0

step() { # name, command… — a failing gate counts as one failed test in the summary
  local name=$1; shift
  echo "== $name"
  if "$@"; then echo "pass" > "test-results/gate-$name"; else echo "fail" > "test-results/gate-$name"; status=1; fi
}

step typecheck npx tsc --noEmit
step lint npx biome check .
echo "== vitest"
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json || status=1
if [ "${SKIP_BENCH:-}" != "1" ]; then
  # the quick benchmark smoke: every measurement runs once; no timing is asserted
  echo "== bench --quick"
  npx vitest run -c bench/vitest.config.ts --reporter=default --reporter=json --outputFile.json=test-results/bench.json || status=1
fi
if [ -f e2e/playwright.config.ts ] && [ "${SKIP_E2E:-}" != "1" ]; then
  echo "== playwright"
  npx playwright test -c e2e/playwright.config.ts --reporter=list,json || status=1
fi
node scripts/test-summary.mjs | tee test-results/summary.txt
exit $status
