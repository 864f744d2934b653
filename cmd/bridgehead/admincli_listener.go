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
  bridgehead listener list [flags]
  bridgehead listener pause|resume|stop|start NAME [flags]

pause: new connections are answered 421 4.3.2; sessions in progress go on.
stop: the port is closed (connections refused); sessions in progress get
30s to finish. start: listen again. The states last across reloads.
flags: -admin ADDR, -token-file FILE, -ca-file FILE, -insecure, -json
(see bridgehead status -h).
`

// cmdListener lists, pauses, resumes, stops and starts the SMTP listeners.
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
	c := newAdminClient(af)
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
	case "pause", "resume", "stop", "start":
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

// cmdReload asks the running gateway to re-read its config file.
func cmdReload(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	af, pos, err := parseAdminArgs("reload", args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	body, err := newAdminClient(af).do(ctx, http.MethodPost, "/reload")
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if af.json {
		_, err := stdout.Write(body)
		return err
	}
	fmt.Fprintln(stdout, "reloaded")
	return nil
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
		state := l.State
		if l.State == gateway.StateStopped && l.Paused {
			state += " (paused)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", l.Name, l.Address, l.Mode, state, l.Connections)
	}
	return tw.Flush()
}
