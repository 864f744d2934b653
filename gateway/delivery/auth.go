package delivery

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

// login authenticates with PLAIN when the server offers it, else LOGIN.
func (c *client) login(a *Auth) error {
	ok, params := c.extension("AUTH")
	if !ok {
		return errors.New("server offers no AUTH")
	}
	mechs := strings.Fields(strings.ToUpper(params))
	switch {
	case slices.Contains(mechs, sasl.Plain):
		return c.auth(sasl.NewPlainClient("", a.Username, a.Password))
	case slices.Contains(mechs, sasl.Login):
		return c.auth(sasl.NewLoginClient(a.Username, a.Password))
	}
	return errors.New("server offers neither PLAIN nor LOGIN (" + params + ")")
}

// auth runs one SASL exchange (RFC 4954), the initial response on the
// AUTH line. A refusal is the server's *smtp.SMTPError.
func (c *client) auth(a sasl.Client) error {
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
		r, err := c.cmd(0, line)
		if err != nil {
			return err
		}
		switch r.code {
		case 235:
			return nil
		case 334:
		default:
			return r.err()
		}
		chal, err := base64.StdEncoding.DecodeString(r.text)
		if err == nil {
			resp, err = a.Next(chal)
		}
		if err != nil {
			_, _ = c.cmd(0, "*") // cancel the exchange
			return fmt.Errorf("%s challenge: %w", mech, err)
		}
		line = base64.StdEncoding.EncodeToString(resp)
	}
	return fmt.Errorf("%s: more than %d challenges", mech, maxAuthSteps)
}
