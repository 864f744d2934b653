package queue

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"bridgehead.dev/bridgehead/internal/durable"
)

// journal holds the fresh messages of a running queue: each Commit of a
// message small enough to be buffered appends one record (journal_record.go)
// to the active segment, journal/<seq>, and one goroutine writes and
// fsyncs the records waiting in a batch (journal_commit.go). A record is
// done once its message is finished or migrated to msg/ (migrate.go); the
// ids of done records are appended, without fsync, to journal/<seq>.done.
// A segment that is no longer active and has no live record is removed.
// At Open every live record is migrated to msg/ and the journal is
// emptied (journal_recover.go).
type journal struct {
	dir     string
	maxSize int64
	log     *slog.Logger
	// sync makes a segment's written records durable.
	sync func(*os.File) error
	// enqueued, if set (by tests), is called after a record has joined
	// the waiting batch.
	enqueued func()

	// kick wakes the committer; stop ends it, and stopped is closed when
	// it has.
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}

	// bufs pools the records' buffers.
	bufs sync.Pool
	// removals tracks the deletions of segments in the background.
	removals sync.WaitGroup

	// Owned by the committer goroutine.
	active  *segment
	nextSeq uint64
	batch   []byte
	// spare, while a goroutine makes the segment that follows the
	// active one, is where it delivers it (nil if that failed); nil
	// otherwise.
	spare chan *segment

	mu      sync.Mutex
	pending []*commitReq
	segs    map[*segment]bool
	closed  bool
}

// segment is one journal file.
type segment struct {
	path, donePath string
	// f is read and written at explicit offsets; it stays open while
	// readers hold the segment.
	f *os.File
	// size is the length of the records written; the committer's.
	size int64

	// Under journal.mu.
	live   int      // records written and not done
	refs   int      // open readers
	sealed bool     // no longer the active segment
	gone   bool     // files removed
	done   *os.File // done log, opened at the first done record
}

// jloc is where a committed message's record lies in the journal.
type jloc struct {
	seg       *segment
	id        string
	bodyStart int64 // offset of the message bytes in the segment
	bodyLen   int64
	envLen    int64
}

// newJournal makes the journal in dir, which recovery has left empty, and
// starts its committer.
func newJournal(dir string, maxSize int64, syncFile func(*os.File) error, log *slog.Logger) *journal {
	j := &journal{
		dir:     dir,
		maxSize: maxSize,
		log:     log,
		sync:    syncFile,
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
		nextSeq: 1,
		segs:    map[*segment]bool{},
	}
	go j.run()
	return j
}

// getBuf returns a record buffer from the pool.
func (j *journal) getBuf() *[]byte {
	if b, ok := j.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 16<<10)
	return &b
}

// maxPooledBuf is the largest record buffer kept for reuse: the rare big
// message does not pin a big buffer per pooled slot.
const maxPooledBuf = 256 << 10

// putBuf gives a record buffer back to the pool.
func (j *journal) putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	j.bufs.Put(b)
}

// open returns the message bytes of the record at loc, or false when the
// record's segment is gone (its message was migrated to msg/ meanwhile).
func (j *journal) open(loc *jloc) (io.ReadCloser, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if loc.seg.gone || j.closed {
		return nil, false
	}
	loc.seg.refs++
	return &journalBody{
		SectionReader: io.NewSectionReader(loc.seg.f, loc.bodyStart, loc.bodyLen),
		j:             j,
		seg:           loc.seg,
	}, true
}

// journalBody reads a message's bytes from its journal segment.
type journalBody struct {
	*io.SectionReader
	j    *journal
	seg  *segment
	once sync.Once
}

// Close releases the segment.
func (b *journalBody) Close() error {
	var err error
	b.once.Do(func() {
		b.j.mu.Lock()
		defer b.j.mu.Unlock()
		b.seg.refs--
		if b.seg.gone && b.seg.refs == 0 {
			err = b.seg.f.Close()
		}
	})
	return err
}

// readRecord returns the message bytes and the envelope as committed of
// the record at loc, in one slice: body first.
func (j *journal) readRecord(loc *jloc) ([]byte, error) {
	b := make([]byte, loc.bodyLen+loc.envLen)
	if _, err := loc.seg.f.ReadAt(b, loc.bodyStart); err != nil {
		return nil, fmt.Errorf("read journal record of %s: %w", loc.id, err)
	}
	return b, nil
}

// markDone records that the record at loc is no longer needed: its
// message is finished, or migrated to msg/. The id goes to the segment's
// done log without fsync: it survives a crash of the process, and after a
// power loss the worst outcome is a repeated delivery. A sealed segment
// left without live records is removed.
func (j *journal) markDone(loc *jloc) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	seg := loc.seg
	if seg.gone {
		return nil
	}
	err := j.appendDone(seg, loc.id)
	seg.live--
	if seg.sealed && seg.live == 0 {
		j.removeSegment(seg)
	}
	return err
}

