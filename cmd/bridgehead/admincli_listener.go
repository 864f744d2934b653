package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"

	"bridgehead.dev/bridgehead/gateway"
	"bridgehead.dev/bridgehead/gateway/admin"
)

const listenerUsage = `usage:
  bridgehead listener list [-admin ADDR] [-json]
  bridgehead listener pause|resume NAME [-admin ADDR] [-json]

A paused listener answers new connections 421 4.3.2; sessions in progress go on.
ADDR is the admin API's host:port (default 127.0.0.1:8025).
`

// cmdListener lists, pauses and resumes the SMTP listeners.
func cmdListener(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, listenerUsage)
		return errUsage
	}
	sub := args[0]
	af, pos, err := parseAdminArgs("listener "+sub, args[1:], stderr)
	if err != nil {
		return err
	}
	c := newAdminClient(af.addr)
	switch sub {
	case "list":
		if len(pos) != 0 {
			fmt.Fprint(stderr, listenerUsage)
			return errUsage
		}
		body, err := c.do(ctx, http.MethodGet, "/api/listeners")
		if err != nil {
			return fmt.Errorf("listener list: %w", err)
		}
		if af.json {
			_, err := stdout.Write(body)
			return err
		}
		return printListeners(stdout, body)
	case "pause", "resume":
		if len(pos) != 1 {
			fmt.Fprint(stderr, listenerUsage)
			return errUsage
		}
		body, err := c.do(ctx, http.MethodPost, "/api/listeners/"+url.PathEscape(pos[0])+"/"+sub)
		if err != nil {
			return fmt.Errorf("listener %s: %w", sub, err)
		}
		if af.json {
			_, err := stdout.Write(body)
			return err
		}
		var r admin.ListenerResult
		if err := json.Unmarshal(body, &r); err != nil {
			return fmt.Errorf("admin API: decode answer: %w", err)
		}
		fmt.Fprintf(stdout, "%s: %s done\n", r.Name, r.Action)
		return nil
	}
	fmt.Fprintf(stderr, "bridgehead listener: unknown subcommand %q\n%s", sub, listenerUsage)
	return errUsage
}

// printListeners prints the listeners as a table.
func printListeners(w io.Writer, body []byte) error {
	var ls []gateway.ListenerStatus
	if err := json.Unmarshal(body, &ls); err != nil {
		return fmt.Errorf("admin API: decode listeners: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tADDRESS\tMODE\tSTATE\tSESSIONS")
	for _, l := range ls {
		state := "running"
		if l.Paused {
			state = "paused"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", l.Name, l.Address, l.Mode, state, l.Connections)
	}
	return tw.Flush()
}
