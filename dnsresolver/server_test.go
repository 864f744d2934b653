package dnsresolver

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// testServer is a miekg/dns server on a free loopback port, UDP and TCP,
// answering from a zone given as text records; it counts the queries it
// gets per "name TYPE" and transport.
type testServer struct {
	Addr string

	mu       sync.Mutex
	rrs      []dns.RR
	nx       map[string]bool // names answered NXDOMAIN
	truncate map[string]bool // names answered truncated over UDP
	servfail bool
	queries  map[string]int // "name TYPE proto" -> count
}

func startDNS(t *testing.T, zone ...string) *testServer {
	t.Helper()
	s := &testServer{nx: map[string]bool{}, truncate: map[string]bool{}, queries: map[string]int{}}
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

func (s *testServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
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

func soa(minimum uint32) dns.RR {
	rr, _ := dns.NewRR("test. 300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 " + strconv.FormatUint(uint64(minimum), 10))
	return rr
}

func (s *testServer) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[key]
}

func (s *testServer) set(f func(s *testServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}
