#!/usr/bin/env bash
# `make test`'s Vitest run: the API conformance pass (schemathesis, most of its time in its own Python
# processes) in a second Vitest process beside the rest of the suite, each with its own control plane, so
# the two overlap instead of adding up. Each writes a JSON report; .ci/run counts both.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npx vitest run --project conformance --reporter=default --reporter=json \
  --outputFile.json=.vitest-conformance.json >.vitest-conformance.log 2>&1 &
conformance=$!
npx vitest run --project suite --reporter=default --reporter=json --outputFile.json=.vitest-report.json
suite=$?
wait "$conformance"
conformed=$?
echo "--- the API conformance pass (the second Vitest process; its whole output) ---"
cat .vitest-conformance.log
[[ $suite == 0 && $conformed == 0 ]]
