package ndr

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// when is the fixed clock of the golden reports.
var when = time.Date(2025, 3, 4, 10, 11, 12, 0, time.FixedZone("", 3600))

// sampleOriginal is a small original message.
const sampleOriginal = "Received: from client.example.test by gw.example.test; Tue, 04 Mar 2025 09:11:10 +0100\r\n" +
	"From: Alice <alice@example.test>\r\n" +
	"To: Bob <bob@remote.test>\r\n" +
	"Subject: Quarterly numbers\r\n" +
	"Date: Tue, 04 Mar 2025 09:11:00 +0100\r\n" +
	"Message-ID: <orig-1@example.test>\r\n" +
	"\r\n" +
	"Hello Bob,\r\n\r\nthe numbers are attached.\r\n"

// baseReport is a failure report for one unknown recipient.
func baseReport() *Report {
	return &Report{
		ReportingMTA: "gw.example.test",
		Postmaster:   "postmaster@example.test",
		To:           "alice@example.test",
		EnvelopeID:   "QQ314159",
		ArrivalDate:  when.Add(-time.Hour),
		Date:         when,
		MessageID:    "<report-1@gw.example.test>",
		Language:     "en",
		Original:     []byte(sampleOriginal),
		Recipients: []RecipientStatus{{
			FinalRecipient:    "bob@remote.test",
			OriginalRecipient: "rfc822;bob@remote.test",
			Action:            ActionFailed,
			Status:            "5.1.1",
			RemoteMTA:         "mx.remote.test",
			DiagnosticCode:    "550 5.1.1 <bob@remote.test>: Recipient address rejected: User unknown in virtual mailbox table",
			LastAttempt:       when,
		}},
	}
}

// goldenCases are the reports kept as golden files, by file name.
func goldenCases() map[string]*Report {
	cases := map[string]*Report{}

	cases["en_failed"] = baseReport()

	de := baseReport()
	de.Language = "de"
	cases["de_failed"] = de

	delayed := baseReport()
	delayed.Recipients = []RecipientStatus{{
		FinalRecipient: "carol@remote.test",
		Action:         ActionDelayed,
		Status:         "4.4.1",
		RemoteMTA:      "mx.remote.test",
		DiagnosticCode: "451 4.4.1 mx.remote.test: connection timed out",
		LastAttempt:    when,
		WillRetryUntil: when.Add(44 * time.Hour),
	}}
	cases["en_delayed"] = delayed

	relayed := baseReport()
	relayed.Recipients = []RecipientStatus{{
		FinalRecipient:    "dave@example.test",
		OriginalRecipient: "rfc822;dave@example.test",
		Action:            ActionRelayed,
		Status:            "2.0.0",
		RemoteMTA:         "store.example.test",
		DiagnosticCode:    "250 2.0.0 Ok: queued as 4Xy1",
		LastAttempt:       when,
	}}
	cases["en_relayed"] = relayed

	hdrs := baseReport()
	hdrs.ReturnFull = false
	cases["en_ret_hdrs"] = hdrs
	full := baseReport()
	full.ReturnFull = true
	cases["en_ret_full"] = full

	big := baseReport()
	big.ReturnFull = true
	big.MaxReturnSize = 1024
	big.Original = []byte(sampleOriginal + strings.Repeat("All work and no play makes a dull report.\r\n", 100))
	cases["en_over_cap"] = big

	mixed := baseReport()
	mixed.Recipients = append(mixed.Recipients,
		RecipientStatus{FinalRecipient: "erin@example.test", Action: ActionDelivered, Status: "2.0.0", RemoteMTA: "store.example.test", DiagnosticCode: "250 2.0.0 <erin@example.test> Saved", LastAttempt: when},
		RecipientStatus{FinalRecipient: "frank@example.test", Action: ActionFailed, Status: "5.2.2", RemoteMTA: "store.example.test", DiagnosticCode: "552 5.2.2 <frank@example.test> Mailbox is full", LastAttempt: when},
	)
	mixed.Language = "de"
	cases["de_lmtp_mixed"] = mixed
	return cases
}

