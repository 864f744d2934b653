package testservers

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Strings StartRspamd's rules score: a message whose text contains
// RspamdAddHeader scores 7 (action "add header"), RspamdGreylist 5
// ("greylist"). The GTUBE string makes rspamd answer "reject".
const (
	RspamdAddHeader = "BRIDGEHEAD-SPAM-ADD-HEADER-TEST"
	RspamdGreylist  = "BRIDGEHEAD-SPAM-GREYLIST-TEST"
	GTUBE           = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
)

// RspamdEnvSymbol fires (score 0.01) when the request carried client IP
// 192.0.2.7, HELO client.example, user alice, queue id QID1 and a recipient
// rcpt@example.org: how tests see the envelope got through.
const RspamdEnvSymbol = "BRIDGEHEAD_TEST_ENVELOPE"

// Rspamd is rspamd's normal worker on 127.0.0.1 with a minimal
// configuration: no Redis, no network lookups, the test rules above and
// actions greylist 4, add header 6, reject 15.
type Rspamd struct {
	// URL is the worker's base URL, http://127.0.0.1:port.
	URL string
	// Dir is the instance directory: rspamd.conf, rules.lua, rspamd.log.
	Dir string

	p *proc
}

const rspamdRules = `
local function has(task, s)
  return string.find(tostring(task:get_content()), s, 1, true) ~= nil
end
rspamd_config:register_symbol({name = 'BRIDGEHEAD_TEST_ADD_HEADER', score = 7.0,
  callback = function(task) return has(task, '%s') end})
rspamd_config:register_symbol({name = 'BRIDGEHEAD_TEST_GREYLIST', score = 5.0,
  callback = function(task) return has(task, '%s') end})
rspamd_config:register_symbol({name = '%s', score = 0.01,
  callback = function(task)
    local ip = task:get_from_ip()
    local rcpts = task:get_recipients('smtp') or {}
    local rcpt = rcpts[1] and rcpts[1].addr or ''
    return ip and tostring(ip) == '192.0.2.7' and task:get_helo() == 'client.example'
      and task:get_user() == 'alice' and task:get_queue_id() == 'QID1' and rcpt == 'rcpt@example.org'
  end})
`

// StartRspamd starts rspamd on a free loopback port; t.Cleanup stops it. A
// missing rspamd fails the test under $CI and skips it otherwise.
func StartRspamd(t testing.TB) *Rspamd {
	t.Helper()
	Require(t, "rspamd")
	dir := t.TempDir()
	port := strconv.Itoa(FreePort(t))
	r := &Rspamd{URL: "http://127.0.0.1:" + port, Dir: dir}
	rules := filepath.Join(dir, "rules.lua")
	if err := os.WriteFile(rules, []byte(fmt.Sprintf(rspamdRules, RspamdAddHeader, RspamdGreylist, RspamdEnvSymbol)), 0o644); err != nil {
		t.Fatalf("testservers: rspamd: %v", err)
	}
	conf := fmt.Sprintf(`options {
  pidfile = "%[1]s/rspamd.pid";
  dbdir = "%[1]s";
  gtube_patterns = "all";
  dns { nameserver = ["127.0.0.1:1"]; timeout = 1s; retransmits = 1; }
}
logging { type = "file"; filename = "%[1]s/rspamd.log"; level = "info"; }
lua = "%[2]s";
worker "normal" { bind_socket = "127.0.0.1:%[3]s"; count = 1; }
actions { reject = 15; add_header = 6; greylist = 4; }
`, dir, rules, port)
	if err := os.WriteFile(filepath.Join(dir, "rspamd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatalf("testservers: rspamd: %v", err)
	}
	args := []string{"-f", "-c", filepath.Join(dir, "rspamd.conf")}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root", "-g", "root")
	}
	logPath := filepath.Join(dir, "rspamd.out")
	p, err := startProc(logPath, lookBin("rspamd"), args...)
	if err != nil {
		t.Fatalf("testservers: rspamd: %v", err)
	}
	t.Cleanup(func() { p.stop(5 * time.Second) })
	if err := WaitListening("127.0.0.1:"+port, p.done, 60*time.Second); err != nil {
		t.Fatalf("testservers: rspamd: %v\n%s\n%s", err, logTail(logPath), logTail(filepath.Join(dir, "rspamd.log")))
	}
	r.p = p
	return r
}
