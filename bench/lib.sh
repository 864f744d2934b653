# Shared set-up of the bench scripts (run.sh, profile.sh, idle.sh); source
# it after setting REPO and W (the work directory).

# free_port prints a free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
	shuf -i 20000-60000 -n 1; }

# wait_port HOST:PORT waits until something listens there (10 s), else exits.
wait_port() {
	local i
	for i in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "nothing listening on $1" >&2
	exit 1
}

# sink_dump_dir prints a new directory for smtp-sink's dumps, on tmpfs when
# there is one, else under $W. smtp-sink is single-threaded and creates one
# file per message; on the servers' own disk each file creation waits behind
# the journal commits their fsyncs force (about 1.2 ms per openat measured on
# ext4), which capped the relay near 1,000 msg/s and measured the sink rather
# than the server. The back end is not under test.
sink_dump_dir() {
	mktemp -d /dev/shm/bhsink.XXXXXX 2>/dev/null || mktemp -d "$W/sinkdump.XXXXXX"
}

# bench_setup DIR builds bridgehead into DIR/bridgehead (BH), makes an ECDSA
# P-256 certificate DIR/tls.crt and DIR/tls.key for localhost, and a bench
# user: PASSWORD and its bcrypt HASH.
bench_setup() {
	(cd "$REPO" && go build -o "$1/bridgehead" ./cmd/bridgehead)
	BH="$1/bridgehead"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 \
		-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
		-keyout "$W/tls.key" -out "$W/tls.crt" 2>/dev/null
	PASSWORD=bench-$RANDOM$RANDOM
	HASH=$(printf '%s\n' "$PASSWORD" | "$BH" hash-password)
}

# write_users FILE writes a static directory with the bench user.
write_users() {
	cat >"$1" <<EOT
users:
  - login: bench
    password: "$HASH"
    addresses: [bench@example.test]
EOT
}

# write_config FILE STATE_DIR USERS_FILE PORT MODE MAX_CONN MAX_PER_IP SINK_PORT
# writes the bridgehead configuration the bench scripts share: one listener
# (submission or submissions) with raised limits, the static directory, the
# auth cache as long as Dovecot's auth_cache_ttl in run.sh, and every
# message relayed to smtp-sink without TLS.
write_config() {
	cat >"$1" <<EOT
hostname: bh.bench.localhost
state_dir: $2
tls:
  cert_file: $W/tls.crt
  key_file: $W/tls.key
listeners:
  - name: submission
    address: 127.0.0.1:$4
    mode: $5
    limits:
      max_connections: $6
      max_connections_per_ip: $7
      max_messages_per_connection: 1000
domains: [example.test]
auth:
  cache_ttl: 1h
directory:
  static:
    file: $3
routes:
  - domains: ["*"]
    to: smtp://127.0.0.1:$8
    tls: none
EOT
}
