// Package authn checks the credentials a client gives with SMTP AUTH.
//
// An Authenticator makes one SASL server (go-sasl's sasl.Server, which
// go-smtp drives) per AUTH command, for the PLAIN (RFC 4616) and LOGIN
// (draft-murchison-sasl-login) mechanisms. The server checks the password
// against a directory.Authenticator and reports every failure as an *Error,
// whose Kind says which SMTP reply to send and whose text is safe to show
// the client; the operator's reason goes to the audit log only.
//
// Every attempt leaves one audit line (log/slog, WARN "auth failed" or
// INFO "auth ok", with client_ip, login, mechanism, listener, tls and, on
// failure, reason) that fail2ban can match. Passwords and SASL payloads are
// never logged. A failed attempt is answered only after Options.FailureDelay
// to slow down guessing.
package authn
