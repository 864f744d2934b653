package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"bridgehead.dev/bridgehead/internal/durable"
)

// store is the queue's on-disk layout (see the package documentation).
type store struct {
	tmp, msg, env, failed, corrupt string
	create                         createTempFunc

	msgSync, envSync, failedSync *dirSyncer
}

func newStore(dir string, create createTempFunc) (*store, error) {
	s := &store{
		tmp:     filepath.Join(dir, "tmp"),
		msg:     filepath.Join(dir, "msg"),
		env:     filepath.Join(dir, "env"),
		failed:  filepath.Join(dir, "failed"),
		corrupt: filepath.Join(dir, "corrupt"),
		create:  create,
	}
	for _, d := range []string{dir, s.tmp, s.msg, s.env, s.failed, s.corrupt} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create queue directory: %w", err)
		}
	}
	s.msgSync = newDirSyncer(s.msg)
	s.envSync = newDirSyncer(s.env)
	s.failedSync = newDirSyncer(s.failed)
	return s, nil
}

func (s *store) bodyPath(id string) string      { return filepath.Join(s.msg, id) }
func (s *store) envPath(id string) string       { return filepath.Join(s.env, id+".json") }
func (s *store) failedBody(id string) string    { return filepath.Join(s.failed, id+".msg") }
func (s *store) failedEnv(id string) string     { return filepath.Join(s.failed, id+".json") }
func (s *store) corruptPath(name string) string { return filepath.Join(s.corrupt, name) }

// encodeEnvelope returns env as stored in env/.
func encodeEnvelope(env *Envelope) ([]byte, error) {
	data, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode envelope %s: %w", env.ID, err)
	}
	return append(data, '\n'), nil
}

// writeEnvelope records env atomically in env/.
func (s *store) writeEnvelope(env *Envelope) error {
	data, err := encodeEnvelope(env)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.create, s.tmp, s.envPath(env.ID), data, s.envSync.Sync); err != nil {
		return fmt.Errorf("write envelope %s: %w", env.ID, err)
	}
	return nil
}

// remove deletes a finished message. The message file goes first: a
// crash before its removal is on disk only repeats the delivery, while an
// envelope removed before it would bring the message back with its
// envelope as committed. When a later envelope is in env/ (the message was
// deferred or changed before), the removal of the message file is
// fsynced before that envelope goes; a leftover envelope without its file
// is moved to corrupt/ at the next Open.
func (s *store) remove(id string) error {
	_, lerr := os.Lstat(s.envPath(id))
	hasEnv := lerr == nil
	if err := os.Remove(s.bodyPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove message %s: %w", id, err)
	}
	if !hasEnv {
		return nil
	}
	if err := s.msgSync.Sync(); err != nil {
		return fmt.Errorf("remove message %s: %w", id, err)
	}
	if err := os.Remove(s.envPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove envelope %s: %w", id, err)
	}
	return nil
}

// moveToFailed moves a finished message with failed recipients, whose
// final envelope is already in env/, to failed/. At every step a crash
// leaves either the message committed in env/ and msg/ (and it is
// finished again) or complete in failed/ with at most an orphan body in
// msg/.
func (s *store) moveToFailed(id string) error {
	fb := s.failedBody(id)
	if err := os.Remove(fb); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("move %s to failed: %w", id, err)
	}
	if err := os.Link(s.bodyPath(id), fb); err != nil {
		return fmt.Errorf("move %s to failed: %w", id, err)
	}
	if err := s.failedSync.Sync(); err != nil {
		return fmt.Errorf("move %s to failed: %w", id, err)
	}
	if err := os.Rename(s.envPath(id), s.failedEnv(id)); err != nil {
		return fmt.Errorf("move %s to failed: %w", id, err)
	}
	if err := s.failedSync.Sync(); err != nil {
		return fmt.Errorf("move %s to failed: %w", id, err)
	}
	if err := s.envSync.Sync(); err != nil {
		return fmt.Errorf("move %s to failed: %w", id, err)
	}
	if err := os.Remove(s.bodyPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("move %s to failed: %w", id, err)
	}
	return nil
}

