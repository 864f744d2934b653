package ndr

import (
	"errors"
	"testing"
)

func TestDecodeXtext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                          "",
		"rfc822;bob@remote.test":    "rfc822;bob@remote.test",
		"rfc822;bob+2Bextra@x.test": "rfc822;bob+extra@x.test",
		"QQ+3D314159+20":            "QQ=314159 ",
	} {
		got, err := DecodeXtext(in)
		if err != nil || got != want {
			t.Errorf("DecodeXtext(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"a+2", "a+2b", "a+ZZ", "a b", "a=b", "ü"} {
		if _, err := DecodeXtext(in); !errors.Is(err, ErrBadXtext) {
			t.Errorf("DecodeXtext(%q): err = %v", in, err)
		}
	}
}
