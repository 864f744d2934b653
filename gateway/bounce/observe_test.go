package bounce

import (
	"slices"
	"testing"

	"bridgehead.dev/bridgehead/ndr"
)

func TestObserveReportsEachActionOnce(t *testing.T) {
	t.Parallel()
	var got []string
	r := &Reporter{opts: Options{OnReport: func(a string) { got = append(got, a) }}}
	r.observe([]ndr.RecipientStatus{{Action: ndr.ActionRelayed}, {Action: ndr.ActionDelivered}, {Action: ndr.ActionRelayed}})
	if want := []string{"relayed", "delivered"}; !slices.Equal(got, want) {
		t.Fatalf("OnReport got %v, want %v", got, want)
	}
	(&Reporter{}).observe([]ndr.RecipientStatus{{Action: ndr.ActionFailed}}) // no hook: no panic
}
