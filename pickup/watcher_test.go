package pickup

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/queue"
)

// nopDeliverer is never called: the tests do not run the queue.
type nopDeliverer struct{}

func (nopDeliverer) Deliver(context.Context, *queue.Message, []*queue.Recipient) []queue.Result {
	return nil
}

// testWatcher is a Watcher over temporary directories with a real queue.
type testWatcher struct {
	*Watcher
	q       *queue.Queue
	dir     string
	badmail string
	failQ   *bool // when true, the queue cannot create files
}

func newTestWatcher(t *testing.T, mod func(*Options)) *testWatcher {
	t.Helper()
	root := t.TempDir()
	fail := new(bool)
	q, err := queue.Open(context.Background(), queue.Options{
		Dir:       filepath.Join(root, "queue"),
		Deliverer: nopDeliverer{},
		Logger:    slog.New(slog.DiscardHandler),
		// Every message through CreateTemp, where the failure is injected.
		SpillThreshold: -1,
		CreateTemp: func(dir, pattern string) (*os.File, error) {
			if *fail {
				return nil, errors.New("no space left on device (injected)")
			}
			return os.CreateTemp(dir, pattern)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	opts := Options{
		Dir:        filepath.Join(root, "pickup"),
		BadmailDir: filepath.Join(root, "badmail"),
		Hostname:   "gw.example.test",
		Queue:      q,
		Logger:     slog.New(slog.DiscardHandler),
		Interval:   time.Hour, // tests call Scan, or Run scans at once
	}
	if mod != nil {
		mod(&opts)
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &testWatcher{Watcher: w, q: q, dir: opts.Dir, badmail: opts.BadmailDir, failQ: fail}
}

// drop writes a pickup file the way a writer should: temp name, rename.
func (tw *testWatcher) drop(t *testing.T, name, content string) {
	t.Helper()
	tmp := filepath.Join(tw.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(tw.dir, name)); err != nil {
		t.Fatal(err)
	}
}

func (tw *testWatcher) scan(t *testing.T) int {
	t.Helper()
	n, err := tw.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// body returns the queued bytes of message id.
func (tw *testWatcher) body(t *testing.T, id string) string {
	t.Helper()
	rc, err := tw.q.OpenBody(id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func TestWatcherQueuesAndRemoves(t *testing.T) {
	t.Parallel()
	tw := newTestWatcher(t, nil)
	tw.drop(t, "one.eml", "From: Alice <alice@example.test>\nTo: bob@example.test\nBcc: eve@example.test\nSubject: hi\n\nline one\nline two\n")
	if n := tw.scan(t); n != 1 {
		t.Fatalf("Scan queued %d, want 1", n)
	}
	if exists(filepath.Join(tw.dir, "one.eml")) {
		t.Error("pickup file still there after it was queued")
	}
	envs := tw.q.List()
	if len(envs) != 1 {
		t.Fatalf("queue holds %d messages, want 1", len(envs))
	}
	env := envs[0]
	if env.From != "alice@example.test" || len(env.Recipients) != 2 ||
		env.Recipients[0].Address != "bob@example.test" || env.Recipients[1].Address != "eve@example.test" {
		t.Errorf("envelope from %q to %v", env.From, env.Recipients)
	}
	if env.Listener != Listener {
		t.Errorf("Listener = %q, want %q", env.Listener, Listener)
	}
	body := tw.body(t, env.ID)
	if !strings.HasPrefix(body, "Received: from pickup (uid ") || !strings.Contains(body, "by gw.example.test (bridgehead) with local id "+env.ID) {
		t.Errorf("no Received field from pickup first:\n%s", body)
	}
	for _, want := range []string{"\r\nDate: ", "\r\nMessage-ID: <" + env.ID + ".", "\r\nSubject: hi\r\n\r\nline one\r\nline two\r\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("queued message lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "Bcc") || strings.Contains(body, "eve@") {
		t.Errorf("Bcc recipient visible in the queued message:\n%s", body)
	}
	if strings.Contains(strings.ReplaceAll(body, "\r\n", ""), "\n") {
		t.Errorf("bare LF in the queued message:\n%q", body)
	}
}

func TestWatcherXHeadersKeepDateAndMessageID(t *testing.T) {
	t.Parallel()
	tw := newTestWatcher(t, nil)
	tw.drop(t, "x", "x-sender: app@example.test\r\nx-receiver: bob@example.test\r\nx-receiver: carol@example.test\r\n"+
		"From: app@example.test\r\nDate: Mon, 23 Nov 2026 12:00:00 +0000\r\nMessage-ID: <keep@example.test>\r\n\r\nb\r\n")
	if n := tw.scan(t); n != 1 {
		t.Fatalf("Scan queued %d, want 1", n)
	}
	env := tw.q.List()[0]
	if env.From != "app@example.test" || len(env.Recipients) != 2 {
		t.Errorf("envelope from %q to %v", env.From, env.Recipients)
	}
	body := tw.body(t, env.ID)
	if strings.Count(body, "Date:") != 1 || strings.Count(body, "Message-ID:") != 1 || !strings.Contains(body, "<keep@example.test>") {
		t.Errorf("Date or Message-ID added to a message that had them:\n%s", body)
	}
	if strings.Contains(strings.ToLower(body), "x-receiver") || strings.Contains(strings.ToLower(body), "x-sender") {
		t.Errorf("envelope lines left in the message:\n%s", body)
	}
}

func TestWatcherSkipsTemporaryNames(t *testing.T) {
	t.Parallel()
	tw := newTestWatcher(t, nil)
	msg := "From: a@example.test\nTo: b@example.test\n\nb\n"
	for _, name := range []string{".hidden", "writing.tmp"} {
		if err := os.WriteFile(filepath.Join(tw.dir, name), []byte(msg), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(tw.dir, "subdir"), 0o750); err != nil {
		t.Fatal(err)
	}
	if n := tw.scan(t); n != 0 || tw.q.Len() != 0 {
		t.Fatalf("Scan queued %d (queue %d), want none", n, tw.q.Len())
	}
	for _, name := range []string{".hidden", "writing.tmp", "subdir"} {
		if !exists(filepath.Join(tw.dir, name)) {
			t.Errorf("%s was touched", name)
		}
	}
}

func TestWatcherBadFilesToBadmail(t *testing.T) {
	t.Parallel()
	tw := newTestWatcher(t, func(o *Options) { o.MaxSize = 200; o.MaxHops = 2 })
	tw.drop(t, "norcpt", "From: a@example.test\nSubject: s\n\nb\n")
	tw.drop(t, "garbage", "this is not a message\n")
	tw.drop(t, "big", "From: a@example.test\nTo: b@example.test\n\n"+strings.Repeat("x", 300)+"\n")
	tw.drop(t, "loop", "Received: x\nReceived: y\nReceived: z\nFrom: a@example.test\nTo: b@example.test\n\nb\n")
	if err := os.WriteFile(filepath.Join(tw.badmail, "norcpt"), []byte("an older one"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(tw.dir, "link")); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("From: a@example.test\nTo: b@example.test\n\nsecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(secret, filepath.Join(tw.dir, "hardlink")); err != nil {
		t.Fatal(err)
	}
	if n := tw.scan(t); n != 0 || tw.q.Len() != 0 {
		t.Fatalf("Scan queued %d (queue %d), want none", n, tw.q.Len())
	}
	entries, err := os.ReadDir(tw.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("pickup directory still holds %d entries", len(entries))
	}
	reasons := map[string]string{}
	bad, err := os.ReadDir(tw.badmail)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range bad {
		name, ok := strings.CutSuffix(e.Name(), ".reason")
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(tw.badmail, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !exists(filepath.Join(tw.badmail, name)) {
			t.Errorf("%s has no file beside it", e.Name())
		}
		reasons[name] = string(b)
	}
	want := map[string]string{
		"garbage": "header", "big": "more than the 200", "loop": "mail loop", "link": "not a regular file", "hardlink": "hard links",
	}
	for name, why := range want {
		if !strings.Contains(reasons[name], why) {
			t.Errorf("%s.reason = %q, want it to say %q", name, reasons[name], why)
		}
	}
	var norcpt string
	for name, r := range reasons {
		if strings.HasPrefix(name, "norcpt.") && strings.Contains(r, "no recipients") {
			norcpt = name
		}
	}
	if norcpt == "" {
		t.Errorf("norcpt not kept under a new name beside the older one: %v", reasons)
	}
	if b, _ := os.ReadFile(filepath.Join(tw.badmail, "norcpt")); string(b) != "an older one" {
		t.Errorf("older badmail file overwritten: %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(tw.badmail, "link")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink not moved as a link: %v %v", fi, err)
	}
}

func TestWatcherQueueFailureLeavesFile(t *testing.T) {
	t.Parallel()
	tw := newTestWatcher(t, nil)
	tw.drop(t, "m", "From: a@example.test\nTo: b@example.test\n\nb\n")
	*tw.failQ = true
	if n := tw.scan(t); n != 0 {
		t.Fatalf("Scan queued %d with a failing queue", n)
	}
	if !exists(filepath.Join(tw.dir, "m")) {
		t.Fatal("file removed although the queue did not take it")
	}
	if bad, _ := os.ReadDir(tw.badmail); len(bad) != 0 {
		t.Fatalf("file went to badmail for a queue failure")
	}
	*tw.failQ = false
	if n := tw.scan(t); n != 1 || tw.q.Len() != 1 || exists(filepath.Join(tw.dir, "m")) {
		t.Fatalf("next poll: queued %d, queue %d, file still there: %v", n, tw.q.Len(), exists(filepath.Join(tw.dir, "m")))
	}
}

func TestWatcherRunStopsWithContext(t *testing.T) {
	t.Parallel()
	tw := newTestWatcher(t, func(o *Options) { o.Interval = 10 * time.Millisecond })
	tw.drop(t, "m", "From: a@example.test\nTo: b@example.test\n\nb\n")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tw.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for tw.q.Len() == 0 { // Run scans at once; the queue gives no signal
		if time.Now().After(deadline) {
			t.Fatal("Run did not queue the file")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
}

func TestNewCreatesDirectories(t *testing.T) {
	t.Parallel()
	tw := newTestWatcher(t, nil)
	fi, err := os.Stat(tw.dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSticky == 0 || fi.Mode()&os.ModeSetgid == 0 || fi.Mode().Perm() != 0o730 {
		t.Errorf("pickup directory mode %v, want setgid, sticky, 0730", fi.Mode())
	}
	if _, err := New(Options{Dir: tw.dir, BadmailDir: tw.badmail, Hostname: "bad host", Queue: tw.q}); err == nil {
		t.Error("New accepted a host name with a space")
	}
}
