// Package delivery relays queued messages to the back ends: SMTP or LMTP
// stores, a smart host, or the built-in mailbox store. It implements
// queue.Deliverer.
//
// Recipients are grouped by destination (a named back end, else the first
// route whose domains match), and each destination gets one transaction
// per attempt, at most Options.MaxPerRoute at a time. Replies map onto
// queue.Result: 2xx delivered, 5xx permanent, 4xx and every failure to reach
// or talk to a back end temporary.
package delivery
