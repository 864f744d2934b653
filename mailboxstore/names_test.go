package mailboxstore

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeOwner(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"alice":              "alice",
		"Alice":              "alice",
		"postmaster":         "postmaster",
		"a.smith@example.te": "a.smith@example.te",
		"x_y-z+1":            "x_y-z+1",
	}
	for in, want := range good {
		got, err := normalizeOwner(in)
		if err != nil || got != want {
			t.Errorf("normalizeOwner(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{"", ".", "..", "../etc", "a/b", `a\b`, ".hidden", "a..b", "a\x00b", "a b", "tab\t",
		strings.Repeat("a", maxOwnerLen+1), "ä"}
	for _, in := range bad {
		if got, err := normalizeOwner(in); !errors.Is(err, ErrInvalidName) {
			t.Errorf("normalizeOwner(%q) = %q, %v; want ErrInvalidName", in, got, err)
		}
	}
}

func TestNormalizeFolder(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"INBOX":    Inbox,
		"inbox":    Inbox,
		"Badmail":  "Badmail",
		"Old mail": "Old mail",
		"Entwürfe": "Entwürfe",
		"a-b_c+d":  "a-b_c+d",
		"2024":     "2024",
	}
	for in, want := range good {
		got, err := normalizeFolder(in)
		if err != nil || got != want {
			t.Errorf("normalizeFolder(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{"", ".", "..", "../x", "a/b", ".Badmail", "a.b", "a\x00b", " lead", "trail ", "-x",
		"Postmaster", "postmaster", "x\ny", "a\\b", "\xff", strings.Repeat("a", maxFolderLen+1)}
	for _, in := range bad {
		if got, err := normalizeFolder(in); !errors.Is(err, ErrInvalidName) {
			t.Errorf("normalizeFolder(%q) = %q, %v; want ErrInvalidName", in, got, err)
		}
	}
}

// FuzzNames checks that no accepted name can leave its directory.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"alice", "../x", "INBOX", "a.b", ".x", "Entwürfe", "a/b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, norm := range []func(string) (string, error){normalizeOwner, normalizeFolder} {
			n, err := norm(s)
			if err != nil {
				continue
			}
			if n == "" || strings.ContainsAny(n, "/\\\x00") || strings.HasPrefix(n, ".") || strings.Contains(n, "..") {
				t.Fatalf("accepted unsafe name %q from %q", n, s)
			}
		}
	})
}
