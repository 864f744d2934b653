package mailboxstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// failsafe bounds waits for the server's signals so a broken test fails
// instead of hanging; it is not a timing assertion.
const failsafe = 10 * time.Second

func dialIMAP(t *testing.T, addr string, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, opts)
	must(t, err, "dial %s", addr)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func loginIMAP(t *testing.T, addr, user, pass string, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	c := dialIMAP(t, addr, opts)
	must(t, c.Login(user, pass).Wait(), "login %s", user)
	return c
}

func listNames(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	l, err := c.List("", "*", nil).Collect()
	must(t, err, "LIST")
	var names []string
	for _, d := range l {
		names = append(names, d.Mailbox)
	}
	return names
}

func TestIMAPReadFlagsExpungeIdle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	first := testMessage("report one", "first report")
	mustAppend(t, s, "postmaster", "INBOX", first)
	mustAppend(t, s, "postmaster", "INBOX", testMessage("report two", "second report"))
	mustAppend(t, s, "alice", "INBOX", testMessage("private", "alice's own"))
	addr := startIMAP(t, s, ServerOptions{InsecureAuth: true, Admins: []string{"Alice"}})

	newMail := make(chan uint32, 4)
	c := loginIMAP(t, addr, "alice", "alice-secret", &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					newMail <- *d.NumMessages
				}
			},
		},
	})

	if got, want := listNames(t, c), []string{"INBOX", "Badmail", "Postmaster", "Postmaster/Badmail"}; !slices.Equal(got, want) {
		t.Errorf("LIST = %v, want %v", got, want)
	}

	sel, err := c.Select("Postmaster", nil).Wait()
	must(t, err, "SELECT Postmaster")
	if sel.NumMessages != 2 || sel.UIDNext != 3 || sel.UIDValidity == 0 {
		t.Errorf("SELECT = %d messages, UIDNEXT %d, UIDVALIDITY %d", sel.NumMessages, sel.UIDNext, sel.UIDValidity)
	}

	// FETCH envelope, structure, size and the whole message, without \Seen.
	body := &imap.FetchItemBodySection{Peek: true}
	subj := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}, Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{
		UID: true, Flags: true, Envelope: true, RFC822Size: true, InternalDate: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{body, subj},
	}).Collect()
	must(t, err, "FETCH")
	if len(msgs) != 2 {
		t.Fatalf("FETCH returned %d messages", len(msgs))
	}
	m := msgs[0]
	if got := string(m.FindBodySection(body)); got != first {
		t.Errorf("BODY[] = %q, want %q", got, first)
	}
	if got := string(m.FindBodySection(subj)); got != "Subject: report one\r\n\r\n" {
		t.Errorf("BODY[HEADER.FIELDS (Subject)] = %q", got)
	}
	if m.UID != 1 || m.RFC822Size != int64(len(first)) || len(m.Flags) != 0 || m.InternalDate.IsZero() {
		t.Errorf("UID %d, size %d (want %d), flags %v, date %v", m.UID, m.RFC822Size, len(first), m.Flags, m.InternalDate)
	}
	if m.Envelope == nil || m.Envelope.Subject != "report one" || len(m.Envelope.From) != 1 ||
		m.Envelope.From[0].Addr() != "postmaster@example.test" || m.Envelope.MessageID != "report-one@example.test" {
		t.Errorf("ENVELOPE = %+v", m.Envelope)
	}
	if bs, ok := m.BodyStructure.(*imap.BodyStructureSinglePart); !ok || bs.Type != "text" || bs.Subtype != "plain" {
		t.Errorf("BODYSTRUCTURE = %#v", m.BodyStructure)
	}

	// SEARCH by header and by flag.
	sr, err := c.Search(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "TWO"}}}, nil).Wait()
	must(t, err, "SEARCH")
	if got := sr.AllSeqNums(); !slices.Equal(got, []uint32{2}) {
		t.Errorf("SEARCH SUBJECT two = %v, want [2]", got)
	}
	sr, err = c.UIDSearch(&imap.SearchCriteria{Body: []string{"report"}, NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
	must(t, err, "UID SEARCH")
	if got := sr.AllUIDs(); !slices.Equal(got, []imap.UID{1, 2}) {
		t.Errorf("UID SEARCH UNSEEN BODY report = %v, want [1 2]", got)
	}

	// STORE \Seen: mapped to the Maildir S flag, file moved to cur/.
	stored, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Collect()
	must(t, err, "STORE")
	if len(stored) != 1 || !slices.Contains(stored[0].Flags, imap.FlagSeen) {
		t.Errorf("STORE +FLAGS (\\Seen) answered %+v", stored)
	}
	cur, _ := filepath.Glob(filepath.Join(dir, "postmaster", "cur", "*:2,S"))
	if len(cur) != 1 {
		t.Errorf("want one file in cur/ with :2,S, got %v", cur)
	}
	sr, err = c.Search(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
	must(t, err, "SEARCH SEEN")
	if got := sr.AllSeqNums(); !slices.Equal(got, []uint32{1}) {
		t.Errorf("SEARCH SEEN = %v, want [1]", got)
	}

	// STORE \Deleted + EXPUNGE removes the file.
	must(t, c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(), "STORE \\Deleted")
	expunged, err := c.Expunge().Collect()
	must(t, err, "EXPUNGE")
	if !slices.Equal(expunged, []uint32{2}) {
		t.Errorf("EXPUNGE = %v, want [2]", expunged)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "postmaster", "[nc][eu][wr]", "*"))
	if len(left) != 1 {
		t.Errorf("files left in postmaster's Maildir: %v", left)
	}

	// IDLE sees a message appended by the store.
	idle, err := c.Idle()
	must(t, err, "IDLE")
	uid := mustAppend(t, s, "postmaster", "INBOX", testMessage("report three", "third"))
	select {
	case n := <-newMail:
		if n != 2 {
			t.Errorf("IDLE: EXISTS %d, want 2", n)
		}
	case <-time.After(failsafe):
		t.Fatal("IDLE: no EXISTS after Append")
	}
	must(t, idle.Close(), "IDLE DONE")
	must(t, idle.Wait(), "IDLE")
	msgs, err = c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	must(t, err, "FETCH new")
	if len(msgs) != 1 || uint32(msgs[0].UID) != uid || msgs[0].Envelope.Subject != "report three" {
		t.Errorf("new message: %+v (Append said uid %d)", msgs, uid)
	}

	// FETCH BODY[] (not peek) sets \Seen and says so.
	msgs, err = c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	must(t, err, "FETCH BODY[]")
	if len(msgs) != 1 || !slices.Contains(msgs[0].Flags, imap.FlagSeen) {
		t.Errorf("FETCH BODY[] flags = %+v", msgs)
	}

	// Own INBOX: only alice's message.
	sel, err = c.Select("INBOX", nil).Wait()
	must(t, err, "SELECT INBOX")
	if sel.NumMessages != 1 {
		t.Errorf("alice INBOX has %d messages, want 1", sel.NumMessages)
	}
	must(t, c.Logout().Wait(), "LOGOUT")
}

func TestIMAPUIDsStableAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := newTestClock()
	s1 := openTestStore(t, dir, clock)
	for _, subj := range []string{"a", "b", "c"} {
		mustAppend(t, s1, "postmaster", "INBOX", testMessage(subj, subj))
	}
	type seen struct {
		validity uint32
		uids     []imap.UID
		subjects []string
	}
	read := func(s *Store) seen {
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := s.NewIMAPServer(ServerOptions{InsecureAuth: true, Auth: testUsers, Admins: []string{"alice"}})
		must(t, err, "NewIMAPServer")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err, "listen")
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, ln) }()
		defer func() {
			cancel()
			must(t, <-done, "Serve")
		}()
		c := loginIMAP(t, ln.Addr().String(), "alice", "alice-secret", nil)
		sel, err := c.Select("Postmaster", nil).Wait()
		must(t, err, "SELECT")
		msgs, err := c.Fetch(imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{UID: true, Envelope: true}).Collect()
		must(t, err, "FETCH")
		var r seen
		r.validity = sel.UIDValidity
		for _, m := range msgs {
			r.uids = append(r.uids, m.UID)
			r.subjects = append(r.subjects, m.Envelope.Subject)
		}
		return r
	}
	before := read(s1)
	clock.Advance(time.Hour)
	after := read(openTestStore(t, dir, clock)) // a restart: a new Store on the same directory
	if before.validity != after.validity || !slices.Equal(before.uids, after.uids) || !slices.Equal(before.subjects, after.subjects) {
		t.Errorf("before restart %+v, after %+v", before, after)
	}
	if !slices.Equal(before.uids, []imap.UID{1, 2, 3}) {
		t.Errorf("uids = %v", before.uids)
	}
}

