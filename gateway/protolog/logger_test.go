package protolog

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/internal/fakeclock"
)

func open(t *testing.T, clock *fakeclock.Clock, retain time.Duration) (*Logger, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "smtp")
	l, err := Open(Options{Dir: dir, Site: "submission", Computer: "gw.example.test", Retain: retain, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFormat(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CET", 3600)))
	l, dir := open(t, clock, 0)
	l.Log(Entry{
		ClientIP: netip.MustParseAddr("192.0.2.7"), Username: "alice",
		ServerIP: netip.MustParseAddr("127.0.0.1"), ServerPort: 587,
		Method: "MAIL", Query: "FROM:<alice@example.test> SIZE=12", Status: 250,
		BytesSent: 14, BytesReceived: 36, TimeTaken: 1500 * time.Millisecond,
	})
	l.Log(Entry{Method: "QUIT", Status: 240, Query: "evil\r\nline\ttab"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := read(t, filepath.Join(dir, "ex261123.log"))
	want := "#Software: bridgehead\r\n#Version: 1.0\r\n#Date: 2026-11-23 09:00:00\r\n" +
		"#Fields: date time c-ip cs-username s-sitename s-computername s-ip s-port cs-method cs-uri-query sc-status sc-bytes cs-bytes time-taken\r\n" +
		"2026-11-23 09:00:00 192.0.2.7 alice submission gw.example.test 127.0.0.1 587 MAIL FROM:<alice@example.test>+SIZE=12 250 14 36 1500\r\n" +
		"2026-11-23 09:00:00 - - submission gw.example.test - 0 QUIT evil++line+tab 240 0 0 0\r\n"
	if got != want {
		t.Fatalf("file:\n%q\nwant:\n%q", got, want)
	}
	l.Log(Entry{Method: "EHLO"}) // after Close: dropped, no panic
}

func TestNilLogger(t *testing.T) {
	t.Parallel()
	var l *Logger
	l.Log(Entry{Method: "EHLO"})
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{}); err == nil {
		t.Fatal("Open without a directory: no error")
	}
}

func TestRotationAtUTCMidnight(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2026, 11, 23, 23, 59, 59, 0, time.UTC))
	l, dir := open(t, clock, 0)
	l.Log(Entry{Method: "EHLO", Status: 250})
	clock.Set(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))
	l.Log(Entry{Method: "QUIT", Status: 240})
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	first := read(t, filepath.Join(dir, "ex261123.log"))
	second := read(t, filepath.Join(dir, "ex261124.log"))
	if !strings.Contains(first, " EHLO ") || strings.Contains(first, " QUIT ") {
		t.Errorf("first day's file:\n%s", first)
	}
	if !strings.HasPrefix(second, "#Software: bridgehead\r\n") || !strings.Contains(second, "2026-11-24 00:00:00 ") {
		t.Errorf("second day's file:\n%s", second)
	}
}

func TestRetention(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC))
	l, dir := open(t, clock, 3*24*time.Hour)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ex261119.log", "ex261120.log", "ex261121.log", "notes.txt", "ex991301.log"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	l.Log(Entry{Method: "EHLO", Status: 250})
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	var names []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{"ex261120.log", "ex261121.log", "ex261123.log", "ex991301.log", "notes.txt"}
	if !slices.Equal(names, want) {
		t.Fatalf("files after retention: %v, want %v", names, want)
	}
}

func TestAppendsAfterRestart(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	for range 2 {
		l, err := Open(Options{Dir: dir, Site: "s", Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		l.Log(Entry{Method: "EHLO", Status: 250})
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got := read(t, filepath.Join(dir, "ex261123.log"))
	if n := strings.Count(got, "#Fields: "); n != 2 {
		t.Errorf("%d header blocks, want 2 (one per start):\n%s", n, got)
	}
	if n := strings.Count(got, " EHLO "); n != 2 {
		t.Errorf("%d lines, want 2", n)
	}
}

func TestFlushedWithoutClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, Site: "s", FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Log(Entry{Method: "EHLO", Status: 250})
	// The timer flushes on its own; poll the file rather than sleep a
	// fixed time.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, fileName(time.Now())))
		if strings.Contains(string(b), " EHLO ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("line not flushed without Close")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFileDay(t *testing.T) {
	t.Parallel()
	if d, ok := fileDay("ex261123.log"); !ok || !d.Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("fileDay = %v, %v", d, ok)
	}
	for _, bad := range []string{"ex2611234.log", "ex26112x.log", "ab261123.log", "ex261123.txt"} {
		if _, ok := fileDay(bad); ok {
			t.Errorf("fileDay(%q) ok", bad)
		}
	}
}
