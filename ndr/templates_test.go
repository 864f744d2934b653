package ndr

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeFiles makes a directory holding the given files.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// render builds r with tmpl and returns its subject and text.
func render(t *testing.T, r *Report, tmpl *Templates) (string, string) {
	t.Helper()
	b, err := Build(r, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseReport(b)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := p.header.Subject()
	return s, string(p.parts[0].body)
}

func TestDefaultTemplates(t *testing.T) {
	t.Parallel()
	tmpl := DefaultTemplates()
	if got := tmpl.Languages(); !slices.Equal(got, []string{"de", "en"}) {
		t.Errorf("Languages = %v", got)
	}
	for _, lang := range []string{"en", "de"} {
		for _, a := range []Action{ActionFailed, ActionDelayed, ActionDelivered, ActionRelayed, ActionExpanded} {
			r := baseReport()
			r.Language = lang
			r.Recipients[0].Action = a
			_, text := render(t, r, tmpl)
			if want := explain(explanationTable(lang), a, status(&r.Recipients[0])); !strings.Contains(text, want) {
				t.Errorf("%s %s: text lacks %q:\n%s", lang, a, want, text)
			}
		}
	}
}

func TestLoadTemplatesOverride(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"en.tmpl":   `{{define "subject"}}Bounce for {{.Sender}}{{end}}Custom: {{range .Recipients}}{{.Address}} {{.Status}}{{end}}`,
		"fr.tmpl":   `Rapport pour {{.Sender}}: {{range .Failed}}{{.Address}}{{end}}`,
		"README.md": "not a template",
	})
	tmpl, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := tmpl.Languages(); !slices.Equal(got, []string{"de", "en", "fr"}) {
		t.Errorf("Languages = %v", got)
	}
	r := baseReport()
	subject, text := render(t, r, tmpl)
	if subject != "Bounce for alice@example.test" || !strings.Contains(text, "Custom: bob@remote.test 5.1.1") {
		t.Errorf("en override: %q, %q", subject, text)
	}
	r.Language = "de" // no file: the built-in German text
	subject, text = render(t, r, tmpl)
	if !strings.HasPrefix(subject, "Unzustellbare") || !strings.Contains(text, "Die Adresse existiert nicht.") {
		t.Errorf("de fallback: %q, %q", subject, text)
	}
	r.Language = "fr" // no subject defined: the English one
	subject, text = render(t, r, tmpl)
	if subject != "Undelivered Mail Returned to Sender" || !strings.Contains(text, "Rapport pour alice@example.test: bob@remote.test") {
		t.Errorf("fr: %q, %q", subject, text)
	}
}

func TestLoadTemplatesErrors(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		files map[string]string
		want  string
	}{
		"parse error": {map[string]string{"de.tmpl": "Hallo {{.Sender"}, "de.tmpl"},
		"exec error":  {map[string]string{"en.tmpl": "{{.NoSuchField}}"}, "en.tmpl"},
		"bad func":    {map[string]string{"en.tmpl": "{{nosuch .Sender}}"}, "en.tmpl"},
		"bad subject": {map[string]string{"en.tmpl": `{{define "subject"}}{{.Nope}}{{end}}ok`}, "en.tmpl"},
		"bad name":    {map[string]string{"e n.tmpl": "x"}, "e n.tmpl"},
	} {
		dir := writeFiles(t, c.files)
		_, err := LoadTemplates(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one naming %q", name, err, c.want)
		}
	}
	if _, err := LoadTemplates(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing directory: no error")
	}
	if tmpl, err := LoadTemplates(""); err != nil || len(tmpl.Languages()) != 2 {
		t.Errorf("empty dir: %v, %v", tmpl, err)
	}
}

func TestSubjectSanitized(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"en.tmpl": "{{define \"subject\"}}Bounce\r\nBcc: victim@example.net{{end}}text",
	})
	tmpl, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(baseReport(), tmpl)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseReport(b)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := p.header.Subject(); p.header.Has("Bcc") || s != "Bounce Bcc: victim@example.net" {
		t.Errorf("Subject %q, Bcc %v", s, p.header.Has("Bcc"))
	}
}
