package queue

import (
	"bytes"
	"testing"
)

// FuzzParseRecord feeds arbitrary segment bytes to the record parser: it
// must not panic, and what it accepts must re-encode to the same bytes.
func FuzzParseRecord(f *testing.F) {
	rec := finishRecord(append(startRecord(nil, "abc"), "body\r\n"...), "abc", []byte("{}\n"))
	f.Add(rec)
	f.Add(rec[:len(rec)-1])
	f.Add([]byte("BHJ1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRecord(b)
		if err != nil {
			return
		}
		again := finishRecord(append(startRecord(nil, r.id), r.body...), r.id, r.env)
		if !bytes.Equal(again, b[:r.size]) {
			t.Fatalf("record %q re-encodes to %q", b[:r.size], again)
		}
	})
}
