package pickup

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"
	"time"
)

// The gateway's own header helpers (gateway/headers.go) are unexported and
// made for SMTP sessions; these are the minimum a pickup file needs.

// receivedField is our Received field for a message taken from the pickup
// directory: "from pickup", the file owner's uid when known, and the queue
// id (RFC 5321 4.4).
func receivedField(hostname, id string, uid int, rcpts []string, now time.Time) string {
	var b strings.Builder
	b.WriteString("Received: from pickup")
	if uid >= 0 {
		fmt.Fprintf(&b, " (uid %d)", uid)
	}
	fmt.Fprintf(&b, "\r\n\tby %s (bridgehead) with local id %s", hostname, id)
	if len(rcpts) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", rcpts[0])
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", now.Format(time.RFC1123Z))
	return b.String()
}

// dateField is a Date field for a message that has none (RFC 6409 8.2).
func dateField(now time.Time) string {
	return "Date: " + now.Format(time.RFC1123Z) + "\r\n"
}

// messageIDField is a Message-ID field for a message that has none (RFC
// 6409 8.3): the queue id, some randomness and our host name.
func messageIDField(queueID, hostname string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	r := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	return fmt.Sprintf("Message-ID: <%s.%s@%s>\r\n", queueID, r, hostname)
}
