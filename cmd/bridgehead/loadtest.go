package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/internal/smtpwire"
)

// loadOptions is one load run, as given on the command line.
type loadOptions struct {
	server   string
	tlsMode  string // starttls, implicit or none
	auth     string // plain, login or none
	user     string
	password string
	from     string
	to       []string
	clients  int
	messages int
	size     int64
	perConn  int
	insecure bool
	resume   bool
	curves   []tls.CurveID // key exchange groups offered; nil: Go's default
	noPipe   bool          // do not pipeline even when the server offers PIPELINING
	timeout  time.Duration
	progress time.Duration // 0: no progress line
}

// cmdLoadtest drives a submission server with concurrent clients and
// reports throughput, errors by reply code and latency percentiles. It
// exits 1 when any message was not accepted.
func cmdLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("loadtest", stderr)
	o := loadOptions{progress: time.Second}
	fs.StringVar(&o.server, "server", "127.0.0.1:587", "server host:port")
	fs.StringVar(&o.tlsMode, "tls", "starttls", "TLS mode: starttls, implicit or none")
	fs.StringVar(&o.auth, "auth", "plain", "AUTH mechanism: plain, login or none")
	fs.StringVar(&o.user, "user", "", "login")
	fs.StringVar(&o.password, "password", "", "password (see also -password-file)")
	pwFile := fs.String("password-file", "", "read the password from this file (first line)")
	fs.StringVar(&o.from, "from", "", "envelope sender (default: the login)")
	to := fs.String("to", "", "recipients, comma separated; every message goes to all of them")
	fs.IntVar(&o.clients, "c", 1, "concurrent clients")
	fs.IntVar(&o.messages, "n", 100, "total messages")
	size := fs.String("size", "1KiB", "message size, e.g. 1KiB or 100KiB")
	fs.IntVar(&o.perConn, "per-conn", 10, "messages per connection (1: a new connection per message)")
	insecure := fs.Bool("insecure", false, "do not verify the server certificate (default on when -server is loopback)")
	fs.BoolVar(&o.resume, "resume", false, "resume TLS sessions across connections")
	curves := fs.String("curves", "", "TLS key exchange groups to offer, comma separated, e.g. X25519 for a client without post-quantum key exchange (default: Go's, X25519MLKEM768 first)")
	pipelining := fs.Bool("pipelining", true, "pipeline MAIL, RCPT and DATA when the server offers PIPELINING, as mail clients do")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "timeout for connecting and for each command")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	quiet := fs.Bool("quiet", false, "no progress line")
	var idle idleOptions
	fs.IntVar(&idle.sessions, "idle", 0, "instead of sending: open this many sessions (TLS, EHLO, AUTH), -c at a time, and hold them")
	fs.DurationVar(&idle.hold, "idle-hold", 3*time.Second, "with -idle: how long to hold the sessions before measuring and closing")
	fs.IntVar(&idle.serverPID, "server-pid", 0, "with -idle: the server's process id, to report its resident memory per session")
	fs.IntVar(&idle.sources, "sources", 1, "with -idle: spread connections over source addresses 127.0.0.1 to 127.0.0.N")
	prof := addProfileFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	stopProfile, err := prof.start()
	defer func() {
		if perr := stopProfile(); perr != nil {
			err = errors.Join(err, perr)
		}
	}()
	if err != nil {
		return err
	}
	o.insecure = isLoopback(o.server)
	o.noPipe = !*pipelining
	if flagSet(fs, "insecure") {
		o.insecure = *insecure
	}
	if *quiet {
		o.progress = 0
	}
	if *pwFile != "" {
		b, err := os.ReadFile(*pwFile)
		if err != nil {
			return fmt.Errorf("loadtest: read password: %w", err)
		}
		o.password, _, _ = strings.Cut(string(b), "\n")
		o.password = strings.TrimRight(o.password, "\r")
	}
	if o.curves, err = parseCurves(*curves); err != nil {
		fmt.Fprintln(stderr, "loadtest: -curves:", err)
		return errUsage
	}
	sz, err := ParseSize(*size)
	if err != nil {
		fmt.Fprintln(stderr, "loadtest: -size:", err)
		return errUsage
	}
	o.size = int64(sz)
	for _, r := range strings.Split(*to, ",") {
		if r = strings.TrimSpace(r); r != "" {
			o.to = append(o.to, r)
		}
	}
	if o.from == "" {
		o.from = o.user
	}
	if err := o.check(); err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return errUsage
	}

	if idle.sessions > 0 {
		ir, err := runIdle(ctx, o, idle, stderr)
		if err != nil {
			return err
		}
		if err := ir.write(stdout, *jsonOut); err != nil {
			return fmt.Errorf("loadtest: write result: %w", err)
		}
		if ir.Failed > 0 {
			return errSilent
		}
		return nil
	}
	res, err := runLoad(ctx, o, stderr)
	if err != nil {
		return err
	}
	if *jsonOut {
		err = res.writeJSON(stdout)
	} else {
		err = res.writeText(stdout)
	}
	if err != nil {
		return fmt.Errorf("loadtest: write result: %w", err)
	}
	if res.Accepted < res.Messages {
		return errSilent
	}
	return nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

