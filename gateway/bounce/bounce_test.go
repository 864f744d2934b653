package bounce

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"bridgehead.dev/bridgehead/gateway/queue"
)

// A 5xx at the back end makes a failure report, queued with the null
// sender to the original sender, delivered to its back end, and copied to
// the postmaster's INBOX.
func TestFailureReport(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{remoteArgs: refuseArgs, copyToPM: true})
	id := h.submit(t, &queue.Envelope{
		From:  "alice@" + senderDomain,
		EnvID: "QQ314159",
		Recipients: []*queue.Recipient{{
			Address: "bob@" + remoteDomain, ORCPT: "rfc822;Bob@" + remoteDomain,
		}},
	})
	h.waitFailure(t, id)
	m := h.deliveredReport(t)

	if m.MailArgs != "<>" && !strings.HasPrefix(m.MailArgs, "<> ") {
		t.Errorf("report MAIL FROM args %q, want the null sender", m.MailArgs)
	}
	if len(m.RcptArgs) != 1 || !strings.HasPrefix(m.RcptArgs[0], "<alice@"+senderDomain+">") {
		t.Errorf("report RCPT args %q", m.RcptArgs)
	}
	r := parseReport(t, m.Data)
	if got := r.header.Get("From"); !strings.Contains(got, "<"+postmaster+">") {
		t.Errorf("From = %q", got)
	}
	checkFields(t, "header", r.header.Header, map[string]string{
		"Auto-Submitted": "auto-replied",
		"In-Reply-To":    "<orig-1@sender.test>",
		"To":             "<alice@sender.test>",
	})
	checkFields(t, "per-message", r.perMsg, map[string]string{
		"Reporting-MTA":        "dns; " + hostname,
		"Original-Envelope-Id": "QQ314159",
	})
	if r.perMsg.Get("Arrival-Date") == "" {
		t.Error("no Arrival-Date")
	}
	if len(r.perRcpts) != 1 {
		t.Fatalf("%d per-recipient groups, want 1", len(r.perRcpts))
	}
	rc := r.perRcpts[0]
	checkFields(t, "recipient", rc, map[string]string{
		"Final-Recipient":    "rfc822; bob@remote.test",
		"Original-Recipient": "rfc822;Bob@remote.test",
		"Action":             "failed",
		"Status":             "5.1.1",
		"Diagnostic-Code":    "smtp; 550 5.1.1 No such user",
	})
	hasPrefixField(t, "recipient", rc, "Remote-MTA", "dns; ")
	if rc.Get("Last-Attempt-Date") == "" {
		t.Error("no Last-Attempt-Date")
	}
	// RET absent: the whole original is returned.
	if len(r.parts) != 3 || r.parts[2].mediaType != "message/rfc822" {
		t.Fatalf("parts %v, want the original as message/rfc822", r.mediaTypes())
	}
	if !bytes.Contains(r.parts[2].body, []byte("only a full return carries")) {
		t.Errorf("returned original lacks its body:\n%s", r.parts[2].body)
	}
	if !strings.Contains(string(r.parts[0].body), "bob@remote.test") {
		t.Errorf("text part does not name the recipient:\n%s", r.parts[0].body)
	}

	copies := h.maildirMessages(t, "")
	if len(copies) != 1 || !bytes.Equal(copies[0], m.Data) {
		t.Fatalf("postmaster INBOX has %d messages; want the delivered report", len(copies))
	}
	if bad := h.maildirMessages(t, "Badmail"); len(bad) != 0 {
		t.Errorf("badmail has %d messages, want none", len(bad))
	}
}

// NOTIFY=NEVER, and NOTIFY without FAILURE, suppress the failure report
// for that recipient; a message where every recipient does gets none.
func TestNotify(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{remoteArgs: refuseArgs})
	id := h.submit(t, &queue.Envelope{
		From: "alice@" + senderDomain,
		Recipients: []*queue.Recipient{
			{Address: "never@" + remoteDomain, Notify: []string{"NEVER"}},
			{Address: "success@" + remoteDomain, Notify: []string{"SUCCESS", "DELAY"}},
		},
	})
	h.waitFailure(t, id)
	if q := h.queuedReports(); len(q) != 0 {
		t.Fatalf("%d reports queued, want none", len(q))
	}

	id = h.submit(t, &queue.Envelope{
		From: "alice@" + senderDomain,
		Recipients: []*queue.Recipient{
			{Address: "never@" + remoteDomain, Notify: []string{"NEVER"}},
			{Address: "fail@" + remoteDomain, Notify: []string{"FAILURE"}},
		},
	})
	h.waitFailure(t, id)
	r := parseReport(t, h.deliveredReport(t).Data)
	if len(r.perRcpts) != 1 || r.perRcpts[0].Get("Final-Recipient") != "rfc822; fail@remote.test" {
		t.Fatalf("report on %d recipients, want fail@ alone", len(r.perRcpts))
	}
}

