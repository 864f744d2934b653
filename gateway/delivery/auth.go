package delivery

import (
	"errors"
	"slices"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// login authenticates with PLAIN when the server offers it, else LOGIN.
func login(c *smtp.Client, a *Auth) error {
	ok, params := c.Extension("AUTH")
	if !ok {
		return errors.New("server offers no AUTH")
	}
	mechs := strings.Fields(strings.ToUpper(params))
	switch {
	case slices.Contains(mechs, sasl.Plain):
		return c.Auth(sasl.NewPlainClient("", a.Username, a.Password))
	case slices.Contains(mechs, sasl.Login):
		return c.Auth(sasl.NewLoginClient(a.Username, a.Password))
	}
	return errors.New("server offers neither PLAIN nor LOGIN (" + params + ")")
}
