package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"bridgehead.dev/bridgehead/gateway/admin"
	"bridgehead.dev/bridgehead/internal/mailtext"
)

const adminUsage = `usage:
  bridgehead status [flags]
  bridgehead reload [flags]                  re-read the config file, as SIGHUP does
  bridgehead queue list [flags]
  bridgehead queue show ID [flags]
  bridgehead queue retry [ID | -route ROUTE] [flags]   (no ID: every message not held)
  bridgehead queue hold|release|bounce ID [flags]
  bridgehead queue delete [-ndr] ID [flags]  (-ndr: report to the sender, as bounce)

flags:
  -admin ADDR        the admin API: host:port (default 127.0.0.1:8025) or an
                     http:// or https:// URL
  -token-file FILE   bearer token (default $BRIDGEHEAD_ADMIN_TOKEN_FILE)
  -ca-file FILE      CA certificate to trust for https; -insecure trusts any
  -json              print the API's JSON answer
`

// adminFlags are the flags shared by the admin commands.
type adminFlags struct {
	addr      string
	json      bool
	tokenFile string
	caFile    string
	insecure  bool
	// route and ndr are queue retry's and queue delete's.
	route string
	ndr   bool
}

// parseAdminArgs parses flags wherever they stand among args and returns
// the other arguments.
func parseAdminArgs(name string, args []string, stderr io.Writer) (adminFlags, []string, error) {
	var af adminFlags
	fs := newFlagSet(name, stderr)
	fs.StringVar(&af.addr, "admin", admin.DefaultAddress, "admin API `host:port`")
	fs.BoolVar(&af.json, "json", false, "print the API's JSON answer")
	fs.StringVar(&af.tokenFile, "token-file", os.Getenv("BRIDGEHEAD_ADMIN_TOKEN_FILE"), "bearer token `file`")
	fs.StringVar(&af.caFile, "ca-file", "", "CA certificate `file` for https")
	fs.BoolVar(&af.insecure, "insecure", false, "do not verify the API's certificate")
	fs.StringVar(&af.route, "route", "", "queue retry: the messages with recipients on this route")
	fs.BoolVar(&af.ndr, "ndr", false, "queue delete: send the sender a non-delivery report")
	fs.Usage = func() { fmt.Fprint(stderr, adminUsage) }
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return af, nil, errUsage
			}
			return af, nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			return af, pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// adminClient talks to the admin API.
type adminClient struct {
	base  string
	token string
	hc    *http.Client
	err   error // from newAdminClient, returned by do
}

// newAdminClient makes a client for af's API, with its token and TLS
// trust.
func newAdminClient(af adminFlags) *adminClient {
	base := af.addr
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		base = "http://" + base
	}
	c := &adminClient{base: strings.TrimRight(base, "/"), hc: &http.Client{Timeout: 60 * time.Second}}
	if af.tokenFile != "" {
		c.token, c.err = readToken(af.tokenFile)
		if c.err != nil {
			c.err = fmt.Errorf("-token-file: %w", c.err)
			return c
		}
	}
	if strings.HasPrefix(c.base, "https://") {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: af.insecure} //nolint:gosec // -insecure asks for it
		if af.caFile != "" {
			pool, err := loadCAFile(af.caFile)
			if err != nil {
				c.err = fmt.Errorf("-ca-file: %w", err)
				return c
			}
			tc.RootCAs = pool
		}
		c.hc.Transport = &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}
	}
	return c
}

// do calls the API and returns the body of a 2xx answer; any other answer
// is an error with the API's message.
func (c *adminClient) do(ctx context.Context, method, path string) ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("admin API: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e admin.Error
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("admin API: %s (HTTP %d)", e.Error, resp.StatusCode)
		}
		return nil, fmt.Errorf("admin API: %s %s: HTTP %d", method, path, resp.StatusCode)
	}
	return body, nil
}

// cmdStatus prints whether the gateway is ready and sums up its queue.
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	af, pos, err := parseAdminArgs("status", args, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	c := newAdminClient(af)
	body, err := c.do(ctx, http.MethodGet, "/api/status")
	if err != nil {
		return err
	}
	// Listener control may be absent (an API without a gateway).
	lbody, err := c.do(ctx, http.MethodGet, "/api/listeners")
	if err != nil {
		lbody = []byte("null")
	}
	if af.json {
		var ls json.RawMessage = lbody
		out, err := json.MarshalIndent(struct {
			Status    json.RawMessage `json:"status"`
			Listeners json.RawMessage `json:"listeners"`
		}{body, ls}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", out)
		return err
	}
	var st admin.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("admin API: decode status: %w", err)
	}
	ready := "yes"
	if !st.Ready {
		ready = "no (" + st.Reason + ")"
	}
	fmt.Fprintf(stdout, "ready:    %s\n", ready)
	fmt.Fprintf(stdout, "queue:    %d messages, %d held, %d recipients pending\n",
		st.Queue.Messages, st.Queue.Held, st.Queue.Recipients)
	if st.Queue.Messages > 0 {
		fmt.Fprintf(stdout, "oldest:   %s\n", age(st.Queue.OldestSeconds))
	}
	if string(lbody) == "null" {
		return nil
	}
	fmt.Fprintln(stdout)
	return printListeners(stdout, lbody)
}

