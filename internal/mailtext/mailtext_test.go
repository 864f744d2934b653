package mailtext

import (
	"strings"
	"testing"
)

func TestOneLine(t *testing.T) {
	t.Parallel()
	if got, want := OneLine("a\r\nb\tc\x7fd"), "a  b c d"; got != want {
		t.Errorf("OneLine = %q, want %q", got, want)
	}
}

func TestMessageID(t *testing.T) {
	t.Parallel()
	a, b := MessageID("Q1", "gw.example.test"), MessageID("Q1", "gw.example.test")
	if !strings.HasPrefix(a, "<Q1.") || !strings.HasSuffix(a, "@gw.example.test>") {
		t.Errorf("MessageID = %q, want <Q1.…@gw.example.test>", a)
	}
	if a == b {
		t.Errorf("two Message-IDs for one queue id are equal: %q", a)
	}
}
