package testservers

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// DNS is a miekg/dns server on a free loopback port, UDP and TCP on the
// same port number, answering from a zone given as text records as a
// recursive resolver would (CNAMEs followed, NXDOMAIN and NODATA with an
// SOA). It counts the queries it gets.
type DNS struct {
	// Addr is host:port, for dns.server or a resolver's Server.
	Addr string

	mu       sync.Mutex
	rrs      []dns.RR
	nx       map[string]bool // names answered NXDOMAIN
	truncate map[string]bool // names answered truncated over UDP
	servfail bool
	queries  map[string]int // "name TYPE proto" -> count
}

// StartDNS starts a DNS server for the zone's records (in zone-file text,
// e.g. "example.test. 300 IN MX 10 mx.example.test."); it stops at the end
// of the test.
func StartDNS(t testing.TB, zone ...string) *DNS {
	t.Helper()
	s := &DNS{nx: map[string]bool{}, truncate: map[string]bool{}, queries: map[string]int{}}
	for _, z := range zone {
		rr, err := dns.NewRR(z)
		if err != nil {
			t.Fatalf("record %q: %v", z, err)
		}
		s.rrs = append(s.rrs, rr)
	}
	var pc net.PacketConn
	var l net.Listener
	for range 20 {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		pc = nil
	}
	if pc == nil {
		t.Fatal("no free port for UDP and TCP")
	}
	s.Addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: s}, {Listener: l, Handler: s}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan struct{})
		go func() { _ = srv.ActivateAndServe(); close(done) }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	}
	return s
}

// ServeDNS implements dns.Handler.
func (s *DNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	proto := w.RemoteAddr().Network()
	s.mu.Lock()
	s.queries[name+" "+dns.TypeToString[q.Qtype]+" "+proto]++
	m := new(dns.Msg)
	m.SetReply(req)
	switch {
	case s.servfail:
		m.Rcode = dns.RcodeServerFailure
	case s.nx[name]:
		m.Rcode = dns.RcodeNameError
		m.Ns = append(m.Ns, soa(30))
	case s.truncate[name] && proto == "udp":
		m.Truncated = true
	default:
		exists := false
		for hop := 0; hop < 8 && name != ""; hop++ { // follow CNAMEs as a recursive resolver does
			next := ""
			for _, rr := range s.rrs {
				h := rr.Header()
				if strings.EqualFold(h.Name, name) {
					exists = true
					if h.Rrtype == q.Qtype || h.Rrtype == dns.TypeCNAME {
						m.Answer = append(m.Answer, dns.Copy(rr))
					}
					if c, ok := rr.(*dns.CNAME); ok {
						next = strings.ToLower(c.Target)
					}
				}
			}
			name = next
		}
		if !exists {
			m.Rcode = dns.RcodeNameError
		}
		if len(m.Answer) == 0 {
			m.Ns = append(m.Ns, soa(30))
		}
	}
	s.mu.Unlock()
	_ = w.WriteMsg(m)
}

// soa is the SOA record of negative answers; minimum is their TTL.
func soa(minimum uint32) dns.RR {
	rr, _ := dns.NewRR("test. 300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 " + strconv.FormatUint(uint64(minimum), 10))
	return rr
}

// Queries returns how many queries came for key: "name TYPE proto", e.g.
// "example.test. MX udp".
func (s *DNS) Queries(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[key]
}

// SetNXDomain makes the server answer NXDOMAIN (SOA minimum 30s) for the
// fully qualified name.
func (s *DNS) SetNXDomain(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nx[strings.ToLower(name)] = true
}

// SetTruncated makes UDP answers for the fully qualified name truncated, so
// that clients retry over TCP.
func (s *DNS) SetTruncated(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncate[strings.ToLower(name)] = true
}

// SetServFail makes every answer SERVFAIL while on.
func (s *DNS) SetServFail(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servfail = on
}
