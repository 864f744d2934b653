package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"bridgehead.dev/bridgehead/gateway/filter"
)

const filterBase = `hostname: gw.example.test
state_dir: /var/lib/bridgehead
listeners:
  - name: inbound
    address: 0.0.0.0:25
    mode: inbound
    filters: [attachments, clamav]
domains: [example.test]
directory:
  static: {file: users.yaml}
`

// clamd's Unix socket is a valid address; configured media types reach
// the attachment filter.
func TestFiltersFromConfig(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig("f.yaml", []byte(filterBase+`filters:
  attachments:
    reject_types: [application/x-bridgehead-test]
  clamav: {address: /run/clamav/clamd.ctl}
`))
	if err != nil {
		t.Fatal(err)
	}
	chain, err := buildFilters(cfg, []string{FilterAttachments})
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: a@example.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
		"--b\r\nContent-Type: application/x-bridgehead-test\r\nContent-Disposition: attachment; filename=data.bin\r\n\r\nxx\r\n--b--\r\n"
	_, err = chain.Run(context.Background(), &filter.Envelope{QueueID: "t"}, []byte(msg), slog.New(slog.NewTextHandler(io.Discard, nil)))
	var rej *filter.Rejection
	if !errors.As(err, &rej) || rej.Code != 550 {
		t.Fatalf("configured media type: %v, want a 550 rejection", err)
	}
}

func TestFilterConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ extra, want string }{
		{"filters:\n  attachments:\n    strip_types: [notatype]\n  clamav: {address: 127.0.0.1:3310}\n", `f.yaml:13: filters.attachments.strip_types: "notatype" is not a media type`},
		{"filters:\n  clamav: {address: clamd}\n", "f.yaml:12: filters.clamav.address"},
	} {
		_, err := ParseConfig("f.yaml", []byte(filterBase+tt.extra))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want it to contain %q", err, tt.want)
		}
	}
}
