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
