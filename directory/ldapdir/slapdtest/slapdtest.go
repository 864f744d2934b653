// Package slapdtest starts a throwaway OpenLDAP slapd on loopback for tests:
// seeded offline with slapadd from LDIF, listening on ldap:// and ldaps://
// on free ports with a test CA, ppolicy and the monitor backend loaded, and
// an optional Active-Directory-like schema. Stop and Start simulate outages.
package slapdtest

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

//go:embed ad.schema
var adSchema []byte

// Fixed names every Server uses.
const (
	// Suffix is the naming context of the test database.
	Suffix = "dc=example,dc=test"
	// RootDN is the database's root account (reads cn=Monitor too).
	RootDN = "cn=admin," + Suffix
	// RootPassword is RootDN's password.
	RootPassword = "rootsecret"
	// ServiceDN is a least-privilege service account for lookups.
	ServiceDN = "cn=svc," + Suffix
	// ServicePassword is ServiceDN's password.
	ServicePassword = "svc-secret"
)

// Config says what a Server holds.
type Config struct {
	// LDIF holds entries below Suffix; the suffix entry and ServiceDN are
	// added by the helper.
	LDIF string
	// ADSchema loads the Active-Directory-like schema (sAMAccountName,
	// userPrincipalName, proxyAddresses, userAccountControl,
	// msExchHomeServerName; classes user, group, contact, computer).
	ADSchema bool
}

// Server is one running (or stopped) slapd.
type Server struct {
	// URL is the plain ldap:// URL (StartTLS is offered on it).
	URL string
	// LDAPSURL is the ldaps:// URL.
	LDAPSURL string
	// CAFile is the PEM file of the CA that signed the server certificate
	// (SANs 127.0.0.1 and localhost).
	CAFile string
	// ServicePasswordFile holds ServicePassword.
	ServicePasswordFile string
	// Dir is the instance directory.
	Dir string

	bin  string
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

var slapdConf = template.Must(template.New("slapd.conf").Parse(`
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/misc.schema
{{if .AD}}include {{.Dir}}/ad.schema
{{end}}
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload back_monitor
moduleload ppolicy

pidfile {{.Dir}}/slapd.pid
argsfile {{.Dir}}/slapd.args

TLSCACertificateFile {{.Dir}}/ca.crt
TLSCertificateFile {{.Dir}}/server.crt
TLSCertificateKeyFile {{.Dir}}/server.key

database mdb
suffix "{{.Suffix}}"
rootdn "{{.RootDN}}"
rootpw {{.RootPassword}}
directory {{.Dir}}/db
maxsize 16777216
overlay ppolicy
ppolicy_default "cn=ppolicy,{{.Suffix}}"
ppolicy_use_lockout
access to attrs=userPassword by self =xw by anonymous auth by * none
access to * by * read

database monitor
access to * by dn.exact="{{.RootDN}}" read by * none
`))

// Start seeds and starts a slapd for the test; t.Cleanup stops it. When
// slapd is missing the test fails if $CI is set and is skipped otherwise.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	bin := lookBin("slapd")
	add := lookBin("slapadd")
	if bin == "" || add == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("slapdtest: slapd/slapadd not installed")
		}
		t.Skip("slapdtest: slapd/slapadd not installed")
	}
	dir := t.TempDir()
	s := &Server{Dir: dir, bin: bin, CAFile: filepath.Join(dir, "ca.crt"),
		ServicePasswordFile: filepath.Join(dir, "svc.password")}
	if err := s.setup(cfg, add); err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	t.Cleanup(func() { s.stop() })
	if err := s.start(); err != nil {
		t.Fatalf("slapdtest: %v\n%s", err, s.logTail())
	}
	return s
}

func (s *Server) setup(cfg Config, slapadd string) error {
	ca, err := NewCA("slapdtest CA")
	if err != nil {
		return err
	}
	if err := ca.WriteFile(s.CAFile); err != nil {
		return err
	}
	if err := ca.Issue(filepath.Join(s.Dir, "server.crt"), filepath.Join(s.Dir, "server.key")); err != nil {
		return err
	}
	if cfg.ADSchema {
		if err := os.WriteFile(filepath.Join(s.Dir, "ad.schema"), adSchema, 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(s.ServicePasswordFile, []byte(ServicePassword+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(s.Dir, "db"), 0o700); err != nil {
		return err
	}
	var conf bytes.Buffer
	if err := slapdConf.Execute(&conf, map[string]any{
		"AD": cfg.ADSchema, "Dir": s.Dir, "Suffix": Suffix, "RootDN": RootDN, "RootPassword": RootPassword,
	}); err != nil {
		return err
	}
	confPath := filepath.Join(s.Dir, "slapd.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o600); err != nil {
		return err
	}
	seed := fmt.Sprintf("dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n"+
		"dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: svc\nuserPassword: %s\n\n"+
		"dn: cn=ppolicy,%s\nobjectClass: organizationalRole\nobjectClass: pwdPolicy\ncn: ppolicy\npwdAttribute: userPassword\npwdLockout: TRUE\n\n%s\n",
		Suffix, ServiceDN, SSHA(ServicePassword), Suffix, strings.TrimSpace(cfg.LDIF))
	ldif := filepath.Join(s.Dir, "seed.ldif")
	if err := os.WriteFile(ldif, []byte(seed), 0o600); err != nil {
		return err
	}
	if out, err := exec.Command(slapadd, "-f", confPath, "-l", ldif).CombinedOutput(); err != nil {
		return fmt.Errorf("slapadd: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	sport, err := freePort()
	if err != nil {
		return err
	}
	s.URL = "ldap://127.0.0.1:" + strconv.Itoa(port)
	s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(sport)
	s.args = []string{"-f", confPath, "-h", s.URL + "/ " + s.LDAPSURL + "/", "-d", "256"}
	return nil
}

// Stop stops slapd (SIGTERM, then SIGKILL) and waits for it to exit.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.stop()
}

// Start starts a stopped slapd again on the same ports and database.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("slapdtest: restart: %v\n%s", err, s.logTail())
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("already running")
	}
	logf, err := os.OpenFile(filepath.Join(s.Dir, "slapd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	addr := strings.TrimPrefix(s.URL, "ldap://")
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			s.cmd = nil
			return errors.New("slapd exited during start")
		case <-time.After(20 * time.Millisecond): // poll the port: slapd gives no other readiness signal
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("slapd not listening on %s: %w", addr, err)
		}
	}
}

func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "slapd.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func lookBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DeadURL returns an ldap:// URL on a loopback port where nothing listens.
func DeadURL(t testing.TB) string {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return "ldap://127.0.0.1:" + strconv.Itoa(p)
}

// SilentURL returns an ldap:// URL whose server accepts connections and
// never answers, to exercise timeouts. It is closed at cleanup.
func SilentURL(t testing.TB) string {
	t.Helper()
	return "ldap://" + testservers.StartSilent(t)
}
