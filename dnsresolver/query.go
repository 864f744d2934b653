package dnsresolver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// udpTries is how many times a UDP query is sent before giving up.
const udpTries = 2

// query asks the server for fqdn/typ and turns the reply into an answer
// and how long to cache it.
func (r *Resolver) query(ctx context.Context, fqdn string, typ dnsmessage.Type) (*answer, time.Duration, error) {
	name, err := dnsmessage.NewName(fqdn)
	if err != nil {
		return nil, 0, fmt.Errorf("dns %s %s: %w", typ, fqdn, errors.Join(ErrNotFound, err))
	}
	q := dnsmessage.Question{Name: name, Type: typ, Class: dnsmessage.ClassINET}
	start := time.Now()
	m, err := r.exchange(ctx, q)
	r.log.LogAttrs(ctx, slog.LevelDebug, "dns query", slog.String("name", fqdn), slog.String("type", typ.String()),
		slog.String("server", r.server), slog.Duration("took", time.Since(start)), slog.Any("error", err))
	if err != nil {
		return nil, 0, fmt.Errorf("dns %s %s at %s: %w: %w", typ, fqdn, r.server, ErrTemporary, err)
	}
	switch m.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return &answer{err: fmt.Errorf("dns %s %s: %w", typ, fqdn, ErrNotFound)}, negativeTTL(m), nil
	default:
		return nil, 0, fmt.Errorf("dns %s %s at %s: %w: rcode %s", typ, fqdn, r.server, ErrTemporary, m.RCode)
	}
	recs, ttl := follow(m.Answers, name, typ)
	if len(recs) == 0 {
		return &answer{err: fmt.Errorf("dns %s %s: %w", typ, fqdn, ErrNoRecords)}, negativeTTL(m), nil
	}
	return &answer{records: recs}, min(max(ttl, MinTTL), MaxTTL), nil
}

// follow returns the answer records of typ for name, following CNAMEs
// within the answer section, and the smallest TTL along the way.
func follow(rrs []dnsmessage.Resource, name dnsmessage.Name, typ dnsmessage.Type) ([]dnsmessage.Resource, time.Duration) {
	want := map[string]bool{canonical(name.String()): true}
	ttl := MaxTTL
	for range 8 { // CNAME chains longer than this are not followed
		grew := false
		for _, rr := range rrs {
			if c, ok := rr.Body.(*dnsmessage.CNAMEResource); ok && typ != dnsmessage.TypeCNAME &&
				want[canonical(rr.Header.Name.String())] && !want[canonical(c.CNAME.String())] {
				want[canonical(c.CNAME.String())] = true
				ttl = min(ttl, time.Duration(rr.Header.TTL)*time.Second)
				grew = true
			}
		}
		if !grew {
			break
		}
	}
	var out []dnsmessage.Resource
	for _, rr := range rrs {
		if rr.Header.Type == typ && rr.Header.Class == dnsmessage.ClassINET && want[canonical(rr.Header.Name.String())] {
			out = append(out, rr)
			ttl = min(ttl, time.Duration(rr.Header.TTL)*time.Second)
		}
	}
	return out, ttl
}

// negativeTTL is how long a "does not exist" answer is cached: the SOA's
// minimum (bounded by its own TTL, RFC 2308), else DefaultNegativeTTL.
func negativeTTL(m *dnsmessage.Message) time.Duration {
	for _, rr := range m.Authorities {
		if soa, ok := rr.Body.(*dnsmessage.SOAResource); ok {
			d := time.Duration(min(soa.MinTTL, rr.Header.TTL)) * time.Second
			return min(max(d, MinTTL), MaxNegativeTTL)
		}
	}
	return DefaultNegativeTTL
}

// exchange sends q over UDP (retrying once on a timeout) and again over
// TCP when the reply is truncated.
func (r *Resolver) exchange(ctx context.Context, q dnsmessage.Question) (*dnsmessage.Message, error) {
	var m *dnsmessage.Message
	var err error
	for range udpTries {
		m, err = r.exchangeUDP(ctx, q)
		var ne net.Error
		if err == nil || ctx.Err() != nil || !(errors.As(err, &ne) && ne.Timeout()) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if m.Truncated {
		return r.exchangeTCP(ctx, q)
	}
	return m, nil
}

func newQuery(q dnsmessage.Question) (uint16, []byte, error) {
	id := uint16(rand.Uint32())
	m := dnsmessage.Message{Header: dnsmessage.Header{ID: id, RecursionDesired: true}, Questions: []dnsmessage.Question{q}}
	b, err := m.Pack()
	return id, b, err
}

// deadline is now plus the timeout, or ctx's deadline when sooner.
func (r *Resolver) deadline(ctx context.Context) time.Time {
	dl := time.Now().Add(r.timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(dl) {
		return cd
	}
	return dl
}

func (r *Resolver) exchangeUDP(ctx context.Context, q dnsmessage.Question) (*dnsmessage.Message, error) {
	id, req, err := newQuery(q)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithDeadline(ctx, r.deadline(ctx))
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "udp", r.server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(dctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	dl, _ := dctx.Deadline()
	_ = conn.SetDeadline(dl)
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		m, ok := matches(buf[:n], id, q)
		if ok {
			return m, nil
		}
		// A stray or forged datagram: keep waiting for ours.
	}
}

func (r *Resolver) exchangeTCP(ctx context.Context, q dnsmessage.Question) (*dnsmessage.Message, error) {
	id, req, err := newQuery(q)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithDeadline(ctx, r.deadline(ctx))
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", r.server)
	if err != nil {
		return nil, fmt.Errorf("tcp: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(dctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	dl, _ := dctx.Deadline()
	_ = conn.SetDeadline(dl)
	out := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(req)), uint16(len(req)))
	if _, err := conn.Write(append(out, req...)); err != nil {
		return nil, fmt.Errorf("tcp: %w", err)
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, fmt.Errorf("tcp: %w", err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, fmt.Errorf("tcp: %w", err)
	}
	m, ok := matches(buf, id, q)
	if !ok {
		return nil, errors.New("tcp: reply does not match the query")
	}
	return m, nil
}

// matches parses a reply and reports whether it answers the query id/q.
func matches(b []byte, id uint16, q dnsmessage.Question) (*dnsmessage.Message, bool) {
	var m dnsmessage.Message
	if err := m.Unpack(b); err != nil {
		// A truncated reply may end mid-record: its header and question
		// are enough to retry over TCP.
		var p dnsmessage.Parser
		h, herr := p.Start(b)
		qs, qerr := p.AllQuestions()
		if herr != nil || qerr != nil || !h.Truncated {
			return nil, false
		}
		m = dnsmessage.Message{Header: h, Questions: qs}
	}
	if m.ID != id || !m.Response || len(m.Questions) != 1 {
		return nil, false
	}
	got := m.Questions[0]
	if got.Type != q.Type || got.Class != q.Class || canonical(got.Name.String()) != canonical(q.Name.String()) {
		return nil, false
	}
	return &m, true
}
