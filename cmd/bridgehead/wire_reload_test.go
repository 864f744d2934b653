package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"bridgehead.dev/bridgehead/directory"
)

// blockingDir answers once released, and records being closed.
type blockingDir struct {
	name    string
	entered chan struct{}
	release chan struct{}
	closed  chan struct{}
}

func newBlockingDir(name string) *blockingDir {
	return &blockingDir{name: name, entered: make(chan struct{}, 1), release: make(chan struct{}), closed: make(chan struct{})}
}

func (d *blockingDir) Authenticate(context.Context, string, string) (*directory.User, error) {
	d.entered <- struct{}{}
	<-d.release
	return &directory.User{Login: d.name}, nil
}

func (d *blockingDir) LookupUser(context.Context, string) (*directory.User, error) {
	return &directory.User{Login: d.name}, nil
}

func (d *blockingDir) LookupRecipient(context.Context, string) (*directory.Recipient, error) {
	return nil, directory.ErrNotFound
}

func (d *blockingDir) close() error { close(d.closed); return nil }

// A swapped directory serves new calls at once; the old one is closed only
// after the call in flight on it has returned.
func TestConfigReloadSwapsDirectory(t *testing.T) {
	t.Parallel()
	oldDir, newDir := newBlockingDir("old"), newBlockingDir("new")
	sd := &swapDirectory{cur: &dirGen{d: oldDir, close: oldDir.close}}
	got := make(chan string, 1)
	go func() {
		u, err := sd.Authenticate(context.Background(), "alice", "pw")
		if err != nil {
			got <- err.Error()
			return
		}
		got <- u.Login
	}()
	<-oldDir.entered
	sd.swap(newDir, newDir.close, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if u, err := sd.LookupUser(context.Background(), "alice"); err != nil || u.Login != "new" {
		t.Errorf("LookupUser after swap = %v, %v; want the new directory", u, err)
	}
	select {
	case <-oldDir.closed:
		t.Fatal("old directory closed with a call in flight")
	default:
	}
	close(oldDir.release)
	if g := <-got; g != "old" {
		t.Errorf("call in flight answered by %q, want old", g)
	}
	<-oldDir.closed // closed once the call returned
	if _, err := sd.LookupRecipient(context.Background(), "x@example.test"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("LookupRecipient: %v", err)
	}
	if err := sd.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case <-newDir.closed:
	default:
		t.Error("Close did not close the directory in force")
	}
}
