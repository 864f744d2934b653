package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

// scrape fetches url and parses it with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return mfs
}

// sample is the value of name{labels} in mfs (a histogram's count); 0
// when the series is absent.
func sample(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	mf := mfs[name]
	if mf == nil {
		return 0
	}
series:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// withAdmin appends an admin block on a free address to the site's config
// and returns the address.
func withAdmin(t *testing.T, cfgPath string) string {
	t.Helper()
	addr := freeAddr(t)
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "admin:\n  address: %s\n", addr); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestE2EMetrics submits through the binary (one message accepted and
// delivered, one AUTH with a bad password, one unknown recipient), scrapes
// the admin API's /metrics and checks the counters moved by as much.
func TestE2EMetrics(t *testing.T) {
	t.Parallel()
	testservers.Require(t, "swaks")
	sink := testservers.StartSink(t)
	s := relaySite(t, sink)
	adminAddr := withAdmin(t, filepath.Join(s.Dir, "bridgehead.yaml"))
	startBridgehead(t, s.Dir, []string{s.Submission, s.Submissions, adminAddr}, "serve", "-config", filepath.Join(s.Dir, "bridgehead.yaml"))
	url := "http://" + adminAddr + "/metrics"

	before := scrape(t, url)
	for _, name := range []string{
		"bridgehead_connections_total", "bridgehead_sessions_active", "bridgehead_messages_accepted_total",
		"bridgehead_queue_messages", "bridgehead_queue_oldest_age_seconds", "bridgehead_throttled_total",
	} {
		if before[name] == nil {
			t.Errorf("%s not exported before any traffic", name)
		}
	}

	swaksSubmit(t, s.Submission, "--tls", "alice", "pw-alice", "alice@example.test", "bob@remote.example", "metrics")
	if out, ok := swaks(t, "--server", s.Submission, "--tls", "--auth", "PLAIN",
		"--auth-user", "alice", "--auth-password", "not-the-password",
		"--from", "alice@example.test", "--to", "bob@remote.example"); ok || !strings.Contains(out, "535") {
		t.Fatalf("swaks with a bad password: want 535\n%s", out)
	}
	c, err := dialAlice(s.Submission)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("alice@example.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("nobody@example.test", nil); err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("RCPT nobody@example.test: %v, want 550", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}

	var after map[string]*dto.MetricFamily
	eventually(t, 30*time.Second, "the delivery counted and the sessions closed", func() bool {
		after = scrape(t, url)
		return sample(after, "bridgehead_delivery_attempts_total", "result", "delivered") >= 1 &&
			sample(after, "bridgehead_sessions_active", "listener", "submission") == 0
	})
	delta := func(name string, labels ...string) float64 {
		return sample(after, name, labels...) - sample(before, name, labels...)
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"bridgehead_connections_total", []string{"listener", "submission"}, 3},
		{"bridgehead_tls_handshakes_total", []string{"listener", "submission"}, 3},
		{"bridgehead_auth_total", []string{"listener", "submission", "mechanism", "LOGIN", "result", "success"}, 1},
		{"bridgehead_auth_total", []string{"listener", "submission", "mechanism", "PLAIN", "result", "failure"}, 1},
		{"bridgehead_auth_total", []string{"listener", "submission", "mechanism", "PLAIN", "result", "success"}, 1},
		{"bridgehead_messages_accepted_total", []string{"listener", "submission"}, 1},
		{"bridgehead_messages_refused_total", []string{"listener", "submission", "reason", "recipient"}, 1},
		{"bridgehead_message_size_bytes", []string{"listener", "submission"}, 1},
		{"bridgehead_delivery_attempts_total", []string{"result", "delivered"}, 1},
		{"bridgehead_delivery_duration_seconds", []string{"result", "delivered"}, 1},
	} {
		if got := delta(tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v moved by %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if got := sample(after, "bridgehead_sessions_active", "listener", "submission"); got != 0 {
		t.Errorf("sessions_active = %v after every client left", got)
	}
	if got := sample(after, "bridgehead_queue_messages"); got != 0 {
		t.Errorf("queue_messages = %v after the delivery", got)
	}
	if mf := after["bridgehead_delivery_attempts_total"]; mf != nil {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "route" && lp.GetValue() == "" {
					t.Errorf("delivery attempt without a route label")
				}
			}
		}
	}
}
