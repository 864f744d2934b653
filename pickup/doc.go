// Package pickup takes messages from a pickup directory into the queue, as
// the Pickup folder of an IIS SMTP virtual server did and Postfix's
// maildrop does for sendmail(1).
//
// A local program (or "bridgehead sendmail") writes an RFC 5322 message to
// a temporary name in the directory and renames it into place; names that
// start with '.' or end in ".tmp" are never taken. A Watcher polls the
// directory and, for each regular file:
//
//   - reads the envelope from leading X-Sender: and X-Receiver: lines (the
//     IIS convention; several X-Receiver lines allowed; both are removed
//     from the message), or else takes the sender from From (Sender when
//     From names several) and the recipients from To, Cc and Bcc;
//   - removes Bcc (and Resent-Bcc) fields, so blind recipients stay blind;
//   - turns bare LF (and bare CR) line ends, normal in files, into CRLF;
//   - adds a Received field naming the file owner's uid, and Date and
//     Message-ID when the message has none;
//   - commits the message to the queue durably and only then removes the
//     file.
//
// A file that can never be queued (too large, unparsable header, no or
// invalid addresses) is moved to the badmail directory with a NAME.reason
// file beside it saying why. When the queue cannot take a message (a full
// disk, say), the file stays for the next poll.
//
// Mail from the pickup directory is local and trusted: whoever may write
// the directory may send as anyone, as with IIS. Routes alone decide where
// it goes.
package pickup
