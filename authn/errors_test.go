package authn_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/internal/logtest"
)

func TestKindReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind      authn.Kind
		code      int
		enhanced  [3]int
		temporary bool
		name      string
	}{
		{authn.KindInvalidCredentials, 535, [3]int{5, 7, 8}, false, "invalid_credentials"},
		{authn.KindUnavailable, 454, [3]int{4, 7, 0}, true, "unavailable"},
		{authn.KindMalformed, 501, [3]int{5, 5, 2}, false, "malformed"},
		{authn.KindUnsupported, 504, [3]int{5, 5, 4}, false, "unsupported"},
		{authn.KindThrottled, 421, [3]int{4, 7, 0}, true, "throttled"},
		{authn.Kind(0), 454, [3]int{4, 7, 0}, true, "Kind(0)"},
	}
	for _, tt := range tests {
		code, enhanced, text := tt.kind.Reply()
		if code != tt.code || enhanced != tt.enhanced || text == "" {
			t.Errorf("%v.Reply() = %d %v %q, want %d %v", tt.kind, code, enhanced, text, tt.code, tt.enhanced)
		}
		e := &authn.Error{Kind: tt.kind, Reason: "secret operator detail", Err: errors.New("inner detail")}
		if e.Error() != text {
			t.Errorf("%v: Error() = %q, want the reply text %q", tt.kind, e.Error(), text)
		}
		if c, en, tx := e.Reply(); c != code || en != enhanced || tx != text {
			t.Errorf("%v: Error.Reply differs from Kind.Reply", tt.kind)
		}
		if e.Temporary() != tt.temporary {
			t.Errorf("%v: Temporary() = %v, want %v", tt.kind, e.Temporary(), tt.temporary)
		}
		if tt.kind.String() != tt.name {
			t.Errorf("String() = %q, want %q", tt.kind.String(), tt.name)
		}
	}
}

func TestErrorUnwrapAndLogValue(t *testing.T) {
	t.Parallel()
	e := &authn.Error{Kind: authn.KindUnavailable, Reason: "directory unavailable", Err: directory.ErrUnavailable}
	if !errors.Is(e, directory.ErrUnavailable) {
		t.Error("errors.Is(e, ErrUnavailable) = false")
	}
	if strings.Contains(e.Error(), "directory") {
		t.Errorf("Error() %q shows the operator's detail", e.Error())
	}
	var buf logtest.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", slog.Any("error", e))
	if got := buf.String(); !strings.Contains(got, `error.reason="directory unavailable"`) || !strings.Contains(got, "error.kind=unavailable") {
		t.Errorf("logged %q, want kind and reason", got)
	}
}
