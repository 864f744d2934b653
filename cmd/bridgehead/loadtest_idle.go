package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// idleOptions is loadtest's -idle mode: open many authenticated sessions,
// hold them, and report the server's resident memory per session.
type idleOptions struct {
	sessions  int
	hold      time.Duration
	serverPID int
	sources   int // loopback source addresses 127.0.0.1 .. 127.0.0.N
}

// idleResult is what -idle reports.
type idleResult struct {
	Sessions        int     `json:"sessions"`
	Failed          int     `json:"failed"`
	Errors          any     `json:"errors,omitempty"`
	SetupSeconds    float64 `json:"setup_seconds"`
	ServerRSSBefore int64   `json:"server_rss_before_kib,omitempty"`
	ServerRSS       int64   `json:"server_rss_kib,omitempty"`
	PerSessionKiB   float64 `json:"per_session_kib,omitempty"`
}

// runIdle opens io.sessions sessions (TLS, EHLO, AUTH) with o.clients
// dialling at once, holds them all open for io.hold and reads the server's
// VmRSS, then closes them.
func runIdle(ctx context.Context, o loadOptions, io_ idleOptions, progress io.Writer) (*idleResult, error) {
	host, _, _ := net.SplitHostPort(o.server)
	l := &loader{o: o}
	l.tlsConf = newLoadTLSConfig(o, host)
	res := &idleResult{Sessions: io_.sessions}
	if io_.serverPID > 0 {
		rss, err := processRSS(io_.serverPID)
		if err != nil {
			return nil, err
		}
		res.ServerRSSBefore = rss
	}

	conns := make([]*loadConn, io_.sessions)
	var (
		next, opened atomic.Int64
		mu           sync.Mutex
		errs         = map[string]int{}
		wg           sync.WaitGroup
	)
	start := time.Now()
	for range o.clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= io_.sessions || ctx.Err() != nil {
					return
				}
				c, err := l.dialFrom(ctx, sourceAddr(i, io_.sources))
				if err != nil {
					mu.Lock()
					errs[errorClass(err)+": "+err.Error()]++
					mu.Unlock()
					continue
				}
				conns[i] = c
				if n := opened.Add(1); o.progress > 0 && n%1000 == 0 {
					fmt.Fprintf(progress, "%6.1fs  %d sessions open\n", time.Since(start).Seconds(), n)
				}
			}
		})
	}
	wg.Wait()
	res.SetupSeconds = time.Since(start).Seconds()
	res.Failed = io_.sessions - int(opened.Load())
	if len(errs) > 0 {
		res.Errors = errs
	}
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.close()
			}
		}
	}()
	select {
	case <-ctx.Done():
	case <-time.After(io_.hold):
	}
	if io_.serverPID > 0 {
		rss, err := processRSS(io_.serverPID)
		if err != nil {
			return nil, err
		}
		res.ServerRSS = rss
		if n := opened.Load(); n > 0 {
			res.PerSessionKiB = float64(rss-res.ServerRSSBefore) / float64(n)
		}
	}
	return res, nil
}

// sourceAddr spreads connections over the loopback addresses 127.0.0.1 to
// 127.0.0.n (n <= 1: the system's choice), so that the ephemeral ports of
// one source address do not run out.
func sourceAddr(i, n int) *net.TCPAddr {
	if n <= 1 {
		return nil
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%n))}
}

// processRSS returns VmRSS of process pid in KiB, from /proc.
func processRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("loadtest: server memory: %w", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("loadtest: server memory: VmRSS %q: %w", v, err)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("loadtest: server memory: no VmRSS in /proc/%d/status", pid)
}

// write prints the result as text or JSON.
func (r *idleResult) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	ew := &errWriter{w: w}
	ew.printf("sessions:    %d open (TLS, EHLO, AUTH), %d failed, in %.1fs\n", r.Sessions-r.Failed, r.Failed, r.SetupSeconds)
	if r.Errors != nil {
		ew.printf("errors:      %v\n", r.Errors)
	}
	if r.ServerRSS > 0 {
		ew.printf("server RSS:  %.1f MiB before, %.1f MiB with the sessions open, %.1f KiB per session\n",
			float64(r.ServerRSSBefore)/1024, float64(r.ServerRSS)/1024, r.PerSessionKiB)
	}
	return ew.err
}
