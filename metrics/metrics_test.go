package metrics

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTest(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func TestNilSafe(t *testing.T) {
	t.Parallel()
	var m *Metrics
	m.Listener("x")
	m.ConnectionOpened("x")
	m.ConnectionClosed("x")
	m.TLSHandshake("x", tls.VersionTLS13)
	m.Auth("x", "PLAIN", AuthSuccess)
	m.MessageAccepted("x", 10)
	m.MessageRefused("x", ReasonAuth)
	m.DeliveryAttempt("r", DeliveryDelivered, time.Second)
	m.DirectoryCache(true)
	m.LDAPRequest("search", time.Millisecond)
	m.ReportSent("failed")
	m.Throttled("x")
	m.WatchQueue(func() QueueStats { return QueueStats{} })
}

func TestNewTwiceOnOneRegistry(t *testing.T) {
	t.Parallel()
	_, reg := newTest(t)
	if _, err := New(reg); err == nil {
		t.Fatal("second New on the same registry: no error")
	}
	if _, err := New(nil); err == nil {
		t.Fatal("New(nil): no error")
	}
}

func TestCounters(t *testing.T) {
	t.Parallel()
	m, _ := newTest(t)
	m.ConnectionOpened("submission")
	m.ConnectionOpened("submission")
	m.ConnectionClosed("submission")
	m.TLSHandshake("submission", tls.VersionTLS13)
	m.TLSHandshake("submission", 0x1234)
	m.Auth("submission", "plain", AuthSuccess)
	m.Auth("submission", "PLAIN", "weird")
	m.Auth("submission", "X-EVIL-"+strings.Repeat("A", 50), AuthFailure)
	m.MessageRefused("submission", ReasonRecipient)
	m.MessageRefused("submission", "made-up")
	m.Throttled("submission")
	m.DirectoryCache(true)
	m.DirectoryCache(false)
	m.DirectoryCache(false)
	m.ReportSent("failed")
	m.ReportSent("nonsense")

	checks := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"connections", m.connections.WithLabelValues("submission"), 2},
		{"sessions", m.sessions.WithLabelValues("submission"), 1},
		{"tls13", m.tlsHandshakes.WithLabelValues("submission", "TLS1.3"), 1},
		{"tls other", m.tlsHandshakes.WithLabelValues("submission", "other"), 1},
		{"auth ok", m.auth.WithLabelValues("submission", "PLAIN", "success"), 1},
		{"auth unknown result", m.auth.WithLabelValues("submission", "PLAIN", "error"), 1},
		{"auth unknown mech", m.auth.WithLabelValues("submission", "other", "failure"), 1},
		{"refused rcpt", m.refused.WithLabelValues("submission", "recipient"), 1},
		{"refused unknown", m.refused.WithLabelValues("submission", "other"), 1},
		{"throttled", m.throttled.WithLabelValues("submission"), 1},
		{"cache hit", m.directoryCache.WithLabelValues("hit"), 1},
		{"cache miss", m.directoryCache.WithLabelValues("miss"), 2},
		{"reports", m.reports.WithLabelValues("failed"), 1},
	}
	for _, c := range checks {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.reports); n != 1 {
		t.Errorf("reports series = %d, want 1 (unknown types dropped)", n)
	}
}

func TestHistogramsAndQueue(t *testing.T) {
	t.Parallel()
	m, reg := newTest(t)
	m.MessageAccepted("submission", 2000)
	m.DeliveryAttempt("example.test", DeliveryDelivered, 30*time.Millisecond)
	m.DeliveryAttempt("example.test", "bogus", time.Second)
	m.LDAPRequest("search", 3*time.Millisecond)

	// Before WatchQueue the queue gauges are absent.
	if n, err := testutil.GatherAndCount(reg, "bridgehead_queue_messages"); err != nil || n != 0 {
		t.Fatalf("queue gauge before WatchQueue: %d series, %v", n, err)
	}
	calls := 0
	m.WatchQueue(func() QueueStats {
		calls++
		return QueueStats{Messages: 3, OldestAge: 90 * time.Second}
	})
	want := `
# HELP bridgehead_queue_messages Messages in the queue.
# TYPE bridgehead_queue_messages gauge
bridgehead_queue_messages 3
# HELP bridgehead_queue_oldest_age_seconds Age of the oldest message in the queue; 0 when it is empty.
# TYPE bridgehead_queue_oldest_age_seconds gauge
bridgehead_queue_oldest_age_seconds 90
# HELP bridgehead_messages_accepted_total Messages accepted into the queue, per listener.
# TYPE bridgehead_messages_accepted_total counter
bridgehead_messages_accepted_total{listener="submission"} 1
# HELP bridgehead_delivery_attempts_total Delivery attempts to back ends, per route and result (delivered, deferred, failed).
# TYPE bridgehead_delivery_attempts_total counter
bridgehead_delivery_attempts_total{result="deferred",route="example.test"} 1
bridgehead_delivery_attempts_total{result="delivered",route="example.test"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"bridgehead_queue_messages", "bridgehead_queue_oldest_age_seconds",
		"bridgehead_messages_accepted_total", "bridgehead_delivery_attempts_total"); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("queue stats asked %d times for one scrape", calls)
	}
	for name, want := range map[string]int{
		"bridgehead_message_size_bytes":            1,
		"bridgehead_delivery_duration_seconds":     2,
		"bridgehead_ldap_request_duration_seconds": 1,
	} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != want {
			t.Errorf("%s: %d series (%v), want %d", name, n, err, want)
		}
	}
}

func TestListenerPrecreatesSeries(t *testing.T) {
	t.Parallel()
	m, reg := newTest(t)
	m.Listener("inbound")
	n, err := testutil.GatherAndCount(reg, "bridgehead_connections_total", "bridgehead_messages_accepted_total")
	if err != nil || n != 2 {
		t.Fatalf("series after Listener: %d, %v", n, err)
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	for v, want := range map[uint16]string{tls.VersionTLS12: "TLS1.2", tls.VersionTLS13: "TLS1.3", 0: "other"} {
		if got := TLSVersion(v); got != want {
			t.Errorf("TLSVersion(%#x) = %q, want %q", v, got, want)
		}
	}
	for in, want := range map[string]string{"plain": "PLAIN", "XOAUTH2": "XOAUTH2", "": "other", "FOO": "other"} {
		if got := Mechanism(in); got != want {
			t.Errorf("Mechanism(%q) = %q, want %q", in, got, want)
		}
	}
	if len(Reasons()) != 12 {
		t.Errorf("Reasons() = %v", Reasons())
	}
}
