package smtpwire

import (
	"bufio"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

func readOne(s string) (Reply, error) {
	c := &Client{br: bufio.NewReaderSize(strings.NewReader(s), 4096)}
	return c.ReadReply()
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
		if err != nil || r.Code != tc.code || r.Text != tc.text {
			t.Errorf("%q: %d %q %v, want %d %q", tc.in, r.Code, r.Text, err, tc.code, tc.text)
		}
	}
	for _, bad := range []string{
		"25 short\r\n", "250x2.0.0\r\n", "abc text\r\n", "150 too low\r\n", "650 too high\r\n",
		"250-one\r\n251 other code\r\n", "250-no end\r\n", "250 " + strings.Repeat("x", maxReplyLine) + "\r\n",
		"250 " + strings.Repeat("x", 5000) + "\r\n", strings.Repeat("250-x\r\n", maxReplyLines+1) + "250 end\r\n",
	} {
		if r, err := readOne(bad); err == nil {
			t.Errorf("%.40q: read as %d %q, want an error", bad, r.Code, r.Text)
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
		r    Reply
		ec   smtp.EnhancedCode
		text string
	}{
		{Reply{550, "5.1.1 No such user"}, smtp.EnhancedCode{5, 1, 1}, "No such user"},
		{Reply{452, "4.2.2 Full\n4.2.2 try later"}, smtp.EnhancedCode{4, 2, 2}, "Full\ntry later"},
		{Reply{554, "Transaction failed"}, smtp.EnhancedCode{}, "Transaction failed"},
		{Reply{451, "4.x.0 odd"}, smtp.EnhancedCode{}, "4.x.0 odd"},
	} {
		se := tc.r.Err()
		if se.Code != tc.r.Code || se.EnhancedCode != tc.ec || se.Message != tc.text {
			t.Errorf("%+v: %+v", tc.r, se)
		}
	}
}