// recover cleans up after a crash and returns the committed envelopes:
// from env/ where a message has a later envelope there, else from the
// trailer of its file in msg/. Temporary files are removed, unreadable
// envelopes are moved to corrupt/ (with their bytes), and message files
// without a committed envelope are removed.
func (s *store) recover(log *slog.Logger) ([]*Envelope, error) {
	tmps, err := os.ReadDir(s.tmp)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.tmp, err)
	}
	for _, de := range tmps {
		p := filepath.Join(s.tmp, de.Name())
		if err := os.RemoveAll(p); err != nil {
			return nil, fmt.Errorf("remove orphan temporary file: %w", err)
		}
		// Temporary names start with the queue id: "<id>.*" for bytes,
		// ".<id>.json.*" for envelopes.
		id, _, _ := strings.Cut(strings.TrimPrefix(de.Name(), "."), ".")
		log.Warn("removed orphan temporary file", slog.String("queue_id", id), slog.String("path", p))
	}

	ents, err := os.ReadDir(s.env)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.env, err)
	}
	var envs []*Envelope
	ids := map[string]bool{}
	for _, de := range ents {
		name := de.Name()
		id, ok := strings.CutSuffix(name, ".json")
		if !ok {
			id = ""
		}
		env, err := s.loadEnvelope(name, id)
		if err != nil {
			log.Error("moving unreadable envelope aside", slog.String("queue_id", id),
				slog.String("path", filepath.Join(s.env, name)), slog.Any("error", err))
			if err := s.moveAside(name, id); err != nil {
				return nil, err
			}
			continue
		}
		envs = append(envs, env)
		ids[id] = true
	}

	bodies, err := os.ReadDir(s.msg)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.msg, err)
	}
	for _, de := range bodies {
		id := de.Name()
		if ids[id] {
			continue
		}
		p := filepath.Join(s.msg, id)
		env, err := s.loadTrailer(id)
		switch {
		case err == nil:
			envs = append(envs, env)
			continue
		case errors.Is(err, errNoTrailer) || errors.Is(err, errFinished):
			// Not committed, or a copy already in failed/.
			if err := os.RemoveAll(p); err != nil {
				return nil, fmt.Errorf("remove orphan message file: %w", err)
			}
			log.Warn("removed message file without envelope", slog.String("queue_id", id),
				slog.String("path", p), slog.String("reason", err.Error()))
		default:
			log.Error("moving message with unreadable envelope aside", slog.String("queue_id", id),
				slog.String("path", p), slog.Any("error", err))
			if err := os.Rename(p, s.corruptPath(id+".msg")); err != nil {
				return nil, fmt.Errorf("move message with unreadable envelope aside: %w", err)
			}
			if err := durable.SyncDir(s.corrupt); err != nil {
				return nil, err
			}
		}
	}
	for _, d := range []*dirSyncer{s.msgSync, s.envSync} {
		if err := d.Sync(); err != nil {
			return nil, err
		}
	}
	if err := durable.SyncDir(s.tmp); err != nil {
		return nil, err
	}
	return envs, nil
}

// loadEnvelope reads and checks env/name, which should hold envelope id.
func (s *store) loadEnvelope(name, id string) (*Envelope, error) {
	if !validID(id) {
		return nil, errors.New("not an envelope file name")
	}
	data, err := os.ReadFile(filepath.Join(s.env, name))
	if err != nil {
		return nil, fmt.Errorf("read envelope: %w", err)
	}
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("decode envelope: %w", err)
	}
	if err := checkEnvelope(&env, id); err != nil {
		return nil, err
	}
	if _, err := os.Stat(s.bodyPath(id)); err != nil {
		return nil, fmt.Errorf("message file: %w", err)
	}
	return &env, nil
}

// errFinished means a message file's message is already in failed/ (a
// crash cut short its move there).
var errFinished = errors.New("message already in failed/")

// loadTrailer reads the envelope committed at the end of msg/id, for a
// message without a later envelope in env/.
func (s *store) loadTrailer(id string) (*Envelope, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: not a message file name", errNoTrailer)
	}
	if _, err := os.Lstat(s.failedEnv(id)); err == nil {
		return nil, errFinished
	}
	env, err := readTrailer(s.bodyPath(id))
	if err != nil {
		return nil, err
	}
	if err := checkEnvelope(env, id); err != nil {
		return nil, err
	}
	return env, nil
}

// checkEnvelope checks a stored envelope that should be message id's.
func checkEnvelope(env *Envelope, id string) error {
	if env.ID != id {
		return fmt.Errorf("envelope id %q does not match its file name", env.ID)
	}
	if len(env.Recipients) == 0 {
		return errors.New("envelope has no recipients")
	}
	for _, r := range env.Recipients {
		if r == nil {
			return errors.New("envelope has an empty recipient")
		}
		switch r.State {
		case StatePending, StateDelivered, StateFailed:
		default:
			return fmt.Errorf("recipient %q has unknown state %q", r.Address, r.State)
		}
	}
	return nil
}

// moveAside moves env/name, and msg/id if there is one, to corrupt/.
func (s *store) moveAside(name, id string) error {
	if err := os.Rename(filepath.Join(s.env, name), s.corruptPath(name)); err != nil {
		return fmt.Errorf("move unreadable envelope aside: %w", err)
	}
	if validID(id) {
		err := os.Rename(s.bodyPath(id), s.corruptPath(id+".msg"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("move message of unreadable envelope aside: %w", err)
		}
	}
	if err := durable.SyncDir(s.corrupt); err != nil {
		return err
	}
	return nil
}
