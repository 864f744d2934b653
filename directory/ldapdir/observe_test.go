package ldapdir_test

import (
	"sync"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/directory/ldapdir"
	"bridgehead.dev/bridgehead/directory/ldapdir/slapdtest"
)

// observed records what the directory tells its hooks.
type observed struct {
	mu        sync.Mutex
	hits, mis int
	ops       map[string]int
}

func TestObserverHooks(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: openldapSeed()})
	o := &observed{ops: map[string]int{}}
	opts := baseOptions(t, s, ldapdir.SchemaOpenLDAP)
	opts.OnCacheLookup = func(hit bool) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if hit {
			o.hits++
		} else {
			o.mis++
		}
	}
	opts.OnRequest = func(op string, took time.Duration) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if took < 0 {
			t.Errorf("%s took %v", op, took)
		}
		o.ops[op]++
	}
	d := newDir(t, opts)
	ctx := t.Context()
	for range 3 {
		if _, err := d.LookupRecipient(ctx, "alice@example.test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Authenticate(ctx, "alice", "wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.hits != 2 || o.mis != 1 {
		t.Errorf("cache hits %d, misses %d; want 2, 1", o.hits, o.mis)
	}
	if o.ops["search"] < 2 || o.ops["bind"] != 1 {
		t.Errorf("requests observed %v; want at least 2 searches and 1 bind", o.ops)
	}
}
