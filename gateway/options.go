// Package gateway is bridgehead's SMTP front end: listeners ("virtual
// servers") with their limits, SMTP sessions built on go-smtp, the relay
// policy, message hygiene, and the hand-off to the durable queue.
package gateway

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"bridgehead.dev/bridgehead/gateway/filter"
	"bridgehead.dev/bridgehead/gateway/protolog"
	"bridgehead.dev/bridgehead/metrics"
)

// Mode is what a listener is for.
type Mode string

// Listener modes.
const (
	// ModeSubmission is plain TCP with STARTTLS offered and AUTH required
	// before MAIL (port 587).
	ModeSubmission Mode = "submission"
	// ModeSubmissions is implicit TLS with AUTH required (port 465).
	ModeSubmissions Mode = "submissions"
	// ModeInbound accepts mail from the Internet for the accepted domains
	// only, without AUTH (port 25).
	ModeInbound Mode = "inbound"
)

// Limits bound what a client of one listener may take. Zero fields get
// the defaults of DefaultLimits.
type Limits struct {
	// MaxConnections is the number of simultaneous connections.
	MaxConnections int
	// MaxConnectionsPerIP is the number of simultaneous connections from
	// one client address.
	MaxConnectionsPerIP int
	// MaxMessageSize is the largest message accepted, in bytes; advertised
	// with SIZE.
	MaxMessageSize int64
	// MaxRecipients is the number of recipients of one message.
	MaxRecipients int
	// MaxMessagesPerConnection is the number of messages one connection
	// may send before it must reconnect.
	MaxMessagesPerConnection int
	// IdleTimeout is how long the server waits for the next command.
	IdleTimeout time.Duration
	// WriteTimeout bounds each reply written to the client.
	WriteTimeout time.Duration
	// DataTimeout bounds the transfer of one message after DATA.
	DataTimeout time.Duration
	// MaxLineLength is the longest command or message line, in bytes
	// including CRLF.
	MaxLineLength int
	// HandshakeTimeout bounds a TLS handshake.
	HandshakeTimeout time.Duration
	// ConnectionRatePerIP is the number of connections one client address
	// (IPv6: its /64) may open per minute; more are answered 421 4.7.0 at
	// connect. 0 means no limit.
	ConnectionRatePerIP int
	// MessageRatePerIP is the number of messages (MAIL FROM commands) one
	// client address (IPv6: its /64) may start per minute; more are
	// answered 450 4.7.1. 0 means no limit.
	MessageRatePerIP int
}

// DefaultLimits returns the limits a listener has when its config names
// none.
func DefaultLimits() Limits {
	return Limits{
		MaxConnections:           1000,
		MaxConnectionsPerIP:      20,
		MaxMessageSize:           25 << 20,
		MaxRecipients:            200,
		MaxMessagesPerConnection: 100,
		IdleTimeout:              5 * time.Minute,
		WriteTimeout:             time.Minute,
		DataTimeout:              10 * time.Minute,
		MaxLineLength:            2000,
		HandshakeTimeout:         30 * time.Second,
	}
}

// withDefaults returns l with every zero field set to its default.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&l.MaxConnections, d.MaxConnections)
	setInt(&l.MaxConnectionsPerIP, d.MaxConnectionsPerIP)
	setInt(&l.MaxRecipients, d.MaxRecipients)
	setInt(&l.MaxMessagesPerConnection, d.MaxMessagesPerConnection)
	setInt(&l.MaxLineLength, d.MaxLineLength)
	if l.MaxMessageSize == 0 {
		l.MaxMessageSize = d.MaxMessageSize
	}
	setDur(&l.IdleTimeout, d.IdleTimeout)
	setDur(&l.WriteTimeout, d.WriteTimeout)
	setDur(&l.DataTimeout, d.DataTimeout)
	setDur(&l.HandshakeTimeout, d.HandshakeTimeout)
	return l
}

func (l Limits) validate() error {
	switch {
	case l.MaxConnections < 0, l.MaxConnectionsPerIP < 0, l.MaxRecipients < 0,
		l.MaxMessagesPerConnection < 0, l.MaxMessageSize < 0,
		l.ConnectionRatePerIP < 0, l.MessageRatePerIP < 0:
		return errors.New("limits must not be negative")
	case l.MaxLineLength != 0 && l.MaxLineLength < 1000:
		return fmt.Errorf("max line length %d is below the 1000 bytes SMTP requires", l.MaxLineLength)
	case l.IdleTimeout < 0, l.WriteTimeout < 0, l.DataTimeout < 0, l.HandshakeTimeout < 0:
		return errors.New("timeouts must not be negative")
	}
	return nil
}

