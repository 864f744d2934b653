// Command bridgehead is an authenticated-only SMTP submission gateway.
//
//	bridgehead serve -config FILE        run the gateway
//	bridgehead dev [-dir DIR]            run on an embedded default, no config needed
//	bridgehead check-config -config FILE validate a config file
//	bridgehead hash-password             read a password on stdin, print a bcrypt hash
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: bridgehead COMMAND [flags]

commands:
  serve -config FILE          run the gateway
  dev [-dir DIR]              run on the embedded default (self-signed certificate, demo user)
  check-config -config FILE   validate a config file; errors as FILE:LINE: what
  hash-password [-cost N]     read a password on stdin, print its bcrypt hash
  loadtest -server ADDR ...   drive a submission server with concurrent clients, report msg/s and latency
  sendmail [-t] [-i] [-f FROM] [RCPT...]  read a message on stdin, hand it to the pickup directory
  status | reload | queue ... | listener ...   talk to the admin API (-h for each)
`

// errUsage marks a command-line mistake: exit code 2.
var errUsage = errors.New("usage")

// exitCode is a command's exit status when it is not ours to choose (the
// sendmail(1) codes); the command has said what went wrong.
type exitCode int

// Error implements error.
func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	var code exitCode
	switch {
	case err == nil:
	case errors.As(err, &code):
		os.Exit(int(code))
	case errors.Is(err, errUsage):
		os.Exit(2)
	case errors.Is(err, errSilent):
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "bridgehead:", err)
		os.Exit(1)
	}
}

// run dispatches a subcommand.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, args, stderr)
	case "dev":
		return cmdDev(ctx, args, stdout, stderr)
	case "check-config":
		return cmdCheckConfig(args, stdout, stderr)
	case "hash-password":
		return cmdHashPassword(args, stdin, stdout, stderr)
	case "status":
		return cmdStatus(ctx, args, stdout, stderr)
	case "queue":
		return cmdQueue(ctx, args, stdout, stderr)
	case "listener":
		return cmdListener(ctx, args, stdout, stderr)
	case "reload":
		return cmdReload(ctx, args, stdout, stderr)
	case "loadtest":
		return cmdLoadtest(ctx, args, stdout, stderr)
	case "sendmail":
		return cmdSendmail(ctx, args, stdin, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "bridgehead: unknown command %q\n%s", cmd, usage)
	return errUsage
}

// newFlagSet makes a flag set that reports errors as usage errors.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, turning flag errors into errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errUsage
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

// newLogger makes the process logger.
func newLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: -log-format must be text or json", errUsage)
}
