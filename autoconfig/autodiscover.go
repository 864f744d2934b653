package autoconfig

import (
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Autodiscover namespaces (MS-OXDSCLI).
const (
	// NSRequest is the namespace of a POX request.
	NSRequest = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
	// NSResponse is the namespace of the response envelope and errors.
	NSResponse = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	// NSOutlook is the response schema answered: Outlook's 2006a.
	NSOutlook = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)

// ADRequest is a POX Autodiscover request.
type ADRequest struct {
	XMLName xml.Name `xml:"Autodiscover"`
	Request struct {
		EMailAddress             string `xml:"EMailAddress"`
		AcceptableResponseSchema string `xml:"AcceptableResponseSchema"`
	} `xml:"Request"`
}

// ADResponse is a successful Autodiscover answer.
type ADResponse struct {
	XMLName  xml.Name        `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response ADOutlookAnswer `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Response"`
}

// ADOutlookAnswer is the 2006a Response element.
type ADOutlookAnswer struct {
	User    ADUser    `xml:"User"`
	Account ADAccount `xml:"Account"`
}

// ADUser is the Response's User element.
type ADUser struct {
	DisplayName string `xml:"DisplayName"`
}

// ADAccount is the Response's Account element.
type ADAccount struct {
	AccountType string       `xml:"AccountType"`
	Action      string       `xml:"Action"`
	Protocols   []ADProtocol `xml:"Protocol"`
}

// ADProtocol is one Protocol element: IMAP, POP3 or SMTP.
type ADProtocol struct {
	Type           string `xml:"Type"`
	Server         string `xml:"Server"`
	Port           int    `xml:"Port"`
	DomainRequired string `xml:"DomainRequired"`
	LoginName      string `xml:"LoginName"`
	SPA            string `xml:"SPA"`
	SSL            string `xml:"SSL"`
	Encryption     string `xml:"Encryption"`
	AuthRequired   string `xml:"AuthRequired"`
	UsePOPAuth     string `xml:"UsePOPAuth,omitempty"`
	SMTPLast       string `xml:"SMTPLast,omitempty"`
}

// ADErrorResponse is an Autodiscover error answer.
type ADErrorResponse struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response struct {
		Error ADError `xml:"Error"`
	} `xml:"Response"`
}

// ADError is an Autodiscover Error element.
type ADError struct {
	Time      string `xml:"Time,attr"`
	ID        string `xml:"Id,attr"`
	ErrorCode int    `xml:"ErrorCode"`
	Message   string `xml:"Message"`
	DebugData string `xml:"DebugData"`
}

// Autodiscover error codes.
const (
	adCodeNotFound      = 500 // the e-mail address cannot be found
	adCodeInvalid       = 600 // invalid request
	adCodeSchemaMissing = 601 // the requested schema is not available
)

// autodiscover answers a POX request.
func (h *Handler) autodiscover(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.adError(w, r, http.StatusMethodNotAllowed, adCodeInvalid, "Invalid Request")
		return
	}
	body := http.MaxBytesReader(w, r.Body, h.o.MaxBodySize)
	var req ADRequest
	if err := xml.NewDecoder(body).Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.adError(w, r, http.StatusRequestEntityTooLarge, adCodeInvalid, "Invalid Request")
			return
		}
		h.adError(w, r, http.StatusBadRequest, adCodeInvalid, "Invalid Request")
		return
	}
	if req.XMLName.Space != NSRequest {
		h.adError(w, r, http.StatusBadRequest, adCodeInvalid, "Invalid Request")
		return
	}
	if s := strings.TrimSpace(req.Request.AcceptableResponseSchema); s != "" && s != NSOutlook {
		h.adError(w, r, http.StatusBadRequest, adCodeSchemaMissing, "Requested schema is not available")
		return
	}
	addr, local, domain, ok := parseAddress(req.Request.EMailAddress)
	if !ok {
		h.adError(w, r, http.StatusBadRequest, adCodeInvalid, "Invalid Request")
		return
	}
	if !h.hasDomain(domain) {
		h.adError(w, r, http.StatusNotFound, adCodeNotFound, "The e-mail address cannot be found.")
		return
	}
	writeXML(w, "text/xml; charset=utf-8", http.StatusOK, h.adResponse(h.loginFor(addr, local)))
}

// adResponse builds the settings for a login.
func (h *Handler) adResponse(login string) ADResponse {
	proto := func(typ string, s Server) ADProtocol {
		enc := "SSL"
		if s.Security == STARTTLS {
			enc = "TLS"
		}
		return ADProtocol{Type: typ, Server: s.Host, Port: s.Port, DomainRequired: "off", LoginName: login,
			SPA: "off", SSL: "on", Encryption: enc, AuthRequired: "on"}
	}
	acc := ADAccount{AccountType: "email", Action: "settings"}
	if h.o.IMAP != nil {
		acc.Protocols = append(acc.Protocols, proto("IMAP", *h.o.IMAP))
	}
	if h.o.POP3 != nil {
		acc.Protocols = append(acc.Protocols, proto("POP3", *h.o.POP3))
	}
	// Outlook takes one SMTP entry: the preferred one.
	smtp := proto("SMTP", h.o.Submission[0])
	smtp.UsePOPAuth, smtp.SMTPLast = "off", "off"
	acc.Protocols = append(acc.Protocols, smtp)
	return ADResponse{Response: ADOutlookAnswer{User: ADUser{DisplayName: h.o.DisplayName}, Account: acc}}
}

// adError answers with an Autodiscover Error element.
func (h *Handler) adError(w http.ResponseWriter, r *http.Request, status, code int, msg string) {
	h.o.Logger.LogAttrs(r.Context(), slog.LevelDebug, "autodiscover request refused",
		slog.Int("status", status), slog.Int("code", code))
	var e ADErrorResponse
	now := time.Now().UTC()
	e.Response.Error = ADError{Time: now.Format("15:04:05.0000000"), ID: strconv.FormatInt(now.UnixNano()&0x7fffffff, 10),
		ErrorCode: code, Message: msg}
	writeXML(w, "text/xml; charset=utf-8", status, e)
}
