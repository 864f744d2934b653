package authn

import (
	"fmt"
	"log/slog"
)

// Kind is what went wrong with an authentication attempt, as far as the
// client may know. The SMTP layer maps it to a reply with Kind.Reply.
type Kind int

// Kinds of failure.
const (
	// KindInvalidCredentials: unknown login, wrong or empty password, a
	// disabled account, a foreign authorization identity (535 5.7.8).
	KindInvalidCredentials Kind = iota + 1
	// KindUnavailable: the directory could not answer; try again later
	// (454 4.7.0).
	KindUnavailable
	// KindMalformed: the client's response could not be understood
	// (missing NULs, too long, an empty username) (501 5.5.2).
	KindMalformed
	// KindUnsupported: the mechanism is not offered (504 5.5.4).
	KindUnsupported
	// KindThrottled: too many failures from the client's address; the
	// SMTP layer answers 421 4.7.0 and closes the connection.
	KindThrottled
)

// String returns the kind's name, for logs.
func (k Kind) String() string {
	switch k {
	case KindInvalidCredentials:
		return "invalid_credentials"
	case KindUnavailable:
		return "unavailable"
	case KindMalformed:
		return "malformed"
	case KindUnsupported:
		return "unsupported"
	case KindThrottled:
		return "throttled"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Reply returns the SMTP reply for the kind (RFC 4954 section 6): the code,
// the enhanced status code and a text safe to show the client. An unknown
// kind answers as a temporary failure.
func (k Kind) Reply() (code int, enhanced [3]int, text string) {
	switch k {
	case KindInvalidCredentials:
		return 535, [3]int{5, 7, 8}, "Authentication credentials invalid"
	case KindMalformed:
		return 501, [3]int{5, 5, 2}, "Cannot decode authentication data"
	case KindUnsupported:
		return 504, [3]int{5, 5, 4}, "Unrecognized authentication type"
	case KindThrottled:
		return 421, [3]int{4, 7, 0}, "Too many failed authentication attempts, try again later"
	}
	return 454, [3]int{4, 7, 0}, "Temporary authentication failure"
}

// Error is a failed authentication attempt. Its Error text is the
// client-safe reply text of its Kind and never contains the operator's
// Reason or the underlying error, so it may be shown to the client as it
// is; logging it through slog (LogValue) shows everything.
type Error struct {
	// Kind says which reply the client gets.
	Kind Kind
	// Reason is the operator's explanation ("account disabled",
	// "authorization identity differs from login"): logged, never shown.
	Reason string
	// Err is the underlying error, if any (for errors.Is, e.g.
	// directory.ErrUnavailable).
	Err error
}

// Error returns the client-safe text of the kind.
func (e *Error) Error() string {
	_, _, text := e.Kind.Reply()
	return text
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether trying again later may succeed: true only for
// KindUnavailable (and an unknown kind, which answers 454).
func (e *Error) Temporary() bool {
	code, _, _ := e.Kind.Reply()
	return code/100 == 4
}

// Reply returns the SMTP reply for the error's kind; see Kind.Reply.
func (e *Error) Reply() (code int, enhanced [3]int, text string) {
	return e.Kind.Reply()
}

// LogValue shows the kind, the operator's reason and the underlying error
// in logs.
func (e *Error) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("kind", e.Kind.String()),
		slog.String("reason", e.Reason),
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("err", e.Err.Error()))
	}
	return slog.GroupValue(attrs...)
}

var _ slog.LogValuer = (*Error)(nil)

// malformed returns a KindMalformed error with the reason.
func malformed(format string, args ...any) *Error {
	return &Error{Kind: KindMalformed, Reason: fmt.Sprintf(format, args...)}
}
