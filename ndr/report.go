package ndr

import (
	"errors"
	"time"
)

// Action is the per-recipient DSN action (RFC 3464 section 2.3.3).
type Action string

// The actions RFC 3464 defines.
const (
	// ActionFailed: the message could not be delivered and will not be tried
	// again (permanent failure or expiry).
	ActionFailed Action = "failed"
	// ActionDelayed: delivery has not succeeded yet and is still being tried.
	ActionDelayed Action = "delayed"
	// ActionDelivered: the message was delivered to the recipient's mailbox.
	ActionDelivered Action = "delivered"
	// ActionRelayed: the message was passed on to a system that does not
	// send delivery status notifications.
	ActionRelayed Action = "relayed"
	// ActionExpanded: the message was delivered to a list or alias and passed
	// on to its members.
	ActionExpanded Action = "expanded"
)

// valid reports whether a is one of the actions RFC 3464 defines.
func (a Action) valid() bool {
	switch a {
	case ActionFailed, ActionDelayed, ActionDelivered, ActionRelayed, ActionExpanded:
		return true
	}
	return false
}

// statusClass is the status class digit an action goes with.
func (a Action) statusClass() byte {
	switch a {
	case ActionFailed:
		return '5'
	case ActionDelayed:
		return '4'
	default:
		return '2'
	}
}

// DefaultMaxReturnSize is the cap on the returned original message when
// Report.MaxReturnSize is zero or negative.
const DefaultMaxReturnSize = 256 << 10

// Errors Build returns for reports it cannot build, wrapped with %w.
var (
	// ErrNullSender means Report.To is empty: a report is never sent to the
	// null reverse path <>.
	ErrNullSender = errors.New("ndr: no report to the null sender")
	// ErrNoRecipients means Report.Recipients is empty.
	ErrNoRecipients = errors.New("ndr: no recipients to report on")
	// ErrInvalidRecipient means a RecipientStatus has an unknown Action or no
	// FinalRecipient.
	ErrInvalidRecipient = errors.New("ndr: invalid recipient status")
	// ErrNoReportingMTA means Report.ReportingMTA is empty.
	ErrNoReportingMTA = errors.New("ndr: no reporting MTA")
)

// RecipientStatus is what happened to one recipient, one per-recipient group
// of the delivery-status part.
type RecipientStatus struct {
	// FinalRecipient is the recipient address as it was tried (RCPT TO).
	FinalRecipient string
	// OriginalRecipient is the DSN ORCPT parameter, "type;address" with the
	// xtext already decoded (see DecodeXtext); a bare address is taken as
	// rfc822. Empty when the client gave no ORCPT.
	OriginalRecipient string
	// Action is what was done.
	Action Action
	// Status is the enhanced status code, e.g. "5.1.1". When it is empty or
	// not of the form class.subject.detail, it is taken from DiagnosticCode
	// or else from Action (5.0.0, 4.0.0, 2.0.0); a class that does not fit
	// Action is corrected.
	Status string
	// RemoteMTA is the host name (or [address literal]) of the server that
	// gave DiagnosticCode; may be empty.
	RemoteMTA string
	// DiagnosticCode is the back end's reply, e.g. "550 5.1.1 <bob@x>: user
	// unknown", rendered as "smtp; 550 5.1.1 ...". Text that is not an SMTP
	// reply is rendered with the type "X-Bridgehead"; text that already
	// starts with "smtp;" or "X-...;" keeps its type. Multi-line replies are
	// joined into one line.
	DiagnosticCode string
	// LastAttempt is when delivery to the recipient was last tried; omitted
	// when zero.
	LastAttempt time.Time
	// WillRetryUntil is when the queue gives up; reported for delays only,
	// omitted when zero.
	WillRetryUntil time.Time
}

// Report is everything one delivery status notification says.
type Report struct {
	// ReportingMTA is our host name (Reporting-MTA: dns; host). Required.
	ReportingMTA string
	// Postmaster is the report's From address, e.g. postmaster@example.test;
	// "postmaster@" + ReportingMTA when empty. The report's own envelope
	// sender is always <>: that is the caller's to set.
	Postmaster string
	// To is the original envelope sender, who receives the report.
	// Required: a report never goes to <>.
	To string
	// EnvelopeID is the DSN ENVID parameter with the xtext decoded
	// (Original-Envelope-Id); omitted when empty.
	EnvelopeID string
	// ArrivalDate is when the original message was accepted; omitted when
	// zero.
	ArrivalDate time.Time
	// Recipients are the recipients reported on, at least one.
	Recipients []RecipientStatus
	// Original is the original message (CRLF line ends; bare LF and CR are
	// converted). Empty: the report carries no third part.
	Original []byte
	// ReturnFull is RET=FULL: return the whole message (up to
	// MaxReturnSize); otherwise only its header (text/rfc822-headers).
	ReturnFull bool
	// MaxReturnSize caps the returned original in bytes;
	// DefaultMaxReturnSize when zero or negative. A full message over the
	// cap is returned as headers only and the text says so; a header over
	// the cap is cut at a field boundary.
	MaxReturnSize int
	// Language selects the human-readable template: "en" or "de" or any
	// language loaded with LoadTemplates; unknown or empty means "en".
	Language string
	// Date is the report's Date; the current time when zero.
	Date time.Time
	// MessageID is the report's own Message-ID, with or without angle
	// brackets; a random one @ReportingMTA is made when empty or unusable.
	MessageID string
}

// kind names what a report is mainly about, for the subject and the text:
// a failure report when any recipient failed, else a delay report when any
// is delayed, else a success report.
func (r *Report) kind() string {
	delayed := false
	for _, rc := range r.Recipients {
		switch rc.Action {
		case ActionFailed:
			return KindFailure
		case ActionDelayed:
			delayed = true
		}
	}
	if delayed {
		return KindDelay
	}
	return KindSuccess
}

// Report kinds as templates see them in TemplateData.Kind.
const (
	KindFailure = "failure"
	KindDelay   = "delay"
	KindSuccess = "success"
)
