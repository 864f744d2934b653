package testservers

import (
	"net"
	"sort"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Fetch logs in to Dovecot over real IMAP as user and returns the full
// bytes (RFC822, CRLF line ends, as stored) of every message in INBOX, in
// sequence order. Dovecot stores what it was given plus its own
// Return-Path, Delivered-To and Received headers on top.
func (d *Dovecot) Fetch(t testing.TB, user, password string) [][]byte {
	t.Helper()
	c, err := imapclient.DialInsecure(d.IMAPAddr, &imapclient.Options{
		Dialer: &net.Dialer{Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatalf("testservers: imap dial %s: %v", d.IMAPAddr, err)
	}
	defer c.Close()
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatalf("testservers: imap login %s: %v", user, err)
	}
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("testservers: imap select INBOX: %v", err)
	}
	if sel.NumMessages == 0 {
		_ = c.Logout().Wait()
		return nil
	}
	section := &imap.FetchItemBodySection{Peek: true}
	var seq imap.SeqSet
	seq.AddRange(1, sel.NumMessages)
	bufs, err := c.Fetch(seq, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatalf("testservers: imap fetch: %v", err)
	}
	sort.Slice(bufs, func(i, j int) bool { return bufs[i].SeqNum < bufs[j].SeqNum })
	out := make([][]byte, 0, len(bufs))
	for _, b := range bufs {
		out = append(out, b.FindBodySection(section))
	}
	_ = c.Logout().Wait()
	return out
}
