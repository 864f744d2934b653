package gateway

import (
	"encoding/base64"
	"strings"
	"testing"
)

// An AUTH line as long as one carrying an OAuth2 token (several KiB) is
// read and answered by the SASL layer, not cut off as a too long line.
func TestLongAuthLineAccepted(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	c := tg.afterSTARTTLS(t, lnSubmission)
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + aliceLogin + "\x00" + strings.Repeat("x", 6000)))
	if r := c.cmd("AUTH PLAIN %s", ir); !r.is(501, "5.5.2") {
		t.Fatalf("AUTH PLAIN with a %d-byte line = %v, want 501 5.5.2 (credentials too long)", len(ir)+11, r)
	}
	if r := c.authPlain(aliceLogin, alicePass); !r.is(235, "2.0.0") {
		t.Errorf("AUTH after the long line = %v, want 235 2.0.0", r)
	}
}
