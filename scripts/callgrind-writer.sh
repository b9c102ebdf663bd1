#!/usr/bin/env bash
# User-space instructions per row the SQL sink writes on SQLite, counted by valgrind's
# callgrind: benches/writer.rs writes N1 and then N2 batches of ROWS rows (FMD_WRITER_BATCHES,
# FMD_WRITER_ROWS), and the difference of the two totals over the rows between them is one row,
# with start-up, migrations and shutdown cancelled out. Needs valgrind.
#
#   scripts/callgrind-writer.sh            # ROWS=1000 N1=2 N2=12
#   ROWS=30 N1=20 N2=220 scripts/callgrind-writer.sh   # the batches of a live service
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${N1:-2}
N2=${N2:-12}
ROWS=${ROWS:-1000}
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind" >&2; exit 1; }
bin=$(cargo bench --bench writer --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "cannot build benches/writer.rs" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count() { # batches -> instructions of the whole run
  FMD_WRITER_ROWS=$ROWS FMD_WRITER_BATCHES=$1 valgrind --tool=callgrind --callgrind-out-file="$work/cg" "$bin" 2>/dev/null
  awk '/^summary:/ {print $2}' "$work/cg"
}
a=$(count "$N1")
b=$(count "$N2")
echo "writer, SQLite, batches of $ROWS: $(((b - a) / ((N2 - N1) * ROWS))) instructions a row"
