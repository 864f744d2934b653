package protolog

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Fields is the #Fields directive's list, in the order of each line.
const Fields = "date time c-ip cs-username s-sitename s-computername s-ip s-port cs-method cs-uri-query sc-status sc-bytes cs-bytes time-taken"

// Entry is one line: one SMTP command and the reply it got.
type Entry struct {
	// Time is when the command was answered; zero means now.
	Time time.Time
	// ClientIP is the client's address (c-ip).
	ClientIP netip.Addr
	// Username is the authenticated login, "" before AUTH (cs-username).
	Username string
	// ServerIP and ServerPort are the local address the client connected
	// to (s-ip, s-port).
	ServerIP   netip.Addr
	ServerPort int
	// Method is the command verb: EHLO, MAIL, ... (cs-method).
	Method string
	// Query is the command's argument as logged (cs-uri-query): never a
	// password or SASL payload.
	Query string
	// Status is the SMTP reply code (sc-status).
	Status int
	// BytesSent is the size of the reply (sc-bytes).
	BytesSent int64
	// BytesReceived is the size of the command, or of the message for
	// DATA (cs-bytes).
	BytesReceived int64
	// TimeTaken is how long the command took (time-taken, in
	// milliseconds).
	TimeTaken time.Duration
}

// field makes a value safe for one W3C field: empty becomes "-", and
// spaces and control characters (which would split the line or the
// field) become '+'.
func field(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return '+'
		}
		return r
	}, s)
}

// ipField is an address or "-".
func ipField(a netip.Addr) string {
	if !a.IsValid() {
		return "-"
	}
	return a.String()
}

// appendLine appends e as one log line (with CRLF, as IIS writes) for the
// site and computer names.
func appendLine(b []byte, e *Entry, site, computer string) []byte {
	t := e.Time.UTC()
	b = t.AppendFormat(b, "2006-01-02 15:04:05")
	for _, f := range []string{
		ipField(e.ClientIP),
		field(e.Username),
		field(site),
		field(computer),
		ipField(e.ServerIP),
		strconv.Itoa(e.ServerPort),
		field(e.Method),
		field(e.Query),
		strconv.Itoa(e.Status),
		strconv.FormatInt(e.BytesSent, 10),
		strconv.FormatInt(e.BytesReceived, 10),
		strconv.FormatInt(e.TimeTaken.Milliseconds(), 10),
	} {
		b = append(b, ' ')
		b = append(b, f...)
	}
	return append(b, '\r', '\n')
}

// header is the directive block at the top of a file (and again after
// each restart, as IIS does).
func header(now time.Time) string {
	return "#Software: bridgehead\r\n#Version: 1.0\r\n#Date: " +
		now.UTC().Format("2006-01-02 15:04:05") + "\r\n#Fields: " + Fields + "\r\n"
}

// fileName is the IIS name of the file for day t: exYYMMDD.log.
func fileName(t time.Time) string {
	return t.UTC().Format("ex060102") + ".log"
}

// fileDay parses a file name made by fileName back to its day.
func fileDay(name string) (time.Time, bool) {
	if len(name) != len("ex060102.log") || !strings.HasPrefix(name, "ex") || !strings.HasSuffix(name, ".log") {
		return time.Time{}, false
	}
	t, err := time.Parse("060102", name[2:8])
	return t, err == nil
}
