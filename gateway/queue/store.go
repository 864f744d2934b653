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

// remove deletes a finished message: the envelope first, so that a crash
// in between leaves an orphan body (removed at the next Open) rather than
// an envelope without its bytes.
func (s *store) remove(id string) error {
	if err := os.Remove(s.envPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove envelope %s: %w", id, err)
	}
	if err := s.envSync.Sync(); err != nil {
		return fmt.Errorf("remove envelope %s: %w", id, err)
	}
	if err := os.Remove(s.bodyPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove message %s: %w", id, err)
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
// temporary files are removed, unreadable envelopes are moved to corrupt/
// (with their bytes), and bodies without an envelope are removed.
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
		if ids[de.Name()] {
			continue
		}
		p := filepath.Join(s.msg, de.Name())
		if err := os.RemoveAll(p); err != nil {
			return nil, fmt.Errorf("remove orphan message file: %w", err)
		}
		log.Warn("removed message file without envelope", slog.String("queue_id", de.Name()), slog.String("path", p))
	}
	for _, d := range []*dirSyncer{s.msgSync, s.envSync} {
		if err := d.Sync(); err != nil {
			return nil, err
		}
	}
	if err := syncDir(s.tmp); err != nil {
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
	if env.ID != id {
		return nil, fmt.Errorf("envelope id %q does not match its file name", env.ID)
	}
	if len(env.Recipients) == 0 {
		return nil, errors.New("envelope has no recipients")
	}
	for _, r := range env.Recipients {
		if r == nil {
			return nil, errors.New("envelope has an empty recipient")
		}
		switch r.State {
		case StatePending, StateDelivered, StateFailed:
		default:
			return nil, fmt.Errorf("recipient %q has unknown state %q", r.Address, r.State)
		}
	}
	if _, err := os.Stat(s.bodyPath(id)); err != nil {
		return nil, fmt.Errorf("message file: %w", err)
	}
	return &env, nil
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
	if err := syncDir(s.corrupt); err != nil {
		return err
	}
	return nil
}
