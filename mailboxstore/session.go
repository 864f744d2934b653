package mailboxstore

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Hierarchy delimiter of IMAP names.
const imapDelim = '/'

// authTimeout bounds one password check.
const authTimeout = 30 * time.Second

// session is one IMAP connection.
type session struct {
	srv    *IMAPServer
	store  *Store
	ctx    context.Context // the server's: done at shutdown
	log    *slog.Logger
	remote string

	closeOnce sync.Once
	done      func()

	login string // set once authenticated
	admin bool
	view  *view // the selected folder, or nil
}

var (
	_ imapserver.SessionIMAP4rev2 = (*session)(nil)
)

func (srv *IMAPServer) newSession(ctx context.Context, c *imapserver.Conn, done func()) *session {
	remote := c.NetConn().RemoteAddr().String()
	return &session{
		srv:    srv,
		store:  srv.store,
		ctx:    ctx,
		log:    srv.log.With(slog.String("remote", remote)),
		remote: remote,
		done:   done,
	}
}

// Close ends the session.
func (s *session) Close() error {
	s.closeOnce.Do(func() {
		// s.view stays set: an IDLE goroutine may still be reading it.
		if s.view != nil {
			s.view.close()
		}
		s.done()
	})
	return nil
}

// Login checks the password and whether the login may use this server. Every
// refusal looks the same to the client; the log says why.
func (s *session) Login(username, password string) error {
	login := strings.ToLower(strings.TrimSpace(username))
	ctx, cancel := context.WithTimeout(s.ctx, authTimeout)
	defer cancel()
	err := s.srv.opts.Auth.Authenticate(ctx, login, password)
	if err != nil {
		if errors.Is(err, ErrAuthUnavailable) || ctx.Err() != nil {
			s.log.Warn("imap login failed", slog.String("login", login), slog.String("reason", "unavailable"), slog.Any("error", err))
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable,
				Text: "Authentication temporarily unavailable"}
		}
		s.log.Warn("imap login failed", slog.String("login", login), slog.String("reason", "credentials"), slog.Any("error", err))
		return imapserver.ErrAuthFailed
	}
	owner, err := normalizeOwner(login)
	if err != nil {
		s.log.Warn("imap login failed", slog.String("login", login), slog.String("reason", "login not usable as mailbox name"))
		return imapserver.ErrAuthFailed
	}
	admin := s.srv.admins[owner]
	if !admin && !s.srv.opts.AllowUsers {
		s.log.Warn("imap login failed", slog.String("login", login), slog.String("reason", "not an admin"))
		return imapserver.ErrAuthFailed
	}
	if err := s.store.ensureOwner(owner); err != nil {
		s.log.Error("imap login: create mailbox", slog.String("login", login), slog.Any("error", err))
		return errServer
	}
	if admin && owner != PostmasterOwner {
		if err := s.store.ensureOwner(PostmasterOwner); err != nil {
			s.log.Error("imap login: create postmaster mailbox", slog.Any("error", err))
			return errServer
		}
	}
	s.login, s.admin = owner, admin
	s.log = s.log.With(slog.String("login", owner))
	s.log.Info("imap login", slog.Bool("admin", admin))
	return nil
}

// target is a folder of an owner's mailbox.
type target struct{ owner, folder string }

// seesPostmaster reports whether the postmaster mailbox appears under
// "Postmaster" for this login.
func (s *session) seesPostmaster() bool {
	return s.admin && s.login != PostmasterOwner
}

// resolve maps an IMAP mailbox name to a folder.
func (s *session) resolve(name string) (target, error) {
	name = strings.TrimRight(name, string(imapDelim))
	if strings.EqualFold(name, Inbox) {
		return target{s.login, Inbox}, nil
	}
	if s.seesPostmaster() {
		if strings.EqualFold(name, postmasterIMAPName) {
			return target{PostmasterOwner, Inbox}, nil
		}
		prefix := postmasterIMAPName + string(imapDelim)
		if len(name) > len(prefix) && strings.EqualFold(name[:len(prefix)], prefix) {
			f, err := normalizeFolder(name[len(prefix):])
			if err != nil || f == Inbox {
				return target{}, errNoMailbox
			}
			return target{PostmasterOwner, f}, nil
		}
	}
	f, err := normalizeFolder(name)
	if err != nil {
		return target{}, errNoMailbox
	}
	return target{s.login, f}, nil
}

