package autoconfig

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// testOptions is a site with IMAP and POP3 back ends, both submission
// ports and OAuth2.
func testOptions() Options {
	return Options{
		Domains:     []string{"example.test", "Example.ORG"},
		DisplayName: "Example <Mail> & Co",
		IMAP:        &Server{Host: "imap.example.test", Port: 993, Security: ImplicitTLS},
		POP3:        &Server{Host: "pop.example.test", Port: 110, Security: STARTTLS},
		Submission: []Server{
			{Host: "gw.example.test", Port: 465, Security: ImplicitTLS},
			{Host: "gw.example.test", Port: 587, Security: STARTTLS},
		},
		OAuth2: true,
	}
}

func newTestHandler(t *testing.T, o Options) *Handler {
	t.Helper()
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// do runs one request against h.
func do(t *testing.T, h http.Handler, method, target, host, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if host != "" {
		req.Host = host
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestThunderbird(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, testOptions())
	for _, path := range []string{PathThunderbird, PathThunderbirdHost} {
		rec := do(t, h, "GET", path+"?emailaddress="+url.QueryEscape("bob@example.org"), "", "")
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", path, rec.Code, rec.Body)
		}
		var cc ClientConfig
		if err := xml.Unmarshal(rec.Body.Bytes(), &cc); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, rec.Body)
		}
		p := cc.EmailProvider
		if cc.Version != "1.1" || p.ID != "example.org" || len(p.Domains) != 1 || p.Domains[0] != "example.org" {
			t.Errorf("%s: version %q, provider %q, domains %q", path, cc.Version, p.ID, p.Domains)
		}
		if p.DisplayName != "Example <Mail> & Co" {
			t.Errorf("display name %q", p.DisplayName)
		}
		want := []string{
			"imap imap.example.test 993 SSL [password-cleartext] %EMAILADDRESS%",
			"pop3 pop.example.test 110 STARTTLS [password-cleartext] %EMAILADDRESS%",
		}
		checkTB(t, "incoming", p.Incoming, want)
		checkTB(t, "outgoing", p.Outgoing, []string{
			"smtp gw.example.test 465 SSL [password-cleartext OAuth2] %EMAILADDRESS%",
			"smtp gw.example.test 587 STARTTLS [password-cleartext OAuth2] %EMAILADDRESS%",
		})
	}
}

func checkTB(t *testing.T, what string, got []TBServer, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d servers, want %d: %+v", what, len(got), len(want), got)
	}
	for i, s := range got {
		if g := fmt.Sprintf("%s %s %d %s %v %s", s.Type, s.Hostname, s.Port, s.SocketType, s.Authentication, s.Username); g != want[i] {
			t.Errorf("%s %d: %s, want %s", what, i, g, want[i])
		}
	}
}

func TestThunderbirdLocalPartNoOAuth(t *testing.T) {
	t.Parallel()
	o := testOptions()
	o.POP3, o.OAuth2, o.Username = nil, false, UsernameLocalPart
	o.Submission = o.Submission[1:]
	h := newTestHandler(t, o)
	rec := do(t, h, "GET", PathThunderbirdHost, "autoconfig.example.test", "")
	var cc ClientConfig
	if err := xml.Unmarshal(rec.Body.Bytes(), &cc); err != nil || rec.Code != 200 {
		t.Fatalf("status %d, %v", rec.Code, err)
	}
	if d := cc.EmailProvider.Domains; len(d) != 1 || d[0] != "example.test" {
		t.Errorf("domains %q, want the request host's", d)
	}
	checkTB(t, "incoming", cc.EmailProvider.Incoming, []string{"imap imap.example.test 993 SSL [password-cleartext] %EMAILLOCALPART%"})
	checkTB(t, "outgoing", cc.EmailProvider.Outgoing, []string{"smtp gw.example.test 587 STARTTLS [password-cleartext] %EMAILLOCALPART%"})

	// Without an address or autoconfig host name: every domain.
	rec = do(t, h, "GET", PathThunderbird, "mail.example.test", "")
	cc = ClientConfig{}
	if err := xml.Unmarshal(rec.Body.Bytes(), &cc); err != nil || len(cc.EmailProvider.Domains) != 2 {
		t.Errorf("all domains: %v, %q", err, cc.EmailProvider.Domains)
	}
}

