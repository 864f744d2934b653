#!/usr/bin/env bash
# Side-by-side benchmark: bridgehead against a throwaway Postfix submission
# instance (STARTTLS, SASL via Dovecot, default fsync, relaying to
# smtp-sink), both on loopback, both driven by "bridgehead loadtest".
#
#   sudo bench/run.sh                  full matrix, 3 runs each, table on stdout
#   N=200 RUNS=1 sudo bench/run.sh     quicker
#   KEEP=1 ...                         leave the temp dir (logs) behind
#
# Needs root (Postfix's master runs as root), Go, and Debian packages it
# installs when missing: postfix, dovecot-core, jq, openssl.
# Environment: N messages per run (1000), RUNS per cell (3), CONC ("1 8 32"),
# SIZES ("1KiB 100KiB"), PATTERNS ("reused new"), PER_CONN for reused (10),
# CURVES (X25519: the key exchange groups the load tool offers; empty for
# Go's default offer), LOADTEST_FLAGS (extra flags for "bridgehead
# loadtest", e.g. -resume).
set -euo pipefail

N=${N:-1000}
RUNS=${RUNS:-3}
CONC=${CONC:-"1 8 32"}
SIZES=${SIZES:-"1KiB 100KiB"}
PATTERNS=${PATTERNS:-"reused new"}
PER_CONN=${PER_CONN:-10}
# Both servers do the same key exchange: Postfix with Debian 12's OpenSSL
# 3.0 has no ML-KEM and settles on X25519, while bridgehead would pick
# X25519MLKEM768 from Go's default offer and, with the load tool on the
# same two cores, pay about 0.45 ms more per new connection for it
# (0.17 ms its own encapsulation, 0.27 ms the load tool's key generation
# and decapsulation).
CURVES=${CURVES-X25519}
REPO=$(cd "$(dirname "$0")/.." && pwd)

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (Postfix's master must start as root)"
command -v go >/dev/null || die "Go is needed to build bridgehead"

# --- packages -----------------------------------------------------------
need=()
command -v postfix >/dev/null || need+=(postfix)
command -v smtp-sink >/dev/null || need+=(postfix)
command -v dovecot >/dev/null || need+=(dovecot-core)
command -v jq >/dev/null || need+=(jq)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- workspace ----------------------------------------------------------
# Directly under /tmp and world-traversable: Postfix's and Dovecot's
# unprivileged processes must reach their files; Unix socket paths stay short.
W=$(mktemp -d /tmp/bhb.XXXXXX)
chmod 755 "$W"
SD="" PF_STARTED="" DV_PID="" BH_PID="" SINK_PIDS=()
cleanup() {
	set +e
	[ -n "$PF_STARTED" ] && postfix -c "$W/pf/etc" stop >/dev/null 2>&1
	[ -n "$BH_PID" ] && kill "$BH_PID" 2>/dev/null
	[ -n "$DV_PID" ] && kill "$DV_PID" 2>/dev/null
	for p in "${SINK_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "$SD" ] && rm -rf "$SD"
	if [ -n "${KEEP:-}" ]; then log "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

source "$REPO/bench/lib.sh"
# Both servers' sinks write there (see sink_dump_dir).
SD=$(sink_dump_dir)
chmod 755 "$SD"

log "building bridgehead"
bench_setup "$W"
chmod 644 "$W/tls.key" "$W/tls.crt"

# --- smtp-sink back ends, one per server ----------------------------------
start_sink() { # name port
	mkdir -p "$SD/$1"
	smtp-sink -u root -d "$SD/$1/%Y%m%d%H%M%S." "127.0.0.1:$2" 1000 >"$W/sink-$1.log" 2>&1 &
	SINK_PIDS+=($!)
	wait_port "127.0.0.1:$2"
}
PF_SINK=$(free_port)
BH_SINK=$(free_port)
start_sink pf "$PF_SINK"
start_sink bh "$BH_SINK"

# --- Dovecot, auth only ---------------------------------------------------
mkdir -p "$W/dv/run" "$W/dv/state"
# {PLAIN}: Dovecot compares the password as stored, no hashing at all. This
# favours Postfix (bridgehead checks a bcrypt hash, then caches the result);
# with {BLF-CRYPT} here a bcrypt check per login dominated Postfix's CPU.
printf 'bench:{PLAIN}%s\n' "$PASSWORD" >"$W/dv/passwd"
chmod 644 "$W/dv/passwd"
cat >"$W/dv/dovecot.conf" <<EOF
base_dir = $W/dv/run
state_dir = $W/dv/state
instance_name = bhbench
protocols =
ssl = no
log_path = $W/dv/dovecot.log
auth_mechanisms = plain login
auth_cache_size = 10M
auth_cache_ttl = 1 hour
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = $W/dv/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener auth-client {
    mode = 0666
  }
}
EOF
dovecot -F -c "$W/dv/dovecot.conf" &
DV_PID=$!
for i in $(seq 1 100); do [ -S "$W/dv/run/auth-client" ] && break; sleep 0.05; done
[ -S "$W/dv/run/auth-client" ] || die "dovecot did not start: $(tail -5 "$W/dv/dovecot.log" 2>/dev/null)"

# --- Postfix --------------------------------------------------------------
PF_PORT=$(free_port)
mkdir -p "$W/pf/etc" "$W/pf/spool"
install -d -o postfix -m 700 "$W/pf/data"
cat >"$W/pf/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $W/pf/spool
data_directory = $W/pf/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = pf.bench.localhost
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
maillog_file = $W/pf/maillog
maillog_file_prefixes = /tmp
alias_maps =
alias_database =
local_recipient_maps =
biff = no
relayhost = [127.0.0.1]:$PF_SINK
smtp_tls_security_level = none
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_tls_security_level = encrypt
smtpd_tls_chain_files = $W/tls.key, $W/tls.crt
smtpd_tls_session_cache_database = btree:$W/pf/data/smtpd_scache
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $W/dv/run/auth-client
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
smtpd_client_connection_count_limit = 1000
message_size_limit = 26214400
EOF
cat >"$W/pf/etc/master.cf" <<EOF
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
script -qec "postfix -c $W/pf/etc check" /dev/null >"$W/pf/check.log" 2>&1 || die "postfix check: $(cat "$W/pf/check.log")"
script -qec "postfix -c $W/pf/etc start" /dev/null >"$W/pf/start.log" 2>&1 || die "postfix start: $(cat "$W/pf/start.log")"
PF_STARTED=1
wait_port "127.0.0.1:$PF_PORT"
PF_PID=$(tr -d ' ' <"$W/pf/spool/pid/master.pid")

# --- bridgehead -----------------------------------------------------------
BH_PORT=$(free_port)
mkdir -p "$W/bh"
write_users "$W/bh/users.yaml"
write_config "$W/bh/bridgehead.yaml" "$W/bh/state" "$W/bh/users.yaml" "$BH_PORT" submission 2000 1000 "$BH_SINK"
"$BH" serve -config "$W/bh/bridgehead.yaml" 2>"$W/bh/log" &
BH_PID=$!
wait_port "127.0.0.1:$BH_PORT"

# --- measuring --------------------------------------------------------------
# cpu_ticks PID...: utime+stime of every process in the trees under the PIDs,
# plus what their reaped children used (cutime+cstime).
cpu_ticks() {
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | sed 's/^\([0-9]*\) (.*) /\1 /' | awk -v roots="$*" '
		{ ppid[$1] = $3; t[$1] = $13 + $14 + $15 + $16 }
		END {
			n = split(roots, r, " "); for (i = 1; i <= n; i++) in_tree[r[i]] = 1
			do { changed = 0
				for (p in ppid) if (!(p in in_tree) && (ppid[p] in in_tree)) { in_tree[p] = 1; changed = 1 }
			} while (changed)
			s = 0; for (p in in_tree) s += t[p]; print s
		}'
}
HZ=$(getconf CLK_TCK)
sink_count() { find "$SD/$1" -type f | wc -l; }

# one_run NAME PORT C SIZE PERCONN ROOTPIDS...: prints one JSON line.
one_run() {
	local name=$1 port=$2 c=$3 size=$4 perconn=$5
	shift 5
	rm -rf "$SD/$name" && mkdir -p "$SD/$name"
	local cpu0 cpu1 t0 t1 out got acc
	cpu0=$(cpu_ticks "$@")
	t0=$(date +%s.%N)
	out=$("$BH" loadtest -json -quiet -server "127.0.0.1:$port" -tls starttls -auth plain \
		-user bench -password "$PASSWORD" -from bench@example.test -to rcpt@example.net \
		-c "$c" -n "$N" -size "$size" -per-conn "$perconn" -timeout 60s ${CURVES:+-curves "$CURVES"} ${LOADTEST_FLAGS:-} || true)
	if ! jq -e .accepted >/dev/null 2>&1 <<<"$out"; then
		log "loadtest against $name printed no result: $out"
		out="{\"clients\": $c, \"size\": 0, \"per_conn\": $perconn, \"accepted\": 0, \"failed\": $N, \"errors\": {\"no result\": $N}, \"latency_ms\": {\"p99\": 0}, \"setup_ms\": {\"p99\": 0}}"
	fi
	acc=$(jq -r .accepted <<<"$out")
	# Wait for the relay to the sink: done when every accepted message is
	# there, or nothing new arrived for 10 s.
	local last=-1 still=0
	while :; do
		got=$(sink_count "$name")
		[ "$got" -ge "$acc" ] && break
		if [ "$got" = "$last" ]; then still=$((still + 1)); else still=0; last=$got; fi
		[ "$still" -ge 500 ] && break
		sleep 0.02
	done
	# The run ends when the last message reached the sink: the newest
	# file's time, not when the polling above noticed it.
	t1=$(find "$SD/$name" -type f -printf '%T@\n' | sort -n | tail -1)
	[ -n "$t1" ] || t1=$(date +%s.%N)
	cpu1=$(cpu_ticks "$@")
	jq -c --arg name "$name" --argjson got "$got" --argjson cpu "$(((cpu1 - cpu0)))" --argjson hz "$HZ" \
		--argjson t "$(awk "BEGIN{print $t1 - $t0}")" \
		'{name: $name, c: .clients, size: .size, per_conn: .per_conn, accepted, failed, errors,
		  relayed: $got, wall: $t, rate: (if $t > 0 then ([.accepted, $got] | min) / $t else 0 end),
		  p99: .latency_ms.p99, setup_p99: .setup_ms.p99,
		  cpu_ms_per_msg: (if .accepted > 0 then $cpu * 1000 / $hz / .accepted else 0 end)}' <<<"$out"
}

