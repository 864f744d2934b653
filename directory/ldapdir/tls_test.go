package ldapdir_test

import (
	"errors"
	"path/filepath"
	"testing"

	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/directory/ldapdir"
	"bridgehead.dev/bridgehead/directory/ldapdir/slapdtest"
)

func TestTLS(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: openldapSeed()})
	other, err := slapdtest.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	wrongCA := filepath.Join(t.TempDir(), "wrong-ca.crt")
	if err := other.WriteFile(wrongCA); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		url      string
		startTLS bool
		ca       string
		insecure bool
		ok       bool
	}{
		{"ldaps", s.LDAPSURL, false, s.CAFile, false, true},
		{"starttls", s.URL, true, s.CAFile, false, true},
		{"ldaps wrong CA", s.LDAPSURL, false, wrongCA, false, false},
		{"starttls wrong CA", s.URL, true, wrongCA, false, false},
		{"ldaps system roots", s.LDAPSURL, false, "", false, false},
		{"ldaps by name", "ldaps://localhost:" + port(s.LDAPSURL), false, s.CAFile, false, true},
		{"ldaps insecure", s.LDAPSURL, false, wrongCA, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := baseOptions(t, s, ldapdir.SchemaOpenLDAP)
			opts.URLs = []string{tc.url}
			opts.StartTLS = tc.startTLS
			opts.CAFile = tc.ca
			opts.InsecureSkipVerify = tc.insecure
			d := newDir(t, opts)
			_, aerr := d.Authenticate(t.Context(), "alice", alicePW)
			_, lerr := d.LookupRecipient(t.Context(), "bob@example.test")
			if tc.ok && (aerr != nil || lerr != nil) {
				t.Fatalf("want success: authenticate %v, lookup %v", aerr, lerr)
			}
			if !tc.ok && (!errors.Is(aerr, directory.ErrUnavailable) || !errors.Is(lerr, directory.ErrUnavailable)) {
				t.Fatalf("want unavailable: authenticate %v, lookup %v", aerr, lerr)
			}
		})
	}
}

func port(u string) string {
	return u[len(u)-len("00000"):][indexColon(u[len(u)-len("00000"):]):]
}

func indexColon(s string) int {
	for i := range s {
		if s[i] == ':' {
			return i + 1
		}
	}
	return 0
}
