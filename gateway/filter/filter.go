// Package filter checks a received message before the gateway accepts it:
// an attachment policy, virus scanning with clamd and spam scoring with
// rspamd. Filters run after DATA and before the 250, so a refusal is an
// SMTP reply to the sender and never a bounce.
//
// A Filter sees the whole message in memory (the gateway bounds it by the
// listener's message size limit). It passes, refuses with a *Rejection,
// asks for header lines to be prepended, or returns a replacement message.
package filter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Envelope is what a filter knows of the SMTP transaction.
type Envelope struct {
	// QueueID is the id the message will have in the queue.
	QueueID string
	// ClientIP is the client's address.
	ClientIP string
	// Helo is the name the client gave in EHLO/HELO.
	Helo string
	// From is the envelope sender ("" for the null sender).
	From string
	// Rcpts are the envelope recipients.
	Rcpts []string
	// Login is the authenticated user; "" on inbound listeners.
	Login string
}

// Rejection is a filter's refusal: the SMTP reply to give the client.
type Rejection struct {
	// Code is the SMTP reply code, 4xx or 5xx.
	Code int
	// Enhanced is the RFC 3463 status code.
	Enhanced [3]int
	// Message is the reply text, safe to show the client.
	Message string
	// Reason is the operator's reason, for the log.
	Reason string
}

// Error returns the reply and the reason.
func (r *Rejection) Error() string {
	return fmt.Sprintf("%d %d.%d.%d %s (%s)", r.Code, r.Enhanced[0], r.Enhanced[1], r.Enhanced[2], r.Message, r.Reason)
}

// Temporary reports whether the client should try again later.
func (r *Rejection) Temporary() bool { return r.Code < 500 }

// Result is what a filter asks for when it does not refuse the message.
type Result struct {
	// Headers are whole header lines without line ends
	// ("X-Spam-Status: Yes"), prepended to the message in order.
	Headers []string
	// Body, when not nil, replaces the whole message (header and body).
	Body []byte
	// Verdict names the outcome for the log ("clean", "stripped", ...).
	Verdict string
	// Reason explains the verdict for the log.
	Reason string
}

// Filter checks one message.
type Filter interface {
	// Name identifies the filter in logs ("attachments", "clamav", ...).
	Name() string
	// Check inspects msg (header and body, CRLF line ends). It returns a
	// *Rejection to refuse the message; any other error means the filter
	// could not decide and the chain answers with a temporary failure.
	Check(ctx context.Context, env *Envelope, msg []byte) (Result, error)
}

// OnError is what a network filter does when its scanner fails.
type OnError int

// Policies for a failed scanner.
const (
	// Tempfail answers 451 4.7.1; the client retries and nothing is lost.
	Tempfail OnError = iota
	// Accept passes the message with a header saying it was not scanned.
	Accept
)

// ParseOnError parses "tempfail" (also "") or "accept".
func ParseOnError(s string) (OnError, error) {
	switch strings.ToLower(s) {
	case "", "tempfail":
		return Tempfail, nil
	case "accept":
		return Accept, nil
	}
	return Tempfail, fmt.Errorf("on error %q: want tempfail or accept", s)
}

// Chain is the filters of one listener, run in order. Each filter sees the
// message as the previous ones left it.
type Chain []Filter

// Run runs the filters over msg and returns the message to queue. A refusal
// is returned as a *Rejection; a filter failing otherwise becomes a 451
// 4.7.1 Rejection, so Run's error is always a *Rejection. Every verdict is
// logged with the queue id.
func (c Chain) Run(ctx context.Context, env *Envelope, msg []byte, log *slog.Logger) ([]byte, error) {
	if log == nil {
		log = slog.Default()
	}
	for _, f := range c {
		res, err := f.Check(ctx, env, msg)
		if err != nil {
			var rej *Rejection
			if !errors.As(err, &rej) {
				rej = &Rejection{Code: 451, Enhanced: [3]int{4, 7, 1},
					Message: "Message could not be checked, try again later", Reason: err.Error()}
			}
			log.Warn("filter refused message", slog.String("queue_id", env.QueueID), slog.String("filter", f.Name()),
				slog.Int("code", rej.Code), slog.String("reply", rej.Message), slog.String("reason", rej.Reason))
			return nil, rej
		}
		if res.Body != nil {
			msg = res.Body
		}
		if len(res.Headers) > 0 {
			msg = prependHeaders(res.Headers, msg)
		}
		verdict := res.Verdict
		if verdict == "" {
			verdict = "pass"
		}
		log.Info("filter verdict", slog.String("queue_id", env.QueueID), slog.String("filter", f.Name()),
			slog.String("verdict", verdict), slog.String("reason", res.Reason), slog.Int("headers_added", len(res.Headers)),
			slog.Bool("rewritten", res.Body != nil))
	}
	return msg, nil
}

// prependHeaders returns msg with the header lines in front. Fields of
// the same names already in the message's header are removed first, so a
// sender cannot supply its own verdict.
func prependHeaders(lines []string, msg []byte) []byte {
	names := map[string]bool{}
	for _, l := range lines {
		if name, _, ok := strings.Cut(l, ":"); ok {
			names[strings.ToLower(strings.TrimSpace(name))] = true
		}
	}
	msg = removeFields(msg, names)
	n := len(msg)
	for _, l := range lines {
		n += len(l) + 2
	}
	out := make([]byte, 0, n)
	for _, l := range lines {
		out = append(out, sanitizeHeaderLine(l)...)
		out = append(out, '\r', '\n')
	}
	return append(out, msg...)
}

// sanitizeHeaderLine keeps a filter-made header on one line.
func sanitizeHeaderLine(l string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, l)
}

// printable returns s with everything but printable ASCII replaced by '?'
// and cut to max bytes: for reply texts that name a file or a signature.
func printable(s string, max int) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b = append(b, byte(r))
		if len(b) >= max {
			break
		}
	}
	return string(b)
}

// removeFields returns msg without the top-level header fields named in
// names (lower case), continuation lines included. msg is left alone when
// no field matches.
func removeFields(msg []byte, names map[string]bool) []byte {
	end := headerEnd(msg, 0, len(msg))
	var out []byte
	dropping := false
	for i := 0; i < end; {
		j := bytes.IndexByte(msg[i:end], '\n')
		next := end
		if j >= 0 {
			next = i + j + 1
		}
		line := msg[i:next]
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			// A continuation belongs to the field before it.
		} else if name, _, ok := bytes.Cut(line, []byte(":")); ok {
			dropping = names[strings.ToLower(string(bytes.TrimSpace(name)))]
		} else {
			dropping = false
		}
		if dropping && out == nil {
			out = append(make([]byte, 0, len(msg)), msg[:i]...)
		}
		if !dropping && out != nil {
			out = append(out, line...)
		}
		i = next
	}
	if out == nil {
		return msg
	}
	return append(out, msg[end:]...)
}
