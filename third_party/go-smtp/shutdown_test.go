package smtp_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"
)

// handListener hands out the connections sent on ch.
type handListener struct {
	ch   chan net.Conn
	once sync.Once
	done chan struct{}
}

func (l *handListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// lateBackend counts sessions that start after Shutdown has returned.
type lateBackend struct {
	shutDown atomic.Bool
	late     atomic.Int32
}

func (b *lateBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	if b.shutDown.Load() {
		b.late.Add(1)
	}
	return nil, errors.New("no sessions here")
}

// A connection accepted while Shutdown runs is either waited for or never
// handled: no session starts after Shutdown has returned (and, under
// -race, registering the connection does not race with the wait).
func TestShutdownWhileAccepting(t *testing.T) {
	for i := 0; i < 200; i++ {
		be := &lateBackend{}
		s := smtp.NewServer(be)
		ln := &handListener{ch: make(chan net.Conn), done: make(chan struct{})}
		served := make(chan struct{})
		go func() {
			defer close(served)
			_ = s.Serve(ln)
		}()
		client, server := net.Pipe()
		go func() {
			select {
			case ln.ch <- server:
			case <-ln.done:
				_ = server.Close()
			}
		}()
		_ = client.Close()
		// As a caller that stops taking connections first does; Shutdown
		// closes only listeners Serve has registered.
		_ = ln.Close()
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		be.shutDown.Store(true)
		<-served
		if n := be.late.Load(); n != 0 {
			t.Fatalf("%d sessions started after Shutdown returned", n)
		}
	}
}
