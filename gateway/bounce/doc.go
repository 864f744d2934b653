// Package bounce turns the queue's outcomes into delivery status
// notifications (RFC 3461, RFC 3464).
//
// A Reporter is hooked into the queue (queue.Options.OnFailure and
// OnDelay). For a message that ends with failed recipients it builds a
// failure report with package ndr and queues it, with the null envelope
// sender, to the original envelope sender, where it is delivered like any
// other message; for a message still undelivered after the queue's delay
// notice it queues one delay report. The recipients' NOTIFY parameters are
// honoured (NEVER, or a list without FAILURE or DELAY, suppresses that
// report for that recipient) and RET chooses between the whole original
// and its header (the whole message when RET is absent, capped by ndr).
//
// No report ever goes to the null sender. A message with the null sender
// that fails (a report that could not be delivered, a double bounce) is
// kept in the postmaster's Badmail folder of the mailbox store with a note,
// never sent back into the world. With Options.CopyToPostmaster every
// report is also stored in the postmaster's INBOX.
package bounce
