package autoconfig

import (
	"encoding/xml"
	"net/http"
	"strconv"
)

// ClientConfig is Thunderbird's clientConfig document, version 1.1
// (https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat).
type ClientConfig struct {
	XMLName       xml.Name      `xml:"clientConfig"`
	Version       string        `xml:"version,attr"`
	EmailProvider EmailProvider `xml:"emailProvider"`
}

// EmailProvider is clientConfig's emailProvider.
type EmailProvider struct {
	ID               string     `xml:"id,attr"`
	Domains          []string   `xml:"domain"`
	DisplayName      string     `xml:"displayName"`
	DisplayShortName string     `xml:"displayShortName"`
	Incoming         []TBServer `xml:"incomingServer"`
	Outgoing         []TBServer `xml:"outgoingServer"`
}

// TBServer is an incomingServer or outgoingServer.
type TBServer struct {
	Type           string   `xml:"type,attr"`
	Hostname       string   `xml:"hostname"`
	Port           int      `xml:"port"`
	SocketType     string   `xml:"socketType"`
	Authentication []string `xml:"authentication"`
	Username       string   `xml:"username"`
}

// socketType is Thunderbird's name for a Security.
func socketType(s Security) string {
	if s == STARTTLS {
		return "STARTTLS"
	}
	return "SSL"
}

// clientConfig builds the answer for the given domains.
func (h *Handler) clientConfig(domains []string) ClientConfig {
	user := "%EMAILADDRESS%"
	if h.o.Username == UsernameLocalPart {
		user = "%EMAILLOCALPART%"
	}
	server := func(typ string, s Server, auth []string) TBServer {
		return TBServer{Type: typ, Hostname: s.Host, Port: s.Port, SocketType: socketType(s.Security),
			Authentication: auth, Username: user}
	}
	p := EmailProvider{ID: domains[0], Domains: domains, DisplayName: h.o.DisplayName, DisplayShortName: h.o.DisplayName}
	if h.o.IMAP != nil {
		p.Incoming = append(p.Incoming, server("imap", *h.o.IMAP, []string{"password-cleartext"}))
	}
	if h.o.POP3 != nil {
		p.Incoming = append(p.Incoming, server("pop3", *h.o.POP3, []string{"password-cleartext"}))
	}
	auth := []string{"password-cleartext"}
	if h.o.OAuth2 {
		auth = append(auth, "OAuth2")
	}
	for _, s := range h.o.Submission {
		p.Outgoing = append(p.Outgoing, server("smtp", s, auth))
	}
	return ClientConfig{Version: "1.1", EmailProvider: p}
}

// thunderbird serves the autoconfig file. With ?emailaddress= (as
// Thunderbird sends it) the address's domain must be configured; without,
// a request to autoconfig.DOMAIN is answered for DOMAIN, any other for all
// configured domains.
func (h *Handler) thunderbird(w http.ResponseWriter, r *http.Request) {
	domains := h.o.Domains
	if q := r.URL.Query().Get("emailaddress"); q != "" {
		_, _, d, ok := parseAddress(q)
		switch {
		case !ok:
			h.refuse(w, r, http.StatusBadRequest, "bad emailaddress")
			return
		case !h.hasDomain(d):
			h.refuse(w, r, http.StatusNotFound, "domain not served")
			return
		}
		domains = []string{d}
	} else if d := requestHostDomain(r); d != "" {
		if !h.hasDomain(d) {
			h.refuse(w, r, http.StatusNotFound, "domain not served")
			return
		}
		domains = []string{d}
	}
	writeXML(w, "application/xml; charset=utf-8", http.StatusOK, h.clientConfig(domains))
}

// writeXML writes v as an XML document.
func writeXML(w http.ResponseWriter, contentType string, status int, v any) {
	out, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	body := append([]byte(xml.Header), out...)
	body = append(body, '\n')
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
