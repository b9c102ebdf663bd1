#!/usr/bin/env bash
# User-space instructions per request, counted by valgrind's callgrind: the quickstart's fast
# endpoint served bare and tracked (level 1), on warp (`dashboard.bind`) and on axum
# (`dashboard.layer()`). Instruction counts repeat from run to run, unlike timings.
#
#   scripts/callgrind.sh               # warp and axum, 1,000 and 3,000 requests each, and each
#                                      # with a layer (axum) or route (warp) that does nothing
#   FRAMEWORKS=axum N1=500 N2=1500 scripts/callgrind.sh
#   BIN=/tmp/load_target FRAMEWORKS=warp scripts/callgrind.sh   # a copy of an earlier build
#   BREAKDOWN=30 scripts/callgrind.sh  # also the 30 functions whose own instructions grow most
#                                      # per request from the do-nothing run to the tracked one
#
# Each mode is served under callgrind twice, for N1 and for N2 requests (ab, 8 keep-alive
# connections); the difference of the two totals over N2 - N1 is the cost of one request, with
# start-up and shutdown cancelled out. Counted: the runtime's worker threads, which serve the
# requests; not the main thread (it accepts connections, then counts the stored rows), the
# writer (it runs apart from the requests; benches/writer.rs measures it), the watchdog or the
# blocking pool. Needs valgrind and ab (apt-get install valgrind apache2-utils).
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${N1:-1000}
N2=${N2:-3000}
PORT=${PORT:-9200}
LEVEL=${LEVEL:-1}
FRAMEWORKS=${FRAMEWORKS:-"warp axum"}
for tool in valgrind ab; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install valgrind apache2-utils" >&2; exit 1; }
done
if [ -n "${BIN:-}" ]; then
  bin=$BIN # a build kept from before a change, to count both the same day
else
  cargo build --release --features axum --example load_target >/dev/null 2>&1 ||
    cargo build --release --features axum --example load_target
  bin=target/release/examples/load_target
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

count() { # label flags n -> instructions of the counted threads; their profiles stay in $work/label-n
  local run="$work/$1-$3" flags=$2 n=$3
  mkdir "$run"
  # shellcheck disable=SC2086
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$run/cg" \
    "$bin" $flags --level "$LEVEL" --port "$PORT" --db "$run/fmd.db" >"$run/out" 2>"$run/err" &
  local pid=$!
  for _ in $(seq 600); do grep -q ready "$run/out" 2>/dev/null && break; sleep 0.2; done
  grep -q ready "$run/out" || { echo "the server ($flags) did not start:" >&2; cat "$run/err" >&2; exit 1; }
  ab -q -k -n "$n" -c 8 "http://127.0.0.1:$PORT/" >"$run/ab"
  grep -q "Failed requests:        0" "$run/ab" || { echo "ab saw failures:" >&2; cat "$run/ab" >&2; exit 1; }
  kill -INT "$pid"; wait "$pid" || true
  local total=0 file
  for file in "$run"/cg-*; do
    # Only the worker threads' profiles are kept, for the breakdown.
    grep -qE 'fn=\([0-9]+\) tokio::runtime::scheduler::multi_thread::worker::run$' "$file" || { rm "$file"; continue; }
    total=$((total + $(awk '/^summary:/ {print $2}' "$file")))
  done
  echo "$total"
}

per_request() { # label flags -> instructions per request
  local a b
  a=$(count "$1" "$2" "$N1")
  b=$(count "$1" "$2" "$N2")
  echo $(((b - a) / (N2 - N1)))
}

for framework in $FRAMEWORKS; do
  extra=""
  [ "$framework" = axum ] && extra="--axum"
  bare=$(per_request "$framework-bare" "$extra --bare")
  tracked=$(per_request "$framework-tracked" "$extra")
  echo "$framework: bare $bare, tracked (level $LEVEL) $tracked, added $((tracked - bare)) instructions per request"
  # The framework's own part: on axum any layer on a router's routes (its per-route boxing), on
  # warp a route before the app (the dashboard's place); tracking is what fmd adds beyond it.
  noop=$(per_request "$framework-noop" "$extra --bare --noop-layer")
  echo "$framework: untracked with a do-nothing layer or route $noop (+$((noop - bare))); tracking beyond it $((tracked - noop))"
  if [ -n "${BREAKDOWN:-}" ]; then
    python3 scripts/callgrind-breakdown.py "$work/$framework-noop" "$work/$framework-tracked" "$N1" "$N2" "$BREAKDOWN"
  fi
done
