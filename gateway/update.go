package gateway

import (
	"context"
	"errors"
	"net"
)

// Update applies new options and dependencies while the gateway runs,
// without touching established sessions: they finish under the settings
// they started with, new sessions get the new ones.
//
// Listeners are matched by name. A listener that is new is started (unless
// Run has not begun or has ended); one no longer in opts is stopped and its
// sessions drained within ShutdownGrace; one whose address changed is bound
// at the new address and its old socket stopped the same way; the others
// keep their socket and take new connections under the new options.
// Paused and stopped states are kept.
//
// opts are validated first and every new address is bound before anything
// changes: on error the gateway is left as it was.
func (g *Gateway) Update(ctx context.Context, opts Options, deps Deps) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if deps.Auth == nil || deps.Directory == nil || deps.Queue == nil {
		return errors.New("gateway: auth, directory and queue are required")
	}
	ctl := g.ctl
	ctl.mu.Lock()
	defer ctl.mu.Unlock()

	old := map[string]*vserver{}
	for _, v := range ctl.vs {
		old[v.opts.Name] = v
	}
	bound := map[string]net.Listener{}
	if ctl.running {
		for i := range opts.Listeners {
			lo := &opts.Listeners[i]
			v := old[lo.Name]
			if v != nil && (v.run == nil || v.opts.Address == lo.Address) {
				continue
			}
			ln, err := listen(ctx, lo)
			if err != nil {
				for _, ln := range bound {
					_ = ln.Close()
				}
				return err
			}
			bound[lo.Name] = ln
		}
	}

	cur := g.current()
	ctl.current.Store(newGeneration(opts, deps, cur.sessionsCtx, ctl))
	vs := make([]*vserver, 0, len(opts.Listeners))
	for i := range opts.Listeners {
		lo := &opts.Listeners[i]
		v := old[lo.Name]
		delete(old, lo.Name)
		if v == nil {
			v = newVServer(lo)
		} else {
			v.opts = lo
		}
		switch ln := bound[lo.Name]; {
		case ln != nil:
			g.stopLocked(v, opts.ShutdownGrace)
			g.startLocked(v, ln)
		case v.run != nil:
			g.swapLocked(v)
		}
		vs = append(vs, v)
	}
	for _, v := range old {
		g.stopLocked(v, opts.ShutdownGrace)
	}
	ctl.vs = vs
	return nil
}
