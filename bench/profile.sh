#!/usr/bin/env bash
# Profile bridgehead under load: serve (static directory, smtp-sink back
# end, the same setup as run.sh) with -cpuprofile and -memprofile, driven
# by "bridgehead loadtest", then print the top of both profiles.
#
#   bench/profile.sh                       C=32, 2000 messages, 10 per connection
#   C=8 N=5000 PER_CONN=1 SIZE=100KiB bench/profile.sh
#   OUT=/tmp/prof bench/profile.sh         keep the profiles and binary there
#
# Needs Go and smtp-sink (Debian: postfix); no root.
set -euo pipefail

C=${C:-32}
N=${N:-2000}
PER_CONN=${PER_CONN:-10}
SIZE=${SIZE:-1KiB}
TLSMODE=${TLSMODE:-starttls}
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$(mktemp -d /tmp/bhprof.XXXXXX)}
mkdir -p "$OUT"
W=$(mktemp -d /tmp/bhprofw.XXXXXX)
SD="" BH_PID="" SINK_PID=""
cleanup() {
	set +e
	[ -n "$BH_PID" ] && kill "$BH_PID" 2>/dev/null && wait "$BH_PID" 2>/dev/null
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
	[ -n "$SD" ] && rm -rf "$SD"
	rm -rf "$W"
}
trap cleanup EXIT

source "$REPO/bench/lib.sh"
SD=$(sink_dump_dir)

bench_setup "$OUT"

SINK=$(free_port)
SINK_USER=()
[ "$(id -u)" = 0 ] && SINK_USER=(-u root)
smtp-sink "${SINK_USER[@]}" -d "$SD/%Y%m%d%H%M%S." "127.0.0.1:$SINK" 1000 >"$W/sink.log" 2>&1 &
SINK_PID=$!
wait_port "127.0.0.1:$SINK"

PORT=$(free_port)
MODE=submission
[ "$TLSMODE" = implicit ] && MODE=submissions
write_users "$W/users.yaml"
write_config "$W/bridgehead.yaml" "$W/state" "$W/users.yaml" "$PORT" "$MODE" 2000 1000 "$SINK"
"$BH" serve -config "$W/bridgehead.yaml" -cpuprofile "$OUT/cpu.pprof" -memprofile "$OUT/mem.pprof" 2>"$OUT/serve.log" &
BH_PID=$!
wait_port "127.0.0.1:$PORT"

ticks() { awk '{print $14 + $15}' "/proc/$BH_PID/stat"; }
t0=$(ticks)
# bash's time keyword (no /usr/bin/time on a minimal Debian): its report
# goes to loadtest.cpu, the load tool's own stderr to ours.
TIMEFORMAT='load tool CPU: %U s user, %S s system'
{ time "$BH" loadtest -quiet -server "127.0.0.1:$PORT" -tls "$TLSMODE" -auth plain -user bench -password "$PASSWORD" \
	-from bench@example.test -to rcpt@example.net -c "$C" -n "$N" -size "$SIZE" -per-conn "$PER_CONN" ${LOADTEST_FLAGS:-} 2>&4 |
	tee "$OUT/loadtest.txt"; } 4>&2 2>"$OUT/loadtest.cpu"
# Let the relay to the sink finish before stopping the server.
for _ in $(seq 1 200); do
	[ "$(find "$SD" -type f | wc -l)" -ge "$N" ] && break
	sleep 0.05
done
t1=$(ticks)
echo "server CPU: $(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$N" 'BEGIN{printf "%.2f ms/msg (%d ticks for %d messages)", t*1000/hz/n, t, n}')" | tee -a "$OUT/loadtest.txt"
echo "$(cat "$OUT/loadtest.cpu") for $N messages" | tee -a "$OUT/loadtest.txt"
echo "relayed to the sink: $(find "$SD" -type f | wc -l)/$N" | tee -a "$OUT/loadtest.txt"
kill "$BH_PID"
wait "$BH_PID" || true
BH_PID=""
echo "--- CPU (top 30, cumulative sort below)"
go tool pprof -top -nodecount=30 "$BH" "$OUT/cpu.pprof" 2>/dev/null | tee "$OUT/cpu-top.txt"
go tool pprof -top -cum -nodecount=40 "$BH" "$OUT/cpu.pprof" 2>/dev/null >"$OUT/cpu-cum.txt"
echo "--- allocations (alloc_space, top 20)"
go tool pprof -top -sample_index=alloc_space -nodecount=20 "$BH" "$OUT/mem.pprof" 2>/dev/null | tee "$OUT/mem-top.txt"
echo "profiles in $OUT"
