package delivery

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// recorder is a go-smtp server on loopback that keeps what it receives,
// for TLS and concurrency tests that smtp-sink cannot do.
type recorder struct {
	Addr string
	cfg  recorderConfig

	mu        sync.Mutex
	msgs      []received
	active    int // transactions between MAIL and the end of DATA
	maxActive int
	sessions  int           // sessions begun (connections, without STARTTLS)
	logouts   chan struct{} // one per session ended
}

type received struct {
	tls  bool
	data []byte
}

type recSession struct {
	r     *recorder
	c     *smtp.Conn
	inTx  bool
	rcpts []string
}

func (r *recorder) NewSession(c *smtp.Conn) (smtp.Session, error) {
	r.mu.Lock()
	r.sessions++
	r.mu.Unlock()
	return &recSession{r: r, c: c}, nil
}

func (s *recSession) Mail(string, *smtp.MailOptions) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.inTx = true
	s.r.active++
	s.r.maxActive = max(s.r.maxActive, s.r.active)
	return nil
}

func (s *recSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

// LMTPData answers the statuses in the recorder's config per recipient.
func (s *recSession) LMTPData(rd io.Reader, status smtp.StatusCollector) error {
	if err := s.Data(rd); err != nil {
		return err
	}
	for _, rcpt := range s.rcpts {
		status.SetStatus(rcpt, s.r.cfg.status[rcpt])
	}
	return nil
}

func (s *recSession) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	_, isTLS := s.c.TLSConnectionState()
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.msgs = append(s.r.msgs, received{tls: isTLS, data: b})
	s.end()
	return err
}

func (s *recSession) end() {
	if s.inTx {
		s.inTx = false
		s.r.active--
	}
}

func (s *recSession) Reset() {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.end()
	s.rcpts = nil
}

func (s *recSession) Logout() error {
	s.Reset()
	select {
	case s.r.logouts <- struct{}{}:
	default:
	}
	return nil
}

// connections returns how many sessions were begun.
func (r *recorder) connections() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions
}

func (r *recorder) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.msgs...)
}

// recorderConfig says how a recorder serves.
type recorderConfig struct {
	tls      *tls.Config      // STARTTLS offered when set
	implicit bool             // implicit TLS with tls (smtps)
	lmtp     bool             // speak LMTP
	status   map[string]error // LMTP per-recipient status after DATA (nil: 250)
}

// startRecorder serves SMTP or LMTP on a free loopback port.
func startRecorder(t *testing.T, cfg recorderConfig) *recorder {
	t.Helper()
	r := &recorder{cfg: cfg, logouts: make(chan struct{}, 100)}
	srv := smtp.NewServer(r)
	srv.Domain = "recorder.test"
	srv.LMTP = cfg.lmtp
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	var l net.Listener
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.implicit {
		l = tls.NewListener(l, cfg.tls)
	} else {
		srv.TLSConfig = cfg.tls
	}
	r.Addr = l.Addr().String()
	done := make(chan struct{})
	go func() { _ = srv.Serve(l); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return r
}

// testCA makes a CA and a server certificate for 127.0.0.1; it returns
// the server's TLS config and the CA's PEM file.
func testCA(t *testing.T) (*tls.Config, string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "delivery test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, caFile
}
