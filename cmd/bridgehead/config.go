package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the config file (see "Configuration" in DESIGN.md). LoadConfig
// fills in defaults, makes relative file names relative to the file's
// directory and validates it; the wiring maps it onto each package's
// Options.
type Config struct {
	// Hostname is the EHLO greeting and the name in Received headers.
	Hostname string `yaml:"hostname"`
	// StateDir holds the queue and the mailboxstore.
	StateDir string `yaml:"state_dir"`
	// TLS is the server certificate of the listeners.
	TLS TLSConfig `yaml:"tls"`
	// Listeners are the SMTP "virtual servers"; at least one.
	Listeners []ListenerConfig `yaml:"listeners"`
	// Domains are the accepted (local) domains.
	Domains []string `yaml:"domains"`
	// Directory says who is who: exactly one of Static and LDAP.
	Directory DirectoryConfig `yaml:"directory"`
	// Auth configures password checks.
	Auth AuthConfig `yaml:"auth"`
	// Filters configures the filters that listeners name.
	Filters FiltersConfig `yaml:"filters"`
	// NDR configures delivery status notifications.
	NDR NDRConfig `yaml:"ndr"`
	// Mailboxstore configures the built-in store of reports.
	Mailboxstore MailboxstoreConfig `yaml:"mailboxstore"`
	// Admin configures the admin HTTP API.
	Admin AdminConfig `yaml:"admin"`
	// Queue configures retries and expiry.
	Queue QueueConfig `yaml:"queue"`
	// Routes say where mail goes, first match wins.
	Routes []RouteConfig `yaml:"routes"`
	// Backends name back ends for the directory's routing attribute
	// (mailHost, msExchHomeServerName): name -> URL as in RouteConfig.To.
	Backends map[string]string `yaml:"backends"`
	// DNS is the resolver for MX delivery and reverse lookups.
	DNS DNSConfig `yaml:"dns"`
	// Pickup is the pickup directory (and bridgehead sendmail).
	Pickup PickupConfig `yaml:"pickup"`
	// Autoconfig is the client autoconfiguration HTTP(S) listener.
	Autoconfig AutoconfigConfig `yaml:"autoconfig"`

	// Path is the file the config came from.
	Path string `yaml:"-"`
	// root is the parsed document, for the lines of later errors.
	root *yaml.Node
}

// TLSConfig is the listeners' certificate.
type TLSConfig struct {
	// CertFile is a PEM certificate chain.
	CertFile string `yaml:"cert_file"`
	// KeyFile is its PEM private key.
	KeyFile string `yaml:"key_file"`
}

// Listener modes.
const (
	ModeSubmission  = "submission"  // STARTTLS offered, AUTH required
	ModeSubmissions = "submissions" // implicit TLS, AUTH required
	ModeInbound     = "inbound"     // no AUTH, local recipients only
)

// ListenerConfig is one listener ("virtual server").
type ListenerConfig struct {
	// Name identifies the listener in logs and the admin API; unique.
	Name string `yaml:"name"`
	// Address is host:port to listen on.
	Address string `yaml:"address"`
	// Mode is ModeSubmission, ModeSubmissions or ModeInbound.
	Mode string `yaml:"mode"`
	// Limits bound what clients may do.
	Limits LimitsConfig `yaml:"limits"`
	// Filters are run after DATA, in order: attachments, clamav, rspamd.
	Filters []string `yaml:"filters"`
	// AuthMethods override auth.methods for this listener.
	AuthMethods []string `yaml:"auth_methods"`
	// Access is the ordered allow/deny list of client addresses; see
	// AccessRuleConfig.
	Access []AccessRuleConfig `yaml:"access"`
	// ProxyProtocol accepts PROXY protocol v1/v2 headers from trusted
	// load balancers.
	ProxyProtocol ProxyProtocolConfig `yaml:"proxy_protocol"`
	// ProtocolLog writes a W3C extended log of the SMTP commands.
	ProtocolLog ProtocolLogConfig `yaml:"protocol_log"`
}

