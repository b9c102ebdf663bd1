#!/usr/bin/env bash
# The writer's floor on SQLite: user-space instructions per request row inserted without diesel,
# counted by valgrind's callgrind, to compare with scripts/callgrind-writer.sh (fmd's writer).
# scripts/sqlite-floor inserts the rows benches/writer.rs writes, into the same schema with the
# same statements, through rusqlite and through raw libsqlite3-sys calls; each is run for N1
# and N2 batches of ROWS rows, and the difference over the rows between is one row. It counts
# the insert alone: fmd's writer also groups the rollups and formats the address.
#
#   scripts/callgrind-sqlite-floor.sh              # ROWS=1000 N1=2 N2=12
#   ROWS=300 N1=10 N2=40 scripts/callgrind-sqlite-floor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${N1:-2}
N2=${N2:-12}
ROWS=${ROWS:-1000}
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind" >&2; exit 1; }
export CARGO_TARGET_DIR=$PWD/target/sqlite-floor
cargo build --release --locked --quiet --manifest-path scripts/sqlite-floor/Cargo.toml
bin=$CARGO_TARGET_DIR/release/sqlite-floor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count() { # batches, then the environment of the run -> instructions of the whole run
  local n=$1; shift
  env B="$n" R="$ROWS" "$@" valgrind --tool=callgrind --callgrind-out-file="$work/cg" "$bin" 2>/dev/null
  awk '/^summary:/ {print $2}' "$work/cg"
}
per_row() { # label, then the environment of the run
  local label=$1 a b; shift
  a=$(count "$N1" "$@")
  b=$(count "$N2" "$@")
  echo "$label: $(((b - a) / ((N2 - N1) * ROWS))) instructions a row (batches of $ROWS)"
}
per_row "rusqlite, cached statements, no connection mutex" MODE=rusqlite
per_row "raw libsqlite3-sys, connection mutex (as diesel opens)" MODE=ffi FULLMUTEX=1
per_row "raw libsqlite3-sys, no connection mutex" MODE=ffi