// ListenerOptions configure one listener.
type ListenerOptions struct {
	// Name identifies the listener in logs and the admin API.
	Name string
	// Address is host:port to listen on.
	Address string
	// Mode is what the listener is for.
	Mode Mode
	// Limits bound each client.
	Limits Limits
	// TLSConfig serves STARTTLS (submission, inbound) or implicit TLS
	// (submissions). Required for the submission modes.
	TLSConfig *tls.Config
	// Filters check each message after DATA and before the 250, in order;
	// a refusal is the reply to the client. With filters the message is
	// held in memory (at most Limits.MaxMessageSize) while they run.
	Filters filter.Chain
	// Access is the listener's ordered allow/deny list of client
	// addresses: the first matching rule decides, and clients matching
	// none are allowed. Denied clients get 554 5.7.1 at connect.
	Access []AccessRule
	// ProtocolLog, if set, gets one W3C line per SMTP command (nil: none).
	ProtocolLog *protolog.Logger

	metrics *metrics.Metrics // Options.Metrics, set by Options.Validate
	// ProxyTrusted are the load balancers that must send a PROXY protocol
	// (v1 or v2) header naming the real client; empty turns the PROXY
	// protocol off. A trusted peer without a header, or any other peer
	// sending one, is disconnected.
	ProxyTrusted []netip.Prefix
	// ProxyHeaderTimeout bounds the wait for a trusted peer's PROXY
	// header. Default 10s.
	ProxyHeaderTimeout time.Duration
}

// Validate checks the listener's options.
func (o *ListenerOptions) Validate() error {
	if o.Name == "" {
		return errors.New("listener has no name")
	}
	if _, _, err := net.SplitHostPort(o.Address); err != nil {
		return fmt.Errorf("listener %s: address %q: %w", o.Name, o.Address, err)
	}
	switch o.Mode {
	case ModeSubmission, ModeSubmissions:
		if o.TLSConfig == nil {
			return fmt.Errorf("listener %s: mode %s needs a TLS certificate", o.Name, o.Mode)
		}
	case ModeInbound:
	default:
		return fmt.Errorf("listener %s: unknown mode %q (submission, submissions or inbound)", o.Name, o.Mode)
	}
	if err := o.Limits.validate(); err != nil {
		return fmt.Errorf("listener %s: %w", o.Name, err)
	}
	if err := o.validateProxy(); err != nil {
		return fmt.Errorf("listener %s: %w", o.Name, err)
	}
	return nil
}

// Options configure the gateway.
type Options struct {
	// Hostname is the name in the greeting, EHLO reply and Received headers.
	Hostname string
	// Domains are the accepted (local) domains.
	Domains []string
	// Listeners are the virtual servers.
	Listeners []ListenerOptions
	// MaxHops is the number of Received headers beyond which a message is
	// taken to be looping. Default 50.
	MaxHops int
	// ShutdownGrace bounds how long sessions may take to finish after a
	// shutdown begins. Default 30s.
	ShutdownGrace time.Duration
	// Logger receives the session log. Default slog.Default().
	Logger *slog.Logger
	// Metrics records connections, AUTH, messages and refusals (nil: off).
	Metrics *metrics.Metrics
	// Resolver looks up inbound clients' reverse DNS names for the
	// Received header. Default: the system resolver.
	Resolver Resolver
}

// Validate checks the options and fills in defaults.
func (o *Options) Validate() error {
	if o.Hostname == "" {
		return errors.New("hostname is empty")
	}
	if o.MaxHops == 0 {
		o.MaxHops = 50
	}
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Resolver == nil {
		o.Resolver = systemResolver{}
	}
	for i, d := range o.Domains {
		o.Domains[i] = strings.ToLower(strings.TrimSuffix(d, "."))
	}
	names := map[string]bool{}
	for i := range o.Listeners {
		l := &o.Listeners[i]
		if err := l.Validate(); err != nil {
			return err
		}
		if names[l.Name] {
			return fmt.Errorf("listener name %q used twice", l.Name)
		}
		names[l.Name] = true
		l.Limits = l.Limits.withDefaults()
		l.metrics = o.Metrics
	}
	return nil
}
