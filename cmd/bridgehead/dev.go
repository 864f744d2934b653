package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Dev mode's demo site.
const (
	devDomain = "example.test"
	devLogin  = "demo"
)

// cmdDev runs the gateway on an embedded default: a self-signed
// certificate and a static directory with one demo user, made in DIR on
// first start and reused after.
func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", stderr)
	dir := fs.String("dir", "bridgehead-dev", "directory for the certificate, users, queue and mailboxes")
	submission := fs.String("submission", "127.0.0.1:1587", "submission (STARTTLS) address")
	submissions := fs.String("submissions", "127.0.0.1:1465", "submissions (implicit TLS) address")
	imapAddr := fs.String("imap", "127.0.0.1:1143", "IMAP address of the mailbox store")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	debug := fs.Bool("debug", false, "log debug detail")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logFormat, levelFor(*debug))
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	password, err := prepareDevDir(abs)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	yaml := devConfig(abs, *submission, *submissions, *imapAddr)
	cfgPath := filepath.Join(abs, "bridgehead.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		return fmt.Errorf("dev: embedded config: %w", err)
	}
	fmt.Fprintf(stdout, `bridgehead dev: a demo gateway for %[1]s, files in %[2]s
  login:     %[3]s
  password:  %[4]s
  address:   %[3]s@%[1]s
  submission %[5]s (STARTTLS), submissions %[6]s (TLS), IMAP %[7]s (plain, loopback)

Send a message:
  swaks --server %[5]s --tls --auth LOGIN --auth-user %[3]s --auth-password '%[4]s' --from %[3]s@%[1]s --to %[3]s@%[1]s
Read it:
  curl -s 'imap://%[7]s/INBOX;UID=1' --user '%[3]s:%[4]s'

`, devDomain, abs, devLogin, password, *submission, *submissions, *imapAddr)
	return serveConfig(ctx, cfg, log, serverOptions{imapUsers: true})
}

// devConfig is the embedded default, written to DIR/bridgehead.yaml so an
// admin can see what dev mode runs.
func devConfig(dir, submission, submissions, imap string) string {
	return fmt.Sprintf(`# Written by "bridgehead dev"; rewritten at every start.
hostname: localhost
state_dir: %[1]s/state
tls:
  cert_file: %[1]s/tls.crt
  key_file: %[1]s/tls.key
listeners:
  - name: submission
    address: %[2]s
    mode: submission
  - name: submissions
    address: %[3]s
    mode: submissions
domains: [%[5]s]
directory:
  static:
    file: %[1]s/users.yaml
ndr:
  postmaster: postmaster@%[5]s
mailboxstore:
  imap_address: %[4]s
  admins: [%[6]s]
routes:
  - domains: [%[5]s]
    to: mailbox
`, dir, submission, submissions, imap, devDomain, devLogin)
}

// prepareDevDir makes the certificate and the demo user on first start and
// returns the demo password.
func prepareDevDir(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	pwFile := filepath.Join(dir, "demo-password")
	pw, err := os.ReadFile(pwFile)
	if errors.Is(err, fs.ErrNotExist) {
		var b [10]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		pw = []byte(strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])))
		if err := os.WriteFile(pwFile, pw, 0o600); err != nil {
			return "", err
		}
		hash, err := bcrypt.GenerateFromPassword(pw, bcrypt.DefaultCost)
		if err != nil {
			return "", err
		}
		users := fmt.Sprintf("users:\n  - login: %s\n    password: %q\n    addresses: [%s@%s]\n", devLogin, hash, devLogin, devDomain)
		if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte(users), 0o600); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "tls.crt")); errors.Is(err, fs.ErrNotExist) {
		if err := writeSelfSigned(dir, "localhost"); err != nil {
			return "", err
		}
	}
	return strings.TrimSpace(string(pw)), nil
}
