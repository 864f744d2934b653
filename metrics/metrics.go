package metrics

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "bridgehead"

// Metrics are bridgehead's counters, gauges and histograms. A nil *Metrics
// records nothing.
type Metrics struct {
	connections      *prometheus.CounterVec
	sessions         *prometheus.GaugeVec
	tlsHandshakes    *prometheus.CounterVec
	auth             *prometheus.CounterVec
	accepted         *prometheus.CounterVec
	refused          *prometheus.CounterVec
	messageSize      *prometheus.HistogramVec
	deliveryAttempts *prometheus.CounterVec
	deliveryDuration *prometheus.HistogramVec
	directoryCache   *prometheus.CounterVec
	ldapDuration     *prometheus.HistogramVec
	reports          *prometheus.CounterVec
	throttled        *prometheus.CounterVec

	queueStats atomic.Pointer[func() QueueStats]
}

// New makes the metrics and registers them with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: no registerer")
	}
	m := &Metrics{
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "connections_total",
			Help: "SMTP connections accepted, per listener.",
		}, []string{"listener"}),
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "sessions_active",
			Help: "SMTP connections open now, per listener.",
		}, []string{"listener"}),
		tlsHandshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tls_handshakes_total",
			Help: "Completed TLS handshakes (implicit TLS and STARTTLS), per listener and TLS version.",
		}, []string{"listener", "version"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "auth_total",
			Help: "SMTP AUTH attempts, per listener, SASL mechanism and result (success, failure, throttled, error).",
		}, []string{"listener", "mechanism", "result"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "messages_accepted_total",
			Help: "Messages accepted into the queue, per listener.",
		}, []string{"listener"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "messages_refused_total",
			Help: "Refused MAIL, RCPT and DATA commands, per listener and reason.",
		}, []string{"listener", "reason"}),
		messageSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "message_size_bytes",
			Help:    "Size of accepted messages, per listener.",
			Buckets: prometheus.ExponentialBuckets(1024, 4, 10), // 1 KiB .. 256 MiB
		}, []string{"listener"}),
		deliveryAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "delivery_attempts_total",
			Help: "Delivery attempts to back ends, per route and result (delivered, deferred, failed).",
		}, []string{"route", "result"}),
		deliveryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "delivery_duration_seconds",
			Help:    "Duration of delivery attempts, per route and result.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"route", "result"}),
		directoryCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "directory_cache_total",
			Help: "Directory lookups answered from the cache (hit) or not (miss).",
		}, []string{"result"}),
		ldapDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "ldap_request_duration_seconds",
			Help:    "Duration of LDAP requests, per operation (search, bind).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"op"}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "reports_sent_total",
			Help: "Delivery status notifications queued, per type (failed, delayed, relayed, delivered).",
		}, []string{"type"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "throttled_total",
			Help: "Clients cut off or refused for going over a rate or failure limit, per listener.",
		}, []string{"listener"}),
	}
	cs := []prometheus.Collector{
		m.connections, m.sessions, m.tlsHandshakes, m.auth, m.accepted, m.refused,
		m.messageSize, m.deliveryAttempts, m.deliveryDuration, m.directoryCache,
		m.ldapDuration, m.reports, m.throttled, queueCollector{m},
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return m, nil
}

// Listener creates the per-listener series at zero, so that dashboards
// and rate() see a listener before its first event.
func (m *Metrics) Listener(name string) {
	if m == nil {
		return
	}
	m.connections.WithLabelValues(name)
	m.sessions.WithLabelValues(name)
	m.accepted.WithLabelValues(name)
	m.throttled.WithLabelValues(name)
}

// ConnectionOpened counts an accepted connection and one more open.
func (m *Metrics) ConnectionOpened(listener string) {
	if m == nil {
		return
	}
	m.connections.WithLabelValues(listener).Inc()
	m.sessions.WithLabelValues(listener).Inc()
}

// ConnectionClosed counts one open connection fewer.
func (m *Metrics) ConnectionClosed(listener string) {
	if m == nil {
		return
	}
	m.sessions.WithLabelValues(listener).Dec()
}

// TLSHandshake counts a completed TLS handshake with the version
// negotiated (tls.VersionTLS13 and the like).
func (m *Metrics) TLSHandshake(listener string, version uint16) {
	if m == nil {
		return
	}
	m.tlsHandshakes.WithLabelValues(listener, TLSVersion(version)).Inc()
}

// TLSVersion names a TLS version as in the tls_handshakes_total label:
// "TLS1.2", "TLS1.3"; "other" for anything else.
func TLSVersion(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLS1.0"
	case tls.VersionTLS11:
		return "TLS1.1"
	case tls.VersionTLS12:
		return "TLS1.2"
	case tls.VersionTLS13:
		return "TLS1.3"
	}
	return "other"
}

