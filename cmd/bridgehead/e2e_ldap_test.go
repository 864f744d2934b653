package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/directory/ldapdir/slapdtest"
	"bridgehead.dev/bridgehead/gateway/testservers"
)

// TestE2ELDAP runs "bridgehead serve" with an OpenLDAP directory: a login
// with the LDAP password submits a message that the user's mailHost routes
// (through backends:) into Dovecot; a wrong password gets 535 5.7.8.
func TestE2ELDAP(t *testing.T) {
	t.Parallel()
	testservers.Require(t, "swaks")
	const alicePW = "alice ldap pw"
	ldap := slapdtest.Start(t, slapdtest.Config{LDIF: strings.ReplaceAll(`
dn: ou=people,dc=example,dc=test
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: inetLocalMailRecipient
uid: alice
cn: Alice Smith
sn: Smith
mail: alice@example.test
mailLocalAddress: a.smith@example.test
mailHost: store1
userPassword: HASH
`, "HASH", slapdtest.SSHA(alicePW))})
	dc := testservers.StartDovecot(t, map[string]string{"alice@example.test": "imap-pw"})

	s := newSite(t)
	s.Directory = fmt.Sprintf(`  ldap:
    urls: [%s]
    bind_dn: %q
    bind_password_file: %s
    base_dn: %q
    schema: openldap
    timeout: 5s`, ldap.URL, slapdtest.ServiceDN, ldap.ServicePasswordFile, slapdtest.Suffix)
	// The domain route leads nowhere: only the user's mailHost, mapped by
	// backends:, reaches Dovecot.
	s.Routes = fmt.Sprintf("  - domains: [example.test]\n    to: smtp://%s\n    tls: none", freeAddr(t))
	s.Backends = fmt.Sprintf("  store1: lmtp://%s", dc.LMTPAddr)
	cfg := s.writeConfig(t)
	if out, errOut, code := checkConfig(t, cfg); code != 0 {
		t.Fatalf("check-config: exit %d\n%s%s", code, out, errOut)
	}
	s.serve(t)

	id := swaksSubmit(t, s.Submission, "--tls", "alice", alicePW, "a.smith@example.test", "alice@example.test", "ldap e2e")

	out, ok := swaks(t, "--server", s.Submissions, "--tlsc", "--auth", "LOGIN",
		"--auth-user", "alice", "--auth-password", "not the password",
		"--from", "alice@example.test", "--to", "alice@example.test")
	if ok || !strings.Contains(out, "535 5.7.8") {
		t.Errorf("wrong LDAP password: want 535 5.7.8, swaks said:\n%s", out)
	}

	var msgs [][]byte
	eventually(t, 30*time.Second, "the message in Dovecot", func() bool {
		msgs = dc.Fetch(t, "alice@example.test", "imap-pw")
		return len(msgs) >= 1
	})
	if len(msgs) != 1 {
		t.Fatalf("INBOX holds %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if !bytes.Contains(m, []byte("Subject: ldap e2e\r\n")) || !bytes.Contains(m, []byte("(bridgehead) with ESMTPSA id "+id)) {
		t.Errorf("unexpected message in INBOX:\n%s", m)
	}
}
