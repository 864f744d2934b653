package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"bridgehead.dev/bridgehead/dnsresolver"
	"bridgehead.dev/bridgehead/gateway/queue"
)

// Bounds on one MX attempt, so that a domain with many exchangers does
// not hold a delivery for long.
const (
	maxMXHosts     = 5  // exchangers tried per attempt
	maxMXAddresses = 10 // addresses tried per attempt, over all exchangers
)

// deliverMX delivers to the exchangers of domain (RFC 5321 section 5):
// in preference order, each one's addresses in turn, until one answers.
// It reports whether none could be reached.
func (d *Deliverer) deliverMX(ctx context.Context, msg *queue.Message, t *target, domain string, rcpts []*queue.Recipient) ([]queue.Result, string, bool) {
	fail := func(res queue.Result, unreachable bool) ([]queue.Result, string, bool) {
		out := failAll(rcpts, "", res)
		return out, replyString(res), unreachable
	}
	if domain == "" {
		return fail(queue.Result{Code: 550, Enhanced: "5.1.2", Permanent: true, Text: "recipient address has no domain"}, false)
	}
	hosts, err := d.exchangers(ctx, domain)
	if err != nil {
		var res queue.Result
		switch {
		case errors.Is(err, dnsresolver.ErrNullMX):
			res = queue.Result{Code: 556, Enhanced: "5.1.10", Permanent: true,
				Text: fmt.Sprintf("domain %s does not accept mail (null MX)", domain)}
		case errors.Is(err, dnsresolver.ErrNotFound):
			res = queue.Result{Code: 550, Enhanced: "5.1.2", Permanent: true,
				Text: fmt.Sprintf("domain %s does not exist", domain)}
		default:
			res = queue.Result{Code: 451, Enhanced: "4.4.3", Text: fmt.Sprintf("DNS lookup for %s failed: %v", domain, err)}
		}
		return fail(res, false)
	}
	var lastErr string
	var tried, dnsTemp int
	for i, mx := range hosts {
		if d.self.isHost(mx.Host) {
			hosts = hosts[:i]
			break
		}
		if i >= maxMXHosts || tried >= maxMXAddresses {
			break
		}
		addrs, err := d.lookupIP(ctx, mx.Host)
		if err != nil {
			if !errors.Is(err, dnsresolver.ErrNotFound) && !errors.Is(err, dnsresolver.ErrNoRecords) {
				dnsTemp++
			}
			lastErr = fmt.Sprintf("%s: %v", mx.Host, err)
			d.log.WarnContext(ctx, "MX host lookup failed", slog.String("queue_id", msg.Envelope.ID),
				slog.String("domain", domain), slog.String("mx", mx.Host), slog.String("error", err.Error()))
			continue
		}
		if d.isSelf(addrs, t.mxPort) {
			if i == 0 {
				return fail(loopResult(domain), false)
			}
			break // only exchangers preferred to ourselves are tried
		}
		for _, a := range addrs {
			if tried >= maxMXAddresses || ctx.Err() != nil {
				break
			}
			tried++
			ht := t.mxHost(mx.Host, net.JoinHostPort(a.String(), strconv.Itoa(t.mxPort)))
			res, reply, unreachable := d.transact(ctx, msg, ht, rcpts)
			if !unreachable {
				return res, reply, false
			}
			lastErr = fmt.Sprintf("%s[%s]: %s", mx.Host, a, reply)
			d.log.WarnContext(ctx, "MX host unreachable", slog.String("queue_id", msg.Envelope.ID),
				slog.String("domain", domain), slog.String("mx", mx.Host), slog.String("addr", a.String()),
				slog.String("error", reply))
		}
	}
	switch {
	case len(hosts) == 0:
		return fail(loopResult(domain), false)
	case tried == 0 && dnsTemp > 0:
		return fail(queue.Result{Code: 451, Enhanced: "4.4.3", Text: fmt.Sprintf("DNS lookup for the exchangers of %s failed: %s", domain, lastErr)}, false)
	case tried == 0 && ctx.Err() == nil:
		// Every exchanger's name is known not to exist or to have no
		// address: the domain cannot receive mail.
		return fail(queue.Result{Code: 550, Enhanced: "5.4.4", Permanent: true,
			Text: fmt.Sprintf("no address for the exchangers of %s: %s", domain, lastErr)}, false)
	}
	return fail(queue.Result{Code: 451, Enhanced: "4.4.1",
		Text: fmt.Sprintf("no exchanger of %s reachable (%d addresses tried): %s", domain, tried, lastErr)}, true)
}

// exchangers returns the exchangers of domain, the domain itself when it
// has no MX records (RFC 5321 section 5.1, implicit MX).
func (d *Deliverer) exchangers(ctx context.Context, domain string) ([]dnsresolver.MX, error) {
	if lit, ok := strings.CutPrefix(domain, "["); ok {
		// An address literal (RFC 5321 4.1.3) is its own exchanger.
		lit = strings.TrimPrefix(strings.TrimSuffix(lit, "]"), "ipv6:")
		if _, err := netip.ParseAddr(lit); err != nil {
			return nil, fmt.Errorf("address literal %s: %w", domain, dnsresolver.ErrNotFound)
		}
		return []dnsresolver.MX{{Host: lit}}, nil
	}
	mxs, err := d.opts.Resolver.LookupMX(ctx, domain)
	switch {
	case errors.Is(err, dnsresolver.ErrNoRecords) || (err == nil && len(mxs) == 0):
		return []dnsresolver.MX{{Host: domain}}, nil
	case err != nil:
		return nil, err
	}
	return mxs, nil
}

// lookupIP returns the addresses of an exchanger, an address as itself.
func (d *Deliverer) lookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	return d.opts.Resolver.LookupIP(ctx, host)
}

// isSelf reports whether any of addrs on port is one of our listeners.
func (d *Deliverer) isSelf(addrs []netip.Addr, port int) bool {
	for _, a := range addrs {
		if d.self.isAddr(a, port) {
			return true
		}
	}
	return false
}

func loopResult(domain string) queue.Result {
	return queue.Result{Code: 554, Enhanced: "5.4.6", Permanent: true,
		Text: fmt.Sprintf("mail for %s loops back to myself", domain)}
}
