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
	sems   map[string]chan struct{} // per target key
	log    *slog.Logger
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
	d := &Deliverer{opts: o, sems: map[string]chan struct{}{}, log: o.Logger,
		router: router{backends: map[string]*target{}, next: map[*target][]*target{}}}
	add := func(r Route) (*target, error) {
		ts, err := o.buildTargets(r)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if _, ok := d.sems[t.key()]; !ok {
				d.sems[t.key()] = make(chan struct{}, o.MaxPerRoute)
			}
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
// failures) and waits for deliveries in progress; cancel their context to
// cut them short. It is safe to call more than once.
func (d *Deliverer) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.wg.Wait()
	return nil
}

// group is the recipients of one message bound for one target.
type group struct {
	target *target
	rcpts  []*queue.Recipient
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
	byKey := map[*target]*group{}
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
		g := byKey[t]
		if g == nil {
			g = &group{target: t}
			byKey[t] = g
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

// deliverGroup tries the group's target, then its failover targets in
// order while a target cannot be reached, and returns the last answers.
func (d *Deliverer) deliverGroup(ctx context.Context, msg *queue.Message, g *group) []queue.Result {
	targets := append([]*target{g.target}, d.router.next[g.target]...)
	var results []queue.Result
	for i, t := range targets {
		var unreachable bool
		results, unreachable = d.attempt(ctx, msg, t, g.rcpts)
		if !unreachable || i == len(targets)-1 || ctx.Err() != nil {
			break
		}
		d.log.WarnContext(ctx, "target unreachable, trying the next one", slog.String("queue_id", msg.Envelope.ID),
			slog.String("route", t.key()), slog.String("next", targets[i+1].key()))
	}
	return results
}

// attempt runs one attempt for one destination under its semaphore and
// logs it. It reports whether the destination could not be reached.
func (d *Deliverer) attempt(ctx context.Context, msg *queue.Message, t *target, rcpts []*queue.Recipient) ([]queue.Result, bool) {
	g := &group{target: t, rcpts: rcpts}
	key := g.target.key()
	start := time.Now()
	var results []queue.Result
	var reply string
	var unreachable bool
	select {
	case d.sems[key] <- struct{}{}:
		if g.target.scheme == schemeMailbox {
			results, reply = d.deliverMailbox(ctx, msg, g.rcpts)
		} else {
			results, reply, unreachable = d.transact(ctx, msg, g.target, g.rcpts)
		}
		<-d.sems[key]
	case <-ctx.Done():
		reply = "cancelled waiting for a connection slot: " + ctx.Err().Error()
		results = failAll(g.rcpts, g.target.host, tempResult(reply))
	}
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
	level := slog.LevelInfo
	if delivered < len(results) {
		level = slog.LevelWarn
	}
	d.log.LogAttrs(ctx, level, "delivery",
		slog.String("queue_id", msg.Envelope.ID), slog.String("route", key),
		slog.Int("rcpts", len(g.rcpts)), slog.String("reply", reply),
		slog.Int("delivered", delivered), slog.Int("deferred", deferred), slog.Int("failed", failed),
		slog.Duration("took", time.Since(start)))
	return results, unreachable
}