RESULTS="$W/results.jsonl"
: >"$RESULTS"
log "postfix 127.0.0.1:$PF_PORT (master $PF_PID, dovecot $DV_PID), bridgehead 127.0.0.1:$BH_PORT (pid $BH_PID)"
# Warm up both (TLS, auth caches, process pools), not recorded.
N=50 one_run pf "$PF_PORT" 8 1KiB 5 "$PF_PID" "$DV_PID" >/dev/null
N=50 one_run bh "$BH_PORT" 8 1KiB 5 "$BH_PID" >/dev/null
for size in $SIZES; do
	for pattern in $PATTERNS; do
		perconn=$PER_CONN
		[ "$pattern" = new ] && perconn=1
		for c in $CONC; do
			for run in $(seq 1 "$RUNS"); do
				# Alternate which server goes first.
				if [ $((run % 2)) = 1 ]; then order="pf bh"; else order="bh pf"; fi
				for s in $order; do
					if [ "$s" = pf ]; then
						r=$(one_run pf "$PF_PORT" "$c" "$size" "$perconn" "$PF_PID" "$DV_PID")
					else
						r=$(one_run bh "$BH_PORT" "$c" "$size" "$perconn" "$BH_PID")
					fi
					log "$size $pattern C=$c run $run: $r"
					echo "$r" | jq -c --arg pattern "$pattern" --arg sz "$size" '. + {pattern: $pattern, sz: $sz}' >>"$RESULTS"
				done
			done
		done
	done