// appendDone appends id to seg's done log. j.mu is held.
func (j *journal) appendDone(seg *segment, id string) error {
	if seg.done == nil {
		f, err := os.OpenFile(seg.donePath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("open journal done log: %w", err)
		}
		seg.done = f
	}
	if _, err := seg.done.Write([]byte(id + "\n")); err != nil {
		return fmt.Errorf("write journal done log: %w", err)
	}
	return nil
}

// seal ends seg's time as the active segment and removes it if no record
// in it is live. j.mu is held.
func (j *journal) seal(seg *segment) {
	seg.sealed = true
	if seg.live == 0 {
		j.removeSegment(seg)
	}
}

// removeSegment forgets seg and deletes its files and done log in the
// background: on ext4 the unlink of a full segment takes tens of
// milliseconds (measured 53-70 ms for 64 MiB, with online discard), and
// j.mu, which every commit and delivery takes, must not wait for it. The
// segment goes first: a done log without its segment is harmless, and a
// crash before both are gone leaves them for recovery, which finds every
// record done. j.mu is held.
func (j *journal) removeSegment(seg *segment) {
	seg.gone = true
	delete(j.segs, seg)
	done := seg.done
	seg.done = nil
	var f *os.File
	if seg.refs == 0 {
		f = seg.f // else the last reader closes it
	}
	remove := func() {
		if err := os.Remove(seg.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			j.log.Error("cannot remove journal segment", slog.String("path", seg.path), slog.Any("error", err))
		}
		if done != nil {
			_ = done.Close()
		}
		if err := os.Remove(seg.donePath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			j.log.Error("cannot remove journal done log", slog.String("path", seg.donePath), slog.Any("error", err))
		}
		if f != nil {
			_ = f.Close()
		}
	}
	if j.closed {
		remove() // close is waiting for the removals started before
		return
	}
	j.removals.Go(remove)
}

// nextSegment returns the segment to write after the active one: the one
// made in the background while the active one filled, else one made now.
// Then it starts making the one after, so that a rotation does not hold
// the waiting commits for a file creation and a directory fsync (0.7-8 ms
// measured on ext4). Called by the committer.
func (j *journal) nextSegment() (*segment, error) {
	var seg *segment
	if j.spare != nil {
		seg = <-j.spare
		j.spare = nil
	}
	if seg == nil {
		var err error
		seg, err = j.createSegment(j.takeSeq())
		if err != nil {
			return nil, err
		}
	}
	j.mu.Lock()
	j.segs[seg] = true
	j.mu.Unlock()
	spare := make(chan *segment, 1)
	j.spare = spare
	seq := j.takeSeq()
	go func() {
		next, err := j.createSegment(seq)
		if err != nil {
			j.log.Warn("cannot make the next journal segment ahead", slog.Any("error", err))
		}
		spare <- next
	}()
	return seg, nil
}

// takeSeq returns the next segment number. Called by the committer.
func (j *journal) takeSeq() uint64 {
	seq := j.nextSeq
	j.nextSeq++
	return seq
}

// createSegment creates segment seq and fsyncs the journal directory, so
// that no record in it is acknowledged before its file name is durable.
func (j *journal) createSegment(seq uint64) (*segment, error) {
	p := filepath.Join(j.dir, fmt.Sprintf("%016x", seq))
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal segment: %w", err)
	}
	if err := durable.SyncDir(j.dir); err != nil {
		_ = f.Close()
		_ = os.Remove(p)
		return nil, fmt.Errorf("create journal segment: %w", err)
	}
	return &segment{path: p, donePath: p + ".done", f: f}, nil
}

// dropSpare removes the segment made ahead, which holds no record. Called
// once the committer has stopped.
func (j *journal) dropSpare() {
	if j.spare == nil {
		return
	}
	seg := <-j.spare
	j.spare = nil
	if seg != nil {
		_ = seg.f.Close()
		_ = os.Remove(seg.path)
	}
}

// close stops the committer (waiting records fail with ErrClosed), removes
// the empty segment made ahead and closes the others. Their files stay for
// the next Open to recover.
func (j *journal) close() {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return
	}
	j.closed = true
	j.mu.Unlock()
	close(j.stop)
	<-j.stopped
	j.dropSpare()
	j.removals.Wait()
	j.mu.Lock()
	defer j.mu.Unlock()
	for seg := range j.segs {
		if seg.done != nil {
			_ = seg.done.Close()
			seg.done = nil
		}
		seg.gone = true
		if seg.refs == 0 {
			_ = seg.f.Close()
		}
	}
	j.segs = map[*segment]bool{}
}
