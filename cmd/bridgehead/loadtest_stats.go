package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// clientStats is what one client measured; only that client writes it.
type clientStats struct {
	accepted int
	errors   map[string]int
	latency  []time.Duration // MAIL to the 250 after DATA, accepted messages
	setup    []time.Duration // connect + TLS + EHLO + AUTH, successful connections
	tls      map[string]int  // successful connections by tlsSummary
}

// countTLS counts one connection under how its TLS was negotiated.
func (s *clientStats) countTLS(summary string) {
	if summary == "" {
		return
	}
	if s.tls == nil {
		s.tls = map[string]int{}
	}
	s.tls[summary]++
}

// tlsSummary is how a connection's TLS was negotiated, as the result
// groups connections: version, key exchange, and whether the session was
// resumed ("TLSv1.3 X25519MLKEM768", "TLSv1.3 X25519 resumed").
func tlsSummary(cs tls.ConnectionState) string {
	s := strings.Replace(tls.VersionName(cs.Version), "TLS 1", "TLSv1", 1)
	if cs.CurveID != 0 {
		s += " " + cs.CurveID.String()
	}
	if cs.DidResume {
		s += " resumed"
	}
	return s
}

// liveCounters feed the progress line while the clients run.
type liveCounters struct {
	accepted atomic.Int64
	failed   atomic.Int64
}

// report prints a progress line every interval until ctx is done or the
// returned stop is called; stop waits for the printer to finish.
func (lc *liveCounters) report(ctx context.Context, w io.Writer, total int, start time.Time, every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		var last int64
		lastAt := start
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				acc, failed := lc.accepted.Load(), lc.failed.Load()
				rate := float64(acc-last) / now.Sub(lastAt).Seconds()
				last, lastAt = acc, now
				fmt.Fprintf(w, "%6.1fs  %d/%d done  accepted %d  failed %d  %.0f msg/s\n",
					now.Sub(start).Seconds(), acc+failed, total, acc, failed, rate)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// loadResult is the outcome of a run, printed as text or JSON.
type loadResult struct {
	Server      string         `json:"server"`
	TLS         string         `json:"tls"`
	Clients     int            `json:"clients"`
	Messages    int            `json:"messages"`
	Size        int64          `json:"size"`
	PerConn     int            `json:"per_conn"`
	Elapsed     float64        `json:"elapsed_s"`
	Attempted   int            `json:"attempted"`
	Accepted    int            `json:"accepted"`
	Failed      int            `json:"failed"`
	Rate        float64        `json:"msgs_per_s"`
	Errors      map[string]int `json:"errors"`
	Latency     percentiles    `json:"latency_ms"`
	Setup       percentiles    `json:"setup_ms"`
	Connections int            `json:"connections"`
	Handshakes  map[string]int `json:"tls_handshakes"` // connections by TLS version, key exchange, resumption
}

// percentiles of a set of durations, in milliseconds.
type percentiles struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// mergeStats adds up the clients' figures.
func mergeStats(o loadOptions, stats []clientStats, elapsed time.Duration) *loadResult {
	r := &loadResult{Server: o.server, TLS: o.tlsMode, Clients: o.clients, Messages: o.messages,
		Size: o.size, PerConn: o.perConn, Elapsed: elapsed.Seconds(), Errors: map[string]int{},
		Handshakes: map[string]int{}}
	var lat, setup []time.Duration
	for _, s := range stats {
		r.Accepted += s.accepted
		for k, v := range s.errors {
			r.Errors[k] += v
			r.Failed += v
		}
		lat = append(lat, s.latency...)
		setup = append(setup, s.setup...)
		for k, v := range s.tls {
			r.Handshakes[k] += v
		}
	}
	r.Attempted = r.Accepted + r.Failed
	r.Connections = len(setup)
	if elapsed > 0 {
		r.Rate = float64(r.Accepted) / elapsed.Seconds()
	}
	r.Latency = percentilesOf(lat)
	r.Setup = percentilesOf(setup)
	return r
}

// percentilesOf returns nearest-rank percentiles; zero for no samples.
func percentilesOf(d []time.Duration) percentiles {
	if len(d) == 0 {
		return percentiles{}
	}
	slices.Sort(d)
	at := func(p float64) float64 {
		i := int(p*float64(len(d))+0.999999) - 1 // nearest rank: ceil(p*n)-1
		i = max(0, min(i, len(d)-1))
		return float64(d[i]) / float64(time.Millisecond)
	}
	return percentiles{P50: at(0.50), P99: at(0.99), Max: at(1)}
}

// writeText prints the result for a person.
func (r *loadResult) writeText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("server:      %s (%s), %d clients, %d messages of %s, %d per connection\n",
		r.Server, r.TLS, r.Clients, r.Messages, Size(r.Size), r.PerConn)
	ew.printf("result:      %d accepted, %d failed, %d not attempted, in %.2fs\n",
		r.Accepted, r.Failed, r.Messages-r.Attempted, r.Elapsed)
	ew.printf("rate:        %.1f msg/s accepted\n", r.Rate)
	if len(r.Errors) == 0 {
		ew.printf("errors:      none\n")
	}
	ew.counts("errors:", r.Errors)
	ew.printf("latency:     p50 %.2fms  p99 %.2fms  max %.2fms  (MAIL to the 250 after DATA)\n",
		r.Latency.P50, r.Latency.P99, r.Latency.Max)
	ew.printf("setup:       p50 %.2fms  p99 %.2fms  max %.2fms  (connect+TLS+EHLO+AUTH, %d connections)\n",
		r.Setup.P50, r.Setup.P99, r.Setup.Max, r.Connections)
	ew.counts("tls:", r.Handshakes)
	return ew.err
}

// writeJSON prints the result for a script, one object.
func (r *loadResult) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// counts prints m's keys in order with their counts, one a line, label
// on the first.
func (e *errWriter) counts(label string, m map[string]int) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e.printf("%-12s %s: %d\n", label, k, m[k])
		label = ""
	}
}
