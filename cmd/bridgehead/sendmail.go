package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"

	"bridgehead.dev/bridgehead/internal/durable"
)

// Exit codes of sendmail(1), from sysexits.h.
const (
	exUsage    = 64 // EX_USAGE: bad command line, no recipients
	exDataErr  = 65 // EX_DATAERR: the message or an address is unusable
	exNoInput  = 66 // EX_NOINPUT: the message or the config cannot be read
	exTempFail = 75 // EX_TEMPFAIL: the pickup directory cannot take it now
	exConfig   = 78 // EX_CONFIG: the config file is wrong
)

// Where sendmail finds the config when -config is not given.
const (
	defaultSendmailConfig = "/etc/bridgehead/bridgehead.yaml"
	sendmailConfigEnv     = "BRIDGEHEAD_CONFIG"
)

// sendmailError is a failure with its sysexits code.
type sendmailError struct {
	code int
	err  error
}

func (e *sendmailError) Error() string { return e.err.Error() }
func (e *sendmailError) Unwrap() error { return e.err }

// fail makes a sendmailError.
func fail(code int, format string, args ...any) error {
	return &sendmailError{code: code, err: fmt.Errorf(format, args...)}
}

// sendmailEnv is what sendmail takes from its surroundings; tests replace
// it.
type sendmailEnv struct {
	getenv func(string) string
	user   func() string // the invoking user's login
	now    func() time.Time
}

// cmdSendmail is "bridgehead sendmail": it reads a message on stdin and
// writes it to the pickup directory. A failure is an exitCode with
// sendmail(1)'s status, its reason already written to stderr.
func cmdSendmail(ctx context.Context, args []string, stdin io.Reader, stderr io.Writer) error {
	env := sendmailEnv{getenv: os.Getenv, user: invokingUser, now: time.Now}
	f, err := parseSendmailFlags(args)
	if err != nil {
		err = fail(exUsage, "%v\nusage: bridgehead sendmail [-t] [-i] [-f FROM] [-F NAME] [-config FILE] [RCPT...]", err)
	}
	name := ""
	if err == nil {
		name, err = sendmail(ctx, env, f, stdin)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bridgehead sendmail:", err)
		var se *sendmailError
		if errors.As(err, &se) {
			return exitCode(se.code)
		}
		return exitCode(exTempFail)
	}
	if f.verbose {
		fmt.Fprintln(stderr, "bridgehead sendmail: handed to the pickup directory as", name)
	}
	return nil
}

// sendmail does the work of cmdSendmail and returns the pickup file
// written.
func sendmail(ctx context.Context, env sendmailEnv, f *sendmailFlags, stdin io.Reader) (string, error) {
	if !f.extract && len(f.rcpts) == 0 {
		return "", fail(exUsage, "no recipients: give them as arguments or use -t to take them from To, Cc and Bcc")
	}
	cfgPath := f.config
	if cfgPath == "" {
		cfgPath = env.getenv(sendmailConfigEnv)
	}
	if cfgPath == "" {
		cfgPath = defaultSendmailConfig
	}
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return "", fail(exNoInput, "cannot read the config (give -config FILE or set %s): %w", sendmailConfigEnv, err)
	}
	cfg, err := ParseConfig(cfgPath, data)
	if err != nil {
		return "", fail(exConfig, "%w", err)
	}
	origin := cfg.Pickup.Origin

	msg, err := readMessage(stdin, f.ignoreDots, int64(cfg.Pickup.MaxMessageSize))
	if err != nil {
		return "", err
	}
	if bytes.HasPrefix(msg, []byte("From ")) {
		// An mbox "From " line, as some programs write: not a header.
		_, msg, _ = bytes.Cut(msg, []byte("\n"))
	}
	hdr, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(msg)))
	if err != nil && startsWithHeader(msg) {
		// The gateway would put it in badmail; say so now.
		return "", fail(exDataErr, "cannot read the message header: %v", err)
	}

	var rcpts []string
	for _, a := range f.rcpts {
		list, err := qualifyList(a, origin)
		if err != nil {
			return "", fail(exUsage, "recipient %q: %v", a, err)
		}
		rcpts = append(rcpts, list...)
	}
	if f.extract {
		if !startsWithHeader(msg) {
			return "", fail(exDataErr, "-t: the message has no header to take recipients from")
		}
		for _, k := range []string{"To", "Cc", "Bcc"} {
			for _, v := range hdr.Values(k) {
				list, err := qualifyList(v, origin)
				if err != nil {
					return "", fail(exDataErr, "%s: %v", k, err)
				}
				rcpts = append(rcpts, list...)
			}
		}
	}
	if len(rcpts) == 0 {
		return "", fail(exUsage, "no recipients: none given and none found in To, Cc or Bcc")
	}

	sender, err := envelopeSender(f, &hdr, env, origin)
	if err != nil {
		return "", err
	}
	var head bytes.Buffer
	if sender == "" {
		head.WriteString("X-Sender: <>\n")
	} else {
		fmt.Fprintf(&head, "X-Sender: %s\n", sender)
	}
	for _, r := range rcpts {
		fmt.Fprintf(&head, "X-Receiver: %s\n", r)
	}
	if !hdr.Has("From") && sender != "" {
		// As Postfix does: a message without From gets the sender's.
		if name := strings.Map(dropControl, f.fullName); name != "" {
			fmt.Fprintf(&head, "From: %s <%s>\n", quoteName(name), sender)
		} else {
			fmt.Fprintf(&head, "From: %s\n", sender)
		}
	}
	if !startsWithHeader(msg) && len(msg) > 0 {
		head.WriteString("\n") // no header of its own: all of it is body
	}
	if int64(head.Len()+len(msg)) > int64(cfg.Pickup.MaxMessageSize) {
		return "", fail(exDataErr, "message larger than pickup.max_message_size (%d bytes)", int64(cfg.Pickup.MaxMessageSize))
	}
	name, err := writePickupFile(ctx, cfg.Pickup.Dir, env.now(), head.Bytes(), msg)
	if err != nil {
		return "", err
	}
	return name, nil
}

