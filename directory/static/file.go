package static

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"
)

// rawFile is the file as the YAML decoder sees it. Decoded with
// KnownFields, it refuses keys it does not name.
type rawFile struct {
	Users []rawUser `yaml:"users"`
}

// rawUser keeps every value as a node, so checks can name its line.
type rawUser struct {
	Login     yaml.Node `yaml:"login"`
	Password  yaml.Node `yaml:"password"`
	Addresses yaml.Node `yaml:"addresses"`
	SendAs    yaml.Node `yaml:"send_as"`
	Disabled  yaml.Node `yaml:"disabled"`
}

// parsedUser is one checked user.
type parsedUser struct {
	login     string
	hash      []byte
	cost      int
	addresses []string
	sendAs    []string
	disabled  bool
}

// fileError is an error at a line of the file.
type fileError struct {
	name string
	line int
	what string
}

func (e *fileError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.name, e.line, e.what)
}

// fileErrors joins several errors, one per line.
type fileErrors []*fileError

func (es fileErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// parser checks one file and remembers what it has seen.
type parser struct {
	name   string
	logins map[string]int    // folded login -> line
	addrs  map[string]string // folded address -> owner's login
	lines  map[string]int    // folded address -> line
}

func (p *parser) errorf(line int, format string, args ...any) error {
	return &fileError{name: p.name, line: line, what: fmt.Sprintf(format, args...)}
}

// parseFile checks the whole file and returns its users.
func parseFile(name string, data []byte) ([]parsedUser, error) {
	p := &parser{
		name:   name,
		logins: map[string]int{},
		addrs:  map[string]string{},
		lines:  map[string]int{},
	}
	usersNode, err := p.structure(data)
	if err != nil {
		return nil, err
	}
	var raw rawFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, p.yamlError(err)
	}
	if len(raw.Users) != len(usersNode.Content) {
		return nil, p.errorf(usersNode.Line, "users: cannot read the list")
	}
	users := make([]parsedUser, 0, len(raw.Users))
	for i := range raw.Users {
		u, err := p.user(usersNode.Content[i].Line, &raw.Users[i])
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, nil
}

// structure checks the shape of the file, a mapping whose users key holds
// a non-empty list of mappings, and returns the list's node.
func (p *parser) structure(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, p.errorf(1, "no users: the file is empty")
		}
		return nil, p.yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, p.errorf(extra.Line, "only one YAML document is allowed")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, p.errorf(root.Line, "the file must be a mapping with a users key")
	}
	var users *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "users" {
			users = root.Content[i+1]
		}
	}
	if users == nil {
		return nil, p.errorf(root.Line, "no users key")
	}
	if users.Kind != yaml.SequenceNode {
		return nil, p.errorf(users.Line, "users must be a list")
	}
	if len(users.Content) == 0 {
		return nil, p.errorf(users.Line, "no users")
	}
	for _, u := range users.Content {
		if u.Kind != yaml.MappingNode {
			return nil, p.errorf(u.Line, "each user must be a mapping (login, password, addresses, ...)")
		}
	}
	return users, nil
}

// lineRE finds the line number in the YAML library's messages.
var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

var (
	unknownRE  = regexp.MustCompile(`^field (.+) not found in type .*$`)
	repeatedRE = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
)

