package bounce

import (
	"slices"

	"bridgehead.dev/bridgehead/ndr"
)

// observe tells Options.OnReport the distinct actions of a queued report.
func (r *Reporter) observe(rs []ndr.RecipientStatus) {
	if r.opts.OnReport == nil {
		return
	}
	var seen []ndr.Action
	for _, s := range rs {
		if !slices.Contains(seen, s.Action) {
			seen = append(seen, s.Action)
			r.opts.OnReport(string(s.Action))
		}
	}
}
