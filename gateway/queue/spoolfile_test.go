package queue

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestTrailerRoundTrip: the envelope appended at Commit is read back, and
// readers of the message see only its bytes.
func TestTrailerRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	body := []byte("Subject: x\r\n\r\nhello\r\n")
	env := &Envelope{ID: "0123456789abcdef", From: "a@example.test", Size: int64(len(body)),
		Recipients: []*Recipient{{Address: "b@example.test", State: StatePending}}}
	data, err := encodeEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, env.ID)
	if err := os.WriteFile(p, appendTrailer(slices.Clone(body), int64(len(body)), data), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readTrailer(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != env.ID || got.From != env.From || got.Size != env.Size || len(got.Recipients) != 1 {
		t.Errorf("trailer envelope = %+v", got)
	}
	f, err := openBody(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	_ = f.Close()
	if err != nil || !bytes.Equal(b, body) {
		t.Errorf("body = %q, %v; want %q", b, err, body)
	}

	// A file without a footer is all message bytes.
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readTrailer(plain); err == nil {
		t.Error("readTrailer of a file without a trailer succeeded")
	}
	f, err = openBody(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(f)
	_ = f.Close()
	if !bytes.Equal(b, body) {
		t.Errorf("plain body = %q", b)
	}
}

// TestTrailerDamaged: a torn or altered trailer is not a committed
// envelope.
func TestTrailerDamaged(t *testing.T) {
	t.Parallel()
	env := &Envelope{ID: "0123456789abcdef", Recipients: []*Recipient{{Address: "b@example.test", State: StatePending}}}
	data, err := encodeEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	whole := appendTrailer([]byte("body\r\n"), 6, data)
	flipped := slices.Clone(whole)
	flipped[10] ^= 1 // inside the envelope: checksum mismatch
	for name, b := range map[string][]byte{
		"torn":    whole[:len(whole)-1],
		"short":   whole[:len(whole)-footerLen-3],
		"flipped": flipped,
		"tiny":    []byte("x"),
	} {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readTrailer(p); err == nil {
			t.Errorf("%s: readTrailer succeeded", name)
		}
	}
}

// TestRecoveryFromTrailer: a committed message is recovered from its
// file alone; its copy left in msg/ by a move to failed/ cut short is
// removed, not revived.
func TestRecoveryFromTrailer(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	q := openQueue(t, opts)
	kept := commit(t, q, "b@example.test")
	moved := commit(t, q, "c@example.test")
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, opts.Dir, "env")
	// moved: its final envelope reached failed/, its file in msg/ stayed.
	if err := os.WriteFile(filepath.Join(opts.Dir, "failed", moved+".json"),
		[]byte(`{"id":"`+moved+`","recipients":[{"address":"c@example.test","state":"failed"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	q2 := openQueue(t, opts)
	if q2.Len() != 1 {
		t.Fatalf("Len = %d, want 1", q2.Len())
	}
	env, err := q2.Get(kept)
	if err != nil {
		t.Fatal(err)
	}
	if env.Recipients[0].Address != "b@example.test" || env.Recipients[0].State != StatePending {
		t.Errorf("recovered envelope = %+v", env.Recipients[0])
	}
	if got := dirNames(t, filepath.Join(opts.Dir, "msg")); !slices.Equal(got, []string{kept}) {
		t.Errorf("msg/ = %v, want only %s", got, kept)
	}
}
