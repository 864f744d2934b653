package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"bridgehead.dev/bridgehead/gateway/queue"
)

var _ queue.Deliverer = (*Deliverer)(nil)

// Deliverer relays messages to the back ends. It is safe for concurrent use.
type Deliverer struct {
	opts   Options
	router router
	self   selfCheck
	log    *slog.Logger

	destMu sync.Mutex
	dests  map[string]*dest // per target poolKey (connections, limits)

	mu     sync.Mutex // guards closed and wg.Add
	closed bool
	wg     sync.WaitGroup
}

// New validates opts and returns a Deliverer.
func New(opts Options) (*Deliverer, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("delivery options: %w", err)
	}
	o := opts.withDefaults()
	listen, err := parseListenAddrs(o.ListenAddrs)
	if err != nil {
		return nil, fmt.Errorf("delivery options: %w", err)
	}
	d := &Deliverer{opts: o, dests: map[string]*dest{}, log: o.Logger,
		self:   selfCheck{hostname: o.Hostname, listen: listen},
		router: router{backends: map[string]*target{}, next: map[*target][]*target{}}}
	add := func(r Route) (*target, error) {
		ts, err := o.buildTargets(r)
		if err != nil {
			return nil, err
		}
		if len(ts) > 1 {
			d.router.next[ts[0]] = ts[1:]
		}
		return ts[0], nil
	}
	for _, r := range o.Routes {
		t, err := add(r)
		if err != nil {
			return nil, err
		}
		d.router.routes = append(d.router.routes, routeEntry{domains: r.Domains, senders: r.Senders, target: t})
	}
	for name, u := range o.Backends {
		t, err := add(Route{Domains: []string{"*"}, To: u})
		if err != nil {
			return nil, err
		}
		d.router.backends[name] = t
	}
	return d, nil
}

// Close stops taking new work (later Deliver calls answer temporary
// failures), waits for deliveries in progress and closes the idle
// connections; cancel the deliveries' context to cut them short. It is
// safe to call more than once.
func (d *Deliverer) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.wg.Wait()
	d.closeIdle()
	return nil
}

// group is the recipients of one message bound for one target (and, for
// an mx target, one recipient domain).
type group struct {
	target *target
	domain string // mx targets only
	rcpts  []*queue.Recipient
}

type groupKey struct {
	target *target
	domain string
}

// Deliver tries msg for rcpts, one transaction per destination, the
// destinations in parallel. It returns one Result per recipient given.
func (d *Deliverer) Deliver(ctx context.Context, msg *queue.Message, rcpts []*queue.Recipient) []queue.Result {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return failAll(rcpts, "", tempResult("delivery is shutting down"))
	}
	d.wg.Add(1)
	d.mu.Unlock()
	defer d.wg.Done()
	id := msg.Envelope.ID
	var results []queue.Result
	var groups []*group
	byKey := map[groupKey]*group{}
	for _, r := range rcpts {
		t, unknown := d.router.lookupFrom(r.Backend, msg.Envelope.From, r.Address)
		if unknown {
			d.log.WarnContext(ctx, "unknown back end, routing by domain", slog.String("queue_id", id),
				slog.String("rcpt", r.Address), slog.String("backend", r.Backend))
		}
		if t == nil {
			results = append(results, queue.Result{Recipient: r.Address, Code: 554, Enhanced: "5.4.4",
				Text: fmt.Sprintf("no route for domain %q", domainOf(r.Address)), Permanent: true})
			continue
		}
		k := groupKey{target: t}
		if d.usesMX(t) {
			k.domain = domainOf(r.Address)
		}
		g := byKey[k]
		if g == nil {
			g = &group{target: t, domain: k.domain}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.rcpts = append(g.rcpts, r)
	}
	out := make([][]queue.Result, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = d.deliverGroup(ctx, msg, g)
		}()
	}
	wg.Wait()
	for _, rs := range out {
		results = append(results, rs...)
	}
	return results
}

// usesMX reports whether t or one of its failover targets is "mx", so
// that its recipients are grouped by domain.
func (d *Deliverer) usesMX(t *target) bool {
	if t.scheme == schemeMX {
		return true
	}
	for _, n := range d.router.next[t] {
		if n.scheme == schemeMX {
			return true
		}
	}
	return false
}

// deliverGroup tries the group's target, then its failover targets in
// order while a target cannot be reached, and returns the last answers.
func (d *Deliverer) deliverGroup(ctx context.Context, msg *queue.Message, g *group) []queue.Result {
	targets := append([]*target{g.target}, d.router.next[g.target]...)
	var results []queue.Result
	for i, t := range targets {
		var unreachable bool
		results, unreachable = d.attempt(ctx, msg, &group{target: t, domain: g.domain, rcpts: g.rcpts})
		if !unreachable || i == len(targets)-1 || ctx.Err() != nil {
			break
		}
		d.log.WarnContext(ctx, "target unreachable, trying the next one", slog.String("queue_id", msg.Envelope.ID),
			slog.String("route", t.key()), slog.String("next", targets[i+1].key()))
	}
	return results
}

// attempt runs one attempt for one destination and logs it. It reports
// whether the destination could not be reached.
func (d *Deliverer) attempt(ctx context.Context, msg *queue.Message, g *group) ([]queue.Result, bool) {
	key := g.target.key()
	logKey := key
	start := time.Now()
	var results []queue.Result
	var reply string
	var unreachable bool
	switch g.target.scheme {
	case schemeMailbox:
		results, reply = d.mailboxSlot(ctx, msg, g.rcpts)
	case schemeMX:
		logKey = "mx:" + g.domain
		results, reply, unreachable = d.deliverMX(ctx, msg, g.target, g.domain, g.rcpts)
	default:
		results, reply, unreachable = d.transact(ctx, msg, g.target, g.rcpts)
	}
	took := time.Since(start)
	var delivered, deferred, failed int
	for _, r := range results {
		switch {
		case r.Delivered():
			delivered++
		case r.Permanent:
			failed++
		default:
			deferred++
		}
	}
	// The queue logs a line per recipient with its reply; this summary of
	// the transaction adds the route and the time taken, and is a warning
	// when a recipient was not delivered, a debug line otherwise.
	level := slog.LevelDebug
	if delivered < len(results) {
		level = slog.LevelWarn
	}
	d.log.LogAttrs(ctx, level, "delivery",
		slog.String("queue_id", msg.Envelope.ID), slog.String("route", logKey),
		slog.Int("rcpts", len(g.rcpts)), slog.String("reply", reply),
		slog.Int("delivered", delivered), slog.Int("deferred", deferred), slog.Int("failed", failed),
		slog.Duration("took", took))
	if d.opts.OnAttempt != nil {
		outcome := AttemptDelivered
		switch {
		case failed > 0:
			outcome = AttemptFailed
		case deferred > 0:
			outcome = AttemptDeferred
		}
		d.opts.OnAttempt(key, outcome, took)
	}
	return results, unreachable
}

// mailboxSlot delivers into the mailbox store under the "mailbox:" limit.
func (d *Deliverer) mailboxSlot(ctx context.Context, msg *queue.Message, rcpts []*queue.Recipient) ([]queue.Result, string) {
	ds := d.dest("mailbox:")
	select {
	case ds.slots <- struct{}{}:
		defer ds.releaseSlot()
		return d.deliverMailbox(ctx, msg, rcpts)
	case <-ctx.Done():
		reply := "cancelled waiting for a connection slot: " + ctx.Err().Error()
		return failAll(rcpts, mailboxMTA, tempResult(reply)), reply
	}
}
