package ndr

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"
)

//go:embed templates/*.tmpl
var defaultTemplateFS embed.FS

// templateExt is the file name extension of a template file: the file
// "de.tmpl" holds the German text.
const templateExt = ".tmpl"

// subjectTemplate is the name of the template a language file defines for
// the report's Subject.
const subjectTemplate = "subject"

// Templates holds the human-readable text of reports, one text/template per
// language. The template named after the file renders the text/plain part;
// a template defined in it as "subject" renders the Subject (the built-in
// subject of the language, or of English, when it defines none). Both see a
// *TemplateData. Templates is safe for concurrent use and never changes
// once made.
type Templates struct {
	byLang map[string]*template.Template
}

// TemplateData is what the templates see.
type TemplateData struct {
	// Kind is KindFailure, KindDelay or KindSuccess.
	Kind string
	// Language is the report's language.
	Language string
	// ReportingMTA is our host name.
	ReportingMTA string
	// Postmaster is the address the report comes from.
	Postmaster string
	// Sender is the original envelope sender, the report's recipient.
	Sender string
	// EnvelopeID is the original's ENVID, if any.
	EnvelopeID string
	// ArrivalDate is when the original was accepted (may be zero).
	ArrivalDate time.Time
	// Date is the report's date.
	Date time.Time
	// OriginalSubject and OriginalMessageID come from the original's header
	// (one line each, may be empty).
	OriginalSubject   string
	OriginalMessageID string
	// Recipients are all reported recipients; Failed, Delayed and
	// Succeeded (delivered, relayed, expanded) are the same split by action.
	Recipients []RecipientView
	Failed     []RecipientView
	Delayed    []RecipientView
	Succeeded  []RecipientView
	// Returned says what of the original the report carries: "full",
	// "headers" or "" (nothing).
	Returned string
	// TooLarge is set when the whole original was asked for (RET=FULL) but
	// was over MaxReturnSize, so only its header is returned.
	TooLarge bool
	// HeaderCut is set when even the original's header was over
	// MaxReturnSize and was cut.
	HeaderCut bool
	// MaxReturnSize is the cap on the returned original, in bytes.
	MaxReturnSize int
}

// RecipientView is one recipient as the templates see it. Every string is
// one line.
type RecipientView struct {
	// Address is the final recipient; OriginalRecipient the address the
	// sender gave (ORCPT without its type), or "".
	Address           string
	OriginalRecipient string
	Action            Action
	// Status is the enhanced status code as reported.
	Status string
	// Explanation says in plain words, in the report's language, what
	// happened, e.g. "The address does not exist."
	Explanation string
	// RemoteMTA is the server that answered, or "".
	RemoteMTA string
	// Diagnostic is that server's reply (or our reason), or "".
	Diagnostic string
	// LastAttempt and WillRetryUntil may be zero.
	LastAttempt    time.Time
	WillRetryUntil time.Time
}

// templateFuncs are the functions templates may call besides the built-in
// ones: date formats a time in RFC 5322 form ("" for the zero time).
func templateFuncs() template.FuncMap {
	return template.FuncMap{"date": formatDate}
}

// DefaultTemplates returns the built-in English ("en") and German ("de")
// templates.
func DefaultTemplates() *Templates {
	t, err := parseDir(defaultTemplateFS, "templates")
	if err != nil {
		// The embedded files are tested; this cannot happen in a build
		// that passed its tests.
		panic(fmt.Sprintf("ndr: built-in templates: %v", err))
	}
	return t
}

// LoadTemplates returns the built-in templates with those in dir laid over
// them: each file LANG.tmpl in dir (e.g. en.tmpl, de.tmpl, or fr.tmpl for
// a further language) replaces or adds that language; languages without a
// file keep the built-in text. Each file is parsed and tried against a
// sample report, so an error names the file and is found at load time
// rather than when a report is due. An empty dir means the built-in
// templates.
func LoadTemplates(dir string) (*Templates, error) {
	t := DefaultTemplates()
	if dir == "" {
		return t, nil
	}
	over, err := parseDir(os.DirFS(dir), ".")
	if err != nil {
		return nil, fmt.Errorf("ndr: load templates from %s: %w", dir, err)
	}
	builtin := DefaultTemplates()
	for lang, tmpl := range over.byLang {
		if tmpl.Lookup(subjectTemplate) == nil {
			def := builtin.byLang[lang]
			if def == nil {
				def = builtin.byLang["en"]
			}
			if _, err := tmpl.AddParseTree(subjectTemplate, def.Lookup(subjectTemplate).Tree); err != nil {
				return nil, fmt.Errorf("ndr: load templates from %s: %s: %w", dir, lang+templateExt, err)
			}
		}
		t.byLang[lang] = tmpl
	}
	return t, nil
}

