package filter

import (
	"bytes"
	"context"
	"testing"
)

// FuzzWalk checks that the walk of any input stays inside it, that parts
// nest properly, and that stripping leaves everything outside the
// stripped parts as it was.
func FuzzWalk(f *testing.F) {
	f.Add(mixed("Content-Disposition: attachment; filename=a.exe\n", "MZ\n"))
	f.Add(mixed("Content-Type: message/rfc822\n", "Content-Type: multipart/mixed; boundary=YY\n\n--YY\nContent-Disposition: attachment; filename*=utf-8''b%2Eexe\n\nMZ\n--YY--\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=Z\n\n--Z\n\n--Z\n--Z--"))
	f.Add([]byte("Content-Type: multipart/digest; boundary=\"\"\r\n\r\n--\r\n"))
	f.Add([]byte("\r\n"))
	f.Add([]byte(""))
	a, err := NewAttachments(AttachmentPolicy{StripExtensions: []string{".exe"}, StripTypes: []string{"application/x-msdownload"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		type span struct{ start, end, depth int }
		var spans []span
		err := Walk(msg, func(p *Part) bool {
			if p.Start < 0 || p.Start > p.BodyStart || p.BodyStart > p.End || p.End > len(msg) {
				t.Fatalf("part %v out of bounds: %d %d %d of %d", p.Path, p.Start, p.BodyStart, p.End, len(msg))
			}
			// A child lies within its parent's body.
			for i := len(spans) - 1; i >= 0; i-- {
				if spans[i].depth == len(p.Path)-1 {
					if p.Start < spans[i].start || p.End > spans[i].end {
						t.Fatalf("part %v [%d,%d) outside its parent [%d,%d)", p.Path, p.Start, p.End, spans[i].start, spans[i].end)
					}
					break
				}
			}
			spans = append(spans, span{p.Start, p.End, len(p.Path)})
			return true
		})
		if err != nil && len(spans) == 0 {
			t.Fatalf("walk failed before the first part: %v", err)
		}
		res, err := a.Check(context.Background(), &Envelope{}, msg)
		if err != nil || res.Body == nil {
			return
		}
		// What precedes the first stripped part is unchanged.
		first := -1
		_ = Walk(msg, func(p *Part) bool {
			if act, _ := a.match(p); act != actNone && first < 0 {
				first = p.Start
				return false
			}
			return first < 0
		})
		if first < 0 || !bytes.Equal(res.Body[:first], msg[:first]) {
			t.Fatalf("prefix before the stripped part changed (first %d)", first)
		}
	})
}