// cmdQueue runs the queue subcommands.
func cmdQueue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	sub := args[0]
	af, pos, err := parseAdminArgs("queue "+sub, args[1:], stderr)
	if err != nil {
		return err
	}
	c := newAdminClient(af)
	wantIDs := func(n int) error {
		if len(pos) != n {
			fmt.Fprint(stderr, adminUsage)
			return errUsage
		}
		return nil
	}
	var (
		method = http.MethodPost
		path   string
		show   func([]byte) error
	)
	switch sub {
	case "list":
		if err := wantIDs(0); err != nil {
			return err
		}
		method, path, show = http.MethodGet, "/api/queue", func(b []byte) error { return printQueueList(stdout, b) }
	case "show":
		if err := wantIDs(1); err != nil {
			return err
		}
		method, path, show = http.MethodGet, "/api/queue/"+url.PathEscape(pos[0]), func(b []byte) error { return printQueueShow(stdout, b) }
	case "retry":
		if len(pos) == 0 {
			path = "/api/queue/retry"
			if af.route != "" {
				path += "?route=" + url.QueryEscape(af.route)
			}
			break
		}
		fallthrough
	case "hold", "release", "delete", "bounce":
		if err := wantIDs(1); err != nil {
			return err
		}
		path = "/api/queue/" + url.PathEscape(pos[0]) + "/" + sub
		if sub == "delete" && af.ndr {
			path += "?ndr=1"
		}
	default:
		fmt.Fprintf(stderr, "bridgehead queue: unknown subcommand %q\n%s", sub, adminUsage)
		return errUsage
	}
	if show == nil {
		show = func(b []byte) error { return printAction(stdout, b) }
	}
	body, err := c.do(ctx, method, path)
	if err != nil {
		return fmt.Errorf("queue %s: %w", sub, err)
	}
	if af.json {
		_, err := stdout.Write(body)
		return err
	}
	return show(body)
}

// printQueueList prints the queue as a table, each message's recipients
// under it.
func printQueueList(w io.Writer, body []byte) error {
	var ms []admin.Message
	if err := json.Unmarshal(body, &ms); err != nil {
		return fmt.Errorf("admin API: decode queue: %w", err)
	}
	if len(ms) == 0 {
		fmt.Fprintln(w, "queue is empty")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAGE\tSIZE\tATTEMPTS\tNEXT ATTEMPT\tFROM")
	for _, m := range ms {
		next := m.NextAttempt.UTC().Format(time.DateTime)
		if m.Held {
			next = "held"
		}
		from := m.From
		if from == "" {
			from = "<>"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", m.ID, age(m.AgeSeconds), m.Size, m.Attempts, next, from)
		for _, r := range m.Recipients {
			line := "-> " + r.Address + " " + string(r.State)
			if r.Route != "" {
				line += " via " + r.Route
			}
			if r.LastReply != "" {
				line += ": " + mailtext.OneLine(r.LastReply)
			}
			fmt.Fprintf(tw, "\t\t\t\t\t%s\n", line)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d messages\n", len(ms))
	return nil
}

// printQueueShow prints one message's envelope and headers.
func printQueueShow(w io.Writer, body []byte) error {
	var d admin.MessageDetail
	if err := json.Unmarshal(body, &d); err != nil || d.Envelope == nil {
		return fmt.Errorf("admin API: decode message: %v", err)
	}
	e := d.Envelope
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	from := e.From
	if from == "" {
		from = "<>"
	}
	fmt.Fprintf(tw, "id:\t%s\n", e.ID)
	fmt.Fprintf(tw, "from:\t%s\n", from)
	fmt.Fprintf(tw, "login:\t%s\n", e.Login)
	fmt.Fprintf(tw, "client:\t%s (listener %s)\n", e.ClientIP, e.Listener)
	fmt.Fprintf(tw, "received:\t%s\n", e.Received.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "size:\t%d\n", e.Size)
	fmt.Fprintf(tw, "attempts:\t%d\n", e.Attempts)
	fmt.Fprintf(tw, "next attempt:\t%s\n", e.NextAttempt.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "held:\t%t\n", e.Held)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nrecipients:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ADDRESS\tSTATE\tATTEMPTS\tLAST ATTEMPT\tREMOTE\tLAST REPLY")
	for _, r := range e.Recipients {
		last := "-"
		if !r.LastAttempt.IsZero() {
			last = r.LastAttempt.UTC().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\n", r.Address, r.State, r.Attempts, last, mailtext.OneLine(r.RemoteMTA), mailtext.OneLine(r.LastReply))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(d.History) > 0 {
		fmt.Fprintln(w, "\nattempts (since the gateway started):")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TIME\tRECIPIENT\tREMOTE\tREPLY\tTOOK")
		for _, a := range d.History {
			reply := strings.TrimSpace(fmt.Sprintf("%d %s %s", a.Code, a.Enhanced, a.Text))
			if a.Code == 0 {
				reply = "no reply: " + a.Text
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%.1fs\n", a.Time.UTC().Format(time.DateTime), a.Recipient,
				mailtext.OneLine(a.RemoteMTA), mailtext.OneLine(reply), a.Seconds)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "\nheaders:")
	for _, h := range d.Headers {
		fmt.Fprintf(w, "  %s: %s\n", h.Name, mailtext.OneLine(h.Value))
	}
	return nil
}

// printAction prints the outcome of a queue action.
func printAction(w io.Writer, body []byte) error {
	var r admin.ActionResult
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("admin API: decode answer: %w", err)
	}
	if r.ID == "" {
		if r.Route != "" {
			fmt.Fprintf(w, "%s (route %s): %d messages\n", r.Action, r.Route, r.Messages)
			return nil
		}
		fmt.Fprintf(w, "%s: %d messages\n", r.Action, r.Messages)
		return nil
	}
	fmt.Fprintf(w, "%s: %s done\n", r.ID, r.Action)
	return nil
}

// age formats seconds as a short duration, e.g. "1h2m".
func age(secs float64) string {
	d := time.Duration(secs * float64(time.Second))
	if d < time.Hour {
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}
