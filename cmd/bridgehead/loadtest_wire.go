package main

import (
	"errors"

	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/internal/smtpwire"
)

// loadSend runs one transaction on c as a mail client does. With
// pipelining (RFC 2920, which Outlook and Thunderbird use when offered)
// MAIL, the RCPTs and DATA go in one write and their replies are read
// after it; parts (the message, ending in CRLF) are dot-stuffed in bulk
// and go with the final dot in a second write. A refused recipient is
// reported even when the others took the message.
func loadSend(c *smtpwire.Client, from string, to []string, parts [][]byte, pipelining bool) error {
	cmds := make([]string, 0, len(to)+2)
	cmds = append(cmds, "MAIL FROM:<"+from+">")
	for _, r := range to {
		cmds = append(cmds, "RCPT TO:<"+r+">")
	}
	cmds = append(cmds, "DATA")
	last := len(cmds) - 1
	want := func(i int) int {
		if i == last {
			return 354
		}
		return 250
	}
	var first error // the first refusal of MAIL or a RCPT
	if pipelining {
		for _, cmd := range cmds {
			if err := c.WriteCmd(cmd); err != nil {
				return err
			}
		}
		if err := c.Flush(); err != nil {
			return err
		}
		for i := range cmds {
			r, err := c.ReadReply()
			if err == nil {
				_, err = r.Expect(want(i))
			}
			var se *smtp.SMTPError
			switch {
			case err == nil:
			case !errors.As(err, &se):
				return err
			case i == last:
				if first != nil {
					return first // DATA refused for want of MAIL or recipients
				}
				return err
			case first == nil:
				first = err
			}
		}
	} else {
		for i, cmd := range cmds {
			if _, err := c.Cmd(want(i), cmd); err != nil {
				return err
			}
		}
	}
	// DATA was accepted: the message goes to the recipients that were.
	dw := smtpwire.NewDotWriter(c.Writer())
	for _, p := range parts {
		if _, err := dw.Write(p); err != nil {
			return err
		}
	}
	if err := dw.Close(); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	r, err := c.ReadReply()
	if err == nil {
		_, err = r.Expect(250)
	}
	if err != nil {
		return err
	}
	return first
}
