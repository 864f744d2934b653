package mailboxstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{}, {Dir: "x", Retention: -1}, {Dir: "x", JanitorInterval: -time.Second}} {
		if err := o.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want error", o)
		}
		if _, err := Open(o); err == nil {
			t.Errorf("Open(%+v) = nil error", o)
		}
	}
	o := Options{Dir: "x", Retention: 30 * 24 * time.Hour}
	if err := o.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if got := o.withDefaults().JanitorInterval; got != time.Hour {
		t.Errorf("default janitor interval = %v, want 1h", got)
	}
}

func TestAppendWritesMaildir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestStore(t, filepath.Join(dir, "mailboxes"), nil)
	msg := testMessage("first", "hello")
	if uid := mustAppend(t, s, "Alice", "INBOX", msg); uid != 1 {
		t.Errorf("first uid = %d, want 1", uid)
	}
	if uid := mustAppend(t, s, "alice", "inbox", testMessage("second", "x")); uid != 2 {
		t.Errorf("second uid = %d, want 2", uid)
	}
	if uid := mustAppend(t, s, "postmaster", Badmail, testMessage("bad", "x")); uid != 1 {
		t.Errorf("badmail uid = %d, want 1", uid)
	}

	root := filepath.Join(dir, "mailboxes", "alice")
	files, err := os.ReadDir(filepath.Join(root, "new"))
	must(t, err, "read new/")
	if len(files) != 2 {
		t.Fatalf("alice/new has %d files, want 2", len(files))
	}
	found := false
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, "new", f.Name()))
		must(t, err, "read message")
		found = found || string(b) == msg
	}
	if !found {
		t.Errorf("first message not found byte for byte in new/")
	}
	for _, p := range []string{
		"alice/tmp", "alice/cur", "alice/bridgehead-uidlist",
		"alice/.Badmail/cur", "alice/.Badmail/maildirfolder", // every owner gets Badmail
		"postmaster/cur", "postmaster/.Badmail/new", "postmaster/.Badmail/bridgehead-uidlist",
	} {
		if _, err := os.Stat(filepath.Join(dir, "mailboxes", p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(root, "tmp")); len(tmp) != 0 {
		t.Errorf("tmp/ not empty after Append: %d files", len(tmp))
	}
}

func TestAppendRefusesBadNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestStore(t, filepath.Join(dir, "mb"), nil)
	cases := []struct{ owner, folder string }{
		{"../escape", "INBOX"},
		{"..", "INBOX"},
		{"a/b", "INBOX"},
		{".alice", "INBOX"},
		{"", "INBOX"},
		{"al\x00ice", "INBOX"},
		{"alice", "../../escape"},
		{"alice", ".."},
		{"alice", ".Badmail"},
		{"alice", "a/b"},
		{"alice", "x\x00"},
		{"alice", ""},
		{"alice", "Postmaster"},
	}
	for _, c := range cases {
		_, err := s.Append(context.Background(), c.owner, c.folder, strings.NewReader("x\r\n"))
		if !errors.Is(err, ErrInvalidName) {
			t.Errorf("Append(%q, %q) = %v, want ErrInvalidName", c.owner, c.folder, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "mb" {
			t.Errorf("something escaped the store: %s", e.Name())
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "mb")); len(entries) != 0 {
		t.Errorf("refused appends created %d entries", len(entries))
	}
}

func TestUIDsStableAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := newTestClock()
	s1 := openTestStore(t, dir, clock)
	for i := 0; i < 3; i++ {
		mustAppend(t, s1, "alice", "INBOX", testMessage("m", "x"))
	}
	f1, err := s1.folder("alice", Inbox, false)
	must(t, err, "folder")
	f1.mu.Lock()
	must(t, f1.setLettersLocked(f1.msgs[1], "FS"), "set flags")
	v1, before := f1.uidValidity, snapshotUIDs(f1)
	f1.mu.Unlock()

	clock.Advance(time.Hour) // a new UIDVALIDITY would differ
	s2 := openTestStore(t, dir, clock)
	f2, err := s2.folder("alice", Inbox, false)
	must(t, err, "folder after restart")
	f2.mu.Lock()
	v2, after := f2.uidValidity, snapshotUIDs(f2)
	letters := f2.msgs[1].letters
	f2.mu.Unlock()
	if v1 != v2 {
		t.Errorf("UIDVALIDITY changed across restart: %d -> %d", v1, v2)
	}
	if strings.Join(before, ",") != strings.Join(after, ",") {
		t.Errorf("UIDs changed across restart: %v -> %v", before, after)
	}
	if letters != "FS" {
		t.Errorf("flags after restart = %q, want FS", letters)
	}
	if uid := mustAppend(t, s2, "alice", "INBOX", testMessage("m", "x")); uid != 4 {
		t.Errorf("next uid after restart = %d, want 4", uid)
	}
}

func snapshotUIDs(f *folder) []string {
	var l []string
	for _, m := range f.msgs {
		l = append(l, m.base+"="+strings.Repeat("|", int(m.uid)))
	}
	return l
}

// TestRecoverFilesUnknownToUIDList covers a crash between the rename into
// new/ and the uidlist write, and a file removed behind the store's back.
func TestRecoverFilesUnknownToUIDList(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s1 := openTestStore(t, dir, nil)
	mustAppend(t, s1, "alice", "INBOX", testMessage("one", "x"))
	mustAppend(t, s1, "alice", "INBOX", testMessage("two", "x"))

	newDir := filepath.Join(dir, "alice", "new")
	files, _ := os.ReadDir(newDir)
	sort.Slice(files, func(i, j int) bool { return files[i].Name() < files[j].Name() })
	must(t, os.Remove(filepath.Join(newDir, files[0].Name())), "remove by hand")
	must(t, os.WriteFile(filepath.Join(newDir, "1700000000.M1P1.crash"), []byte(testMessage("orphan", "x")), 0o600), "orphan")
	must(t, os.WriteFile(filepath.Join(dir, "alice", "cur", "1700000001.M1P1.seen:2,S"), []byte(testMessage("seen", "x")), 0o600), "orphan in cur")

	s2 := openTestStore(t, dir, nil)
	f, err := s2.folder("alice", Inbox, false)
	must(t, err, "folder")
	f.mu.Lock()
	defer f.mu.Unlock()
	var got []string
	for _, m := range f.msgs {
		got = append(got, m.base+":"+m.letters+"@"+string(rune('0'+m.uid)))
	}
	want := []string{files[1].Name() + ":@2", "1700000000.M1P1.crash:@3", "1700000001.M1P1.seen:S@4"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("after recovery\n got %v\nwant %v", got, want)
	}
	if f.uidNext != 5 {
		t.Errorf("uidNext = %d, want 5", f.uidNext)
	}
}

func TestCorruptUIDListGetsNewValidity(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := newTestClock()
	s1 := openTestStore(t, dir, clock)
	mustAppend(t, s1, "alice", "INBOX", testMessage("one", "x"))
	f1, _ := s1.folder("alice", Inbox, false)
	must(t, os.WriteFile(filepath.Join(dir, "alice", uidListName), []byte("garbage\n"), 0o600), "corrupt")
	clock.Advance(time.Minute)
	s2 := openTestStore(t, dir, clock)
	f2, err := s2.folder("alice", Inbox, false)
	must(t, err, "folder")
	if f2.uidValidity == f1.uidValidity {
		t.Errorf("UIDVALIDITY kept (%d) although the uidlist was lost", f2.uidValidity)
	}
	if len(f2.msgs) != 1 || f2.msgs[0].uid != 1 {
		t.Errorf("message not recovered: %+v", f2.msgs)
	}
}

func TestUIDListRoundTrip(t *testing.T) {
	t.Parallel()
	l := &uidList{uidValidity: 42, uidNext: 10, entries: []uidEntry{
		{uid: 3, date: time.Unix(1700000000, 0), base: "a.b.c"},
		{uid: 9, date: time.Unix(1700000100, 0), base: "d"},
	}}
	got, err := parseUIDList(l.marshal())
	must(t, err, "parse")
	if got.uidValidity != 42 || got.uidNext != 10 || len(got.entries) != 2 || got.entries[1] != l.entries[1] {
		t.Errorf("round trip = %+v", got)
	}
	for _, bad := range []string{"", "bridgehead-uidlist v1 0 1\n", "bridgehead-uidlist v1 1 5\n6 0 x\n",
		"bridgehead-uidlist v1 1 5\n2 0 x\n2 0 y\n", "bridgehead-uidlist v1 1 5\n2 x\n", "other 1 2\n"} {
		if _, err := parseUIDList([]byte(bad)); err == nil {
			t.Errorf("parseUIDList(%q) = nil error", bad)
		}
	}
}

func TestConcurrentAppends(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	const n = 20
	uids := make([]uint32, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uid, err := s.Append(context.Background(), "postmaster", "INBOX", strings.NewReader(testMessage("c", "x")))
			if err != nil {
				t.Errorf("Append: %v", err)
			}
			uids[i] = uid
		}()
	}
	wg.Wait()
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	for i, u := range uids {
		if u != uint32(i+1) {
			t.Fatalf("uids = %v, want 1..%d", uids, n)
		}
	}
	l, err := os.ReadFile(filepath.Join(dir, "postmaster", uidListName))
	must(t, err, "read uidlist")
	if lines := strings.Count(string(l), "\n"); lines != n+1 {
		t.Errorf("uidlist has %d lines, want %d", lines, n+1)
	}
}

