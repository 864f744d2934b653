package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// cmdServe runs the gateway from a config file until SIGTERM or SIGINT.
func cmdServe(ctx context.Context, args []string, stderr io.Writer) (err error) {
	fs := newFlagSet("serve", stderr)
	path := fs.String("config", "", "config file (YAML)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	debug := fs.Bool("debug", false, "log debug detail")
	prof := addProfileFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	stopProfile, err := prof.start()
	defer func() { err = errors.Join(err, stopProfile()) }()
	if err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(stderr, "serve: -config FILE is required")
		return errUsage
	}
	log, err := newLogger(stderr, *logFormat, levelFor(*debug))
	if err != nil {
		return err
	}
	cfg, err := LoadConfig(*path)
	if err != nil {
		return err
	}
	return serveConfig(ctx, cfg, log, serverOptions{})
}

// serveConfig builds the server and runs it.
func serveConfig(ctx context.Context, cfg *Config, log *slog.Logger, so serverOptions) error {
	log.Info("starting", slog.String("config", cfg.Path), slog.String("hostname", cfg.Hostname),
		slog.String("state_dir", cfg.StateDir), slog.Int("listeners", len(cfg.Listeners)), slog.Any("domains", cfg.Domains))
	srv, err := newServer(ctx, cfg, log, so)
	if err != nil {
		return err
	}
	if err := srv.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func levelFor(debug bool) slog.Level {
	if debug {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// cmdCheckConfig validates a config file and the files it names.
func cmdCheckConfig(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check-config", stderr)
	path := fs.String("config", "", "config file (YAML)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(stderr, "check-config: -config FILE is required")
		return errUsage
	}
	cfg, err := LoadConfig(*path)
	if err == nil {
		err = cfg.CheckFiles()
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errSilent
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	return nil
}

// errSilent is a failure already reported on stderr: exit 1, print nothing more.
var errSilent = errors.New("failed")