// check validates the options.
func (o *loadOptions) check() error {
	switch {
	case o.tlsMode != "starttls" && o.tlsMode != "implicit" && o.tlsMode != "none":
		return errors.New("-tls must be starttls, implicit or none")
	case o.auth != "plain" && o.auth != "login" && o.auth != "none":
		return errors.New("-auth must be plain, login or none")
	case o.auth != "none" && o.user == "":
		return errors.New("-user is required (or -auth none)")
	case o.from == "":
		return errors.New("-from is required")
	case len(o.to) == 0:
		return errors.New("-to is required")
	case o.clients < 1 || o.messages < 1 || o.perConn < 1:
		return errors.New("-c, -n and -per-conn must be at least 1")
	case o.size < 1:
		return errors.New("-size must be at least 1 byte")
	case o.timeout <= 0:
		return errors.New("-timeout must be positive")
	}
	if _, _, err := net.SplitHostPort(o.server); err != nil {
		return fmt.Errorf("-server: %v", err)
	}
	return nil
}

// loader is one run in progress: shared, read-only setup plus the counters.
type loader struct {
	o       loadOptions
	tlsConf *tls.Config
	body    []byte // the message after its per-message header
	claimed atomic.Int64
	live    liveCounters
}

// runLoad runs the load and returns the merged result. Cancelling ctx stops
// the clients; the result then covers what was done.
func runLoad(ctx context.Context, o loadOptions, progress io.Writer) (*loadResult, error) {
	host, _, _ := net.SplitHostPort(o.server)
	l := &loader{o: o, body: messageBody(o.size)}
	l.tlsConf = newLoadTLSConfig(o, host)

	start := time.Now()
	stopProgress := func() {}
	if o.progress > 0 {
		stopProgress = l.live.report(ctx, progress, o.messages, start, o.progress)
	}
	stats := make([]clientStats, o.clients)
	var wg sync.WaitGroup
	for i := range stats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.client(ctx, i, &stats[i])
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	return mergeStats(o, stats, elapsed), nil
}

// newLoadTLSConfig is the clients' TLS configuration; with -resume they
// share a session cache, so reconnecting clients resume TLS sessions as
// mail clients do.
func newLoadTLSConfig(o loadOptions, host string) *tls.Config {
	c := &tls.Config{ServerName: host, InsecureSkipVerify: o.insecure, MinVersion: tls.VersionTLS12, CurvePreferences: o.curves} //nolint:gosec // -insecure is the user's choice
	if o.resume {
		c.ClientSessionCache = tls.NewLRUClientSessionCache(o.clients * 2)
	}
	return c
}

// claim takes the next message number, or reports that all are taken or
// the run is cancelled.
func (l *loader) claim(ctx context.Context) (int64, bool) {
	if ctx.Err() != nil {
		return 0, false
	}
	n := l.claimed.Add(1)
	return n, n <= int64(l.o.messages)
}

// client is one concurrent client: it takes messages until none are left,
// on connections of up to perConn messages each.
func (l *loader) client(ctx context.Context, id int, st *clientStats) {
	var (
		c    *loadConn
		sent int
	)
	defer func() {
		if c != nil {
			c.quit()
		}
	}()
	for {
		seq, ok := l.claim(ctx)
		if !ok {
			return
		}
		if c == nil {
			t0 := time.Now()
			var err error
			c, err = l.dial(ctx)
			if err != nil {
				l.fail(st, err)
				continue
			}
			st.setup = append(st.setup, time.Since(t0))
			st.countTLS(c.tls())
			sent = 0
		}
		t0 := time.Now()
		err := l.send(c, id, seq)
		sent++
		if err == nil {
			st.latency = append(st.latency, time.Since(t0))
			st.accepted++
			l.live.accepted.Add(1)
		} else {
			l.fail(st, err)
			var se *smtp.SMTPError
			if !errors.As(err, &se) || c.reset() != nil {
				c.close()
				c = nil
				continue
			}
		}
		if sent >= l.o.perConn {
			c.quit()
			c = nil
		}
	}
}

// fail counts a failed message under its error class.
func (l *loader) fail(st *clientStats, err error) {
	if st.errors == nil {
		st.errors = map[string]int{}
	}
	st.errors[errorClass(err)]++
	l.live.failed.Add(1)
}

