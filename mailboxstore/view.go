package mailboxstore

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"
)

// view is a session's selected folder. Its own fields are used by one
// goroutine at a time (the connection's); the folder has its own lock.
type view struct {
	s         *session
	f         *folder
	tracker   *imapserver.SessionTracker
	readOnly  bool
	searchRes imap.UIDSet
}

func (v *view) close() { v.tracker.Close() }

// snap is a message as seen by the client at one moment.
type snap struct {
	seq     uint32 // client's sequence number
	m       message
	changed bool // flags changed implicitly (\Seen by FETCH BODY[])
}

// forEachLocked calls fn for each message in numSet with its server sequence
// number. f.mu must be held.
func (v *view) forEachLocked(numSet imap.NumSet, fn func(seq uint32, m *message)) {
	numSet = v.staticNumSetLocked(numSet)
	for i, m := range v.f.msgs {
		seq := uint32(i) + 1
		var ok bool
		switch ns := numSet.(type) {
		case imap.SeqSet:
			cs := v.tracker.EncodeSeqNum(seq)
			ok = cs != 0 && ns.Contains(cs)
		case imap.UIDSet:
			ok = ns.Contains(m.uid)
		}
		if ok {
			fn(seq, m)
		}
	}
}

// staticNumSetLocked replaces "*" with the highest number and "$" with the
// saved search result.
func (v *view) staticNumSetLocked(numSet imap.NumSet) imap.NumSet {
	if imap.IsSearchRes(numSet) {
		return v.searchRes
	}
	switch ns := numSet.(type) {
	case imap.SeqSet:
		hi := uint32(len(v.f.msgs))
		for i := range ns {
			staticRange(&ns[i].Start, &ns[i].Stop, hi)
		}
	case imap.UIDSet:
		hi := uint32(v.f.uidNext) - 1
		for i := range ns {
			staticRange((*uint32)(&ns[i].Start), (*uint32)(&ns[i].Stop), hi)
		}
	}
	return numSet
}

func staticRange(start, stop *uint32, hi uint32) {
	dyn := false
	if *start == 0 {
		*start, dyn = hi, true
	}
	if *stop == 0 {
		*stop, dyn = hi, true
	}
	if dyn && *start > *stop {
		*start, *stop = *stop, *start
	}
}

// Fetch writes the requested items. The folder lock is held only to take a
// snapshot and set \Seen; files are read and the client written without it.
func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	v := s.view
	markSeen := false
	if !v.readOnly {
		for _, bs := range options.BodySection {
			markSeen = markSeen || !bs.Peek
		}
		for _, bs := range options.BinarySection {
			markSeen = markSeen || !bs.Peek
		}
	}
	var snaps []snap
	v.f.mu.Lock()
	v.forEachLocked(numSet, func(seq uint32, m *message) {
		changed := false
		if markSeen && !hasFlag(m.letters, imap.FlagSeen) {
			if err := v.f.setLettersLocked(m, applyFlags(m.letters, imap.StoreFlagsAdd, []imap.Flag{imap.FlagSeen})); err != nil {
				s.log.Warn("imap fetch: set \\Seen", slog.Any("error", err))
			} else {
				changed = true
				v.f.tracker.QueueMessageFlags(seq, m.uid, imapFlags(m.letters), v.tracker)
				v.f.notifyLocked()
			}
		}
		snaps = append(snaps, snap{seq: v.tracker.EncodeSeqNum(seq), m: *m, changed: changed})
	})
	v.f.mu.Unlock()

	needBody := options.Envelope || options.BodyStructure != nil || len(options.BodySection) > 0 ||
		len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0
	for _, sn := range snaps {
		if sn.seq == 0 {
			continue
		}
		var data []byte
		if needBody {
			var err error
			data, err = v.f.readMessage(sn.m)
			if errors.Is(err, errGone) {
				continue // expunged meanwhile; the client hears of it at the next poll
			}
			if err != nil {
				s.log.Error("imap fetch: read message", slog.Uint64("uid", uint64(sn.m.uid)), slog.Any("error", err))
				return errServer
			}
		}
		if err := writeFetch(w.CreateMessage(sn.seq), sn, data, options); err != nil {
			return err
		}
	}
	return nil
}

// writeFetch writes one message's FETCH response.
func writeFetch(rw *imapserver.FetchResponseWriter, sn snap, data []byte, options *imap.FetchOptions) error {
	rw.WriteUID(sn.m.uid)
	if options.Flags || sn.changed {
		rw.WriteFlags(imapFlags(sn.m.letters))
	}
	if options.InternalDate {
		rw.WriteInternalDate(sn.m.date)
	}
	if options.RFC822Size {
		rw.WriteRFC822Size(sn.m.size)
	}
	if options.Envelope {
		h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(data)))
		if err == nil {
			rw.WriteEnvelope(imapserver.ExtractEnvelope(h))
		} else {
			rw.WriteEnvelope(&imap.Envelope{})
		}
	}
	if options.BodyStructure != nil {
		rw.WriteBodyStructure(imapserver.ExtractBodyStructure(bytes.NewReader(data)))
	}
	for _, bs := range options.BodySection {
		if err := writeLiteral(rw.WriteBodySection, bs, imapserver.ExtractBodySection(bytes.NewReader(data), bs)); err != nil {
			return err
		}
	}
	for _, bs := range options.BinarySection {
		if err := writeLiteral(rw.WriteBinarySection, bs, imapserver.ExtractBinarySection(bytes.NewReader(data), bs)); err != nil {
			return err
		}
	}
	for _, bss := range options.BinarySectionSize {
		rw.WriteBinarySectionSize(bss, imapserver.ExtractBinarySectionSize(bytes.NewReader(data), bss))
	}
	return rw.Close()
}

// writeLiteral writes b as the literal of a section item.
func writeLiteral[T any](open func(T, int64) io.WriteCloser, item T, b []byte) error {
	wc := open(item, int64(len(b)))
	_, werr := wc.Write(b)
	if cerr := wc.Close(); werr == nil {
		werr = cerr
	}
	return werr
}
