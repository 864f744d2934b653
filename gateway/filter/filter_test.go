package filter

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
)

type stubFilter struct {
	name string
	res  Result
	err  error
	saw  []byte
}

func (s *stubFilter) Name() string { return s.name }
func (s *stubFilter) Check(_ context.Context, _ *Envelope, msg []byte) (Result, error) {
	s.saw = msg
	return s.res, s.err
}

func TestChainRun(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	env := &Envelope{QueueID: "Q"}
	msg := crlf("X-Spam-Status: Yes, forged\n\tcontinued\nSubject: s\nx-spam-status: No\n\nX-Spam-Status: in body\n")
	rewrite := &stubFilter{name: "rewrite", res: Result{Body: crlf("Subject: s\n\nnew body\n")}}
	head := &stubFilter{name: "head", res: Result{Headers: []string{"X-Spam-Status: Yes, score=9", "X-Other: a\r\nInjected: b"}}}
	last := &stubFilter{name: "last"}
	out, err := Chain{rewrite, head, last}.Run(context.Background(), env, msg, log)
	if err != nil {
		t.Fatal(err)
	}
	want := "X-Spam-Status: Yes, score=9\r\nX-Other: a  Injected: b\r\nSubject: s\r\n\r\nnew body\r\n"
	if string(out) != want || string(last.saw) != want {
		t.Errorf("out %q\nwant %q", out, want)
	}
	// Forged fields of the same name go, the body stays.
	out, _ = Chain{head}.Run(context.Background(), env, msg, log)
	want = "X-Spam-Status: Yes, score=9\r\nX-Other: a  Injected: b\r\nSubject: s\r\n\r\nX-Spam-Status: in body\r\n"
	if string(out) != want {
		t.Errorf("out %q\nwant %q", out, want)
	}

	// A plain error becomes a 451; a rejection stops the chain as it is.
	after := &stubFilter{name: "after"}
	_, err = Chain{&stubFilter{name: "broken", err: errors.New("boom")}, after}.Run(context.Background(), env, msg, log)
	var rej *Rejection
	if !errors.As(err, &rej) || rej.Code != 451 || !rej.Temporary() || after.saw != nil {
		t.Errorf("broken filter: %v", err)
	}
	_, err = Chain{&stubFilter{name: "no", err: &Rejection{Code: 550, Enhanced: [3]int{5, 7, 1}, Message: "no"}}}.Run(context.Background(), env, msg, log)
	if !errors.As(err, &rej) || rej.Code != 550 || rej.Temporary() {
		t.Errorf("rejecting filter: %v", err)
	}
}

func TestParseOnError(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]OnError{"": Tempfail, "tempfail": Tempfail, "ACCEPT": Accept} {
		if got, err := ParseOnError(in); err != nil || got != want {
			t.Errorf("ParseOnError(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseOnError("drop"); err == nil {
		t.Error("ParseOnError(drop) accepted")
	}
}

func TestPrintable(t *testing.T) {
	t.Parallel()
	if got := printable("a\r\nb\xffü", 100); got != "a??b??" {
		t.Errorf("printable = %q", got)
	}
	if got := printable("abcdef", 3); got != "abc" {
		t.Errorf("printable cut = %q", got)
	}
}
