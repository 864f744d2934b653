// Package queue is bridgehead's durable message queue.
//
// A session hands a message over in a transaction (Begin, Write, Commit or
// Abort). Commit returns only once the message bytes and the envelope are on
// stable storage (fsynced): that is what the 250 reply after DATA promises.
// Workers started by Run then hand each message to a Deliverer, record the
// per-recipient results, retry the pending recipients on a schedule and
// give up on them when the message expires.
//
// On-disk layout under Options.Dir:
//
//	lock            held (flock) by the process that has the queue open
//	journal/<seq>   records of fresh messages, appended by a running
//	                queue (journal_record.go); emptied at every Open
//	journal/<seq>.done
//	                ids of the records of <seq> that are done
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
// # Commit
//
// A transaction keeps the message in memory (pooled buffers) up to
// Options.SpillThreshold (256 KiB by default); Begin does no I/O. Commit
// appends one record to the active journal segment: header, id, bytes,
// the envelope as committed and a CRC-32C over all of it. One committer
// goroutine owns the segment: it takes every record waiting, writes them
// in order, fdatasyncs the segment once and only then releases their
// Commits; records arriving meanwhile make up the next batch (group
// commit). A new segment's directory entry is fsynced before any record in
// it is written, and a segment is replaced once it would pass
// Options.JournalSegmentSize, by one made ahead in the background. Commit
// honours its context only while the record waits to be taken: cancelled
// then, nothing is written and Commit fails; once taken, Commit waits for
// that write and sync, so an error from Commit always means the message is
// not queued. A failed write or sync cuts the segment back to where the
// batch started (or, failing that, lists the batch's ids as done) and
// fails the batch's Commits.
//
// A message that grows past the threshold spills to a temporary file in
// tmp/ and commits as one file: the envelope appended, the file fsynced,
// renamed to msg/<id>, msg/ fsynced (shared by concurrent commits). With
// a negative SpillThreshold every message takes that path.
//
// # Journal messages at run time
//
// A journal message is read from its segment (the segment's descriptor
// stays open while readers hold it). When it is delivered completely or
// deleted, its id is appended to the segment's done log, without fsync.
// Everything slower first migrates it: before a deferral, hold, release,
// bounce or failure writes env/<id>.json or moves msg/<id>, the message's
// bytes and committed envelope are written to msg/<id> (atomically,
// fsynced, with msg/), and only then is its record marked done; from there
// on the one-file code applies unchanged. A segment that is no longer the
// active one and has no live record is removed with its done log, by a
// goroutine of its own, so that commits do not wait for the unlink.
//
// # Recovery and durability
//
// Open reads every segment in order. A record that is cut short or fails
// its checksum ends the segment: it is the torn tail of a batch whose sync
// never finished, so none of its Commits returned. Each intact record not
// in the done log and without a msg/<id> is written to msg/<id> (fsynced,
// then msg/ fsynced), and then the journal is emptied; the rest of
// recovery runs on msg/ and env/ alone. Hence:
//
//   - kill -9 at any moment loses no committed message: a Commit returned
//     after the fdatasync covering its record, and done logs written by
//     the dead process are in the page cache, so no message is delivered
//     twice either (beyond an attempt cut short, as before);
//   - after a power loss a committed record is on disk, but a done-log
//     line or a segment removal may not be: a finished message may come
//     back and be delivered again, the same outcome as an unlink of
//     msg/<id> lost today. A migrated message's record marked done only
//     after msg/<id> and its directory entry are durable, so a lost done
//     line is harmless for it.
//
// A fully delivered message is removed. Every later change to an envelope
// is written atomically (temporary file, fsync, rename, fsync of the
// directory).
package queue