// LimitsConfig are a listener's limits; a key left out (or 0) takes the
// default given in its comment.
type LimitsConfig struct {
	MaxConnections           int      `yaml:"max_connections"`             // 1000
	MaxConnectionsPerIP      int      `yaml:"max_connections_per_ip"`      // 20
	MaxMessageSize           Size     `yaml:"max_message_size"`            // 25MiB
	MaxRecipients            int      `yaml:"max_recipients"`              // 200
	MaxMessagesPerConnection int      `yaml:"max_messages_per_connection"` // 100
	IdleTimeout              Duration `yaml:"idle_timeout"`                // 5m
	WriteTimeout             Duration `yaml:"write_timeout"`               // 1m
	DataTimeout              Duration `yaml:"data_timeout"`                // 10m
	MaxLineLength            int      `yaml:"max_line_length"`             // 2000, at least 1000
	// ConnectionRatePerIP and MessageRatePerIP are per client address
	// (IPv6: /64) and minute; 0 means no limit.
	ConnectionRatePerIP int `yaml:"connection_rate_per_ip"`
	MessageRatePerIP    int `yaml:"message_rate_per_ip"`
}

// defaultLimits are the limits of a listener that sets none.
func defaultLimits() LimitsConfig {
	return LimitsConfig{
		MaxConnections:           1000,
		MaxConnectionsPerIP:      20,
		MaxMessageSize:           25 << 20,
		MaxRecipients:            200,
		MaxMessagesPerConnection: 100,
		IdleTimeout:              Duration(5 * time.Minute),
		WriteTimeout:             Duration(time.Minute),
		DataTimeout:              Duration(10 * time.Minute),
		MaxLineLength:            2000,
	}
}

// DirectoryConfig is directory: exactly one of Static and LDAP.
type DirectoryConfig struct {
	// Static is a YAML file of users.
	Static *StaticDirectoryConfig `yaml:"static"`
	// LDAP is an LDAP directory; LDAP.options() gives its ldapdir.Options.
	LDAP *ldapConfig `yaml:"ldap"`
}

// StaticDirectoryConfig is directory.static.
type StaticDirectoryConfig struct {
	// File is the users file.
	File string `yaml:"file"`
}

// Auth methods.
const (
	AuthDirectory = "directory" // bind / password check in the directory
	AuthIMAP      = "imap"      // login at the IMAP back end
)

// AuthConfig is auth.
type AuthConfig struct {
	// Methods are tried in order; default [directory].
	Methods []string `yaml:"methods"`
	// IMAP is the back end of the imap method.
	IMAP IMAPAuthConfig `yaml:"imap"`
	// OIDC enables OAUTHBEARER and XOAUTH2 when Issuer is set.
	OIDC OIDCConfig `yaml:"oidc"`
	// CacheTTL is how long a successful password check is remembered
	// (default 5m).
	CacheTTL Duration `yaml:"cache_ttl"`
	// Throttle limits password guessing; every key optional.
	Throttle ThrottleConfig `yaml:"throttle"`
}

// ThrottleConfig is auth.throttle. Zero values take authn's defaults.
type ThrottleConfig struct {
	// Window is how long a failure counts (default 15m).
	Window Duration `yaml:"window"`
	// BaseDelay is the pause after a client's first failure, doubled with
	// each further one (default 1s).
	BaseDelay Duration `yaml:"base_delay"`
	// MaxDelay bounds the pause (default 16s).
	MaxDelay Duration `yaml:"max_delay"`
	// CutOff is the failures from one address (IPv6: /64) within Window
	// after which it gets 421 for CoolDown (default 10).
	CutOff int `yaml:"cut_off"`
	// CoolDown is how long a cut-off client stays refused (default 15m).
	CoolDown Duration `yaml:"cool_down"`
	// LoginSlowAfter is the failures for one login after which its
	// failures wait longer; never a lockout (default 5).
	LoginSlowAfter int `yaml:"login_slow_after"`
}

// IMAPAuthConfig is auth.imap.
type IMAPAuthConfig struct {
	// Address is host:port of the IMAP server.
	Address string `yaml:"address"`
	// TLS is "implicit" (default) or "starttls".
	TLS string `yaml:"tls"`
	// CAFile is a PEM bundle to trust ("" = system roots).
	CAFile string `yaml:"ca_file"`
}

// OIDCConfig is auth.oidc.
type OIDCConfig struct {
	// Issuer is the identity provider's issuer URL; "" = OIDC off.
	Issuer string `yaml:"issuer"`
	// Audience is the client id tokens must be issued for.
	Audience string `yaml:"audience"`
	// UsernameClaim is the claim holding the login.
	UsernameClaim string `yaml:"username_claim"`
	// CAFile is a PEM bundle to trust for the issuer's HTTPS.
	CAFile string `yaml:"ca_file"`
}

// Filter names, as listed in a listener's filters.
const (
	FilterAttachments = "attachments"
	FilterClamAV      = "clamav"
	FilterRspamd      = "rspamd"
)

// On-error policies of the network filters.
const (
	OnErrorTempfail = "tempfail" // answer 451 when the scanner fails (default)
	OnErrorAccept   = "accept"   // accept unscanned
)

