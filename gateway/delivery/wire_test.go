package delivery

import (
	"bufio"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

func readOne(s string) (reply, error) {
	c := &client{br: bufio.NewReaderSize(strings.NewReader(s), 4096)}
	return c.readReply()
}

func TestReadReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		code int
		text string
	}{
		{"250 2.0.0 Ok\r\n", 250, "2.0.0 Ok"},
		{"250-first\r\n250-second\r\n250 last\r\n", 250, "first\nsecond\nlast"},
		{"354\r\n", 354, ""},
		{"220 bare LF\n", 220, "bare LF"},
	} {
		r, err := readOne(tc.in)
		if err != nil || r.code != tc.code || r.text != tc.text {
			t.Errorf("%q: %d %q %v, want %d %q", tc.in, r.code, r.text, err, tc.code, tc.text)
		}
	}
	for _, bad := range []string{
		"25 short\r\n", "250x2.0.0\r\n", "abc text\r\n", "150 too low\r\n", "650 too high\r\n",
		"250-one\r\n251 other code\r\n", "250-no end\r\n", "250 " + strings.Repeat("x", maxReplyLine) + "\r\n",
		"250 " + strings.Repeat("x", 5000) + "\r\n", strings.Repeat("250-x\r\n", maxReplyLines+1) + "250 end\r\n",
	} {
		if r, err := readOne(bad); err == nil {
			t.Errorf("%.40q: read as %d %q, want an error", bad, r.code, r.text)
		} else {
			var se *smtp.SMTPError
			if errors.As(err, &se) {
				t.Errorf("%.40q: %v is a server reply, want a broken connection", bad, err)
			}
		}
	}
}

func TestReplyErr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r    reply
		ec   smtp.EnhancedCode
		text string
	}{
		{reply{550, "5.1.1 No such user"}, smtp.EnhancedCode{5, 1, 1}, "No such user"},
		{reply{452, "4.2.2 Full\n4.2.2 try later"}, smtp.EnhancedCode{4, 2, 2}, "Full\ntry later"},
		{reply{554, "Transaction failed"}, smtp.EnhancedCode{}, "Transaction failed"},
		{reply{451, "4.x.0 odd"}, smtp.EnhancedCode{}, "4.x.0 odd"},
	} {
		se := tc.r.err()
		if se.Code != tc.r.code || se.EnhancedCode != tc.ec || se.Message != tc.text {
			t.Errorf("%+v: %+v", tc.r, se)
		}
	}
}
