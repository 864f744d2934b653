package queue

import (
	"encoding/base32"
	"encoding/binary"
	"math/rand/v2"
	"time"
)

// idEncoding is base32 with the "extended hex" alphabet in lower case:
// file-name safe, the same on case-insensitive file systems, and sorting
// like the bytes it encodes.
var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID returns a 16-character id: 42 bits of Unix milliseconds (good
// until 2109) followed by 38 random bits, so ids sort by creation time.
func newID(now time.Time) string {
	ms := uint64(now.UnixMilli()) & (1<<42 - 1)
	r := rand.Uint64() & (1<<38 - 1)
	var b [10]byte
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>26))
	binary.BigEndian.PutUint64(b[2:10], ms<<38|r)
	return idEncoding.EncodeToString(b[:])
}

// validID reports whether id can be used as a file name in the queue: 1 to
// 64 characters of ASCII letters, digits, '-' and '_'.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