// A failed message with the null sender gets no report: it is a double
// bounce and is kept in Badmail.
func TestNullSender(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{remoteArgs: refuseArgs})
	id := h.submit(t, &queue.Envelope{
		From:       "",
		Recipients: []*queue.Recipient{{Address: "bob@" + remoteDomain}},
	})
	h.waitFailure(t, id)
	if q := h.queuedReports(id); len(q) != 0 {
		t.Fatalf("%d reports queued to <>, want none", len(q))
	}
	bad := h.maildirMessages(t, "Badmail")
	if len(bad) != 1 {
		t.Fatalf("badmail has %d messages, want 1", len(bad))
	}
	checkBadmail(t, bad[0], id, "Subject: Quarterly numbers")
}

// RET=HDRS returns the original's header alone; the sender's domain picks
// the language of the text.
func TestRetHeaders(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{remoteArgs: refuseArgs, languages: map[string]string{senderDomain: "de"}})
	id := h.submit(t, &queue.Envelope{
		From:       "alice@" + senderDomain,
		Ret:        "HDRS",
		Recipients: []*queue.Recipient{{Address: "bob@" + remoteDomain}},
	})
	h.waitFailure(t, id)
	r := parseReport(t, h.deliveredReport(t).Data)
	if len(r.parts) != 3 || r.parts[2].mediaType != "text/rfc822-headers" {
		t.Fatalf("parts %v, want the header as text/rfc822-headers", r.mediaTypes())
	}
	if !bytes.Contains(r.parts[2].body, []byte("Subject: Quarterly numbers")) {
		t.Errorf("returned header lacks the Subject:\n%s", r.parts[2].body)
	}
	if bytes.Contains(r.parts[2].body, []byte("only a full return carries")) {
		t.Errorf("RET=HDRS returned the body:\n%s", r.parts[2].body)
	}
	if !bytes.Contains(r.parts[0].body, []byte("Dies ist das Mailsystem")) {
		t.Errorf("text part is not German:\n%s", r.parts[0].body)
	}
}

// A message that expires while the back end defers makes a failure report
// with status 5.4.7 and the back end's last reply.
func TestExpiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{remoteArgs: deferArgs, expire: time.Nanosecond})
	id := h.submit(t, &queue.Envelope{
		From:       "alice@" + senderDomain,
		Recipients: []*queue.Recipient{{Address: "bob@" + remoteDomain}},
	})
	h.waitFailure(t, id)
	r := parseReport(t, h.deliveredReport(t).Data)
	if len(r.perRcpts) != 1 {
		t.Fatalf("%d per-recipient groups, want 1", len(r.perRcpts))
	}
	checkFields(t, "recipient", r.perRcpts[0], map[string]string{
		"Final-Recipient": "rfc822; bob@remote.test",
		"Action":          "failed",
		"Status":          "5.4.7",
		"Diagnostic-Code": "smtp; 451 4.3.0 Try later",
	})
}

// A message still deferred after the delay notice makes one delay report.
func TestDelayReport(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{remoteArgs: deferArgs, expire: time.Hour, delayNotice: time.Nanosecond})
	id := h.submit(t, &queue.Envelope{
		From: "alice@" + senderDomain,
		Recipients: []*queue.Recipient{
			{Address: "bob@" + remoteDomain},
			{Address: "quiet@" + remoteDomain, Notify: []string{"FAILURE"}},
		},
	})
	if got := wait(t, h.delays, "delay hook call"); got != id {
		t.Fatalf("delay hook for %s, want %s", got, id)
	}
	r := parseReport(t, h.deliveredReport(t).Data)
	if len(r.perRcpts) != 1 {
		t.Fatalf("%d per-recipient groups, want bob@ alone", len(r.perRcpts))
	}
	rc := r.perRcpts[0]
	checkFields(t, "recipient", rc, map[string]string{
		"Final-Recipient": "rfc822; bob@remote.test",
		"Action":          "delayed",
		"Status":          "4.3.0",
		"Diagnostic-Code": "smtp; 451 4.3.0 Try later",
	})
	env, err := h.q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	until, err := time.Parse(time.RFC1123Z, rc.Get("Will-Retry-Until"))
	if err != nil {
		t.Fatalf("Will-Retry-Until %q: %v", rc.Get("Will-Retry-Until"), err)
	}
	if want := env.Received.Add(time.Hour).Truncate(time.Second); !until.Equal(want) {
		t.Errorf("Will-Retry-Until %v, want %v", until, want)
	}
	if !strings.Contains(r.header.Get("Subject"), "Delayed") {
		t.Errorf("Subject %q", r.header.Get("Subject"))
	}
}

