package filter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// RspamdOptions configure the rspamd filter.
type RspamdOptions struct {
	// URL is rspamd's normal worker, e.g. http://127.0.0.1:11333.
	URL string
	// Password is sent as the Password header when set.
	Password string
	// Timeout bounds one check. Default 30s.
	Timeout time.Duration
	// OnError is what happens when rspamd is down, too slow or answers
	// with something unreadable.
	OnError OnError
	// Client makes the requests. Default a client of its own.
	Client *http.Client
}

// Rspamd scores messages with rspamd's /checkv2 and maps its action:
// reject → 550 5.7.1, soft reject and greylist → 451 4.7.1, add header and
// rewrite subject → X-Spam-Status and X-Spamd-Result headers, no action →
// pass.
type Rspamd struct {
	o   RspamdOptions
	url string
}

var _ Filter = (*Rspamd)(nil)

// NewRspamd builds the filter.
func NewRspamd(o RspamdOptions) (*Rspamd, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("rspamd: url %q: want http:// or https://", o.URL)
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	return &Rspamd{o: o, url: strings.TrimSuffix(o.URL, "/") + "/checkv2"}, nil
}

// Name returns "rspamd".
func (r *Rspamd) Name() string { return "rspamd" }

// RspamdReply is the part of rspamd's /checkv2 answer the filter reads.
type RspamdReply struct {
	// Action is rspamd's verdict ("no action", "add header", ...).
	Action string `json:"action"`
	// Score is the message's score.
	Score float64 `json:"score"`
	// RequiredScore is the score of the reject action.
	RequiredScore float64 `json:"required_score"`
	// Symbols are the rules that matched.
	Symbols map[string]struct {
		Score float64 `json:"score"`
	} `json:"symbols"`
}

// Check scores msg and applies rspamd's action.
func (r *Rspamd) Check(ctx context.Context, env *Envelope, msg []byte) (Result, error) {
	rep, err := r.Score(ctx, env, msg)
	if err != nil {
		if r.o.OnError == Accept {
			return Result{Headers: []string{"X-Bridgehead-Spam-Scan: not scanned"}, Verdict: "not scanned", Reason: err.Error()}, nil
		}
		return Result{}, &Rejection{Code: 451, Enhanced: [3]int{4, 7, 1},
			Message: "Spam scanner unavailable, try again later", Reason: err.Error()}
	}
	why := fmt.Sprintf("rspamd: %s, score %.2f / %.2f", rep.Action, rep.Score, rep.RequiredScore)
	switch rep.Action {
	case "reject":
		return Result{}, &Rejection{Code: 550, Enhanced: [3]int{5, 7, 1}, Message: "Message refused as spam", Reason: why}
	case "soft reject", "greylist":
		return Result{}, &Rejection{Code: 451, Enhanced: [3]int{4, 7, 1}, Message: "Message deferred, try again later", Reason: why}
	case "add header", "rewrite subject":
		return Result{Headers: spamHeaders(rep), Verdict: "spam header", Reason: why}, nil
	case "no action":
		return Result{Verdict: "clean", Reason: why}, nil
	}
	// An action this code does not know: rather defer than let through
	// what rspamd may have meant to stop.
	return Result{}, &Rejection{Code: 451, Enhanced: [3]int{4, 7, 1},
		Message: "Message could not be checked, try again later", Reason: "rspamd: unknown action " + rep.Action}
}

// spamHeaders are the headers for a message rspamd marks as spam.
func spamHeaders(rep *RspamdReply) []string {
	names := make([]string, 0, len(rep.Symbols))
	for n := range rep.Symbols {
		names = append(names, n)
	}
	sort.Strings(names)
	var sb strings.Builder
	fmt.Fprintf(&sb, "X-Spamd-Result: default: True [%.2f / %.2f]", rep.Score, rep.RequiredScore)
	for _, n := range names {
		fmt.Fprintf(&sb, "; %s(%.2f)", printable(n, 64), rep.Symbols[n].Score)
	}
	return []string{
		fmt.Sprintf("X-Spam-Status: Yes, score=%.2f required=%.2f", rep.Score, rep.RequiredScore),
		sb.String(),
	}
}

// Score asks rspamd for its verdict on msg.
func (r *Rspamd) Score(ctx context.Context, env *Envelope, msg []byte) (*RspamdReply, error) {
	ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(msg))
	if err != nil {
		return nil, fmt.Errorf("rspamd: %w", err)
	}
	h := req.Header
	if env != nil {
		set := func(k, v string) {
			if v != "" {
				h.Set(k, v)
			}
		}
		set("IP", env.ClientIP)
		set("Helo", env.Helo)
		set("From", env.From)
		set("User", env.Login)
		set("Queue-Id", env.QueueID)
		for _, rc := range env.Rcpts {
			h.Add("Rcpt", rc)
		}
	}
	if r.o.Password != "" {
		h.Set("Password", r.o.Password)
	}
	resp, err := r.o.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rspamd: check: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("rspamd: read reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("rspamd: check: %s: %s", resp.Status, printable(string(body), 200))
	}
	var rep RspamdReply
	if err := json.Unmarshal(body, &rep); err != nil {
		return nil, fmt.Errorf("rspamd: decode reply: %w", err)
	}
	if rep.Action == "" {
		return nil, errors.New("rspamd: reply has no action")
	}
	return &rep, nil
}
