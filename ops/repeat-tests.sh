#!/usr/bin/env bash
# The suite's flakiness check (docs/ARCHITECTURE.md, "Tests"): runs `npm test` N times in a row and prints
# one line a run (duration, tests passed and failed, load average); stops at the first red run.
#   bash ops/repeat-tests.sh 10            ten runs on the machine as it is
#   BURN=2 bash ops/repeat-tests.sh 1      one run beside stress-ng burning 2 CPUs (apt-get install stress-ng)
# Uses DATABASE_URL / REDIS_URL when set, as `npm test` does. Each run's jest output is kept in $LOG_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-10}
log_dir=${LOG_DIR:-$(mktemp -d -t crm-repeat-tests-XXXXXX)}
mkdir -p "$log_dir"

burner=
if [ "${BURN:-0}" -gt 0 ]; then
  command -v stress-ng >/dev/null || { echo "BURN needs stress-ng (apt-get install stress-ng)" >&2; exit 1; }
  stress-ng --cpu "$BURN" --quiet &
  burner=$!
  trap 'kill "$burner" 2>/dev/null || true' EXIT
fi

echo "commit $(git rev-parse --short HEAD), $(nproc) CPUs, burner: ${BURN:-0} CPUs, logs in $log_dir"
for run in $(seq 1 "$runs"); do
  started=$(date +%s)
  status=0
  npx jest --ci --json --outputFile="$log_dir/run-$run.json" >"$log_dir/run-$run.log" 2>&1 || status=$?
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  summary=$(node -e '
    const r = require(process.argv[1]);
    const failed = r.testResults.filter((f) => f.status !== "passed").map((f) => f.name.replace(/.*\/backend\/test\//, ""));
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed${failed.length ? ` (${failed.join(", ")})` : ""}`);
  ' "$log_dir/run-$run.json" 2>/dev/null || echo "no result file")
  echo "run $run: $(( $(date +%s) - started )) s, $summary, load $load, exit $status"
  [ "$status" -eq 0 ] || exit "$status"
done
