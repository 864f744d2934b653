package gateway

import (
	"bufio"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"bridgehead.dev/bridgehead/gateway/protolog"
	"bridgehead.dev/bridgehead/metrics"
)

// metricValue is the value of the series name{labels} in reg; 0 when absent.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			return value(m)
		}
	}
	return 0
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// logLines reads a protocol log back as field maps, by its #Fields header.
func logLines(t *testing.T, dir string) []map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "ex*.log"))
	if err != nil || len(files) != 1 {
		t.Fatalf("log files %v, %v; want one", files, err)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fields []string
	var out []map[string]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if v, ok := strings.CutPrefix(line, "#Fields: "); ok {
			fields = strings.Fields(v)
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		vals := strings.Split(line, " ")
		if len(vals) != len(fields) {
			t.Fatalf("line %q has %d fields, #Fields names %d", line, len(vals), len(fields))
		}
		m := map[string]string{}
		for i, f := range fields {
			m[f] = vals[i]
		}
		out = append(out, m)
	}
	return out
}

func TestSessionMetricsAndProtocolLog(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	pl, err := protolog.Open(protolog.Options{Dir: logDir, Site: lnSubmission, Computer: hostname})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	tg := startGateway(t, func(st *setup) {
		st.Opts.Metrics = m
		st.ProtocolLog = pl
	})

	// A wrong password, then the right one; a refused recipient, an
	// unowned sender, a message accepted.
	c := tg.afterSTARTTLS(t, lnSubmission)
	if r := c.authPlain(aliceLogin, "wrong"); r.code != 535 {
		t.Fatalf("AUTH with a wrong password = %v", r)
	}
	if r := c.authPlain(aliceLogin, alicePass); r.code != 235 {
		t.Fatalf("AUTH = %v", r)
	}
	if r := c.cmd("MAIL FROM:<%s>", bob); r.code != 553 {
		t.Fatalf("MAIL as bob = %v", r)
	}
	if r := c.cmd("MAIL FROM:<%s>", alice); r.code != 250 {
		t.Fatalf("MAIL = %v", r)
	}
	if r := c.cmd("RCPT TO:<nobody@example.test>"); r.code != 550 {
		t.Fatalf("RCPT unknown = %v", r)
	}
	if r := c.cmd("RCPT TO:<%s>", bob); r.code != 250 {
		t.Fatalf("RCPT = %v", r)
	}
	msg := message(alice, "metrics")
	if r := c.data(msg); r.code != 250 {
		t.Fatalf("DATA = %v", r)
	}
	if r := c.cmd("RSET"); r.code != 250 {
		t.Fatalf("RSET = %v", r)
	}
	c.quit()
	c.expectClosed()

	sub := map[string]string{"listener": lnSubmission}
	// The client sees the end at TLS's close_notify, written before the
	// connection underneath closes and counts itself out: wait for that.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if metricValue(t, reg, "bridgehead_sessions_active", sub) == 0 {
			break
		}
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"bridgehead_tls_handshakes_total", map[string]string{"listener": lnSubmission, "version": "TLS1.3"}, 1},
		{"bridgehead_auth_total", map[string]string{"listener": lnSubmission, "mechanism": "PLAIN", "result": "failure"}, 1},
		{"bridgehead_auth_total", map[string]string{"listener": lnSubmission, "mechanism": "PLAIN", "result": "success"}, 1},
		{"bridgehead_messages_refused_total", map[string]string{"listener": lnSubmission, "reason": "sender"}, 1},
		{"bridgehead_messages_refused_total", map[string]string{"listener": lnSubmission, "reason": "recipient"}, 1},
		{"bridgehead_messages_accepted_total", sub, 1},
		{"bridgehead_message_size_bytes", sub, 1},
		{"bridgehead_connections_total", sub, 1},
		{"bridgehead_sessions_active", sub, 0},
	} {
		if got := metricValue(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}

	if err := pl.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := logLines(t, logDir)
	var got []string
	for _, l := range lines {
		got = append(got, l["cs-method"]+" "+l["sc-status"])
		if l["c-ip"] != "127.0.0.1" || l["s-sitename"] != lnSubmission || l["s-computername"] != hostname {
			t.Errorf("line %v: wrong c-ip, s-sitename or s-computername", l)
		}
	}
	want := []string{"EHLO 250", "STARTTLS 220", "EHLO 250", "AUTH 535", "AUTH 235", "MAIL 553", "MAIL 250",
		"RCPT 550", "RCPT 250", "DATA 250", "RSET 250", "QUIT 240"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("commands logged:\n%v\nwant:\n%v", got, want)
	}
	if u := lines[3]["cs-username"]; u != "-" {
		t.Errorf("failed AUTH cs-username = %q, want -", u)
	}
	if u := lines[4]["cs-username"]; u != aliceLogin {
		t.Errorf("AUTH cs-username = %q, want %s", u, aliceLogin)
	}
	if q := lines[4]["cs-uri-query"]; q != "PLAIN" {
		t.Errorf("AUTH cs-uri-query = %q, want PLAIN", q)
	}
	if q := lines[7]["cs-uri-query"]; q != "TO:<nobody@example.test>" {
		t.Errorf("RCPT cs-uri-query = %q", q)
	}
	if b := lines[9]["cs-bytes"]; b == "0" || b == "-" {
		t.Errorf("DATA cs-bytes = %q, want the message size", b)
	}
	all := readAll(t, logDir)
	for _, secret := range []string{alicePass, base64.StdEncoding.EncodeToString([]byte("\x00" + aliceLogin + "\x00" + alicePass))} {
		if strings.Contains(all, secret) {
			t.Errorf("protocol log contains %q", secret)
		}
	}
}