// A report that cannot be delivered is a double bounce: it goes to Badmail
// and nowhere else.
func TestUndeliverableReport(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{remoteArgs: refuseArgs})
	id := h.submit(t, &queue.Envelope{
		From:       "alice@" + remoteDomain,
		Recipients: []*queue.Recipient{{Address: "bob@" + remoteDomain}},
	})
	h.waitFailure(t, id)
	reports := h.queuedReports()
	if len(reports) != 1 {
		t.Fatalf("%d reports queued, want 1", len(reports))
	}
	h.waitFailure(t, reports[0].ID)
	if res := wait(t, h.reports, "report attempt"); len(res) != 1 || !res[0].Permanent {
		t.Fatalf("report attempt results %+v", res)
	}
	if q := h.queuedReports(reports[0].ID); len(q) != 0 {
		t.Fatalf("%d reports queued after the double bounce, want none", len(q))
	}
	bad := h.maildirMessages(t, "Badmail")
	if len(bad) != 1 {
		t.Fatalf("badmail has %d messages, want 1", len(bad))
	}
	checkBadmail(t, bad[0], reports[0].ID, "report-type=delivery-status")
	if n := len(h.good.Messages(t)); n != 0 {
		t.Errorf("accepting sink got %d messages, want none", n)
	}
}

// checkBadmail checks a Badmail message: a note naming the queue id and
// the kept message, which contains want.
func checkBadmail(t *testing.T, raw []byte, id, want string) {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mr := e.MultipartReader()
	if mr == nil {
		t.Fatalf("badmail message is not multipart:\n%s", raw)
	}
	var types []string
	var bodies [][]byte
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		mt, _, _ := p.Header.ContentType()
		b, _ := readAll(p)
		types = append(types, mt)
		bodies = append(bodies, b)
	}
	if len(types) != 2 || types[0] != "text/plain" || types[1] != "message/rfc822" {
		t.Fatalf("badmail parts %v", types)
	}
	if !bytes.Contains(bodies[0], []byte(id)) || !bytes.Contains(bodies[0], []byte("550 5.1.1 No such user")) {
		t.Errorf("badmail note lacks the queue id or the reply:\n%s", bodies[0])
	}
	if !bytes.Contains(bodies[1], []byte(want)) {
		t.Errorf("kept message lacks %q:\n%s", want, bodies[1])
	}
}

func readAll(p *message.Entity) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(p.Body)
	return b.Bytes(), err
}

// NOTIFY=SUCCESS to a back end that does not advertise DSN (smtp-sink -N)
// gets a success report from us, "Action: relayed", with the headers only.
// A recipient without NOTIFY=SUCCESS is left out of it.
func TestRelayedReport(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{remoteArgs: []string{"-N"}})
	h.submit(t, &queue.Envelope{
		From: "alice@" + senderDomain,
		Recipients: []*queue.Recipient{
			{Address: "bob@" + remoteDomain, Notify: []string{"SUCCESS", "FAILURE"}},
			{Address: "carol@" + remoteDomain},
		},
	})
	r := parseReport(t, h.deliveredReport(t).Data)
	if len(r.perRcpts) != 1 {
		t.Fatalf("%d per-recipient groups, want 1 (only the NOTIFY=SUCCESS one)", len(r.perRcpts))
	}
	checkFields(t, "recipient", r.perRcpts[0], map[string]string{
		"Final-Recipient": "rfc822; bob@remote.test",
		"Action":          "relayed",
		"Status":          "2.0.0",
	})
	if len(r.parts) != 3 || r.parts[2].mediaType != "text/rfc822-headers" {
		t.Errorf("parts %v, want the original's header only", r.mediaTypes())
	}
}

// A back end that speaks DSN reports success itself: no report from us.
func TestNoSuccessReportWhenBackendSpeaksDSN(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	id := h.submit(t, &queue.Envelope{
		From:       "alice@" + senderDomain,
		Recipients: []*queue.Recipient{{Address: "bob@" + remoteDomain, Notify: []string{"SUCCESS"}}},
	})
	eventually(t, func() bool { _, err := h.q.Get(id); return err != nil })
	if reps := h.queuedReports(); len(reps) != 0 {
		t.Errorf("%d reports queued, want none", len(reps))
	}
	if n := len(h.good.Messages(t)); n != 0 {
		t.Errorf("accepting sink has %d messages, want none", n)
	}
}

// eventually polls cond until it holds, failing the test after 30 s.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
