package mailboxstore

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// uidListName is the per-folder file that keeps UIDs stable across restarts.
const uidListName = "bridgehead-uidlist"

// uidListHeader starts the first line of a uidlist file.
const uidListHeader = "bridgehead-uidlist v1"

// uidEntry is one line of a uidlist: a message's UID, its internal date and
// the unique base of its file name.
type uidEntry struct {
	uid  imap.UID
	date time.Time
	base string
}

// uidList is the content of a uidlist file.
//
//	bridgehead-uidlist v1 <uidvalidity> <uidnext>
//	<uid> <internal date, unix seconds> <base file name>
type uidList struct {
	uidValidity uint32
	uidNext     imap.UID
	entries     []uidEntry
}

func (l *uidList) marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %d %d\n", uidListHeader, l.uidValidity, l.uidNext)
	for _, e := range l.entries {
		fmt.Fprintf(&b, "%d %d %s\n", e.uid, e.date.Unix(), e.base)
	}
	return b.Bytes()
}

func parseUIDList(data []byte) (*uidList, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	if !sc.Scan() {
		return nil, fmt.Errorf("uidlist: empty")
	}
	head := strings.Fields(strings.TrimPrefix(sc.Text(), uidListHeader))
	if !strings.HasPrefix(sc.Text(), uidListHeader+" ") || len(head) != 2 {
		return nil, fmt.Errorf("uidlist: bad header %q", sc.Text())
	}
	v, err1 := strconv.ParseUint(head[0], 10, 32)
	n, err2 := strconv.ParseUint(head[1], 10, 32)
	if err1 != nil || err2 != nil || v == 0 || n == 0 {
		return nil, fmt.Errorf("uidlist: bad header %q", sc.Text())
	}
	l := &uidList{uidValidity: uint32(v), uidNext: imap.UID(n)}
	var last imap.UID
	for line := 2; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			return nil, fmt.Errorf("uidlist: line %d: want 3 fields", line)
		}
		uid, err := strconv.ParseUint(f[0], 10, 32)
		if err != nil || uid == 0 || imap.UID(uid) <= last || imap.UID(uid) >= l.uidNext {
			return nil, fmt.Errorf("uidlist: line %d: bad or unordered uid %q", line, f[0])
		}
		secs, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("uidlist: line %d: bad date %q", line, f[1])
		}
		last = imap.UID(uid)
		l.entries = append(l.entries, uidEntry{uid: last, date: time.Unix(secs, 0), base: f[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("uidlist: %w", err)
	}
	return l, nil
}
