#!/usr/bin/env bash
# Fuzzes the JSON API against its own OpenAPI document with schemathesis: starts the quickstart
# (with demo traffic, on a fresh SQLite database), then runs schemathesis twice, once with the
# read-only security token and once with an administrator's session and CSRF token (so every
# change is tried too). Fails on any 500, any answer that breaks the document (status, content
# type, schema, headers), a request the document forbids that the API accepts, or a route that
# ignores its authentication.
#
#   scripts/api-fuzz.sh                  # port 9180, seed 1, 30 examples per operation
#   SEED=7 EXAMPLES=100 scripts/api-fuzz.sh
#
# Needs schemathesis (pip install schemathesis). Not checked: that every request the document
# allows is accepted (schemathesis' positive_data_acceptance), since the API refuses some
# combinations OpenAPI cannot say: `range` with `from`/`to`, more than 366 days, `to` before
# `from`, passwords that do not match.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-9180}
SEED=${SEED:-1}
EXAMPLES=${EXAMPLES:-30}
command -v schemathesis >/dev/null || { echo "schemathesis is missing: pip install schemathesis" >&2; exit 1; }
cargo build -q --example quickstart
bin=target/debug/examples/quickstart
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

password=fuzz-admin-password
token=fuzz-token
PORT=$PORT FMD_DATABASE="sqlite://$work/fmd.db" FMD_PASSWORD=$password FMD_SECURITY_TOKEN=$token \
  "$bin" --demo-traffic >"$work/out" 2>&1 &
pid=$!
base=http://127.0.0.1:$PORT/dashboard
for _ in $(seq 300); do curl -sf -o /dev/null "$base/api/openapi.json" && break; sleep 0.1; done
curl -sf -o /dev/null "$base/api/openapi.json" || { echo "the quickstart did not start; it printed:" >&2; cat "$work/out" >&2; exit 1; }
sleep 5 # some demo traffic first, so that the answers have data in them

fuzz() { # config file -> schemathesis' exit status; its cache stays in the temporary directory
  (cd "$work" && schemathesis --config-file "$1" run "$base/api/openapi.json" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "$EXAMPLES" --seed "$SEED" --generation-database none --no-color)
}

cat >"$work/token.toml" <<'EOF'
[auth.openapi.token]
bearer = "${FMD_FUZZ_TOKEN}"
EOF
echo "== schemathesis with the read-only security token"
FMD_FUZZ_TOKEN=$token fuzz "$work/token.toml"

curl -sf -o /dev/null -c "$work/jar" --data-urlencode username=admin --data-urlencode "password=$password" "$base/login"
session=$(awk '$6 == "fmd_session" {print $7}' "$work/jar")
csrf=$(awk '$6 == "fmd_csrf" {print $7}' "$work/jar")
[ -n "$session" ] && [ -n "$csrf" ] || { echo "could not log in as admin" >&2; exit 1; }
cat >"$work/admin.toml" <<'EOF'
[auth.openapi.session]
api_key = "${FMD_FUZZ_SESSION}"
[auth.openapi.csrf]
api_key = "${FMD_FUZZ_CSRF}"
EOF
echo "== schemathesis with an administrator's session"
FMD_FUZZ_SESSION=$session FMD_FUZZ_CSRF=$csrf fuzz "$work/admin.toml"

echo "== the API held: no 500, no answer outside the document"
