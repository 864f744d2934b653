package dnsresolver

import "errors"

// Errors a lookup wraps; test them with errors.Is.
var (
	// ErrNotFound: the name does not exist (NXDOMAIN). Permanent.
	ErrNotFound = errors.New("no such domain")
	// ErrNoRecords: the name exists but has no records of the type asked
	// for (NODATA). Permanent; for MX it means "use the address records".
	ErrNoRecords = errors.New("no records of that type")
	// ErrNullMX: the domain publishes a null MX (RFC 7505): it accepts no
	// mail. Permanent.
	ErrNullMX = errors.New("domain accepts no mail (null MX)")
	// ErrTemporary: the server failed, refused, timed out or could not be
	// reached, or its answer was unusable. Try again later.
	ErrTemporary = errors.New("temporary DNS failure")
)

// IsTemporary reports whether err is a temporary failure (ErrTemporary)
// rather than an answer that a name or record does not exist.
func IsTemporary(err error) bool { return errors.Is(err, ErrTemporary) }