// imapName is the name under which this login sees a folder.
func (s *session) imapName(t target) string {
	if t.owner == s.login {
		return t.folder
	}
	if t.folder == Inbox {
		return postmasterIMAPName
	}
	return postmasterIMAPName + string(imapDelim) + t.folder
}

// openFolder resolves name and loads the folder; a missing one is
// errNoMailbox.
func (s *session) openFolder(name string) (target, *folder, error) {
	t, err := s.resolve(name)
	if err != nil {
		return t, nil, err
	}
	f, err := s.store.folder(t.owner, t.folder, false)
	if errors.Is(err, ErrNoSuchFolder) {
		return t, nil, errNoMailbox
	}
	if err != nil {
		s.log.Error("imap: open folder", slog.String("mailbox", name), slog.Any("error", err))
		return t, nil, errServer
	}
	return t, f, nil
}

// visible lists every folder this login sees, in LIST order.
func (s *session) visible() ([]target, error) {
	var l []target
	names, err := s.store.folderNames(s.login)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		l = append(l, target{s.login, n})
	}
	if s.seesPostmaster() {
		names, err := s.store.folderNames(PostmasterOwner)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			l = append(l, target{PostmasterOwner, n})
		}
	}
	return l, nil
}

// List writes the folders matching the patterns.
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 0 {
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: imapDelim})
	}
	if options.SelectSpecialUse {
		return nil // no special-use folders here
	}
	all, err := s.visible()
	if err != nil {
		s.log.Error("imap list", slog.Any("error", err))
		return errServer
	}
	for _, t := range all {
		name := s.imapName(t)
		match := false
		for _, p := range patterns {
			if imapserver.MatchList(name, imapDelim, ref, p) {
				match = true
				break
			}
		}
		if !match {
			continue
		}
		data := imap.ListData{Mailbox: name, Delim: imapDelim}
		if t.owner != s.login && t.folder == Inbox {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if options.SelectSubscribed || options.ReturnSubscribed {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed) // everything is subscribed
		}
		if options.ReturnStatus != nil {
			if st, err := s.Status(name, options.ReturnStatus); err == nil {
				data.Status = st
			}
		}
		if err := w.WriteList(&data); err != nil {
			return err
		}
	}
	return nil
}

// Status reports a folder's counters.
func (s *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	t, f, err := s.openFolder(name)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	total, unseen, deleted, size, _ := f.statusLocked()
	data := &imap.StatusData{Mailbox: s.imapName(t)}
	if options.NumMessages {
		data.NumMessages = &total
	}
	if options.UIDNext {
		data.UIDNext = f.uidNext
	}
	if options.UIDValidity {
		data.UIDValidity = f.uidValidity
	}
	if options.NumUnseen {
		data.NumUnseen = &unseen
	}
	if options.NumDeleted {
		data.NumDeleted = &deleted
	}
	if options.Size {
		data.Size = &size
	}
	if options.NumRecent {
		var zero uint32
		data.NumRecent = &zero
	}
	return data, nil
}

// Create makes a new folder.
func (s *session) Create(name string, options *imap.CreateOptions) error {
	t, err := s.resolve(name)
	if err != nil {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
			Text: "Folder names are letters, digits, space, - _ + (no / or .)"}
	}
	if t.folder == Inbox {
		return errExists
	}
	if err := s.store.createFolder(t.owner, t.folder); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errExists
		}
		s.log.Error("imap create", slog.String("mailbox", name), slog.Any("error", err))
		return errServer
	}
	s.log.Info("imap folder created", slog.String("owner", t.owner), slog.String("folder", t.folder))
	return nil
}