func TestForeignDomainRefused(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, testOptions())
	const adBody = `<Autodiscover xmlns="` + NSRequest + `"><Request><EMailAddress>eve@evil.test</EMailAddress><AcceptableResponseSchema>` + NSOutlook + `</AcceptableResponseSchema></Request></Autodiscover>`
	for _, c := range []struct {
		method, target, host, body string
		want                       int
	}{
		{"GET", PathThunderbird + "?emailaddress=eve%40evil.test", "", "", 404},
		{"GET", PathThunderbirdHost, "autoconfig.evil.test", "", 404},
		{"GET", PathThunderbird + "?emailaddress=not-an-address", "", "", 400},
		{"POST", PathAutodiscover, "", adBody, 404},
		{"GET", PathMobileconfig + "?email=eve%40evil.test", "", "", 404},
		{"GET", PathMobileconfig, "", "", 400},
		{"GET", PathMobileconfig + "?email=%22a%3Cb%22%40example.test%3E", "", "", 400},
		{"GET", "/other", "", "", 404},
	} {
		rec := do(t, h, c.method, c.target, c.host, c.body)
		if rec.Code != c.want {
			t.Errorf("%s %s (host %q): status %d, want %d", c.method, c.target, c.host, rec.Code, c.want)
		}
	}
}

func TestAutodiscover(t *testing.T) {
	t.Parallel()
	o := testOptions()
	o.Username = UsernameLocalPart
	h := newTestHandler(t, o)
	body := `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="` + NSRequest + `">
  <Request>
    <EMailAddress>carol@EXAMPLE.test</EMailAddress>
    <AcceptableResponseSchema>` + NSOutlook + `</AcceptableResponseSchema>
  </Request>
</Autodiscover>`
	for _, path := range []string{PathAutodiscover, "/Autodiscover/Autodiscover.xml"} {
		rec := do(t, h, "POST", path, "", body)
		if rec.Code != 200 {
			t.Fatalf("%s: status %d: %s", path, rec.Code, rec.Body)
		}
		var resp ADResponse
		if err := xml.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		if resp.XMLName.Space != NSResponse {
			t.Errorf("envelope namespace %q", resp.XMLName.Space)
		}
		// The Response element must be in the Outlook 2006a namespace.
		if !strings.Contains(rec.Body.String(), `<Response xmlns="`+NSOutlook+`">`) {
			t.Errorf("no 2006a Response element:\n%s", rec.Body)
		}
		a := resp.Response.Account
		if a.AccountType != "email" || a.Action != "settings" {
			t.Errorf("account %q/%q", a.AccountType, a.Action)
		}
		var got []string
		for _, p := range a.Protocols {
			got = append(got, fmt.Sprintf("%s %s %d %s %s %s", p.Type, p.Server, p.Port, p.SSL, p.Encryption, p.LoginName))
		}
		want := []string{
			"IMAP imap.example.test 993 on SSL carol",
			"POP3 pop.example.test 110 on TLS carol",
			"SMTP gw.example.test 465 on SSL carol",
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("protocols\n%q\nwant\n%q", got, want)
		}
	}
}

func TestAutodiscoverErrors(t *testing.T) {
	t.Parallel()
	o := testOptions()
	o.MaxBodySize = 1024
	h := newTestHandler(t, o)
	req := func(addr, schema string) string {
		return `<Autodiscover xmlns="` + NSRequest + `"><Request><EMailAddress>` + addr +
			`</EMailAddress><AcceptableResponseSchema>` + schema + `</AcceptableResponseSchema></Request></Autodiscover>`
	}
	for _, c := range []struct {
		name, method, body string
		status, code       int
	}{
		{"get", "GET", "", 405, 600},
		{"not xml", "POST", "hello", 400, 600},
		{"wrong root", "POST", `<Foo><Request/></Foo>`, 400, 600},
		{"no namespace", "POST", `<Autodiscover><Request><EMailAddress>a@example.test</EMailAddress></Request></Autodiscover>`, 400, 600},
		{"bad address", "POST", req("nobody", NSOutlook), 400, 600},
		{"mobilesync schema", "POST", req("a@example.test", "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"), 400, 601},
		{"foreign", "POST", req("a@example.net", NSOutlook), 404, 500},
		{"too big", "POST", req("a@example.test"+strings.Repeat(" ", 2000), NSOutlook), 413, 600},
		{"entity", "POST", `<!DOCTYPE a [<!ENTITY x "y">]>` + req("&x;@example.test", NSOutlook), 400, 600},
	} {
		rec := do(t, h, c.method, PathAutodiscover, "", c.body)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d", c.name, rec.Code, c.status)
		}
		var e ADErrorResponse
		if err := xml.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Errorf("%s: %v\n%s", c.name, err, rec.Body)
			continue
		}
		if e.Response.Error.ErrorCode != c.code {
			t.Errorf("%s: error code %d, want %d", c.name, e.Response.Error.ErrorCode, c.code)
		}
	}
}

