package pickup

import (
	"fmt"
	"strings"
	"time"
)

// The gateway's Received field is made for SMTP sessions; a pickup file
// gets its own.

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