func readAll(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

func TestRefusalReasons(t *testing.T) {
	t.Parallel()
	s := &session{}
	for _, tc := range []struct {
		verb string
		err  error
		why  string
		want string
	}{
		{"MAIL", replyAuthRequired, "", metrics.ReasonAuth},
		{"MAIL", replyLocalError, "", metrics.ReasonLimit},
		{"DATA", replyLocalError, "", metrics.ReasonQueue},
		{"DATA", replyBareLF, "", metrics.ReasonSmuggling},
		{"DATA", replyTooBig, "", metrics.ReasonSize},
		{"RCPT", replyRelayDenied, "", metrics.ReasonRelay},
		{"RCPT", replyTooManyRecipients, "", metrics.ReasonLimit},
		{"DATA", replyNoFrom, "", metrics.ReasonSyntax},
		{"DATA", replyLoop, "", metrics.ReasonOther},
		{"DATA", replyLocalError, metrics.ReasonFilter, metrics.ReasonFilter},
	} {
		s.obs.why = tc.why
		if got := s.refusalReason(tc.verb, tc.err); got != tc.want {
			t.Errorf("%s %v: reason %q, want %q", tc.verb, tc.err, got, tc.want)
		}
	}
}

func TestAuthResults(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := &session{gw: &Gateway{opts: Options{Metrics: m}}, lo: &ListenerOptions{Name: lnSubmission}}
	for _, err := range []error{
		nil,
		&smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}},
		&smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}},
		&smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}},
		replyEncryptionRequired,
	} {
		s.authDone("login", time.Now(), err)
	}
	for result, want := range map[string]float64{"success": 1, "failure": 2, "throttled": 1, "error": 1} {
		got := metricValue(t, reg, "bridgehead_auth_total", map[string]string{"listener": lnSubmission, "mechanism": "LOGIN", "result": result})
		if got != want {
			t.Errorf("auth_total{result=%q} = %v, want %v", result, got, want)
		}
	}
	if got := metricValue(t, reg, "bridgehead_throttled_total", map[string]string{"listener": lnSubmission}); got != 1 {
		t.Errorf("throttled_total = %v, want 1", got)
	}
}
