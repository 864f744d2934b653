package mailboxstore

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// pythonRead is what testdata/imaplib_read.py prints.
type pythonRead struct {
	Exists      int      `json:"exists"`
	UIDValidity uint32   `json:"uidvalidity"`
	Search      []uint32 `json:"search"`
	List        []string `json:"list"`
	Messages    []struct {
		UID   uint32   `json:"uid"`
		Size  int      `json:"size"`
		Flags []string `json:"flags"`
		Body  string   `json:"body"`
	} `json:"messages"`
}

func needPython(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 is required in CI: %v", err)
		}
		t.Skipf("python3 not found: %v", err)
	}
	// Resolve version-manager shims once: each run through one is slow.
	out, err := exec.CommandContext(context.Background(), p, "-c", "import sys; print(sys.executable)").Output()
	if exe := strings.TrimSpace(string(out)); err == nil && exe != "" {
		return exe
	}
	return p
}

func runImaplib(t *testing.T, python, addr, login, password, mailbox string) (*pythonRead, error) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.CommandContext(context.Background(), python, "testdata/imaplib_read.py", host, port, login, password, mailbox)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Logf("imaplib stderr: %s", stderr.String())
		return nil, err
	}
	var r pythonRead
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("imaplib output %q: %v", out, err)
	}
	return &r, nil
}

func TestPythonImaplibReadsPostmasterAcrossRestart(t *testing.T) {
	t.Parallel()
	python := needPython(t)
	dir := t.TempDir()
	clock := newTestClock()
	s1 := openTestStore(t, dir, clock)
	bodies := []string{testMessage("bounce one", "Ümlaut report"), testMessage("bounce two", "second")}
	for _, b := range bodies {
		mustAppend(t, s1, "postmaster", "INBOX", b)
	}

	read := func(s *Store, badPassword bool) *pythonRead {
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := s.NewIMAPServer(ServerOptions{InsecureAuth: true, Auth: testUsers, Admins: []string{"alice"}})
		must(t, err, "NewIMAPServer")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err, "listen")
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, ln) }()
		defer func() {
			cancel()
			must(t, <-done, "Serve")
		}()
		if badPassword {
			if _, err := runImaplib(t, python, ln.Addr().String(), "alice", "wrong", "Postmaster"); err == nil {
				t.Error("imaplib logged in with a wrong password")
			}
		}
		r, err := runImaplib(t, python, ln.Addr().String(), "alice", "alice-secret", "Postmaster")
		must(t, err, "imaplib")
		return r
	}

	before := read(s1, true)
	if before.Exists != 2 || !slices.Equal(before.Search, []uint32{1, 2}) || len(before.Messages) != 2 {
		t.Fatalf("imaplib saw %+v", before)
	}
	for i, m := range before.Messages {
		if m.UID != uint32(i+1) || m.Body != bodies[i] || m.Size != len(bodies[i]) || len(m.Flags) != 0 {
			t.Errorf("message %d: uid %d size %d flags %v body %q", i, m.UID, m.Size, m.Flags, m.Body)
		}
	}
	if !slices.ContainsFunc(before.List, func(l string) bool {
		return strings.HasSuffix(l, `"Postmaster/Badmail"`) || strings.HasSuffix(l, " Postmaster/Badmail")
	}) {
		t.Errorf("LIST as seen by imaplib: %v", before.List)
	}

	after := read(openTestStore(t, dir, clock), false) // restart on the same directory
	if after.UIDValidity != before.UIDValidity || !slices.Equal(after.Search, before.Search) {
		t.Errorf("after restart: UIDVALIDITY %d (was %d), UIDs %v (were %v)",
			after.UIDValidity, before.UIDValidity, after.Search, before.Search)
	}
}

// TestPythonMailboxReadsMaildir checks the tree with a standard Maildir
// reader: Python's mailbox module.
func TestPythonMailboxReadsMaildir(t *testing.T) {
	t.Parallel()
	python := needPython(t)
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	mustAppend(t, s, "postmaster", "INBOX", testMessage("copy", "x"))
	mustAppend(t, s, "postmaster", "INBOX", testMessage("seen copy", "x"))
	mustAppend(t, s, "postmaster", Badmail, testMessage("double bounce", "x"))
	f, err := s.folder("postmaster", Inbox, false)
	must(t, err, "folder")
	f.mu.Lock()
	must(t, f.setLettersLocked(f.msgs[1], "RS"), "set flags")
	f.mu.Unlock()

	out, err := exec.CommandContext(context.Background(), python, "testdata/maildir_read.py",
		dir+"/postmaster").Output()
	must(t, err, "maildir_read.py")
	got := strings.TrimSpace(string(out))
	want := `{"folders": ["Badmail"], "inbox": [{"subject": "copy", "flags": ""}, {"subject": "seen copy", "flags": "RS"}], ` +
		`"Badmail": [{"subject": "double bounce", "flags": ""}]}`
	if got != want {
		t.Errorf("Python's mailbox module saw\n%s\nwant\n%s", got, want)
	}
}