// Delete removes a folder other than INBOX and Badmail.
func (s *session) Delete(name string) error {
	t, err := s.resolve(name)
	if err != nil {
		return errNoMailbox
	}
	if t.folder == Inbox || t.folder == Badmail {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "This folder cannot be deleted"}
	}
	if err := s.store.deleteFolder(t.owner, t.folder); err != nil {
		if errors.Is(err, ErrNoSuchFolder) {
			return errNoMailbox
		}
		s.log.Error("imap delete", slog.String("mailbox", name), slog.Any("error", err))
		return errServer
	}
	return nil
}

// Rename is not supported.
func (s *session) Rename(oldName, newName string, options *imap.RenameOptions) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Renaming folders is not supported"}
}

// Subscribe succeeds for an existing folder: every folder is subscribed.
func (s *session) Subscribe(name string) error {
	_, _, err := s.openFolder(name)
	return err
}

// Unsubscribe is accepted and changes nothing.
func (s *session) Unsubscribe(name string) error { return nil }

// Namespace reports the single personal namespace.
func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Delim: imapDelim}}}, nil
}

// Append stores a message sent by the client.
func (s *session) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	t, f, err := s.openFolder(name)
	if errors.Is(err, errNoMailbox) {
		return nil, errTryCreate
	}
	if err != nil {
		return nil, err
	}
	date := options.Time
	if date.IsZero() {
		date = s.store.opts.Clock()
	}
	var buf bytes.Buffer // read the literal whole: the client must not stall the folder
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	uid, err := s.store.deliver(s.ctx, f, &buf, lettersFromFlags(options.Flags), date)
	if err != nil {
		s.log.Error("imap append", slog.String("mailbox", name), slog.Any("error", err))
		return nil, errServer
	}
	s.log.Info("imap append", slog.String("owner", t.owner), slog.String("folder", t.folder), slog.Uint64("uid", uint64(uid)))
	return &imap.AppendData{UID: uid, UIDValidity: f.uidValidity}, nil
}

// Select opens a folder.
func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	if s.view != nil {
		s.view.close()
		s.view = nil
	}
	_, f, err := s.openFolder(name)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	total, _, _, _, firstUnseen := f.statusLocked()
	s.view = &view{s: s, f: f, tracker: f.tracker.NewSession(), readOnly: options.ReadOnly}
	return &imap.SelectData{
		Flags:             permanentFlags(),
		PermanentFlags:    permanentFlags(),
		NumMessages:       total,
		FirstUnseenSeqNum: firstUnseen,
		UIDNext:           f.uidNext,
		UIDValidity:       f.uidValidity,
	}, nil
}

// Unselect closes the selected folder.
func (s *session) Unselect() error {
	if s.view != nil {
		s.view.close()
		s.view = nil
	}
	return nil
}

// Poll writes pending updates of the selected folder.
func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if s.view == nil {
		return nil
	}
	return s.view.tracker.Poll(w, allowExpunge)
}

// Idle writes updates of the selected folder as they happen until stop.
// The change channel is taken before each poll, so an update that lands
// between the poll and the wait still wakes it.
func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if s.view == nil {
		<-stop
		return nil
	}
	v := s.view
	for {
		v.f.mu.Lock()
		changed := v.f.changedLocked()
		v.f.mu.Unlock()
		if err := v.tracker.Poll(w, true); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-changed:
		}
	}
}

// Replies shared by the session's methods.
var (
	errServer    = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeServerBug, Text: "Internal server error"}
	errNoMailbox = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "No such mailbox"}
	errTryCreate = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	errExists    = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists, Text: "Mailbox already exists"}
	errReadOnly  = &imap.Error{Type: imap.StatusResponseTypeNo, Code: "READ-ONLY", Text: "Mailbox is read-only"}
)
