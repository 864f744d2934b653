package dnsresolver

import (
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// FuzzReply feeds arbitrary bytes as a server's reply through the parts
// that read one: matching it to the query, following CNAMEs, the
// negative TTL. None may panic.
func FuzzReply(f *testing.F) {
	q := dnsmessage.Question{Name: dnsmessage.MustNewName("remote.test."), Type: dnsmessage.TypeMX, Class: dnsmessage.ClassINET}
	id, req, err := newQuery(q)
	if err != nil {
		f.Fatal(err)
	}
	reply := dnsmessage.Message{Header: dnsmessage.Header{ID: id, Response: true}, Questions: []dnsmessage.Question{q},
		Answers: []dnsmessage.Resource{{
			Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeCNAME, Class: dnsmessage.ClassINET, TTL: 60},
			Body:   &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName("mail.remote.test.")},
		}, {
			Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("mail.remote.test."), Type: dnsmessage.TypeMX, Class: dnsmessage.ClassINET, TTL: 30},
			Body:   &dnsmessage.MXResource{Pref: 10, MX: dnsmessage.MustNewName("mx.remote.test.")},
		}}}
	b, err := reply.Pack()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(req)
	f.Add(b[:20])
	f.Fuzz(func(t *testing.T, data []byte) {
		m, ok := matches(data, id, q)
		if !ok {
			return
		}
		recs, ttl := follow(m.Answers, q.Name, q.Type)
		for _, rr := range recs {
			if rr.Header.Type != q.Type {
				t.Fatalf("followed a record of type %v", rr.Header.Type)
			}
		}
		if ttl < 0 {
			t.Fatalf("negative TTL %v", ttl)
		}
		_ = negativeTTL(m)
	})
}