done

# --- table: medians over the runs -----------------------------------------
jq -rs '
	def median: sort | if length == 0 then 0 else .[(length - 1) / 2 | floor] end;
	def f1: (. * 10 | round) / 10;
	def f2: (. * 100 | round) / 100;
	group_by([.sz, .pattern, .c]) | map(
		(map(select(.name == "pf"))) as $p | (map(select(.name == "bh"))) as $b |
		{ sz: .[0].sz, pattern: .[0].pattern, c: .[0].c, size: .[0].size,
		  pf: ($p | map(.rate) | median), bh: ($b | map(.rate) | median),
		  pf99: ($p | map(.p99) | median), bh99: ($b | map(.p99) | median),
		  pfcpu: ($p | map(.cpu_ms_per_msg) | median), bhcpu: ($b | map(.cpu_ms_per_msg) | median),
		  pfall: ($p | all(.relayed >= .accepted and .failed == 0)),
		  bhall: ($b | all(.relayed >= .accepted and .failed == 0)) }) |
	sort_by(.size, .pattern, .c) |
	(["size", "conns", "C", "postfix msg/s", "bridgehead msg/s", "ratio", "postfix p99 ms", "bridgehead p99 ms",
	  "postfix CPU ms/msg", "bridgehead CPU ms/msg", "all relayed (pf/bh)"] | "| " + join(" | ") + " |"),
	("|" + ([range(11)] | map("---") | join("|")) + "|"),
	(.[] | [ .sz, .pattern, (.c | tostring), (.pf | f1 | tostring), (.bh | f1 | tostring),
	         (if .pf > 0 then (.bh / .pf | f2 | tostring) + "x" else "-" end),
	         (.pf99 | f1 | tostring), (.bh99 | f1 | tostring),
	         (.pfcpu | f2 | tostring), (.bhcpu | f2 | tostring),
	         ((if .pfall then "yes" else "NO" end) + "/" + (if .bhall then "yes" else "NO" end))
	       ] | "| " + join(" | ") + " |")
' "$RESULTS"
echo
echo "N=$N messages per run, median of $RUNS runs, reused = $PER_CONN messages per connection, new = 1."
echo "msg/s = messages accepted and relayed to smtp-sink / time from first connect to the last one at the sink."
echo "CPU = utime+stime of each server's process tree (Postfix: master and its children plus Dovecot for SASL)."
offer=${CURVES:-"Go's default"}
echo "Key exchange the load tool offers: $offer${LOADTEST_FLAGS:+; load tool flags: $LOADTEST_FLAGS}."
cp "$RESULTS" "${RESULTS_OUT:-/dev/null}" 2>/dev/null || true
