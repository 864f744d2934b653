package bounce

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/textproto"
	"strings"
	"time"

	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/internal/mailtext"
	"bridgehead.dev/bridgehead/mailboxstore"
)

// doubleBounce keeps a failed message with the null sender (typically a
// report that could not be delivered) in the postmaster's Badmail folder.
func (r *Reporter) doubleBounce(ctx context.Context, log *slog.Logger, env *queue.Envelope, failed []*queue.Recipient) {
	note := badmailNote(r.opts, env, failed,
		"This message has the null sender <> and could not be delivered. It is kept here and not returned, so that no report loop can start.")
	original, err := r.readOriginal(env.ID)
	if err != nil {
		log.Error("double bounce without its message", slog.Any("error", err))
		note += "\r\nThe message itself could not be read: " + mailtext.OneLine(err.Error()) + "\r\n"
	}
	log.Warn("double bounce: undeliverable message with the null sender kept in badmail",
		slog.Int("failed", len(failed)))
	r.keepBadmail(ctx, log, note, original)
}

// keepBadmail stores note and, when not empty, original in the
// postmaster's Badmail folder.
func (r *Reporter) keepBadmail(ctx context.Context, log *slog.Logger, note string, original []byte) {
	if r.opts.Store == nil {
		log.Error("no mailbox store: undeliverable message dropped")
		return
	}
	msg, err := badmailMessage(r.opts, note, original)
	if err == nil {
		_, err = r.opts.Store.Append(ctx, mailboxstore.PostmasterOwner, mailboxstore.Badmail, bytes.NewReader(msg))
	}
	if err != nil {
		log.Error("cannot store undeliverable message in badmail", slog.Any("error", err))
	}
}

// badmailNote is the text explaining why a message is in Badmail.
func badmailNote(o Options, env *queue.Envelope, failed []*queue.Recipient, why string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\r\n\r\n", why)
	fmt.Fprintf(&b, "Queue id:    %s\r\n", mailtext.OneLine(env.ID))
	fmt.Fprintf(&b, "Sender:      <%s>\r\n", mailtext.OneLine(env.From))
	if !env.Received.IsZero() {
		fmt.Fprintf(&b, "Received:    %s\r\n", env.Received.UTC().Format(time.RFC1123Z))
	}
	fmt.Fprintf(&b, "Reported by: %s\r\n", mailtext.OneLine(o.Hostname))
	for _, rc := range failed {
		fmt.Fprintf(&b, "\r\nRecipient:   <%s>\r\n", mailtext.OneLine(rc.Address))
		if rc.RemoteMTA != "" {
			fmt.Fprintf(&b, "Remote MTA:  %s\r\n", mailtext.OneLine(rc.RemoteMTA))
		}
		if rc.LastReply != "" {
			fmt.Fprintf(&b, "Last reply:  %s\r\n", mailtext.OneLine(rc.LastReply))
		}
	}
	return b.String()
}

// badmailMessage is a multipart/mixed message from and to the postmaster:
// the note, then the kept message as message/rfc822.
func badmailMessage(o Options, note string, original []byte) ([]byte, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	pw, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"text/plain; charset=utf-8"},
		"Content-Transfer-Encoding": {"8bit"},
	})
	if err == nil {
		_, err = pw.Write([]byte(note))
	}
	if err == nil && len(original) > 0 {
		h := textproto.MIMEHeader{"Content-Type": {"message/rfc822"}}
		if !isASCII(original) {
			h.Set("Content-Transfer-Encoding", "8bit")
		}
		if pw, err = mw.CreatePart(h); err == nil {
			_, err = pw.Write(original)
		}
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("build badmail message: %w", err)
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	var b bytes.Buffer
	pm := mailtext.OneLine(o.Postmaster)
	fmt.Fprintf(&b, "From: Mail Delivery System <%s>\r\n", pm)
	fmt.Fprintf(&b, "To: <%s>\r\n", pm)
	fmt.Fprintf(&b, "Subject: Undeliverable message with the null sender (double bounce)\r\n")
	fmt.Fprintf(&b, "Date: %s\r\n", o.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id[:]), mailtext.OneLine(o.Hostname))
	b.WriteString("Auto-Submitted: auto-generated\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", mw.Boundary())
	b.Write(body.Bytes())
	return b.Bytes(), nil
}

// isASCII reports whether b holds only 7-bit bytes.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
