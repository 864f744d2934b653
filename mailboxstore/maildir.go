package mailboxstore

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"bridgehead.dev/bridgehead/internal/durable"
)

// Maildir subdirectories.
const (
	subTmp = "tmp"
	subNew = "new"
	subCur = "cur"

	// infoSep starts the Maildir info part of a file name in cur/.
	infoSep = ":2,"
	// maildirFolderMarker marks a Maildir++ sub-folder.
	maildirFolderMarker = "maildirfolder"
)

// flagLetters maps IMAP flags to Maildir info letters.
var flagLetters = []struct {
	flag   imap.Flag
	letter byte
}{
	{imap.FlagDraft, 'D'},
	{imap.FlagFlagged, 'F'},
	{imap.FlagForwarded, 'P'},
	{imap.FlagAnswered, 'R'},
	{imap.FlagSeen, 'S'},
	{imap.FlagDeleted, 'T'},
}

// permanentFlags are the flags the store keeps.
func permanentFlags() []imap.Flag {
	l := make([]imap.Flag, 0, len(flagLetters))
	for _, fl := range flagLetters {
		l = append(l, fl.flag)
	}
	return l
}

// letterFor returns the Maildir letter for an IMAP flag, or 0.
func letterFor(flag imap.Flag) byte {
	for _, fl := range flagLetters {
		if strings.EqualFold(string(fl.flag), string(flag)) {
			return fl.letter
		}
	}
	return 0
}

// imapFlags converts Maildir info letters to IMAP flags; unknown letters are
// not shown.
func imapFlags(letters string) []imap.Flag {
	l := []imap.Flag{}
	for _, fl := range flagLetters {
		if strings.IndexByte(letters, fl.letter) >= 0 {
			l = append(l, fl.flag)
		}
	}
	return l
}

// hasFlag reports whether letters include the IMAP flag.
func hasFlag(letters string, flag imap.Flag) bool {
	c := letterFor(flag)
	return c != 0 && strings.IndexByte(letters, c) >= 0
}

// applyFlags returns letters changed by a STORE operation. Letters the store
// does not map (e.g. another program's keywords) survive every operation.
func applyFlags(letters string, op imap.StoreFlagsOp, flags []imap.Flag) string {
	set := make(map[byte]bool)
	for i := 0; i < len(letters); i++ {
		set[letters[i]] = true
	}
	if op == imap.StoreFlagsSet {
		for _, fl := range flagLetters {
			delete(set, fl.letter)
		}
	}
	for _, f := range flags {
		c := letterFor(f)
		if c == 0 {
			continue
		}
		if op == imap.StoreFlagsDel {
			delete(set, c)
		} else {
			set[c] = true
		}
	}
	return lettersOf(set)
}

// lettersFromFlags converts IMAP flags (e.g. APPEND's) to Maildir letters.
func lettersFromFlags(flags []imap.Flag) string {
	return applyFlags("", imap.StoreFlagsSet, flags)
}

func lettersOf(set map[byte]bool) string {
	b := make([]byte, 0, len(set))
	for c, ok := range set {
		if ok {
			b = append(b, c)
		}
	}
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	return string(b)
}

// splitFileName splits a Maildir file name into its unique base and its info
// flags.
func splitFileName(name string) (base, letters string) {
	base, info, ok := strings.Cut(name, ":")
	if !ok {
		return name, ""
	}
	if strings.HasPrefix(info, "2,") {
		letters = info[2:]
	}
	return base, letters
}

// fileName is the name of a message file in sub (new or cur).
func fileName(sub, base, letters string) string {
	if sub == subNew {
		return base
	}
	return base + infoSep + letters
}

// uniqueName makes a Maildir unique file name for a message delivered at t.
func uniqueName(t time.Time, seq uint64, host string) (string, error) {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("random file name: %w", err)
	}
	return fmt.Sprintf("%d.M%dP%dQ%dR%s.%s", t.Unix(), t.Nanosecond()/1000, os.Getpid(), seq,
		hex.EncodeToString(r[:]), host), nil
}

// maildirHost is the host part of unique names, with "/" and ":" escaped as
// the Maildir specification asks.
func maildirHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	h = strings.ReplaceAll(h, "/", `\057`)
	return strings.ReplaceAll(h, ":", `\072`)
}

// writeFileAtomic replaces dir/name with data: temp file, fsync, rename,
// fsync dir. The temp name does not start with a dot, so Maildir++ readers
// never take it for a folder.
func writeFileAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return fmt.Errorf("create temp for %s: %w", name, err)
	}
	tmp := f.Name()
	cleanup := func() { _ = os.Remove(tmp) }
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		cleanup()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		cleanup()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		cleanup()
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		cleanup()
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return durable.SyncDir(dir)
}

// makeMaildir creates dir with tmp, new and cur (0700), and the Maildir++
// marker when sub is true, fsyncing what it creates.
func makeMaildir(dir string, sub bool) error {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", parent, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, s := range []string{subTmp, subNew, subCur} {
		if err := os.Mkdir(filepath.Join(dir, s), 0o700); err != nil && !os.IsExist(err) {
			return fmt.Errorf("create %s/%s: %w", dir, s, err)
		}
	}
	if sub {
		p := filepath.Join(dir, maildirFolderMarker)
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("create %s: %w", p, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("close %s: %w", p, err)
		}
	}
	if err := durable.SyncDir(dir); err != nil {
		return err
	}
	return durable.SyncDir(parent)
}
