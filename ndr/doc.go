// Package ndr builds delivery status notifications (RFC 3464): the failure,
// delay and success reports bridgehead sends back to a message's envelope
// sender.
//
// Build is a pure function from a Report (the envelope's facts, one
// RecipientStatus per reported recipient and the original message) to the
// bytes of a multipart/report; report-type=delivery-status message with three
// parts: a human-readable text/plain part rendered from a per-language
// template (English and German built in, overridable by an administrator, see
// LoadTemplates), the machine-readable message/delivery-status part, and the
// original message's header (text/rfc822-headers) or the whole original
// (message/rfc822), depending on RET and a size cap.
//
// Every value that reaches a header field or a delivery-status field is
// reduced to one line (no CR/LF injection from the original message or from a
// remote server's reply) and folded so that no line exceeds 998 octets. The
// returned original is converted to CRLF line ends and over-long lines are
// broken. The output is deterministic for a given Report: the MIME boundary
// is derived from the content and never occurs inside it.
//
// The package imports nothing else of the project.
package ndr
