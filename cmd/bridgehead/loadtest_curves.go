package main

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// tlsGroups are the key exchange groups -curves accepts, by the names
// Go, OpenSSL and the IANA registry give them.
var tlsGroups = map[string]tls.CurveID{
	"x25519mlkem768":     tls.X25519MLKEM768,
	"secp256r1mlkem768":  tls.SecP256r1MLKEM768,
	"secp384r1mlkem1024": tls.SecP384r1MLKEM1024,
	"x25519":             tls.X25519,
	"p-256":              tls.CurveP256,
	"p256":               tls.CurveP256,
	"secp256r1":          tls.CurveP256,
	"prime256v1":         tls.CurveP256,
	"p-384":              tls.CurveP384,
	"p384":               tls.CurveP384,
	"secp384r1":          tls.CurveP384,
	"p-521":              tls.CurveP521,
	"p521":               tls.CurveP521,
	"secp521r1":          tls.CurveP521,
}

// parseCurves reads -curves: key exchange groups, comma separated, in the
// order of preference; empty means Go's default offer.
func parseCurves(s string) ([]tls.CurveID, error) {
	var ids []tls.CurveID
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		id, ok := tlsGroups[strings.ToLower(name)]
		if !ok {
			return nil, fmt.Errorf("unknown key exchange group %q (known: X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024, X25519, P-256, P-384, P-521)", name)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
