package queue

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
)

// commitReq is one record waiting for the committer.
type commitReq struct {
	id  string
	buf *[]byte // the record; back in the pool once written
	// taken is set (under journal.mu) when the committer has taken the
	// record: from then on it is written and its waiter must wait.
	taken bool
	done  chan struct{} // closed when loc or err is set
	loc   *jloc
	err   error
}

// maxBatchWrite bounds the bytes the committer copies together before a
// write; a larger batch takes several writes and still one sync.
const maxBatchWrite = 1 << 20

// commit appends the record in buf (finishRecord's) for message id and
// returns once it is on stable storage. buf belongs to the journal from
// now on.
//
// Cancellation: while the record waits for the committer, ctx ending
// withdraws it and commit returns ctx's error: nothing was written. Once
// the committer has taken it, commit waits for the outcome of its write
// and sync, whatever ctx says, so that an error always means the message
// is not queued.
func (j *journal) commit(ctx context.Context, id string, buf *[]byte) (*jloc, error) {
	req := &commitReq{id: id, buf: buf, done: make(chan struct{})}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		j.putBuf(buf)
		return nil, ErrClosed
	}
	j.pending = append(j.pending, req)
	j.mu.Unlock()
	if j.enqueued != nil {
		j.enqueued()
	}
	select {
	case j.kick <- struct{}{}:
	default:
	}
	select {
	case <-req.done:
	case <-ctx.Done():
		j.mu.Lock()
		if !req.taken {
			j.pending = slices.DeleteFunc(j.pending, func(r *commitReq) bool { return r == req })
			j.mu.Unlock()
			j.putBuf(buf)
			return nil, ctx.Err()
		}
		j.mu.Unlock()
		<-req.done
	}
	return req.loc, req.err
}

// run is the committer: it takes every waiting record, writes them to the
// active segment, syncs it once and releases their waiters, until stop.
// Records that arrive during a sync make up the next batch.
func (j *journal) run() {
	defer close(j.stopped)
	for {
		select {
		case <-j.stop:
			j.mu.Lock()
			batch := j.takeLocked()
			j.mu.Unlock()
			for _, req := range batch {
				j.putBuf(req.buf)
				req.err = ErrClosed
				close(req.done)
			}
			return
		case <-j.kick:
		}
		for {
			j.mu.Lock()
			batch := j.takeLocked()
			j.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			j.writeBatch(batch)
		}
	}
}

// takeLocked takes the waiting records. j.mu is held.
func (j *journal) takeLocked() []*commitReq {
	batch := j.pending
	j.pending = nil
	for _, req := range batch {
		req.taken = true
	}
	return batch
}

// writeBatch writes and syncs batch and releases its waiters.
func (j *journal) writeBatch(batch []*commitReq) {
	err := j.writeSync(batch)
	for _, req := range batch {
		j.putBuf(req.buf)
		req.buf = nil
		if err != nil {
			req.loc, req.err = nil, err
		}
		close(req.done)
	}
}

// writeSync appends batch to the active segment (a new one when it would
// grow past maxSize) and syncs it, setting each record's loc. On error no
// record of the batch is live and the segment is sealed.
func (j *journal) writeSync(batch []*commitReq) error {
	total := int64(0)
	for _, req := range batch {
		total += int64(len(*req.buf))
	}
	if j.active != nil && j.active.size > 0 && j.active.size+total > j.maxSize {
		j.mu.Lock()
		j.seal(j.active)
		j.mu.Unlock()
		j.active = nil
	}
	if j.active == nil {
		seg, err := j.nextSegment()
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		j.active = seg
	}
	seg := j.active
	start := seg.size
	off := start
	written := start
	buf := j.batch[:0]
	for _, req := range batch {
		rec := *req.buf
		prefix := int64(recordPrefixLen(req.id))
		req.loc = &jloc{
			seg:       seg,
			id:        req.id,
			bodyStart: off + prefix,
			bodyLen:   int64(binary.BigEndian.Uint64(rec[8:16])),
			envLen:    int64(binary.BigEndian.Uint32(rec[16:20])),
		}
		off += int64(len(rec))
		buf = append(buf, rec...)
		if len(buf) >= maxBatchWrite {
			if _, err := seg.f.WriteAt(buf, written); err != nil {
				return j.abandon(seg, start, batch, fmt.Errorf("journal: write: %w", err))
			}
			written += int64(len(buf))
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		if _, err := seg.f.WriteAt(buf, written); err != nil {
			return j.abandon(seg, start, batch, fmt.Errorf("journal: write: %w", err))
		}
	}
	if cap(buf) <= 4*maxBatchWrite {
		j.batch = buf[:0]
	} else {
		j.batch = nil
	}
	if err := j.sync(seg.f); err != nil {
		return j.abandon(seg, start, batch, fmt.Errorf("journal: sync: %w", err))
	}
	seg.size = off
	j.mu.Lock()
	seg.live += len(batch)
	j.mu.Unlock()
	return nil
}

// abandon gives up a batch whose write or sync failed: the records may be
// partly on disk, so the segment is cut back to where the batch started
// and sealed; if it cannot be cut, the batch's ids go to its done log so
// that recovery does not bring back messages whose Commit failed.
func (j *journal) abandon(seg *segment, start int64, batch []*commitReq, err error) error {
	j.active = nil
	terr := seg.f.Truncate(start)
	j.mu.Lock()
	defer j.mu.Unlock()
	if terr != nil {
		for _, req := range batch {
			_ = j.appendDone(seg, req.id)
		}
	}
	j.seal(seg)
	return err
}