// FiltersConfig is filters.
type FiltersConfig struct {
	// Attachments is the attachment policy.
	Attachments AttachmentsConfig `yaml:"attachments"`
	// ClamAV is clamd.
	ClamAV ClamAVConfig `yaml:"clamav"`
	// Rspamd is rspamd.
	Rspamd RspamdConfig `yaml:"rspamd"`
}

// AttachmentsConfig is filters.attachments.
type AttachmentsConfig struct {
	// Reject are file name extensions refused with 550 5.7.1.
	Reject []string `yaml:"reject"`
	// Strip are extensions replaced by a text part.
	Strip []string `yaml:"strip"`
	// RejectTypes and StripTypes are media types (e.g.
	// application/x-msdownload) refused or stripped whatever the file name.
	// Unset: the usual executable types, refused (stripped when the config
	// only strips).
	RejectTypes []string `yaml:"reject_types"`
	StripTypes  []string `yaml:"strip_types"`
}

// ClamAVConfig is filters.clamav.
type ClamAVConfig struct {
	// Address is host:port of clamd, or the path of its Unix socket.
	Address string `yaml:"address"`
	// OnError is OnErrorTempfail (default) or OnErrorAccept.
	OnError string `yaml:"on_error"`
}

// RspamdConfig is filters.rspamd.
type RspamdConfig struct {
	// URL is rspamd's HTTP endpoint.
	URL string `yaml:"url"`
	// OnError is OnErrorTempfail (default) or OnErrorAccept.
	OnError string `yaml:"on_error"`
}

// NDRConfig is ndr.
type NDRConfig struct {
	// Postmaster is the report sender; default postmaster@ the first domain.
	Postmaster string `yaml:"postmaster"`
	// CopyToPostmaster keeps a copy of each report in the mailboxstore.
	CopyToPostmaster bool `yaml:"copy_to_postmaster"`
	// Language is "en" (default) or "de".
	Language string `yaml:"language"`
	// Languages override Language per accepted domain of the original
	// sender, e.g. {example.de: de}.
	Languages map[string]string `yaml:"languages"`
	// TemplatesDir holds LANG.tmpl files replacing the built-in report
	// text; languages without a file keep the built-in one.
	TemplatesDir string `yaml:"templates_dir"`
}

// MailboxstoreConfig is mailboxstore.
type MailboxstoreConfig struct {
	// IMAPAddress is host:port of its IMAP server; "" = not served.
	IMAPAddress string `yaml:"imap_address"`
	// Admins are the logins allowed in.
	Admins []string `yaml:"admins"`
	// Retention removes stored messages older than this; 0 keeps them.
	Retention Duration `yaml:"retention"`
}

// AdminConfig is admin.
type AdminConfig struct {
	// Address is host:port of the admin API; default 127.0.0.1:8025.
	Address string `yaml:"address"`
	// TokenFile holds the bearer token required when Address is not a
	// loopback address.
	TokenFile string `yaml:"token_file"`
	// CertFile and KeyFile are the admin API's certificate when Address is
	// not loopback; default the listeners' tls.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// maxJournalMessageSize bounds queue.journal_message_size: the memory a
// session in DATA may hold.
const maxJournalMessageSize = 16 << 20

// QueueConfig is queue.
type QueueConfig struct {
	// Retry are the intervals between attempts, the last repeating;
	// default [15m, 30m, 1h, 4h].
	Retry []Duration `yaml:"retry"`
	// Expire is when a message fails for good; default 48h.
	Expire Duration `yaml:"expire"`
	// DelayNotice is when the one delay report is sent; default 4h.
	DelayNotice Duration `yaml:"delay_notice"`
	// JournalMessageSize is the largest message held in memory while it
	// arrives and committed through the shared journal (one fsync for
	// all messages committed at the same moment); a larger message is
	// written to its own file as it arrives. 0 = the default, 256KiB.
	// Each session in DATA may hold this much memory.
	JournalMessageSize Size `yaml:"journal_message_size"`
}

// RouteConfig is one entry of routes.
type RouteConfig struct {
	// Domains are recipient domains; "*" matches any, "*.example.test"
	// any subdomain.
	Domains []string `yaml:"domains"`
	// To is smtp://, smtps:// or lmtp://host[:port], or "mailbox:" (the
	// built-in store; "mailbox" is accepted and normalised); a list of
	// such URLs is tried in order (failover).
	To TargetList `yaml:"to"`
	// TLS is none, opportunistic, required or verify ("" = the scheme's
	// default).
	TLS string `yaml:"tls"`
	// CAFile is a PEM bundle for verify ("" = system roots).
	CAFile string `yaml:"ca_file"`
	// Senders restrict the route to envelope senders of these domains
	// (sender-dependent routing); empty means any sender.
	Senders []string `yaml:"senders"`
	// Auth logs in to the smart host (TLS required, verify or smtps).
	Auth *RouteAuthConfig `yaml:"auth"`
	// MXPort is the port "to: mx" connects to (default 25).
	MXPort int `yaml:"mx_port"`
}

// LoadConfig reads the config file at path, decodes it strictly (an unknown
// key is an error), applies defaults and validates it. Every error reads
// FILE:LINE: what; several are joined with newlines.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig is LoadConfig for data read from the file name.
func ParseConfig(name string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ConfigError{File: name, Line: 1, Msg: "empty config"}
		}
		return nil, yamlErrors(name, err)
	}
	c := &Config{Path: name, root: &root}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, yamlErrors(name, err)
	}
	c.setDefaults()
	c.resolvePaths()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// setDefaults fills in what the file leaves out.
