#!/usr/bin/env bash
# The suite three times in a row while another process keeps one core busy:
# a test that needs a quiet machine to pass is a defect. Extra arguments go to
# every `npm test` (e.g. a file, or TEST_DATABASE_URL in the environment).
# Prints one line per run and exits non-zero if any run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
node -e 'for (;;) {}' &
busy=$!
trap 'kill "$busy" 2>/dev/null' EXIT
reports=$(mktemp -d)
status=0
for run in 1 2 3; do
  started=$(date +%s)
  npm test -- --reporter=dot --reporter=json --outputFile.json="$reports/run$run.json" "$@" >"$reports/run$run.log" 2>&1 || status=1
  if [ -f "$reports/run$run.json" ]; then
    named=$(jq -r --arg run "run $run" -f test/failed-tests.jq "$reports/run$run.json")
    echo "run $run: $(jq '.numPassedTests' "$reports/run$run.json") passed, $(grep -c '^failed (' <<<"$named" || true) failed in $(( $(date +%s) - started )) s"
    [ -n "$named" ] && echo "$named"
  else
    echo "run $run: no report (see $reports/run$run.log)"
    status=1
  fi
done
# Kept for reading a failure's whole output; nothing else removes them.
echo "reports and logs: $reports"
exit $status
