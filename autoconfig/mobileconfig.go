package autoconfig

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// mobileconfig serves an unsigned Apple configuration profile for the
// address in ?email=, with one com.apple.mail.managed payload: the IMAP
// (else POP3) store for incoming mail, bridgehead's preferred submission
// port for outgoing.
func (h *Handler) mobileconfig(w http.ResponseWriter, r *http.Request) {
	addr, local, domain, ok := parseAddress(r.URL.Query().Get("email"))
	switch {
	case !ok:
		h.refuse(w, r, http.StatusBadRequest, "bad or missing email")
		return
	case !h.hasDomain(domain):
		h.refuse(w, r, http.StatusNotFound, "domain not served")
		return
	}
	body, err := encodePlist(h.profile(addr, h.loginFor(addr, local), domain))
	if err != nil {
		h.refuse(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-apple-aspen-config")
	w.Header().Set("Content-Disposition", `attachment; filename="`+profileFileName(domain)+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// profile builds the configuration profile of one address.
func (h *Handler) profile(addr, login, domain string) plistDict {
	inType, in := "EmailTypeIMAP", h.o.IMAP
	if in == nil {
		inType, in = "EmailTypePOP", h.o.POP3
	}
	out := h.o.Submission[0]
	auth := "EmailAuthPassword"
	ident := reverseDomain(domain) + ".bridgehead"
	payload := plistDict{
		{"EmailAccountDescription", h.o.DisplayName},
		{"EmailAccountType", inType},
		{"EmailAddress", addr},
		{"IncomingMailServerAuthentication", auth},
		{"IncomingMailServerHostName", in.Host},
		{"IncomingMailServerPortNumber", in.Port},
		{"IncomingMailServerUseSSL", true},
		{"IncomingMailServerUsername", login},
		{"OutgoingMailServerAuthentication", auth},
		{"OutgoingMailServerHostName", out.Host},
		{"OutgoingMailServerPortNumber", out.Port},
		{"OutgoingMailServerUseSSL", true},
		{"OutgoingMailServerUsername", login},
		{"OutgoingPasswordSameAsIncomingPassword", true},
		{"PayloadDescription", "E-mail account " + addr},
		{"PayloadDisplayName", h.o.DisplayName},
		{"PayloadIdentifier", ident + ".mail"},
		{"PayloadType", "com.apple.mail.managed"},
		{"PayloadUUID", stableUUID("mail", addr)},
		{"PayloadVersion", 1},
		{"PreventAppSheet", false},
		{"PreventMove", false},
		{"SMIMEEnabled", false},
	}
	return plistDict{
		{"PayloadContent", []plistDict{payload}},
		{"PayloadDescription", "Mail settings for " + addr},
		{"PayloadDisplayName", h.o.DisplayName},
		{"PayloadIdentifier", ident},
		{"PayloadRemovalDisallowed", false},
		{"PayloadType", "Configuration"},
		{"PayloadUUID", stableUUID("profile", addr)},
		{"PayloadVersion", 1},
	}
}

// stableUUID derives a UUID (version 8, RFC 9562) from its inputs, so that
// installing a profile again replaces the old one.
func stableUUID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// reverseDomain turns example.test into test.example.
func reverseDomain(d string) string {
	labels := strings.Split(d, ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	return strings.Join(labels, ".")
}

// profileFileName is the download's file name; domain is already checked
// against the configured domains, so it is a plain host name.
func profileFileName(domain string) string {
	return domain + ".mobileconfig"
}
