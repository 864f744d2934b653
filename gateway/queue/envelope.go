package queue

import (
	"context"
	"io"
	"time"
)

// RecipientState is where one recipient of a queued message stands.
type RecipientState string

// Recipient states. Pending recipients are tried again; the others are final.
const (
	StatePending   RecipientState = "pending"
	StateDelivered RecipientState = "delivered"
	StateFailed    RecipientState = "failed"
)

// Recipient is one envelope recipient with its delivery state.
type Recipient struct {
	// Address is the forward path (RCPT TO).
	Address string `json:"address"`
	// Backend names the back end from the directory ("" = route by domain).
	Backend string `json:"backend,omitempty"`
	// Notify holds the DSN NOTIFY keywords (RFC 3461), upper case.
	Notify []string `json:"notify,omitempty"`
	// ORCPT is the DSN original recipient, "type;address".
	ORCPT string `json:"orcpt,omitempty"`

	// State is the recipient's delivery state.
	State RecipientState `json:"state"`
	// LastReply is the last reply a back end gave for it, e.g.
	// "451 4.3.0 try later".
	LastReply string `json:"last_reply,omitempty"`
	// RemoteMTA is the host that gave LastReply.
	RemoteMTA string `json:"remote_mta,omitempty"`
	// Attempts counts delivery attempts for this recipient.
	Attempts int `json:"attempts,omitempty"`
	// LastAttempt is when it was last tried.
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// SuccessAction is set when the recipient was delivered somewhere that
	// ends DSN handling with us (RFC 3464 Action): "delivered" into the
	// mailbox store, "relayed" to a back end that does not speak DSN.
	SuccessAction string `json:"success_action,omitempty"`
}

// Envelope is everything the queue keeps about a message besides its bytes.
type Envelope struct {
	// ID is the queue id, unique and safe as a file name.
	ID string `json:"id"`
	// From is the reverse path (MAIL FROM); "" is the null sender <>.
	From string `json:"from"`
	// Recipients are the forward paths with their states.
	Recipients []*Recipient `json:"recipients"`
	// Login is the authenticated user who submitted it ("" for inbound).
	Login string `json:"login,omitempty"`
	// ClientIP is the submitting client's address.
	ClientIP string `json:"client_ip,omitempty"`
	// Listener names the listener it came in on.
	Listener string `json:"listener,omitempty"`
	// Received is when the 250 was given.
	Received time.Time `json:"received"`
	// Size is the message size in bytes as stored.
	Size int64 `json:"size"`
	// Ret and EnvID are the DSN RET and ENVID parameters (RFC 3461).
	Ret   string `json:"ret,omitempty"`
	EnvID string `json:"envid,omitempty"`

	// Attempts counts delivery attempts of the message.
	Attempts int `json:"attempts,omitempty"`
	// NextAttempt is when the pending recipients are tried next.
	NextAttempt time.Time `json:"next_attempt"`
	// DelayNotified is set once a delay report has been sent.
	DelayNotified bool `json:"delay_notified,omitempty"`
	// Held messages are not tried until released.
	Held bool `json:"held,omitempty"`
}

// Pending returns the recipients still to be delivered.
func (e *Envelope) Pending() []*Recipient {
	var out []*Recipient
	for _, r := range e.Recipients {
		if r.State == StatePending {
			out = append(out, r)
		}
	}
	return out
}

// Result is a back end's answer for one recipient of one attempt.
type Result struct {
	// Recipient is the address the result is for.
	Recipient string
	// Code and Enhanced are the SMTP reply code and enhanced status code
	// ("5.1.1"); Code 0 means no reply was had (connection failed).
	Code     int
	Enhanced string
	// Text is the reply text, or what went wrong when Code is 0.
	Text string
	// RemoteMTA is the host that answered.
	RemoteMTA string
	// Permanent is true for a final failure (5xx, or a route that cannot
	// exist); false with Code >= 400 or Code 0 means try again later.
	Permanent bool
	// Relayed marks a delivery to a back end that does not advertise DSN:
	// it will not report success, so a NOTIFY=SUCCESS report is ours.
	Relayed bool
	// Final marks a delivery into the mailbox store itself.
	Final bool
}

// Delivered reports whether the back end accepted the recipient.
func (r Result) Delivered() bool { return r.Code >= 200 && r.Code < 300 }

// Message is a queued message handed to a Deliverer.
type Message struct {
	// Envelope is the message's envelope; a Deliverer must not change it.
	Envelope *Envelope
	// Open returns the message bytes (CRLF line ends, no dot-stuffing).
	Open func() (io.ReadCloser, error)
}

// Deliverer tries to deliver a message to the given recipients, which are a
// subset of the envelope's pending ones. It returns exactly one Result per
// recipient given, in any order, and never fails as a whole: a problem
// reaching a back end is a temporary Result for each recipient behind it.
// It stops early when ctx is done, answering temporary results.
type Deliverer interface {
	Deliver(ctx context.Context, msg *Message, rcpts []*Recipient) []Result
}