func TestIMAPLoginRefusals(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, t.TempDir(), nil)
	adminOnly := startIMAP(t, s, ServerOptions{InsecureAuth: true, Admins: []string{"alice"}})

	for _, tc := range []struct{ user, pass, why string }{
		{"bob", "bob-secret", "not an admin"},
		{"alice", "wrong", "bad password"},
		{"mallory", "x", "unknown login"},
		{"../alice", "alice-secret", "traversal login"},
	} {
		c := dialIMAP(t, adminOnly, nil)
		err := c.Login(tc.user, tc.pass).Wait()
		var ie *imap.Error
		if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo || ie.Code != imap.ResponseCodeAuthenticationFailed {
			t.Errorf("%s: LOGIN %s = %v, want NO [AUTHENTICATIONFAILED]", tc.why, tc.user, err)
		}
	}

	// With users allowed, bob reads his own mailbox and nothing else.
	withUsers := startIMAP(t, s, ServerOptions{InsecureAuth: true, Admins: []string{"alice"}, AllowUsers: true})
	c := loginIMAP(t, withUsers, "BOB", "bob-secret", nil)
	if got := listNames(t, c); !slices.Equal(got, []string{"INBOX", "Badmail"}) {
		t.Errorf("bob LIST = %v", got)
	}
	for _, name := range []string{"Postmaster", "Postmaster/Badmail", "../alice", "../../etc", ".Badmail", "a/b"} {
		if _, err := c.Select(name, nil).Wait(); err == nil {
			t.Errorf("bob could SELECT %q", name)
		}
	}
	for _, name := range []string{"../x", "a.b", ".hidden", "x/y", "Postmaster"} {
		if err := c.Create(name, nil).Wait(); err == nil {
			t.Errorf("bob could CREATE %q", name)
		}
	}
	must(t, c.Create("Archive", nil).Wait(), "CREATE Archive")
	if got := listNames(t, c); !slices.Equal(got, []string{"INBOX", "Archive", "Badmail"}) {
		t.Errorf("bob LIST after CREATE = %v", got)
	}
}

