package mailboxstore

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// Search finds the messages matching criteria. Criteria on flags, UIDs,
// sequence numbers, sizes and internal dates need no file; the others read
// the message, outside the folder lock.
func (s *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	v := s.view
	var snaps []snap
	v.f.mu.Lock()
	v.staticCriteriaLocked(criteria)
	for i, m := range v.f.msgs {
		snaps = append(snaps, snap{seq: v.tracker.EncodeSeqNum(uint32(i) + 1), m: *m})
	}
	v.f.mu.Unlock()

	var (
		data   imap.SearchData
		seqSet imap.SeqSet
		uidSet imap.UIDSet
	)
	for _, sn := range snaps {
		c := &candidate{f: v.f, sn: sn}
		ok, err := c.match(criteria)
		if err != nil {
			s.log.Error("imap search: read message", slog.Uint64("uid", uint64(sn.m.uid)), slog.Any("error", err))
			return nil, errServer
		}
		if !ok {
			continue
		}
		uidSet.AddNum(sn.m.uid)
		var num uint32
		switch kind {
		case imapserver.NumKindSeq:
			if sn.seq == 0 {
				continue
			}
			seqSet.AddNum(sn.seq)
			num = sn.seq
		case imapserver.NumKindUID:
			num = uint32(sn.m.uid)
		}
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		if num > data.Max {
			data.Max = num
		}
		data.Count++
	}
	if kind == imapserver.NumKindSeq {
		data.All = seqSet
	} else {
		data.All = uidSet
	}
	if options.ReturnSave {
		v.searchRes = uidSet
	}
	return &data, nil
}

// staticCriteriaLocked makes the number sets of criteria static.
func (v *view) staticCriteriaLocked(c *imap.SearchCriteria) {
	seqs := make([]imap.SeqSet, 0, len(c.SeqNum))
	for _, ss := range c.SeqNum {
		switch ns := v.staticNumSetLocked(ss).(type) {
		case imap.SeqSet:
			seqs = append(seqs, ns)
		case imap.UIDSet: // "$"
			c.UID = append(c.UID, ns)
		}
	}
	c.SeqNum = seqs
	for i, us := range c.UID {
		c.UID[i] = v.staticNumSetLocked(us).(imap.UIDSet)
	}
	for i := range c.Not {
		v.staticCriteriaLocked(&c.Not[i])
	}
	for i := range c.Or {
		v.staticCriteriaLocked(&c.Or[i][0])
		v.staticCriteriaLocked(&c.Or[i][1])
	}
}

// candidate is a message under test; its file is read at most once.
type candidate struct {
	f    *folder
	sn   snap
	data []byte
	read bool
}

func (c *candidate) content() ([]byte, error) {
	if !c.read {
		b, err := c.f.readMessage(c.sn.m)
		if err != nil && !errors.Is(err, errGone) {
			return nil, err
		}
		c.data, c.read = b, true
	}
	return c.data, nil
}

func (c *candidate) entity() (*gomessage.Entity, error) {
	b, err := c.content()
	if err != nil {
		return nil, err
	}
	e, _ := gomessage.Read(bytes.NewReader(b))
	if e == nil {
		e, _ = gomessage.New(gomessage.Header{}, bytes.NewReader(nil))
	}
	return e, nil
}

func (c *candidate) match(cr *imap.SearchCriteria) (bool, error) {
	m := &c.sn.m
	for _, ss := range cr.SeqNum {
		if c.sn.seq == 0 || !ss.Contains(c.sn.seq) {
			return false, nil
		}
	}
	for _, us := range cr.UID {
		if !us.Contains(m.uid) {
			return false, nil
		}
	}
	if !matchDate(m.date, cr.Since, cr.Before) {
		return false, nil
	}
	for _, f := range cr.Flag {
		if !hasFlag(m.letters, f) {
			return false, nil
		}
	}
	for _, f := range cr.NotFlag {
		if hasFlag(m.letters, f) {
			return false, nil
		}
	}
	if cr.Larger != 0 && m.size <= cr.Larger {
		return false, nil
	}
	if cr.Smaller != 0 && m.size >= cr.Smaller {
		return false, nil
	}
	if len(cr.Header) > 0 || !cr.SentSince.IsZero() || !cr.SentBefore.IsZero() {
		e, err := c.entity()
		if err != nil {
			return false, err
		}
		h := mail.Header{Header: e.Header}
		for _, hc := range cr.Header {
			if !matchFields(h.FieldsByKey(hc.Key), hc.Value) {
				return false, nil
			}
		}
		if !cr.SentSince.IsZero() || !cr.SentBefore.IsZero() {
			t, err := h.Date()
			if err != nil || !matchDate(t, cr.SentSince, cr.SentBefore) {
				return false, nil
			}
		}
	}
	for _, text := range cr.Text {
		e, err := c.entity()
		if err != nil {
			return false, err
		}
		if !matchEntity(e, text, true) {
			return false, nil
		}
	}
	for _, body := range cr.Body {
		e, err := c.entity()
		if err != nil {
			return false, err
		}
		if !matchEntity(e, body, false) {
			return false, nil
		}
	}
	for i := range cr.Not {
		ok, err := c.match(&cr.Not[i])
		if err != nil || ok {
			return false, err
		}
	}
	for i := range cr.Or {
		ok, err := c.match(&cr.Or[i][0])
		if err != nil {
			return false, err
		}
		if !ok {
			if ok, err = c.match(&cr.Or[i][1]); err != nil || !ok {
				return false, err
			}
		}
	}
	return true, nil
}

// matchDate compares dates only, ignoring time and zone (RFC 3501).
func matchDate(t, since, before time.Time) bool {
	t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() && t.Before(since) {
		return false
	}
	if !before.IsZero() && !t.Before(before) {
		return false
	}
	return true
}

func matchFields(fields gomessage.HeaderFields, pattern string) bool {
	if pattern == "" {
		return fields.Len() > 0
	}
	pattern = strings.ToLower(pattern)
	for fields.Next() {
		v, _ := fields.Text()
		if strings.Contains(strings.ToLower(v), pattern) {
			return true
		}
	}
	return false
}

// matchEntity looks for pattern in the text parts (and, with header, the
// header fields) of e, case-insensitively.
func matchEntity(e *gomessage.Entity, pattern string, header bool) bool {
	if pattern == "" {
		return true
	}
	if header && matchFields(e.Header.Fields(), pattern) {
		return true
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			part, err := mr.NextPart()
			if err != nil {
				return false
			}
			if matchEntity(part, pattern, header) {
				return true
			}
		}
	}
	t, _, _ := e.Header.ContentType()
	if t != "" && !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
		return false
	}
	b, err := io.ReadAll(e.Body)
	if err != nil {
		return false
	}
	return bytes.Contains(bytes.ToLower(b), []byte(strings.ToLower(pattern)))
}