func TestAppendHonoursContext(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, t.TempDir(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Append(ctx, "alice", "INBOX", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with cancelled ctx = %v, want context.Canceled", err)
	}
}

func TestRetentionRemovesOldMessages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := newTestClock()
	sweeps := make(chan int)
	opts := Options{Dir: dir, Retention: 24 * time.Hour, JanitorInterval: time.Hour, Clock: clock.Now,
		Logger: testLogger(t), afterSweep: func(n int) { sweeps <- n }}
	s, err := Open(opts)
	must(t, err, "Open")

	mustAppend(t, s, "postmaster", "INBOX", testMessage("old", "x"))
	mustAppend(t, s, "postmaster", Badmail, testMessage("old bad", "x"))
	clock.Advance(12 * time.Hour)
	keep := mustAppend(t, s, "postmaster", "INBOX", testMessage("young", "x"))
	clock.Advance(13 * time.Hour) // first two are 25h old, the third 13h

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.RunJanitor(ctx) }()
	if n := <-sweeps; n != 2 {
		t.Errorf("first sweep removed %d, want 2", n)
	}
	cancel()
	// A tick may have raced with cancel: let any further sweep report.
	for {
		select {
		case <-sweeps:
			continue
		case err := <-done:
			if err != nil {
				t.Errorf("RunJanitor: %v", err)
			}
		}
		break
	}

	f, _ := s.folder("postmaster", Inbox, false)
	if len(f.msgs) != 1 || uint32(f.msgs[0].uid) != keep {
		t.Errorf("INBOX after sweep: %d messages, want only uid %d", len(f.msgs), keep)
	}
	for _, sub := range []string{"postmaster/new", "postmaster/.Badmail/new"} {
		files, _ := os.ReadDir(filepath.Join(dir, sub))
		want := 0
		if sub == "postmaster/new" {
			want = 1
		}
		if len(files) != want {
			t.Errorf("%s has %d files, want %d", sub, len(files), want)
		}
	}
	// Gone for good: a restart does not bring them back.
	s2 := openTestStore(t, dir, clock)
	f2, _ := s2.folder("postmaster", Badmail, false)
	if len(f2.msgs) != 0 {
		t.Errorf("Badmail after restart has %d messages", len(f2.msgs))
	}
}

func TestRetentionZeroKeepsEverything(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	s := openTestStore(t, t.TempDir(), clock)
	mustAppend(t, s, "postmaster", "INBOX", testMessage("old", "x"))
	clock.Advance(10 * 365 * 24 * time.Hour)
	n, err := s.RemoveExpired(context.Background())
	if err != nil || n != 0 {
		t.Errorf("RemoveExpired = %d, %v; want 0, nil", n, err)
	}
}
