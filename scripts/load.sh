#!/usr/bin/env bash
# Throughput of the quickstart's fast endpoint with and without tracking (warp's
# `dashboard.bind`, or axum's `dashboard.layer()`), on loopback, and whether every request
# served is stored. Bounded: ROUNDS x 2 runs of DURATION each.
#
#   scripts/load.sh            # 3 rounds of 10 s per mode
#   ROUNDS=5 DURATION=5s scripts/load.sh
#   PIN=1 scripts/load.sh      # wrk on CPU 0, the server (and its writer) on the others
#   LEVEL=0 scripts/load.sh    # the bound server at another monitoring level (default 1)
#   FRAMEWORK=axum scripts/load.sh   # axum with dashboard.layer() instead of warp's bind
#
# Unpinned, wrk and the server share every core, so work done anywhere in the server (the
# request path or the writer) is taken from both. Pinned, the load generator keeps its own core
# and the ratio is the server's alone.
#
# Needs wrk (apt-get install wrk). Prints each run, the median requests/s per mode, the ratio
# bound/bare, and served vs stored for the bound runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
PORT=${PORT:-9100}
CONNECTIONS=${CONNECTIONS:-32}
PIN=${PIN:-0}
LEVEL=${LEVEL:-1}
FRAMEWORK=${FRAMEWORK:-warp}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --features axum --example load_target >/dev/null 2>&1 || cargo build --release --features axum --example load_target
bin=target/release/examples/load_target
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
server_cpus=() wrk_cpus=()
if [ "$PIN" = 1 ]; then
  cpus=$(nproc)
  [ "$cpus" -ge 2 ] || { echo "PIN=1 needs at least 2 CPUs" >&2; exit 1; }
  server_cpus=(taskset -c "1-$((cpus - 1))") wrk_cpus=(taskset -c 0)
fi

run() { # mode -> prints "rps served stored"
  local mode=$1 flag="--level $LEVEL"
  [ "$mode" = bare ] && flag=--bare
  [ "$FRAMEWORK" = axum ] && flag="$flag --axum"
  rm -f "$work"/fmd-load.db*
  "${server_cpus[@]}" "$bin" $flag --port "$PORT" --db "$work/fmd-load.db" >"$work/out" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do grep -q ready "$work/out" 2>/dev/null && break; sleep 0.1; done
  if ! grep -q ready "$work/out"; then
    echo "the $mode server did not start within 30 s; it printed:" >&2
    cat "$work/out" >&2
    kill "$pid" 2>/dev/null || true
    exit 1
  fi
  local rps
  rps=$("${wrk_cpus[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "http://127.0.0.1:$PORT/" | awk '/Requests\/sec/ {print $2}')
  kill -INT "$pid"; wait "$pid" || true
  local served stored
  served=$(awk '/^served/ {print $2}' "$work/out")
  stored=$(awk '/^served/ {print $4}' "$work/out")
  echo "$rps $served $stored"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

: >"$work/bare"; : >"$work/bound"
for round in $(seq "$ROUNDS"); do
  for mode in bare bound; do
    read -r rps served stored < <(run "$mode")
    echo "round $round $mode: $rps req/s, served $served, stored $stored"
    echo "$rps" >>"$work/$mode"
    # Level 0 stores no requests, only when each endpoint was last requested.
    if [ "$mode" = bound ] && [ "$LEVEL" != 0 ] && [ "$served" != "$stored" ]; then
      echo "  MISMATCH: served $served but stored $stored"
    fi
  done
done
bare=$(median <"$work/bare"); bound=$(median <"$work/bound")
echo "median bare $bare req/s, bound $bound req/s, ratio $(awk -v a="$bound" -v b="$bare" 'BEGIN {printf "%.3f", a/b}')"
