#!/usr/bin/env bash
# Memory at scale: serve (static directory, implicit TLS or STARTTLS) and
# "bridgehead loadtest -idle" holding SESSIONS authenticated sessions,
# reporting the server's VmRSS per session.
#
#   bench/idle.sh                    10000 sessions over STARTTLS
#   SESSIONS=2000 TLSMODE=implicit bench/idle.sh
#
# Needs Go; no root. The load tool and the server each need SESSIONS file
# descriptors (Go raises the soft limit to the hard one by itself).
set -euo pipefail

SESSIONS=${SESSIONS:-10000}
C=${C:-32}
TLSMODE=${TLSMODE:-starttls}
REPO=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/bhidle.XXXXXX)
BH_PID=""
cleanup() {
	set +e
	[ -n "$BH_PID" ] && kill "$BH_PID" 2>/dev/null && wait "$BH_PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
source "$REPO/bench/lib.sh"

bench_setup "$W"
PORT=$(free_port)
MODE=submission
[ "$TLSMODE" = implicit ] && MODE=submissions
write_users "$W/users.yaml"
# Nothing is sent: the route only has to be valid.
write_config "$W/bridgehead.yaml" "$W/state" "$W/users.yaml" "$PORT" "$MODE" $((SESSIONS + 100)) $((SESSIONS + 100)) 9
"$BH" serve -config "$W/bridgehead.yaml" 2>"$W/serve.log" &
BH_PID=$!
wait_port "127.0.0.1:$PORT"
"$BH" loadtest -server "127.0.0.1:$PORT" -tls "$TLSMODE" -auth plain -user bench -password "$PASSWORD" \
	-from bench@example.test -to rcpt@example.net -c "$C" -idle "$SESSIONS" -sources 8 \
	-server-pid "$BH_PID" ${LOADTEST_FLAGS:-}
