// Package queue is bridgehead's durable message queue.
//
// A session hands a message over in a transaction (Begin, Write, Commit or
// Abort). Commit returns only once the message bytes and the envelope are on
// disk and fsynced, file and directory: that is what the 250 reply after
// DATA promises. Workers started by Run then hand each message to a
// Deliverer, record the per-recipient results, retry the pending recipients
// on a schedule and give up on them when the message expires.
//
// On-disk layout under Options.Dir:
//
//	lock            held (flock) by the process that has the queue open
//	tmp/            files being written; whatever is here at Open is removed
//	msg/<id>        message bytes (CRLF line ends, no dot-stuffing), then
//	                the envelope as committed and a footer (spoolfile.go);
//	                its presence with an intact footer means the message
//	                is committed
//	env/<id>.json   the envelope as changed after Commit (attempts,
//	                hold); takes precedence over the one in msg/<id>
//	failed/<id>.msg and failed/<id>.json
//	                finished messages with failed recipients, kept for the
//	                operator after OnFailure has been called
//	corrupt/        envelopes that could not be read, moved aside at Open
//
// A fully delivered message is removed. Commit writes one file (temporary
// file, fsync, rename, fsync of msg/ shared by concurrent commits); every
// later change to an envelope is written atomically (temporary file,
// fsync, rename, fsync of the directory).
package queue