func TestMobileconfig(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, testOptions())
	rec := do(t, h, "GET", PathMobileconfig+"?email="+url.QueryEscape("dave@example.test"), "", "")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/x-apple-aspen-config" {
		t.Errorf("content type %q", ct)
	}
	top := parsePlist(t, rec.Body.Bytes())
	if top["PayloadType"] != "Configuration" || top["PayloadVersion"] != 1 {
		t.Errorf("profile: %v", top)
	}
	content, _ := top["PayloadContent"].([]any)
	if len(content) != 1 {
		t.Fatalf("PayloadContent %v", top["PayloadContent"])
	}
	mail := content[0].(map[string]any)
	want := map[string]any{
		"PayloadType":                      "com.apple.mail.managed",
		"EmailAccountType":                 "EmailTypeIMAP",
		"EmailAddress":                     "dave@example.test",
		"EmailAccountDescription":          "Example <Mail> & Co",
		"IncomingMailServerHostName":       "imap.example.test",
		"IncomingMailServerPortNumber":     993,
		"IncomingMailServerUseSSL":         true,
		"IncomingMailServerUsername":       "dave@example.test",
		"IncomingMailServerAuthentication": "EmailAuthPassword",
		"OutgoingMailServerHostName":       "gw.example.test",
		"OutgoingMailServerPortNumber":     465,
		"OutgoingMailServerUseSSL":         true,
		"OutgoingMailServerUsername":       "dave@example.test",
		"OutgoingMailServerAuthentication": "EmailAuthPassword",
	}
	for k, v := range want {
		if mail[k] != v {
			t.Errorf("%s = %#v, want %#v", k, mail[k], v)
		}
	}
	if top["PayloadUUID"] == mail["PayloadUUID"] || len(mail["PayloadUUID"].(string)) != 36 {
		t.Errorf("UUIDs %v, %v", top["PayloadUUID"], mail["PayloadUUID"])
	}

	// POP3 only.
	o := testOptions()
	o.IMAP = nil
	rec = do(t, newTestHandler(t, o), "GET", PathMobileconfig+"?email=dave%40example.test", "", "")
	mail = parsePlist(t, rec.Body.Bytes())["PayloadContent"].([]any)[0].(map[string]any)
	if mail["EmailAccountType"] != "EmailTypePOP" || mail["IncomingMailServerPortNumber"] != 110 {
		t.Errorf("pop3 profile: %v", mail)
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no domains", func(o *Options) { o.Domains = nil }, "domain"},
		{"bad domain", func(o *Options) { o.Domains = []string{`a"b`} }, "not a host name"},
		{"no store", func(o *Options) { o.IMAP, o.POP3 = nil, nil }, "IMAP or POP3"},
		{"no submission", func(o *Options) { o.Submission = nil }, "submission"},
		{"bad port", func(o *Options) { o.IMAP.Port = 0 }, "port"},
		{"bad security", func(o *Options) { o.POP3.Security = "ssl" }, "security"},
		{"bad username", func(o *Options) { o.Username = "upn" }, "username"},
	} {
		o := testOptions()
		c.edit(&o)
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// parsePlist decodes an XML property list into Go values: dict →
// map[string]any, array → []any, string, integer → int, true/false → bool.
func parsePlist(t *testing.T, data []byte) map[string]any {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(data)))
	for {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("plist: no root: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "plist" {
				t.Fatalf("plist: root %s", se.Name.Local)
			}
			break
		}
	}
	v, err := plistValue(d)
	if err != nil {
		t.Fatalf("plist: %v\n%s", err, data)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("plist: top value %T", v)
	}
	return m
}

// plistValue reads the next value element.
func plistValue(d *xml.Decoder) (any, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.EndElement:
			return nil, io.EOF // end of the enclosing container
		case xml.StartElement:
			switch tok.Name.Local {
			case "string", "integer", "key":
				var s string
				if err := d.DecodeElement(&s, &tok); err != nil {
					return nil, err
				}
				if tok.Name.Local == "integer" {
					var n int
					_, err := fmt.Sscan(s, &n)
					return n, err
				}
				return s, nil
			case "true", "false":
				if err := d.Skip(); err != nil {
					return nil, err
				}
				return tok.Name.Local == "true", nil
			case "array":
				var a []any
				for {
					v, err := plistValue(d)
					if err == io.EOF {
						return a, nil
					}
					if err != nil {
						return nil, err
					}
					a = append(a, v)
				}
			case "dict":
				m := map[string]any{}
				for {
					k, err := plistValue(d)
					if err == io.EOF {
						return m, nil
					}
					if err != nil {
						return nil, err
					}
					v, err := plistValue(d)
					if err != nil {
						return nil, fmt.Errorf("dict key %v: %w", k, err)
					}
					m[k.(string)] = v
				}
			default:
				return nil, fmt.Errorf("unknown element %s", tok.Name.Local)
			}
		}
	}
}
