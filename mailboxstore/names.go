package mailboxstore

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Well-known names.
const (
	// PostmasterOwner is the owner of the postmaster mailbox.
	PostmasterOwner = "postmaster"
	// Inbox is the folder at the root of every owner's Maildir.
	Inbox = "INBOX"
	// Badmail is the folder holding undeliverable mail.
	Badmail = "Badmail"

	// postmasterIMAPName is the IMAP name under which admins see the
	// postmaster mailbox; it is reserved as a folder name.
	postmasterIMAPName = "Postmaster"

	maxOwnerLen  = 128
	maxFolderLen = 100
)

// ErrInvalidName is returned (wrapped) for an owner or folder name that is
// not allowed, e.g. one that could escape the store's directory.
var ErrInvalidName = errors.New("mailboxstore: invalid name")

// normalizeOwner lower-cases a login and checks that it is safe to use as a
// directory name: letters, digits and . _ - + @, not starting with a dot, no
// "..".
func normalizeOwner(owner string) (string, error) {
	o := strings.ToLower(owner)
	if o == "" || len(o) > maxOwnerLen {
		return "", fmt.Errorf("%w: owner %q: empty or too long", ErrInvalidName, owner)
	}
	if o[0] == '.' || strings.Contains(o, "..") {
		return "", fmt.Errorf("%w: owner %q: leading dot or \"..\"", ErrInvalidName, owner)
	}
	for i := 0; i < len(o); i++ {
		c := o[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '-', c == '+', c == '@':
		default:
			return "", fmt.Errorf("%w: owner %q: character %q not allowed", ErrInvalidName, owner, c)
		}
	}
	return o, nil
}

// normalizeFolder checks a folder name and returns its canonical form:
// "INBOX" in any case is Inbox; any other name is kept as given and must be
// letters, digits, space, - _ +, starting with a letter or digit, with no
// "/" or "." (Maildir++ uses "." as its separator on disk), and not the
// reserved "Postmaster".
func normalizeFolder(folder string) (string, error) {
	if strings.EqualFold(folder, Inbox) {
		return Inbox, nil
	}
	if folder == "" || len(folder) > maxFolderLen || !utf8.ValidString(folder) {
		return "", fmt.Errorf("%w: folder %q: empty, too long or not UTF-8", ErrInvalidName, folder)
	}
	if strings.EqualFold(folder, postmasterIMAPName) {
		return "", fmt.Errorf("%w: folder %q is reserved", ErrInvalidName, folder)
	}
	for i, r := range folder {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r):
		case i > 0 && (r == ' ' || r == '-' || r == '_' || r == '+'):
		default:
			return "", fmt.Errorf("%w: folder %q: character %q not allowed", ErrInvalidName, folder, r)
		}
	}
	if strings.HasSuffix(folder, " ") {
		return "", fmt.Errorf("%w: folder %q: trailing space", ErrInvalidName, folder)
	}
	return folder, nil
}
