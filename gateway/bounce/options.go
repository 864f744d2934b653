package bounce

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/mailboxstore"
	"bridgehead.dev/bridgehead/ndr"
)

// DefaultLanguage is the language of reports when Options.Language is empty.
const DefaultLanguage = "en"

// Options configure a Reporter.
type Options struct {
	// Hostname is our host name, the reports' Reporting-MTA. Required.
	Hostname string
	// Postmaster is the From address of reports, e.g.
	// postmaster@example.test; default "postmaster@" + Hostname.
	Postmaster string
	// CopyToPostmaster stores a copy of every report in the postmaster
	// mailbox's INBOX (requires Store).
	CopyToPostmaster bool
	// Language is the language of the reports' text when DomainLanguage
	// has none for the original sender's domain; default DefaultLanguage.
	Language string
	// DomainLanguage maps a lower-case domain of the original sender to
	// the language of its reports, e.g. "example.de" -> "de".
	DomainLanguage map[string]string
	// Templates renders the reports' text; default ndr.DefaultTemplates().
	Templates *ndr.Templates
	// MaxReturnSize caps the original message returned in a report;
	// ndr.DefaultMaxReturnSize when zero.
	MaxReturnSize int
	// Expire is the queue's expiry (queue.Options.Expire), for the delay
	// reports' Will-Retry-Until; default queue.DefaultExpire.
	Expire time.Duration
	// Store keeps double bounces (postmaster's Badmail) and the postmaster
	// copies. When nil, double bounces are only logged.
	Store *mailboxstore.Store
	// Logger receives the reporter's log; default slog.Default().
	Logger *slog.Logger
	// Now is the clock, for the reports' Date; default time.Now.
	Now func() time.Time
	// OnReport, if set, is called once per report queued with each
	// distinct action it reports: "failed", "delayed", "relayed" or
	// "delivered" (for metrics). It must be quick.
	OnReport func(action string)
}

// validate checks the options and fills in defaults.
func (o *Options) validate() error {
	if o.Hostname == "" || strings.ContainsAny(o.Hostname, " \t\r\n") {
		return fmt.Errorf("bounce: hostname %q: must be one word", o.Hostname)
	}
	if o.Postmaster == "" {
		o.Postmaster = "postmaster@" + o.Hostname
	}
	if strings.ContainsAny(o.Postmaster, " \t\r\n<>") || !strings.Contains(o.Postmaster, "@") {
		return fmt.Errorf("bounce: postmaster %q: not an address", o.Postmaster)
	}
	if o.CopyToPostmaster && o.Store == nil {
		return errors.New("bounce: copy to postmaster needs a mailbox store")
	}
	if o.Language == "" {
		o.Language = DefaultLanguage
	}
	if o.Templates == nil {
		o.Templates = ndr.DefaultTemplates()
	}
	if o.MaxReturnSize < 0 {
		return fmt.Errorf("bounce: max return size %d: must not be negative", o.MaxReturnSize)
	}
	if o.Expire == 0 {
		o.Expire = queue.DefaultExpire
	}
	if o.Expire < 0 {
		return fmt.Errorf("bounce: expire %v: must be positive", o.Expire)
	}
	dl := make(map[string]string, len(o.DomainLanguage))
	for d, l := range o.DomainLanguage {
		dl[strings.ToLower(d)] = l
	}
	o.DomainLanguage = dl
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}