func TestGolden(t *testing.T) {
	t.Parallel()
	tmpl := DefaultTemplates()
	for name, r := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Build(r, tmpl)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Build differs from %s (run with -update after checking):\n--- got\n%s", path, got)
			}
			checkAgainst(t, got, r)
		})
	}
}

// checkAgainst parses b back and checks each field against r.
func checkAgainst(t *testing.T, b []byte, r *Report) *parsedReport {
	t.Helper()
	p, err := parseReport(b)
	if err != nil {
		t.Fatalf("parse back: %v\n%s", err, b)
	}
	from, _ := p.header.AddressList("From")
	if len(from) != 1 || from[0].Address != r.Postmaster || from[0].Name != fromName {
		t.Errorf("From = %v", from)
	}
	to, err := p.header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != r.To {
		t.Errorf("To = %v, %v", to, err)
	}
	if d, _ := p.header.Date(); !d.Equal(r.Date) {
		t.Errorf("Date = %v, want %v", d, r.Date)
	}
	if id, _ := p.header.MessageID(); "<"+id+">" != r.MessageID {
		t.Errorf("Message-Id = %q, want %q", id, r.MessageID)
	}
	subject, _ := p.header.Subject()
	wantSubject := map[string]map[string]string{
		"en": {KindFailure: "Undelivered Mail Returned to Sender", KindDelay: "Delayed Mail (still being retried)", KindSuccess: "Successful Mail Delivery Report"},
		"de": {KindFailure: "Unzustellbare Nachricht an den Absender zurückgeschickt", KindDelay: "Verzögerte Nachricht (Zustellung wird weiter versucht)", KindSuccess: "Bestätigung der Zustellung"},
	}[r.Language][r.kind()]
	if subject != wantSubject {
		t.Errorf("Subject = %q, want %q", subject, wantSubject)
	}
	if irt, _ := p.header.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "orig-1@example.test" {
		t.Errorf("In-Reply-To = %v", irt)
	}
	if refs, _ := p.header.MsgIDList("References"); len(refs) != 1 || refs[0] != "orig-1@example.test" {
		t.Errorf("References = %v", refs)
	}

	pm := p.perMessage
	if got := pm.Get("Reporting-Mta"); got != "dns; "+r.ReportingMTA {
		t.Errorf("Reporting-MTA = %q", got)
	}
	if got := pm.Get("Original-Envelope-Id"); got != r.EnvelopeID {
		t.Errorf("Original-Envelope-Id = %q", got)
	}
	if got := pm.Get("Arrival-Date"); got != r.ArrivalDate.Format(dateLayout) {
		t.Errorf("Arrival-Date = %q", got)
	}
	if len(p.perRecipient) != len(r.Recipients) {
		t.Fatalf("%d recipient groups, want %d", len(p.perRecipient), len(r.Recipients))
	}
	for i, rc := range r.Recipients {
		h := p.perRecipient[i]
		want := map[string]string{
			"Final-Recipient":    "rfc822; " + rc.FinalRecipient,
			"Original-Recipient": rc.OriginalRecipient,
			"Action":             string(rc.Action),
			"Status":             rc.Status,
			"Remote-Mta":         "dns; " + rc.RemoteMTA,
			"Diagnostic-Code":    "smtp; " + rc.DiagnosticCode,
			"Last-Attempt-Date":  rc.LastAttempt.Format(dateLayout),
			"Will-Retry-Until":   "",
		}
		if rc.Action == ActionDelayed {
			want["Will-Retry-Until"] = rc.WillRetryUntil.Format(dateLayout)
		}
		for k, v := range want {
			if got := h.Get(k); got != v {
				t.Errorf("recipient %d: %s = %q, want %q", i+1, k, got, v)
			}
		}
	}

	text := string(p.parts[0].body)
	for _, rc := range r.Recipients {
		if !strings.Contains(text, "<"+rc.FinalRecipient+">") {
			t.Errorf("text does not name %s:\n%s", rc.FinalRecipient, text)
		}
	}

	o := normalize(r.Original)
	max := r.MaxReturnSize
	if max <= 0 {
		max = DefaultMaxReturnSize
	}
	switch {
	case r.ReturnFull && len(o.full) <= max:
		if len(p.parts) != 3 || p.parts[2].mediaType != "message/rfc822" || !bytes.Equal(p.parts[2].body, o.full) {
			t.Errorf("RET=FULL: third part is not the whole original")
		}
	default:
		if len(p.parts) != 3 || p.parts[2].mediaType != "text/rfc822-headers" || !bytes.Equal(p.parts[2].body, o.header) {
			t.Errorf("third part is not the original's header")
		}
		if r.ReturnFull {
			says := map[string]string{"en": "only its header is attached", "de": "nur ihr Kopf angehängt"}[r.Language]
			if !strings.Contains(text, says) {
				t.Errorf("over-cap report does not say so (%q):\n%s", says, text)
			}
		}
	}
	return p
}