// readMessage reads the message from r. Without ignoreDots a line holding
// only "." ends it, as sendmail does.
func readMessage(r io.Reader, ignoreDots bool, maxSize int64) ([]byte, error) {
	tooBig := fail(exDataErr, "message larger than pickup.max_message_size (%d bytes)", maxSize)
	if ignoreDots {
		msg, err := io.ReadAll(io.LimitReader(r, maxSize+1))
		if err != nil {
			return nil, fail(exNoInput, "read the message: %w", err)
		}
		if int64(len(msg)) > maxSize {
			return nil, tooBig
		}
		return msg, nil
	}
	br := bufio.NewReader(r)
	var msg bytes.Buffer
	for {
		line, err := br.ReadBytes('\n')
		if string(bytes.TrimRight(line, "\r\n")) == "." {
			return msg.Bytes(), nil
		}
		msg.Write(line)
		if int64(msg.Len()) > maxSize {
			return nil, tooBig
		}
		if errors.Is(err, io.EOF) {
			return msg.Bytes(), nil
		}
		if err != nil {
			return nil, fail(exNoInput, "read the message: %w", err)
		}
	}
}

// startsWithHeader reports whether msg begins with a header field.
func startsWithHeader(msg []byte) bool {
	line, _, _ := bytes.Cut(msg, []byte("\n"))
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// envelopeSender is -f, else the one address of From, else the invoking
// user at pickup.origin. "" is the null sender (-f "<>" or -f "").
func envelopeSender(f *sendmailFlags, hdr *textproto.Header, env sendmailEnv, origin string) (string, error) {
	if f.fromSet {
		v := strings.TrimSpace(f.from)
		if v == "" || v == "<>" {
			return "", nil
		}
		list, err := qualifyList(v, origin)
		if err != nil || len(list) != 1 {
			return "", fail(exUsage, "-f %q: not one address", f.from)
		}
		return list[0], nil
	}
	if vals := hdr.Values("From"); len(vals) == 1 {
		if list, err := qualifyList(vals[0], origin); err == nil && len(list) == 1 {
			return list[0], nil
		}
	}
	login := env.user()
	if !validLocalPart(login) {
		return "", fail(exUsage, "cannot make a sender address of the login %q: give -f FROM", login)
	}
	return login + "@" + origin, nil
}

// qualifyList reads an address list as sendmail does: a word without a
// domain (cron's "root") gets "@origin".
func qualifyList(s, origin string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if list, err := addressParserLenient().ParseList(s); err == nil {
		out := make([]string, 0, len(list))
		for _, a := range list {
			out = append(out, a.Address)
		}
		return out, nil
	}
	var out []string
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		switch {
		case tok == "":
		case validLocalPart(tok):
			out = append(out, tok+"@"+origin)
		default:
			a, err := addressParserLenient().Parse(tok)
			if err != nil {
				return nil, fmt.Errorf("cannot read %q: %w", tok, err)
			}
			out = append(out, a.Address)
		}
	}
	return out, nil
}

// validLocalPart accepts a plain login: letters, digits and . _ - +.
func validLocalPart(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-+", r)) {
			return false
		}
	}
	return true
}

// quoteName makes a display name safe in a From field.
func quoteName(name string) string {
	if strings.ContainsAny(name, `()<>[]:;@\,."`) {
		return strconv.Quote(name)
	}
	return name
}

// dropControl removes control characters.
func dropControl(r rune) rune {
	if r < ' ' || r == 0x7f {
		return -1
	}
	return r
}

// invokingUser is the login of the user running sendmail.
func invokingUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, k := range []string{"LOGNAME", "USER"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "uid" + strconv.Itoa(os.Getuid())
}

// writePickupFile writes head and msg to a new file in dir atomically:
// a hidden temporary name, fsync, then a rename to a name the watcher takes.
func writePickupFile(ctx context.Context, dir string, now time.Time, head, msg []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fail(exTempFail, "%w", err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return "", fail(exTempFail, "pickup directory %s: %w (bridgehead serve creates it at start)", dir, err)
	}
	f, err := os.CreateTemp(dir, ".sendmail-*.tmp")
	if err != nil {
		hint := ""
		if errors.Is(err, fs.ErrPermission) {
			hint = " (the pickup directory's group may write it: see \"Pickup directory and sendmail\" in the README)"
		}
		return "", fail(exTempFail, "cannot write to the pickup directory: %w%s", err, hint)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	// Readable by the directory's group (the gateway), whatever the umask.
	if err := f.Chmod(0o640); err != nil {
		return "", fail(exTempFail, "pickup file: %w", err)
	}
	if _, err := f.Write(head); err != nil {
		return "", fail(exTempFail, "write pickup file: %w", err)
	}
	if _, err := f.Write(msg); err != nil {
		return "", fail(exTempFail, "write pickup file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fail(exTempFail, "fsync pickup file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fail(exTempFail, "close pickup file: %w", err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("%d.%d.%s.eml", now.UnixNano(), os.Getpid(), hex.EncodeToString(rnd[:]))
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return "", fail(exTempFail, "place pickup file: %w", err)
	}
	ok = true
	// Best effort: writers may not read the directory (mode 3730).
	_ = durable.SyncDir(dir)
	return name, nil
}