func TestIMAPAuthenticatePlain(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, t.TempDir(), nil)
	addr := startIMAP(t, s, ServerOptions{InsecureAuth: true, Admins: []string{"alice"}})
	c := dialIMAP(t, addr, nil)
	must(t, c.Authenticate(sasl.NewPlainClient("", "alice", "alice-secret")), "AUTHENTICATE PLAIN")
	if _, err := c.Select("Postmaster/Badmail", nil).Wait(); err != nil {
		t.Errorf("SELECT Postmaster/Badmail: %v", err)
	}
	c2 := dialIMAP(t, addr, nil)
	if err := c2.Authenticate(sasl.NewPlainClient("", "alice", "nope")); err == nil {
		t.Error("AUTHENTICATE PLAIN with a bad password succeeded")
	}
}

func TestIMAPStartTLSRequiredForLogin(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	s := openTestStore(t, t.TempDir(), nil)
	addr := startIMAP(t, s, ServerOptions{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, Admins: []string{"alice"}})

	plain := dialIMAP(t, addr, nil)
	if !plain.Caps().Has(imap.CapLoginDisabled) || !plain.Caps().Has(imap.CapStartTLS) {
		t.Errorf("caps before TLS = %v, want LOGINDISABLED and STARTTLS", plain.Caps())
	}
	if err := plain.Login("alice", "alice-secret").Wait(); err == nil {
		t.Error("LOGIN before STARTTLS succeeded")
	}

	c, err := imapclient.DialStartTLS(addr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}})
	must(t, err, "STARTTLS")
	defer c.Close()
	must(t, c.Login("alice", "alice-secret").Wait(), "LOGIN after STARTTLS")
}

func TestIMAPAppendCopyMove(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	mustAppend(t, s, "postmaster", Badmail, testMessage("bounced", "x"))
	addr := startIMAP(t, s, ServerOptions{InsecureAuth: true, Admins: []string{"alice"}})
	c := loginIMAP(t, addr, "alice", "alice-secret", nil)

	msg := testMessage("appended", "by client")
	ac := c.Append("INBOX", int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen, imap.FlagFlagged}})
	_, _ = ac.Write([]byte(msg))
	must(t, ac.Close(), "APPEND close")
	ad, err := ac.Wait()
	must(t, err, "APPEND")
	if ad.UID != 1 {
		t.Errorf("APPEND uid = %d", ad.UID)
	}
	if got, _ := filepath.Glob(filepath.Join(dir, "alice", "cur", "*:2,FS")); len(got) != 1 {
		t.Errorf("appended file with flags FS: %v", got)
	}
	missing := c.Append("Nope", int64(len(msg)), nil)
	_, _ = missing.Write([]byte(msg))
	_ = missing.Close()
	var ie *imap.Error
	if _, err := missing.Wait(); !errors.As(err, &ie) || ie.Code != imap.ResponseCodeTryCreate {
		t.Errorf("APPEND to a missing folder = %v, want NO [TRYCREATE]", err)
	}

	_, err = c.Select("Postmaster/Badmail", nil).Wait()
	must(t, err, "SELECT")
	cd, err := c.Copy(imap.SeqSetNum(1), "INBOX").Wait()
	must(t, err, "COPY")
	if cd.DestUIDs.String() != "2" {
		t.Errorf("COPYUID dest = %v, want 2", cd.DestUIDs)
	}
	md, err := c.Move(imap.SeqSetNum(1), "Badmail").Wait()
	must(t, err, "MOVE")
	if md.DestUIDs.String() != "1" {
		t.Errorf("MOVE dest = %v", md.DestUIDs)
	}
	st, err := c.Status("Postmaster/Badmail", &imap.StatusOptions{NumMessages: true}).Wait()
	must(t, err, "STATUS")
	if *st.NumMessages != 0 {
		t.Errorf("source has %d messages after MOVE", *st.NumMessages)
	}
	st, err = c.Status("Badmail", &imap.StatusOptions{NumMessages: true, UIDNext: true}).Wait()
	must(t, err, "STATUS")
	if *st.NumMessages != 1 || st.UIDNext != 2 {
		t.Errorf("Badmail status %d messages, uidnext %d", *st.NumMessages, st.UIDNext)
	}
}

// selfSigned makes a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err, "key")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err, "certificate")
	leaf, err := x509.ParseCertificate(der)
	must(t, err, "parse certificate")
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