// yamlError turns an error of the YAML library into "NAME:LINE: what".
func (p *parser) yamlError(err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var out fileErrors
	for _, m := range msgs {
		line, what := 1, strings.TrimPrefix(m, "yaml: ")
		if sub := lineRE.FindStringSubmatch(m); sub != nil {
			line, _ = strconv.Atoi(sub[1])
			what = sub[2]
		}
		if sub := unknownRE.FindStringSubmatch(what); sub != nil {
			what = fmt.Sprintf("unknown key %q", sub[1])
		} else if sub := repeatedRE.FindStringSubmatch(what); sub != nil {
			what = fmt.Sprintf("key %q repeated (first at line %s)", sub[1], sub[2])
		}
		out = append(out, &fileError{name: p.name, line: line, what: what})
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}

// user checks one user entry, which starts at line.
func (p *parser) user(line int, r *rawUser) (parsedUser, error) {
	var u parsedUser
	if r.Login.Kind == 0 {
		return u, p.errorf(line, "user has no login")
	}
	login, err := p.str(&r.Login, "login")
	if err != nil {
		return u, err
	}
	if err := checkLogin(login); err != nil {
		return u, p.errorf(r.Login.Line, "bad login %q: %v", login, err)
	}
	if first, dup := p.logins[fold(login)]; dup {
		return u, p.errorf(r.Login.Line, "duplicate login %q (first at line %d)", login, first)
	}
	p.logins[fold(login)] = r.Login.Line
	u.login = login

	if r.Password.Kind == 0 {
		return u, p.errorf(line, "user %q has no password", login)
	}
	// The value is never repeated in a message: it might be a password
	// typed in by mistake.
	if r.Password.Kind != yaml.ScalarNode || r.Password.Tag != "!!str" {
		return u, p.errorf(r.Password.Line, "password of %q is not a bcrypt hash", login)
	}
	u.hash = []byte(r.Password.Value)
	u.cost, err = checkHash(u.hash)
	if err != nil {
		return u, p.errorf(r.Password.Line, "password of %q is not a bcrypt hash (%v)", login, err)
	}

	if r.Addresses.Kind == 0 {
		return u, p.errorf(line, "user %q has no addresses", login)
	}
	u.addresses, err = p.addressList(&r.Addresses, "addresses")
	if err != nil {
		return u, err
	}
	if len(u.addresses) == 0 {
		return u, p.errorf(r.Addresses.Line, "user %q has no addresses", login)
	}
	for i, a := range u.addresses {
		at := r.Addresses.Content[i].Line
		if owner, dup := p.addrs[fold(a)]; dup {
			return u, p.errorf(at, "duplicate address %q (already %q's at line %d)", a, owner, p.lines[fold(a)])
		}
		p.addrs[fold(a)] = login
		p.lines[fold(a)] = at
	}

	if r.SendAs.Kind != 0 {
		if u.sendAs, err = p.addressList(&r.SendAs, "send_as"); err != nil {
			return u, err
		}
	}
	if r.Disabled.Kind != 0 {
		if r.Disabled.Kind != yaml.ScalarNode || r.Disabled.Tag != "!!bool" {
			return u, p.errorf(r.Disabled.Line, "disabled must be true or false")
		}
		if err := r.Disabled.Decode(&u.disabled); err != nil {
			return u, p.errorf(r.Disabled.Line, "disabled must be true or false")
		}
	}
	return u, nil
}

// str returns the value of a string scalar.
func (p *parser) str(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return "", p.errorf(n.Line, "%s must be a string", key)
	}
	return n.Value, nil
}

// addressList returns a list of checked addresses.
func (p *parser) addressList(n *yaml.Node, key string) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errorf(n.Line, "%s must be a list of addresses", key)
	}
	out := make([]string, 0, len(n.Content))
	for _, item := range n.Content {
		a, err := p.str(item, key+" entry")
		if err != nil {
			return nil, err
		}
		if err := checkAddress(a); err != nil {
			return nil, p.errorf(item.Line, "bad address %q: %v", a, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// checkLogin refuses logins that could not be typed into a mail client.
func checkLogin(login string) error {
	switch {
	case login == "":
		return errors.New("empty")
	case len(login) > 256:
		return errors.New("longer than 256 bytes")
	case !utf8.ValidString(login):
		return errors.New("not UTF-8")
	case strings.IndexFunc(login, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return errors.New("contains spaces or control characters")
	}
	return nil
}

// checkAddress accepts a bare address (local@domain), nothing more.
func checkAddress(a string) error {
	if a == "" {
		return errors.New("empty")
	}
	parsed, err := mail.ParseAddress(a)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "mail: "))
	}
	if parsed.Name != "" || parsed.Address != a {
		return errors.New("not a bare address (local@domain)")
	}
	return nil
}

// bcryptB64 is the alphabet of bcrypt's salt and hash.
const bcryptB64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// checkHash accepts a well-formed bcrypt hash ($2a$, $2b$ or $2y$) and
// returns its cost.
func checkHash(h []byte) (int, error) {
	if len(h) != 60 {
		return 0, fmt.Errorf("%d characters, want 60", len(h))
	}
	if !bytes.HasPrefix(h, []byte("$2a$")) && !bytes.HasPrefix(h, []byte("$2b$")) && !bytes.HasPrefix(h, []byte("$2y$")) {
		return 0, errors.New("does not start with $2a$, $2b$ or $2y$")
	}
	cost, err := bcrypt.Cost(h)
	if err != nil {
		return 0, errors.New(strings.TrimPrefix(err.Error(), "crypto/bcrypt: "))
	}
	if h[6] != '$' || strings.Trim(string(h[7:]), bcryptB64) != "" {
		return 0, errors.New("bad characters")
	}
	return cost, nil
}