func TestHumanText(t *testing.T) {
	t.Parallel()
	cases := goldenCases()
	for _, c := range []struct {
		name string
		want []string
	}{
		{"en_failed", []string{"could not be delivered", "The address does not exist.", "550 5.1.1", "header of your message is attached"}},
		{"de_failed", []string{"nicht zugestellt werden", "Die Adresse existiert nicht.", "Antwort des Servers mx.remote.test", "Kopf Ihrer Nachricht"}},
		{"en_delayed", []string{"not been delivered yet", "keep trying until Thu, 06 Mar 2025 06:11:12 +0100"}},
		{"en_relayed", []string{"does not confirm delivery"}},
		{"en_ret_full", []string{"Your message is attached."}},
		{"de_lmtp_mixed", []string{"Das Postfach ist voll.", "Die Nachricht wurde zugestellt.", "<erin@example.test>"}},
	} {
		b, err := Build(cases[c.name], nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		p, err := parseReport(b)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, w := range c.want {
			if !strings.Contains(string(p.parts[0].body), w) {
				t.Errorf("%s: text lacks %q:\n%s", c.name, w, p.parts[0].body)
			}
		}
	}
}

func TestInjection(t *testing.T) {
	t.Parallel()
	r := baseReport()
	r.Recipients[0].DiagnosticCode = "550 5.1.1 unknown\r\nX-Injected: diag\r\n\r\nFinal-Recipient: rfc822; evil@x\nAction: delivered"
	r.Recipients[0].RemoteMTA = "mx.remote.test\r\nX-Injected: mta"
	r.Recipients[0].OriginalRecipient = "rfc822;bob@remote.test\r\nX-Injected: orcpt"
	r.EnvelopeID = "env\r\nX-Injected: envid"
	r.To = "alice@example.test>\r\nBcc: victim@example.net"
	r.Original = []byte("Message-ID: <a@b>\r\nBcc: victim@example.net\r\nSubject: hi\r\n\r\nbody\r\n")
	b, err := Build(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseReport(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if p.header.Has("Bcc") || p.header.Has("X-Injected") {
		t.Errorf("injected top-level field:\n%s", b)
	}
	if p.perMessage.Has("X-Injected") || len(p.perRecipient) != 1 {
		t.Fatalf("injected delivery-status fields or groups:\n%s", p.parts[1].body)
	}
	h := p.perRecipient[0]
	if h.Has("X-Injected") || h.Get("Action") != "failed" {
		t.Errorf("injected recipient field:\n%s", p.parts[1].body)
	}
	if got := h.Get("Diagnostic-Code"); !strings.Contains(got, "X-Injected: diag") || !strings.Contains(got, "evil@x") {
		t.Errorf("Diagnostic-Code = %q, want the whole text inside it", got)
	}
	if irt, _ := p.header.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "a@b" {
		t.Errorf("In-Reply-To = %v", irt)
	}
}

func TestLongLines(t *testing.T) {
	t.Parallel()
	r := baseReport()
	r.ReturnFull = true
	long := strings.Repeat("x", 3000)
	r.Recipients[0].DiagnosticCode = "550 5.1.1 " + long + " " + strings.Repeat("word ", 400)
	r.Original = []byte("Subject: " + long + "\r\nX-Long: " + long + "\n\n" + long + "\rlast")
	b, err := Build(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseReport(b)
	if err != nil {
		t.Fatalf("%v", err)
	}
	inner := p.parts[2].body
	if err := checkLines(inner); err != nil {
		t.Errorf("returned original: %v", err)
	}
	if got := strings.ReplaceAll(p.perRecipient[0].Get("Diagnostic-Code"), " ", ""); !strings.Contains(got, long) {
		t.Errorf("long diagnostic lost its text")
	}
}

func TestNonASCIIAddresses(t *testing.T) {
	t.Parallel()
	r := baseReport()
	r.Recipients[0].FinalRecipient = "jürgen@bücher.test"
	r.Recipients[0].OriginalRecipient = "rfc822;jürgen@bücher.test"
	b, err := Build(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseReport(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.perRecipient[0].Get("Final-Recipient"), `utf-8; j\x{FC}rgen@b\x{FC}cher.test`; got != want {
		t.Errorf("Final-Recipient = %q, want %q", got, want)
	}
	if got, want := p.perRecipient[0].Get("Original-Recipient"), `utf-8;j\x{FC}rgen@b\x{FC}cher.test`; got != want {
		t.Errorf("Original-Recipient = %q, want %q", got, want)
	}
}

func TestBuildRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		change func(*Report)
		want   error
	}{
		{"null sender", func(r *Report) { r.To = "" }, ErrNullSender},
		{"null sender brackets", func(r *Report) { r.To = "<>" }, ErrNullSender},
		{"no recipients", func(r *Report) { r.Recipients = nil }, ErrNoRecipients},
		{"bad action", func(r *Report) { r.Recipients[0].Action = "bounced" }, ErrInvalidRecipient},
		{"no final recipient", func(r *Report) { r.Recipients[0].FinalRecipient = " " }, ErrInvalidRecipient},
		{"no reporting MTA", func(r *Report) { r.ReportingMTA = "" }, ErrNoReportingMTA},
	} {
		r := baseReport()
		c.change(r)
		if _, err := Build(r, nil); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	r := baseReport()
	r.MessageID = ""
	r.Date = time.Time{}
	r.Postmaster = ""
	r.Language = "fr"
	r.Original = nil
	r.ArrivalDate = time.Time{}
	r.EnvelopeID = ""
	r.Recipients[0].Status = ""
	r.Recipients[0].OriginalRecipient = ""
	b1, err := Build(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := Build(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseReport(b1)
	if err != nil {
		t.Fatal(err)
	}
	id1, _ := p.header.MessageID()
	p2, _ := parseReport(b2)
	id2, _ := p2.header.MessageID()
	if id1 == id2 || !strings.HasSuffix(id1, "@gw.example.test") {
		t.Errorf("generated Message-IDs %q, %q", id1, id2)
	}
	if from, _ := p.header.AddressList("From"); len(from) != 1 || from[0].Address != "postmaster@gw.example.test" {
		t.Errorf("From = %v", from)
	}
	if s, _ := p.header.Subject(); s != "Undelivered Mail Returned to Sender" {
		t.Errorf("unknown language: Subject = %q", s)
	}
	if len(p.parts) != 2 {
		t.Errorf("no original: %d parts", len(p.parts))
	}
	if d, _ := p.header.Date(); d.IsZero() {
		t.Error("no Date")
	}
	h := p.perRecipient[0]
	if h.Get("Status") != "5.1.1" || h.Has("Original-Recipient") || p.perMessage.Has("Arrival-Date") || p.perMessage.Has("Original-Envelope-Id") {
		t.Errorf("fields:\n%s", p.parts[1].body)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rc   RecipientStatus
		want string
	}{
		{RecipientStatus{Action: ActionFailed, Status: "5.1.1"}, "5.1.1"},
		{RecipientStatus{Action: ActionFailed, Status: "4.4.7"}, "4.4.7"},
		{RecipientStatus{Action: ActionFailed, DiagnosticCode: "550-5.7.1 no"}, "5.7.1"},
		{RecipientStatus{Action: ActionFailed, DiagnosticCode: "smtp; 552 5.2.2 full"}, "5.2.2"},
		{RecipientStatus{Action: ActionFailed, DiagnosticCode: "550 4.1.1 mismatch"}, "5.0.0"},
		{RecipientStatus{Action: ActionFailed, Status: "5.1.1000"}, "5.0.0"},
		{RecipientStatus{Action: ActionFailed, Status: "2.0.0"}, "5.0.0"},
		{RecipientStatus{Action: ActionDelayed, Status: "5.4.1"}, "4.4.1"},
		{RecipientStatus{Action: ActionDelayed}, "4.0.0"},
		{RecipientStatus{Action: ActionRelayed, Status: "250"}, "2.0.0"},
		{RecipientStatus{Action: ActionDelivered, DiagnosticCode: "250 2.1.5 ok"}, "2.1.5"},
	} {
		if got := status(&c.rc); got != c.want {
			t.Errorf("status(%+v) = %q, want %q", c.rc, got, c.want)
		}
	}
}

func TestDiagnostic(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                          "",
		"550 5.1.1 unknown":         "smtp; 550 5.1.1 unknown",
		"550-first\r\n550 second":   "smtp; 550-first 550 second",
		"smtp;550 x":                "smtp; 550 x",
		"X-Postfix; host not found": "X-Postfix; host not found",
		"smtp;  ":                   "",
		"no route to remote.test":   "X-Bridgehead; no route to remote.test",
		"550 grüße":                 "smtp; 550 gr??e",
	} {
		if got := diagnostic(in); got != want {
			t.Errorf("diagnostic(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	o := normalize([]byte("A: 1\nB: 2\r\n\tcont\r\rbody\x00\nend"))
	if got, want := string(o.full), "A: 1\r\nB: 2\r\n\tcont\r\n\r\nbody \r\nend\r\n"; got != want {
		t.Errorf("full = %q, want %q", got, want)
	}
	if got, want := string(o.header), "A: 1\r\nB: 2\r\n\tcont\r\n"; got != want {
		t.Errorf("header = %q, want %q", got, want)
	}
	h, cut := capHeader(o.header, 12)
	if !cut || string(h) != "A: 1\r\n" {
		t.Errorf("capHeader = %q, %v", h, cut)
	}
}

func BenchmarkBuild(b *testing.B) {
	r := baseReport()
	r.ReturnFull = true
	r.Original = []byte(sampleOriginal + strings.Repeat("A line of a typical message body, some sixty characters.\r\n", 500))
	r.Recipients = append(r.Recipients, RecipientStatus{
		FinalRecipient: "carol@remote.test", Action: ActionDelayed, Status: "4.4.1",
		DiagnosticCode: "451 4.4.1 timeout", LastAttempt: when, WillRetryUntil: when.Add(time.Hour),
	})
	t := DefaultTemplates()
	b.ReportAllocs()
	b.SetBytes(int64(len(r.Original)))
	for b.Loop() {
		if _, err := Build(r, t); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCapEdges(t *testing.T) {
	t.Parallel()
	o := normalize([]byte(sampleOriginal))
	r := baseReport()
	r.ReturnFull = true
	r.MaxReturnSize = len(o.full)
	b, _ := Build(r, nil)
	if p, err := parseReport(b); err != nil || p.parts[2].mediaType != "message/rfc822" {
		t.Errorf("original of exactly the cap not returned whole: %v", err)
	}
	r.MaxReturnSize = len(o.full) - 1
	b, _ = Build(r, nil)
	if p, err := parseReport(b); err != nil || p.parts[2].mediaType != "text/rfc822-headers" {
		t.Errorf("original one over the cap returned whole: %v", err)
	}
	r.MaxReturnSize = 10 // smaller than the first field: nothing returned
	b, _ = Build(r, nil)
	p, err := parseReport(b)
	if err != nil || len(p.parts) != 2 || !strings.Contains(string(p.parts[0].body), "so it is not attached") {
		t.Errorf("nothing returned: %v, %d parts, text:\n%s", err, len(p.parts), p.parts[0].body)
	}
}
