package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/autoconfig"
)

// autoconfigSite starts the binary with an autoconfig listener and returns
// its base URL and an HTTP client for it.
func autoconfigSite(t *testing.T, useTLS bool) (base string, client *http.Client, s *site) {
	t.Helper()
	s = newSite(t)
	s.staticUsers(t, "alice", "secret", "alice@example.test")
	s.Routes = "  - domains: [\"*\"]\n    to: \"mailbox:\""
	cfgPath := s.writeConfig(t)
	addr := freeAddr(t)
	block := fmt.Sprintf(`
autoconfig:
  address: %s
  tls: %v
  display_name: "Example <Corp> & Co"
  imap: {host: imap.example.test, port: 993, tls: implicit}
  pop3: {host: pop.example.test, tls: starttls}
`, addr, useTLS)
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(block); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	startBridgehead(t, s.Dir, []string{s.Submission, s.Submissions, addr}, "serve", "-config", cfgPath)

	client = &http.Client{Timeout: 30 * time.Second}
	base = "http://" + addr
	if useTLS {
		pem, err := os.ReadFile(filepath.Join(s.Dir, "tls.crt"))
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}
		base = "https://" + addr
	}
	return base, client, s
}

// autoconfigPort returns the port of a host:port.
func autoconfigPort(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

func TestE2EAutoconfig(t *testing.T) {
	t.Parallel()
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[useTLS], func(t *testing.T) {
			t.Parallel()
			base, client, s := autoconfigSite(t, useTLS)
			tlsPort, starttlsPort := autoconfigPort(t, s.Submissions), autoconfigPort(t, s.Submission)
			get := func(t *testing.T, method, path, body string, want int) []byte {
				t.Helper()
				req, err := http.NewRequest(method, base+path, strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body != "" {
					req.Header.Set("Content-Type", "text/xml")
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != want {
					t.Fatalf("%s %s: status %d, want %d\n%s", method, path, resp.StatusCode, want, b)
				}
				return b
			}

			t.Run("thunderbird", func(t *testing.T) {
				for _, path := range []string{autoconfig.PathThunderbird, autoconfig.PathThunderbirdHost} {
					b := get(t, "GET", path+"?emailaddress=alice%40example.test", "", 200)
					var cc autoconfig.ClientConfig
					if err := xml.Unmarshal(b, &cc); err != nil {
						t.Fatalf("%v\n%s", err, b)
					}
					p := cc.EmailProvider
					if p.DisplayName != "Example <Corp> & Co" || len(p.Domains) != 1 || p.Domains[0] != "example.test" {
						t.Errorf("provider %q %q", p.DisplayName, p.Domains)
					}
					var got []string
					for _, s := range append(p.Incoming, p.Outgoing...) {
						got = append(got, fmt.Sprintf("%s %s:%d %s", s.Type, s.Hostname, s.Port, s.SocketType))
					}
					want := []string{"imap imap.example.test:993 SSL", "pop3 pop.example.test:110 STARTTLS",
						fmt.Sprintf("smtp gw.example.test:%d SSL", tlsPort), fmt.Sprintf("smtp gw.example.test:%d STARTTLS", starttlsPort)}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("%s: servers\n%q\nwant\n%q", path, got, want)
					}
				}
				get(t, "GET", autoconfig.PathThunderbird+"?emailaddress=eve%40elsewhere.test", "", 404)
			})

			t.Run("autodiscover", func(t *testing.T) {
				req := func(addr string) string {
					return `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="` + autoconfig.NSRequest + `"><Request><EMailAddress>` +
						addr + `</EMailAddress><AcceptableResponseSchema>` + autoconfig.NSOutlook + `</AcceptableResponseSchema></Request></Autodiscover>`
				}
				b := get(t, "POST", "/autodiscover/autodiscover.xml", req("alice@example.test"), 200)
				var resp autoconfig.ADResponse
				if err := xml.Unmarshal(b, &resp); err != nil {
					t.Fatalf("%v\n%s", err, b)
				}
				var got []string
				for _, p := range resp.Response.Account.Protocols {
					got = append(got, fmt.Sprintf("%s %s:%d %s %s", p.Type, p.Server, p.Port, p.Encryption, p.LoginName))
				}
				want := []string{"IMAP imap.example.test:993 SSL alice@example.test", "POP3 pop.example.test:110 TLS alice@example.test",
					fmt.Sprintf("SMTP gw.example.test:%d SSL alice@example.test", tlsPort)}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("protocols\n%q\nwant\n%q", got, want)
				}
				get(t, "POST", "/Autodiscover/Autodiscover.xml", req("eve@elsewhere.test"), 404)
				get(t, "POST", "/autodiscover/autodiscover.xml", "<oops", 400)
				get(t, "POST", "/autodiscover/autodiscover.xml", req(strings.Repeat("a", 100000)+"@example.test"), 413)
			})

			t.Run("mobileconfig", func(t *testing.T) {
				b := get(t, "GET", autoconfig.PathMobileconfig+"?email="+url.QueryEscape("alice@example.test"), "", 200)
				mail := mailPayload(t, b)
				for k, v := range map[string]string{
					"PayloadType":                  "com.apple.mail.managed",
					"EmailAddress":                 "alice@example.test",
					"IncomingMailServerHostName":   "imap.example.test",
					"IncomingMailServerPortNumber": "993",
					"OutgoingMailServerHostName":   "gw.example.test",
					"OutgoingMailServerPortNumber": strconv.Itoa(tlsPort),
					"OutgoingMailServerUseSSL":     "true",
				} {
					if mail[k] != v {
						t.Errorf("%s = %q, want %q", k, mail[k], v)
					}
				}
				get(t, "GET", autoconfig.PathMobileconfig+"?email=eve%40elsewhere.test", "", 404)
			})
		})
	}
}

// mailPayload parses an XML property list and returns the keys of its first
// inner dict (the mail payload) with their values as text (true/false for
// booleans).
func mailPayload(t *testing.T, data []byte) map[string]string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(data)))
	out := map[string]string{}
	depth, key := 0, ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plist: %v\n%s", err, data)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			switch tok.Name.Local {
			case "dict":
				depth++
			case "key", "string", "integer":
				var s string
				if err := d.DecodeElement(&s, &tok); err != nil {
					t.Fatal(err)
				}
				if depth != 2 {
					continue
				}
				if tok.Name.Local == "key" {
					key = s
				} else {
					out[key] = s
				}
			case "true", "false":
				if depth == 2 {
					out[key] = tok.Name.Local
				}
			}
		case xml.EndElement:
			if tok.Name.Local == "dict" {
				depth--
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("plist without an inner dict:\n%s", data)
	}
	return out
}
