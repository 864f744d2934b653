package slapdtest

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
)

// SSHA returns password hashed in slapd's {SSHA} scheme, for userPassword
// values in seed LDIF.
func SSHA(password string) string {
	salt := make([]byte, 8)
	_, _ = rand.Read(salt)
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}
