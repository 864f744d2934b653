package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"bridgehead.dev/bridgehead/gateway/admin"
)

const adminUsage = `usage:
  bridgehead status [-admin ADDR] [-json]
  bridgehead queue list [-admin ADDR] [-json]
  bridgehead queue show ID [-admin ADDR] [-json]
  bridgehead queue retry [ID] [-admin ADDR] [-json]   (no ID: every message not held)
  bridgehead queue hold|release|delete|bounce ID [-admin ADDR] [-json]

ADDR is the admin API's host:port (default 127.0.0.1:8025).
`

// adminFlags are the flags shared by the admin commands.
type adminFlags struct {
	addr string
	json bool
}

// parseAdminArgs parses flags wherever they stand among args and returns
// the other arguments.
func parseAdminArgs(name string, args []string, stderr io.Writer) (adminFlags, []string, error) {
	var af adminFlags
	fs := newFlagSet(name, stderr)
	fs.StringVar(&af.addr, "admin", admin.DefaultAddress, "admin API `host:port`")
	fs.BoolVar(&af.json, "json", false, "print the API's JSON answer")
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
	base string
	hc   *http.Client
}

func newAdminClient(addr string) *adminClient {
	base := addr
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		base = "http://" + base
	}
	return &adminClient{base: strings.TrimRight(base, "/"), hc: &http.Client{Timeout: 30 * time.Second}}
}

// do calls the API and returns the body of a 2xx answer; any other answer
// is an error with the API's message.
func (c *adminClient) do(ctx context.Context, method, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
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
	body, err := newAdminClient(af.addr).do(ctx, http.MethodGet, "/api/status")
	if err != nil {
		return err
	}
	if af.json {
		_, err := stdout.Write(body)
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
	return nil
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
	c := newAdminClient(af.addr)
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
			break
		}
		fallthrough
	case "hold", "release", "delete", "bounce":
		if err := wantIDs(1); err != nil {
			return err
		}
		path = "/api/queue/" + url.PathEscape(pos[0]) + "/" + sub
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
			if r.LastReply != "" {
				line += ": " + oneLine(r.LastReply)
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
	fmt.Fprintln(tw, "  ADDRESS\tSTATE\tATTEMPTS\tLAST REPLY")
	for _, r := range e.Recipients {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", r.Address, r.State, r.Attempts, oneLine(r.LastReply))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nheaders:")
	for _, h := range d.Headers {
		fmt.Fprintf(w, "  %s: %s\n", h.Name, oneLine(h.Value))
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

// oneLine makes s safe to print on one line of a table.
func oneLine(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}