// parseDir parses every LANG.tmpl file in dir of fsys and tries each.
func parseDir(fsys fs.FS, dir string) (*Templates, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	t := &Templates{byLang: make(map[string]*template.Template)}
	for _, e := range entries {
		name := e.Name()
		lang, ok := strings.CutSuffix(name, templateExt)
		if !ok || e.IsDir() {
			continue
		}
		if !validLang(lang) {
			return nil, fmt.Errorf("%s: %q is not a language tag", name, lang)
		}
		text, err := fs.ReadFile(fsys, filepath.ToSlash(filepath.Join(dir, name)))
		if err != nil {
			return nil, err
		}
		tmpl, err := template.New(name).Funcs(templateFuncs()).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return nil, err // text/template's message starts with the file name
		}
		if err := tryTemplate(tmpl, lang); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		t.byLang[lang] = tmpl
	}
	return t, nil
}

// validLang reports whether s looks like a language tag: letters, digits
// and hyphens, starting with a letter, at most 35 characters.
func validLang(s string) bool {
	return s != "" && len(s) <= 35 && isAtom(s) && (s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z')
}

// tryTemplate executes tmpl (and its subject, if any) against sample reports
// of every kind, to find errors that only show when executing.
func tryTemplate(tmpl *template.Template, lang string) error {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, a := range []Action{ActionFailed, ActionDelayed, ActionRelayed} {
		r := &Report{
			ReportingMTA: "gw.example.test", To: "sender@example.test", EnvelopeID: "env",
			ArrivalDate: now, Date: now, Language: lang,
			Recipients: []RecipientStatus{{
				FinalRecipient: "rcpt@example.test", OriginalRecipient: "rfc822;rcpt@example.test",
				Action: a, Status: string(a.statusClass()) + ".1.1", RemoteMTA: "mx.example.test",
				DiagnosticCode: "550 5.1.1 unknown", LastAttempt: now, WillRetryUntil: now,
			}},
		}
		d := templateData(r, lang, originalFacts{subject: "Hello", messageID: "id@example.test"}, "headers", false, false, DefaultMaxReturnSize)
		if err := tmpl.Execute(io.Discard, d); err != nil {
			return err
		}
		if s := tmpl.Lookup(subjectTemplate); s != nil {
			if err := s.Execute(io.Discard, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// Languages returns the languages t has text for, sorted.
func (t *Templates) Languages() []string {
	out := make([]string, 0, len(t.byLang))
	for l := range t.byLang {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// lookup returns the template for lang and the language actually used:
// lang when t has it, else "en".
func (t *Templates) lookup(lang string) (*template.Template, string, error) {
	if tmpl, ok := t.byLang[lang]; ok {
		return tmpl, lang, nil
	}
	if tmpl, ok := t.byLang["en"]; ok {
		return tmpl, "en", nil
	}
	return nil, "", errors.New("ndr: no template for language " + lang + " nor en")
}

// templateData gathers what the templates see for r.
func templateData(r *Report, lang string, facts originalFacts, returned string, tooLarge, headerCut bool, maxSize int) *TemplateData {
	d := &TemplateData{
		Kind:              r.kind(),
		Language:          lang,
		ReportingMTA:      token(r.ReportingMTA),
		Postmaster:        postmaster(r),
		Sender:            token(r.To),
		EnvelopeID:        truncate(oneLine(r.EnvelopeID), maxShort),
		ArrivalDate:       r.ArrivalDate,
		Date:              r.Date,
		OriginalSubject:   facts.subject,
		OriginalMessageID: facts.messageID,
		Returned:          returned,
		TooLarge:          tooLarge,
		HeaderCut:         headerCut,
		MaxReturnSize:     maxSize,
	}
	tbl := explanationTable(lang)
	for i := range r.Recipients {
		rc := &r.Recipients[i]
		st := status(rc)
		v := RecipientView{
			Address:        token(rc.FinalRecipient),
			Action:         rc.Action,
			Status:         st,
			Explanation:    explain(tbl, rc.Action, st),
			RemoteMTA:      token(rc.RemoteMTA),
			Diagnostic:     truncate(oneLine(rc.DiagnosticCode), maxDiagnostic),
			LastAttempt:    rc.LastAttempt,
			WillRetryUntil: rc.WillRetryUntil,
		}
		if o := oneLine(rc.OriginalRecipient); o != "" {
			if _, addr, ok := strings.Cut(o, ";"); ok {
				o = addr
			}
			v.OriginalRecipient = token(o)
		}
		d.Recipients = append(d.Recipients, v)
		switch rc.Action {
		case ActionFailed:
			d.Failed = append(d.Failed, v)
		case ActionDelayed:
			d.Delayed = append(d.Delayed, v)
		default:
			d.Succeeded = append(d.Succeeded, v)
		}
	}
	return d
}
