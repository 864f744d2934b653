package smtpwire

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-sasl"
)

// maxAuthSteps bounds the challenges of one AUTH exchange.
const maxAuthSteps = 8

// Login authenticates with PLAIN when the server offers it, else LOGIN.
func (c *Client) Login(username, password string) error {
	ok, params := c.Extension("AUTH")
	if !ok {
		return errors.New("server offers no AUTH")
	}
	mechs := strings.Fields(strings.ToUpper(params))
	switch {
	case slices.Contains(mechs, sasl.Plain):
		return c.Auth(sasl.NewPlainClient("", username, password))
	case slices.Contains(mechs, sasl.Login):
		return c.Auth(sasl.NewLoginClient(username, password))
	}
	return errors.New("server offers neither PLAIN nor LOGIN (" + params + ")")
}

// Auth runs one SASL exchange (RFC 4954), the initial response on the
// AUTH line. A refusal is the server's *smtp.SMTPError.
func (c *Client) Auth(a sasl.Client) error {
	mech, resp, err := a.Start()
	if err != nil {
		return fmt.Errorf("start %s: %w", mech, err)
	}
	line := "AUTH " + mech
	switch {
	case len(resp) > 0:
		line += " " + base64.StdEncoding.EncodeToString(resp)
	case resp != nil:
		line += " ="
	}
	for range maxAuthSteps {
		r, err := c.Cmd(0, line)
		if err != nil {
			return err
		}
		switch r.Code {
		case 235:
			return nil
		case 334:
		default:
			return r.Err()
		}
		chal, err := base64.StdEncoding.DecodeString(r.Text)
		if err == nil {
			resp, err = a.Next(chal)
		}
		if err != nil {
			_, _ = c.Cmd(0, "*") // cancel the exchange
			return fmt.Errorf("%s challenge: %w", mech, err)
		}
		line = base64.StdEncoding.EncodeToString(resp)
	}
	return fmt.Errorf("%s: more than %d challenges", mech, maxAuthSteps)
}
