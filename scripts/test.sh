#!/usr/bin/env bash
# Runs bridgehead's whole test suite on a Debian/Ubuntu machine, installing
# the real servers and clients the integration tests use. Usage:
#   bash scripts/test.sh            # everything, with the race detector
#   bash scripts/test.sh ./gateway/...   # some packages
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the integration tests start or drive (see shared recipes).
packages=(swaks msmtp dovecot-imapd dovecot-lmtpd postfix slapd ldap-utils python3 ca-certificates clamav-daemon rspamd systemd haproxy fail2ban)
binaries=(swaks msmtp dovecot smtp-sink slapd slapadd python3 clamd rspamd systemd-analyze haproxy fail2ban-regex)
missing=()
for b in "${binaries[@]}"; do
  command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || missing+=("$b")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test servers and clients (missing: ${missing[*]})"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "slapd slapd/no_configuration boolean true" | $sudo debconf-set-selections
  echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
  $sudo apt-get update -qq
  # Package scripts try to start services and are refused without an init: harmless.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin:/sbin"

if ! command -v go >/dev/null 2>&1; then
  [ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
fi
command -v go >/dev/null 2>&1 || { echo "Go is required (see go.mod for the version)"; exit 1; }
go version

echo "--- gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
echo "--- go vet"
go vet ./...
echo "--- staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

echo "--- go test -race third_party/go-smtp (patched, replaced in go.mod)"
(cd third_party/go-smtp && go vet ./... && go test -race -count=1 ./...)

echo "--- go test -race"
# CI=true makes an integration test whose server is missing fail instead of
# skip; any skip left is a failure too.
export CI="${CI:-true}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
go test -race -count=1 -v "${@:-./...}" >"$log" 2>&1
status=$?
set -e
grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|PASS|FAIL|ok|panic|\s+\S+_test\.go)' "$log" | grep -vE '^(=== RUN|--- PASS)' || true
skipped=$(grep -cE -- '--- SKIP' "$log" || true)
passed=$(grep -cE -- '--- PASS' "$log" || true)
failed=$(grep -cE -- '--- FAIL' "$log" || true)
if [ "$status" -ne 0 ]; then
  echo "--- failures in detail"
  grep -B2 -A30 -E -- '--- FAIL|^panic' "$log" | head -400
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$skipped" -ne 0 ]; then
  echo "skipped tests are failures here:"; grep -E -- '--- SKIP' "$log"
  exit 1
fi
exit "$status"
