package ldapdir

import "time"

// observeCache tells Options.OnCacheLookup about a cached lookup.
func (d *Directory) observeCache(hit bool) {
	if d.opts.OnCacheLookup != nil {
		d.opts.OnCacheLookup(hit)
	}
}

// observeRequest tells Options.OnRequest how long op took since start.
func (d *Directory) observeRequest(op string, start time.Time) {
	if d.opts.OnRequest != nil {
		d.opts.OnRequest(op, time.Since(start))
	}
}