// AUTH results.
const (
	AuthSuccess   = "success"
	AuthFailure   = "failure"
	AuthThrottled = "throttled"
	AuthError     = "error"
)

// Auth counts an AUTH attempt. The mechanism is upper-cased and folded to
// "other" unless it is one bridgehead knows; a result outside the AUTH
// results counts as "error".
func (m *Metrics) Auth(listener, mechanism, result string) {
	if m == nil {
		return
	}
	switch result {
	case AuthSuccess, AuthFailure, AuthThrottled, AuthError:
	default:
		result = AuthError
	}
	m.auth.WithLabelValues(listener, Mechanism(mechanism), result).Inc()
}

// Mechanism is the mechanism label for a client-given SASL mechanism name.
func Mechanism(mech string) string {
	switch mech = strings.ToUpper(mech); mech {
	case "PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "EXTERNAL", "ANONYMOUS":
		return mech
	}
	return "other"
}

// MessageAccepted counts a message queued and observes its size in bytes.
func (m *Metrics) MessageAccepted(listener string, size int64) {
	if m == nil {
		return
	}
	m.accepted.WithLabelValues(listener).Inc()
	m.messageSize.WithLabelValues(listener).Observe(float64(size))
}

// Refusal reasons, the reason label of messages_refused_total.
const (
	ReasonAuth      = "auth"
	ReasonSender    = "sender"
	ReasonRecipient = "recipient"
	ReasonRelay     = "relay"
	ReasonSize      = "size"
	ReasonLimit     = "limit"
	ReasonRate      = "rate"
	ReasonFilter    = "filter"
	ReasonSyntax    = "syntax"
	ReasonSmuggling = "smuggling"
	ReasonQueue     = "queue"
	ReasonOther     = "other"
)

// Reasons are all the refusal reasons.
func Reasons() []string {
	return []string{ReasonAuth, ReasonSender, ReasonRecipient, ReasonRelay, ReasonSize, ReasonLimit,
		ReasonRate, ReasonFilter, ReasonSyntax, ReasonSmuggling, ReasonQueue, ReasonOther}
}

// MessageRefused counts a refused MAIL, RCPT or DATA. A reason outside
// Reasons counts as "other".
func (m *Metrics) MessageRefused(listener, reason string) {
	if m == nil {
		return
	}
	switch reason {
	case ReasonAuth, ReasonSender, ReasonRecipient, ReasonRelay, ReasonSize, ReasonLimit,
		ReasonRate, ReasonFilter, ReasonSyntax, ReasonSmuggling, ReasonQueue:
	default:
		reason = ReasonOther
	}
	m.refused.WithLabelValues(listener, reason).Inc()
}

// Delivery results, the result label of the delivery metrics.
const (
	DeliveryDelivered = "delivered"
	DeliveryDeferred  = "deferred"
	DeliveryFailed    = "failed"
)

// DeliveryAttempt counts one delivery attempt on route and observes how
// long it took. A result outside the delivery results counts as
// "deferred" (it will be tried again).
func (m *Metrics) DeliveryAttempt(route, result string, took time.Duration) {
	if m == nil {
		return
	}
	switch result {
	case DeliveryDelivered, DeliveryDeferred, DeliveryFailed:
	default:
		result = DeliveryDeferred
	}
	m.deliveryAttempts.WithLabelValues(route, result).Inc()
	m.deliveryDuration.WithLabelValues(route, result).Observe(took.Seconds())
}

// DirectoryCache counts a directory lookup answered from the cache (hit)
// or not.
func (m *Metrics) DirectoryCache(hit bool) {
	if m == nil {
		return
	}
	result := "miss"
	if hit {
		result = "hit"
	}
	m.directoryCache.WithLabelValues(result).Inc()
}

// LDAPRequest observes the duration of one LDAP operation ("search",
// "bind").
func (m *Metrics) LDAPRequest(op string, took time.Duration) {
	if m == nil {
		return
	}
	m.ldapDuration.WithLabelValues(op).Observe(took.Seconds())
}

// ReportSent counts a delivery status notification queued; typ is its
// action: failed, delayed, relayed or delivered.
func (m *Metrics) ReportSent(typ string) {
	if m == nil {
		return
	}
	switch typ {
	case "failed", "delayed", "relayed", "delivered":
	default:
		return
	}
	m.reports.WithLabelValues(typ).Inc()
}

// Throttled counts a client cut off or refused by a rate or failure limit.
func (m *Metrics) Throttled(listener string) {
	if m == nil {
		return
	}
	m.throttled.WithLabelValues(listener).Inc()
}