func (c *Config) setDefaults() {
	d := defaultLimits()
	for i := range c.Listeners {
		l := &c.Listeners[i].Limits
		setZero(&l.MaxConnections, d.MaxConnections)
		setZero(&l.MaxConnectionsPerIP, d.MaxConnectionsPerIP)
		setZero(&l.MaxMessageSize, d.MaxMessageSize)
		setZero(&l.MaxRecipients, d.MaxRecipients)
		setZero(&l.MaxMessagesPerConnection, d.MaxMessagesPerConnection)
		setZero(&l.IdleTimeout, d.IdleTimeout)
		setZero(&l.WriteTimeout, d.WriteTimeout)
		setZero(&l.DataTimeout, d.DataTimeout)
		setZero(&l.MaxLineLength, d.MaxLineLength)
	}
	if len(c.Auth.Methods) == 0 {
		c.Auth.Methods = []string{AuthDirectory}
	}
	setZero(&c.Auth.IMAP.TLS, "implicit")
	setZero(&c.Filters.ClamAV.OnError, OnErrorTempfail)
	setZero(&c.Filters.Rspamd.OnError, OnErrorTempfail)
	if c.NDR.Postmaster == "" && len(c.Domains) > 0 {
		c.NDR.Postmaster = "postmaster@" + c.Domains[0]
	}
	setZero(&c.NDR.Language, "en")
	setZero(&c.Admin.Address, "127.0.0.1:8025")
	if len(c.Queue.Retry) == 0 {
		c.Queue.Retry = []Duration{Duration(15 * time.Minute), Duration(30 * time.Minute), Duration(time.Hour), Duration(4 * time.Hour)}
	}
	setZero(&c.Queue.Expire, Duration(48*time.Hour))
	setZero(&c.Queue.DelayNotice, Duration(4*time.Hour))
	for i := range c.Routes {
		for j, u := range c.Routes[i].To {
			if u == "mailbox" {
				c.Routes[i].To[j] = "mailbox:"
			}
		}
	}
	for k, v := range c.Backends {
		if v == "mailbox" {
			c.Backends[k] = "mailbox:"
		}
	}
	c.setAutoconfigDefaults()
}

// setZero sets *p to v when *p is the zero value.
func setZero[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// resolvePaths makes relative file names relative to the config file's
// directory.
func (c *Config) resolvePaths() {
	dir := filepath.Dir(c.Path)
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.StateDir)
	abs(&c.TLS.CertFile)
	abs(&c.TLS.KeyFile)
	if c.Directory.Static != nil {
		abs(&c.Directory.Static.File)
	}
	if l := c.Directory.LDAP; l != nil {
		abs(&l.CAFile)
		abs(&l.BindPasswordFile)
	}
	abs(&c.Auth.IMAP.CAFile)
	abs(&c.Auth.OIDC.CAFile)
	abs(&c.NDR.TemplatesDir)
	c.resolveProtocolLogPaths(abs)
	c.resolveAdminPaths(abs)
	c.resolvePickupPaths(abs)
	for i := range c.Routes {
		abs(&c.Routes[i].CAFile)
		if a := c.Routes[i].Auth; a != nil {
			abs(&a.PasswordFile)
		}
	}
}

// errAt returns a ConfigError at the line of the key at path.
func (c *Config) errAt(path []any, format string, args ...any) error {
	return &ConfigError{File: c.Path, Line: lineOf(c.root, path...), Msg: fmt.Sprintf(format, args...)}
}
