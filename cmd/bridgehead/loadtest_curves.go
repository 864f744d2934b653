package main

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// curveByName is the key exchange group -curves names, by the names Go,
// OpenSSL and the IANA registry give them, in any case.
func curveByName(name string) (tls.CurveID, bool) {
	switch strings.ToLower(name) {
	case "x25519mlkem768":
		return tls.X25519MLKEM768, true
	case "secp256r1mlkem768":
		return tls.SecP256r1MLKEM768, true
	case "secp384r1mlkem1024":
		return tls.SecP384r1MLKEM1024, true
	case "x25519":
		return tls.X25519, true
	case "p-256", "p256", "secp256r1", "prime256v1":
		return tls.CurveP256, true
	case "p-384", "p384", "secp384r1":
		return tls.CurveP384, true
	case "p-521", "p521", "secp521r1":
		return tls.CurveP521, true
	}
	return 0, false
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
		id, ok := curveByName(name)
		if !ok {
			return nil, fmt.Errorf("unknown key exchange group %q (known: X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024, X25519, P-256, P-384, P-521)", name)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
