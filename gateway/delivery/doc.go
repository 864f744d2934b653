// Package delivery relays queued messages to the back ends: SMTP or LMTP
// stores, a smart host, the recipient domain's mail exchangers ("mx"), or
// the built-in mailbox store. It implements queue.Deliverer.
//
// Recipients are grouped by destination (a named back end, else the first
// route whose domains match; for "mx" also by recipient domain), and each
// destination gets one transaction per attempt. Connections are kept for
// the next message to the same destination for a while (pool.go); at most
// Options.MaxPerRoute are open per destination, busy or idle. Replies map
// onto queue.Result: 2xx delivered, 5xx permanent, 4xx and every failure
// to reach or talk to a back end temporary.
//
// The client side of SMTP and LMTP is bridgehead's own (internal/smtpwire,
// pipeline.go here): with PIPELINING (RFC 2920) MAIL, every RCPT
// and DATA leave in one write, the body is dot-stuffed in bulk, and a
// pooled connection goes on to the next MAIL without RSET or EHLO, two
// round trips per message.
package delivery