// errorClass is how errors are grouped in the report: the reply code and
// enhanced status of an SMTP reply ("451 4.3.0"), else "conn".
func errorClass(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		if se.EnhancedCode != (smtp.EnhancedCode{}) && se.EnhancedCode != smtp.NoEnhancedCode {
			return fmt.Sprintf("%d %d.%d.%d", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		return fmt.Sprintf("%d", se.Code)
	}
	return "conn"
}

// loadConn is one client connection, closed when ctx is cancelled.
type loadConn struct {
	c       *smtpwire.Client
	timeout time.Duration
	stop    func() bool
}

// tls is how the connection's TLS was negotiated (see tlsSummary), "" for
// a connection without TLS.
func (c *loadConn) tls() string {
	if tc, ok := c.c.Conn().(*tls.Conn); ok {
		return tlsSummary(tc.ConnectionState())
	}
	return ""
}

// arm sets the deadline for the next command and its reply.
func (c *loadConn) arm() { _ = c.c.Conn().SetDeadline(time.Now().Add(c.timeout)) }

func (c *loadConn) close() {
	c.stop()
	_ = c.c.Conn().Close()
}

func (c *loadConn) quit() {
	c.stop()
	c.arm()
	_ = c.c.Quit()
	_ = c.c.Conn().Close()
}

func (c *loadConn) reset() error {
	c.arm()
	return c.c.Rset()
}

// dial opens a connection and takes it through TLS, EHLO and AUTH.
func (l *loader) dial(ctx context.Context) (*loadConn, error) {
	return l.dialFrom(ctx, nil)
}

// dialFrom is dial from local address src (nil: the system's choice).
func (l *loader) dialFrom(ctx context.Context, src *net.TCPAddr) (*loadConn, error) {
	d := net.Dialer{Timeout: l.o.timeout}
	if src != nil {
		d.LocalAddr = src
	}
	dctx, cancel := context.WithTimeout(ctx, l.o.timeout)
	defer cancel()
	nc, err := d.DialContext(dctx, "tcp", l.o.server)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if l.o.tlsMode == "implicit" {
		tc := tls.Client(nc, l.tlsConf)
		if err := tc.HandshakeContext(dctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
		nc = tc
	}
	lc := &loadConn{c: smtpwire.NewClient(nc, false), timeout: l.o.timeout,
		stop: context.AfterFunc(ctx, func() { nc.Close() })}
	fail := func(step string, err error) (*loadConn, error) {
		lc.stop()
		nc.Close()
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	lc.arm()
	if err := lc.c.Greet(); err != nil {
		return fail("greeting", err)
	}
	if err := lc.c.Hello("loadtest.localhost"); err != nil {
		return fail("ehlo", err)
	}
	if l.o.tlsMode == "starttls" {
		if _, err := lc.c.Cmd(220, "STARTTLS"); err != nil {
			return fail("starttls", err)
		}
		tc := tls.Client(nc, l.tlsConf)
		if err := tc.HandshakeContext(dctx); err != nil {
			return fail("starttls", err)
		}
		lc.c = smtpwire.NewClient(tc, false)
		lc.arm()
		// The second EHLO also completes the handshake, so all of it
		// counts as setup.
		if err := lc.c.Hello("loadtest.localhost"); err != nil {
			return fail("ehlo", err)
		}
	}
	var mech sasl.Client
	switch l.o.auth {
	case "plain":
		mech = sasl.NewPlainClient("", l.o.user, l.o.password)
	case "login":
		mech = sasl.NewLoginClient(l.o.user, l.o.password)
	}
	if mech != nil {
		lc.arm()
		if err := lc.c.Auth(mech); err != nil {
			return fail("auth", err)
		}
	}
	return lc, nil
}

// send runs one transaction: MAIL, RCPT for each recipient, DATA.
func (l *loader) send(c *loadConn, client int, seq int64) error {
	hdr := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: loadtest %d\r\nDate: %s\r\nMessage-ID: <loadtest.%d.%d.%d@localhost>\r\n",
		l.o.from, l.o.to[0], seq, time.Now().Format(time.RFC1123Z), time.Now().UnixNano(), client, seq)
	c.arm()
	pipe := c.c.Has("PIPELINING") && !l.o.noPipe
	return loadSend(c.c, l.o.from, l.o.to, [][]byte{[]byte(hdr), l.body}, pipe)
}

// messageBody makes the part of every message after its header: an empty
// line and 76-character text lines, so that the whole message is about size
// bytes.
func messageBody(size int64) []byte {
	const headerGuess = 200 // the per-message header written by send
	n := size - headerGuess
	if n < 2 {
		n = 2
	}
	b := make([]byte, 0, n+80)
	b = append(b, "\r\n"...)
	line := []byte("The quick brown fox jumps over the lazy dog. 0123456789 abcdefghijklmnopqrs\r\n")
	for int64(len(b))+int64(len(line)) <= n {
		b = append(b, line...)
	}
	if rest := n - int64(len(b)); rest > 2 {
		b = append(b, line[:rest-2]...)
		b = append(b, "\r\n"...)
	}
	return b
}
