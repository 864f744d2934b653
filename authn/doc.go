// Package authn checks the credentials a client gives with SMTP AUTH.
//
// An Authenticator makes one SASL server (go-sasl's sasl.Server, which
// go-smtp drives) per AUTH command, for the PLAIN (RFC 4616) and LOGIN
// (draft-murchison-sasl-login) mechanisms, and, when Options.Tokens is set
// (an OIDCVerifier), OAUTHBEARER (RFC 7628) and XOAUTH2. Every failure is an
// *Error, whose Kind says which SMTP reply to send and whose text is safe to
// show the client; the operator's reason goes to the audit log only.
//
// Passwords are checked by a directory.Authenticator: the directory itself,
// an IMAPVerifier (login at the back-end store), or a Chain of them tried in
// order, each usually behind a Cache; a listener may have a check of its
// own (Options.Listeners). Bearer tokens are checked by an OIDCVerifier
// against the provider's published keys, and their user looked up in the
// directory.
//
// Every attempt leaves one audit line (log/slog, WARN "auth failed" or
// INFO "auth ok", with client_ip, login, mechanism, listener, tls and, on
// failure, reason and kind) that fail2ban can match; a client cut off by
// the Throttle adds WARN "auth client cut off". Passwords, tokens and SASL
// payloads are never logged. A failed attempt is answered only after
// Options.FailureDelay, or the Throttle's growing delay, to slow down
// guessing; past the Throttle's cut-off the client gets KindThrottled
// (421 4.7.0, disconnect) for a cool-down, and nothing reaches the
// directory.
package authn
