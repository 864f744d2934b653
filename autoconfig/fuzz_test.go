package autoconfig

import (
	"encoding/xml"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzAutodiscover feeds arbitrary request bodies: every answer must be
// well-formed XML, and only an address of a configured domain gets settings.
func FuzzAutodiscover(f *testing.F) {
	f.Add(`<Autodiscover xmlns="` + NSRequest + `"><Request><EMailAddress>a@example.test</EMailAddress></Request></Autodiscover>`)
	f.Add(`<Autodiscover xmlns="` + NSRequest + `"><Request><EMailAddress>a@evil.test</EMailAddress></Request></Autodiscover>`)
	f.Add(`<x>`)
	h, err := New(testOptions())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", PathAutodiscover, strings.NewReader(body)))
		var v struct {
			XMLName xml.Name
		}
		if err := xml.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("status %d, answer not XML: %v\n%s", rec.Code, err, rec.Body)
		}
		if rec.Code == 200 {
			var resp ADResponse
			if err := xml.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			login := resp.Response.Account.Protocols[0].LoginName
			if i := strings.LastIndexByte(login, '@'); i < 0 || !h.hasDomain(login[i+1:]) {
				t.Fatalf("settings for %q", login)
			}
		}
	})
}

// FuzzMobileconfig feeds arbitrary addresses to the profile.
func FuzzMobileconfig(f *testing.F) {
	f.Add("a@example.test")
	f.Add(`"<x>"@example.test`)
	h, err := New(testOptions())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, email string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", PathMobileconfig+"?email="+url.QueryEscape(email), nil))
		if rec.Code != 200 {
			return
		}
		top := parsePlist(t, rec.Body.Bytes())
		mail := top["PayloadContent"].([]any)[0].(map[string]any)
		if mail["EmailAddress"] != strings.TrimSpace(email) {
			t.Fatalf("EmailAddress %q, asked for %q", mail["EmailAddress"], email)
		}
	})
}
