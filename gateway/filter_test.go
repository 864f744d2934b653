package gateway

import (
	"encoding/base64"
	"strings"
	"testing"

	"bridgehead.dev/bridgehead/gateway/filter"
	"bridgehead.dev/bridgehead/gateway/testservers"
)

// withAttachment is a multipart message from alice with a text part and
// one base64 attachment, without the end-of-data line.
func withAttachment(header, content string) string {
	return "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: files\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
		"--b1\r\n" + header + "Content-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte(content)) + "\r\n--b1--\r\n"
}

func mustFilter(t *testing.T, f filter.Filter, err error) filter.Filter {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFilterChainWithClamd runs attachments + a real clamd on a listener:
// clean mail passes, a virus (also in a nested message) and an .exe are
// refused before anything is queued, and a stopped clamd gives 451 until
// it is back.
func TestFilterChainWithClamd(t *testing.T) {
	t.Parallel()
	cd := testservers.StartClamd(t)
	att, err := filter.NewAttachments(filter.AttachmentPolicy{RejectExtensions: filter.DefaultExtensions()})
	av, err2 := filter.NewClamAV(filter.ClamAVOptions{Address: cd.Addr})
	chain := filter.Chain{mustFilter(t, att, err), mustFilter(t, av, err2)}
	tg := startGateway(t, func(s *setup) { s.Filters = chain })
	c := tg.authenticated(t, lnSubmission)

	clean := withAttachment("Content-Disposition: attachment; filename=notes.txt\r\n", "nothing to see")
	if r := c.send1(alice, []string{bob}, clean+".\r\n"); !r.is(250, "2.0.0") {
		t.Fatalf("clean message: %v", r)
	}
	m := tg.onlyQueued(t)
	if !strings.HasSuffix(string(m.data), clean) {
		t.Errorf("clean message changed:\n%s", m.data)
	}

	virus := withAttachment("Content-Disposition: attachment; filename=a.bin\r\n", "xx "+testservers.TestVirus+" yy")
	nested := "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\nContent-Type: text/plain\r\n\r\nfwd\r\n" +
		"--outer\r\nContent-Type: message/rfc822\r\n\r\n" + virus + "--outer--\r\n"
	for name, msg := range map[string]string{"attachment": virus, "nested message": nested} {
		r := c.send1(alice, []string{bob}, msg+".\r\n")
		if !r.is(554, "5.7.1") || !strings.Contains(r.text, testservers.TestVirusName) {
			t.Errorf("virus in %s: %v, want 554 5.7.1 naming %s", name, r, testservers.TestVirusName)
		}
	}
	for _, file := range []string{"setup.exe", "report.pdf.exe"} {
		r := c.send1(alice, []string{bob}, withAttachment("Content-Disposition: attachment; filename=\""+file+"\"\r\n", "MZ")+".\r\n")
		if !r.is(550, "5.7.1") || !strings.Contains(r.text, file) {
			t.Errorf("%s: %v, want 550 5.7.1 naming the file", file, r)
		}
	}
	if n := tg.q.Len(); n != 1 {
		t.Fatalf("queue holds %d messages, want only the clean one", n)
	}

	cd.Stop(t)
	second := withAttachment("Content-Disposition: attachment; filename=b.txt\r\n", "second")
	if r := c.send1(alice, []string{bob}, second+".\r\n"); !r.is(451, "4.7.1") {
		t.Fatalf("clamd down: %v, want 451 4.7.1", r)
	}
	if n := tg.q.Len(); n != 1 {
		t.Fatalf("queue holds %d messages after the tempfail, want 1", n)
	}
	cd.Start(t)
	if r := c.send1(alice, []string{bob}, second+".\r\n"); !r.is(250, "2.0.0") {
		t.Fatalf("retry with clamd back: %v", r)
	}
	if n := tg.q.Len(); n != 2 {
		t.Errorf("queue holds %d messages, want 2", n)
	}
}

// TestFilterStrip replaces a forbidden attachment by a text part and
// queues the rest of the message unchanged.
func TestFilterStrip(t *testing.T) {
	t.Parallel()
	att, err := filter.NewAttachments(filter.AttachmentPolicy{StripExtensions: []string{".exe"}})
	chain := filter.Chain{mustFilter(t, att, err)}
	tg := startGateway(t, func(s *setup) { s.Filters = chain })
	c := tg.greeted(t, lnInbound)
	if r := c.cmd("EHLO client.example.net"); r.code != 250 {
		t.Fatalf("EHLO: %v", r)
	}
	partHeader := "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"report.pdf.exe\"\r\n"
	msg := withAttachment(partHeader, "MZ payload")
	if r := c.send1("sender@remote.example", []string{bob}, msg+".\r\n"); !r.is(250, "2.0.0") {
		t.Fatalf("DATA: %v", r)
	}
	data := string(tg.onlyQueued(t).data)
	i := strings.Index(msg, partHeader)
	j := strings.Index(msg, "\r\n--b1--")
	head, tail := msg[:i], msg[j:]
	k := strings.Index(data, head)
	if k < 0 || !strings.HasSuffix(data, tail) {
		t.Fatalf("outside the attachment the message changed:\n%s", data)
	}
	repl := data[k+len(head) : len(data)-len(tail)]
	if strings.Contains(repl, "TVogcGF5bG9hZA==") || !strings.Contains(repl, "report.pdf.exe") || !strings.HasPrefix(repl, "Content-Type: text/plain") {
		t.Errorf("replacement part:\n%s", repl)
	}
}

// TestFilterRspamd scores with a real rspamd: headers for "add header",
// 451 for greylist, 550 for reject.
func TestFilterRspamd(t *testing.T) {
	t.Parallel()
	rs := testservers.StartRspamd(t)
	sp, err := filter.NewRspamd(filter.RspamdOptions{URL: rs.URL})
	chain := filter.Chain{mustFilter(t, sp, err)}
	tg := startGateway(t, func(s *setup) { s.Filters = chain })
	c := tg.authenticated(t, lnSubmissions)
	if r := c.send1(alice, []string{bob}, message(alice, "ham", "hello")); !r.is(250, "2.0.0") {
		t.Fatalf("ham: %v", r)
	}
	if d := string(tg.onlyQueued(t).data); strings.Contains(d, "X-Spam") {
		t.Errorf("ham got spam headers:\n%s", d)
	}
	if r := c.send1(alice, []string{bob}, message(alice, "spammy", testservers.RspamdAddHeader)); !r.is(250, "2.0.0") {
		t.Fatalf("add header: %v", r)
	}
	msgs := tg.queued(t)
	if len(msgs) != 2 {
		t.Fatalf("queue holds %d messages, want 2", len(msgs))
	}
	var spam string
	for _, m := range msgs {
		if strings.Contains(string(m.data), "Subject: spammy") {
			spam = string(m.data)
		}
	}
	if !strings.Contains(spam, "\r\nX-Spam-Status: Yes, score=7.") || !strings.Contains(spam, "X-Spamd-Result: default: True [7.") {
		t.Errorf("spam headers missing:\n%s", spam)
	}
	if r := c.send1(alice, []string{bob}, message(alice, "grey", testservers.RspamdGreylist)); !r.is(451, "4.7.1") {
		t.Errorf("greylist: %v, want 451 4.7.1", r)
	}
	if r := c.send1(alice, []string{bob}, message(alice, "gtube", testservers.GTUBE)); !r.is(550, "5.7.1") {
		t.Errorf("reject: %v, want 550 5.7.1", r)
	}
	if n := tg.q.Len(); n != 2 {
		t.Errorf("queue holds %d messages, want 2", n)
	}
}
