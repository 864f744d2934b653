package admin

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"bridgehead.dev/bridgehead/gateway/queue"
)

// Message is one queued message in GET /api/queue.
type Message struct {
	ID          string      `json:"id"`
	AgeSeconds  float64     `json:"age_seconds"`
	Received    time.Time   `json:"received"`
	From        string      `json:"from"`
	Login       string      `json:"login,omitempty"`
	Size        int64       `json:"size"`
	Attempts    int         `json:"attempts"`
	NextAttempt time.Time   `json:"next_attempt"`
	Held        bool        `json:"held"`
	Recipients  []Recipient `json:"recipients"`
}

// Recipient is one recipient of a listed message.
type Recipient struct {
	Address   string               `json:"address"`
	State     queue.RecipientState `json:"state"`
	LastReply string               `json:"last_reply,omitempty"`
	// Route names the route the recipient takes (see Options.RouteOf).
	Route string `json:"route,omitempty"`
}

// MessageDetail is the answer of GET /api/queue/{id}.
type MessageDetail struct {
	Envelope *queue.Envelope `json:"envelope"`
	// Headers are the message's header fields in order, unfolded.
	Headers []Header `json:"headers"`
	// History lists the delivery attempts recorded, one entry per
	// recipient tried, oldest first (see Options.History).
	History []Attempt `json:"history,omitempty"`
}

// Attempt is one recipient's result in one delivery attempt.
type Attempt struct {
	Time      time.Time `json:"time"`
	Recipient string    `json:"recipient"`
	// Code and Enhanced are the reply; Code 0 means no reply was had and
	// Text says why.
	Code      int    `json:"code"`
	Enhanced  string `json:"enhanced,omitempty"`
	Text      string `json:"text"`
	RemoteMTA string `json:"remote_mta,omitempty"`
	Delivered bool   `json:"delivered"`
	Permanent bool   `json:"permanent,omitempty"`
	// Seconds is how long the attempt took.
	Seconds float64 `json:"seconds"`
}

// Header is one header field.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (s *Server) queueList(w http.ResponseWriter, _ *http.Request) {
	now := s.opts.Now()
	out := []Message{}
	for _, env := range s.opts.Queue.List() {
		m := Message{
			ID: env.ID, AgeSeconds: now.Sub(env.Received).Seconds(), Received: env.Received,
			From: env.From, Login: env.Login, Size: env.Size, Attempts: env.Attempts,
			NextAttempt: env.NextAttempt, Held: env.Held,
		}
		for _, r := range env.Recipients {
			m.Recipients = append(m.Recipients, Recipient{Address: r.Address, State: r.State, LastReply: r.LastReply, Route: s.routeOf(env, r)})
		}
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) queueShow(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	env, err := s.opts.Queue.Get(id)
	if err != nil {
		writeError(w, errorStatus(err), err.Error())
		return
	}
	body, err := s.opts.Queue.OpenBody(id)
	if err != nil {
		writeError(w, errorStatus(err), err.Error())
		return
	}
	defer body.Close()
	hs, err := readHeaders(body, maxHeaderBytes)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "read message headers: "+err.Error())
		return
	}
	d := MessageDetail{Envelope: env, Headers: hs}
	if s.opts.History != nil {
		d.History = s.opts.History(id)
	}
	writeJSON(w, http.StatusOK, d)
}

// maxHeaderBytes bounds how much of a message is read for its headers.
const maxHeaderBytes = 1 << 20

// readHeaders reads the header section of a message (up to the first
// empty line or limit bytes), unfolding continuation lines.
func readHeaders(r io.Reader, limit int64) ([]Header, error) {
	br := bufio.NewReader(io.LimitReader(r, limit))
	hs := []Header{}
	for {
		line, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return hs, nil
		}
		if (line[0] == ' ' || line[0] == '\t') && len(hs) > 0 {
			hs[len(hs)-1].Value += " " + strings.TrimSpace(line)
		} else if name, value, ok := strings.Cut(line, ":"); ok {
			hs = append(hs, Header{Name: name, Value: strings.TrimSpace(value)})
		}
		if errors.Is(err, io.EOF) {
			return hs, nil
		}
	}
}

// routeOf names r's route, "" when unknown.
func (s *Server) routeOf(env *queue.Envelope, r *queue.Recipient) string {
	if s.opts.RouteOf == nil {
		return ""
	}
	return s.opts.RouteOf(env, r)
}
