package delivery

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
)

// listenAddr is one address the gateway receives mail on; an invalid
// (zero) addr stands for every local address.
type listenAddr struct {
	addr netip.Addr
	port int
}

// parseListenAddrs parses Options.ListenAddrs.
func parseListenAddrs(addrs []string) ([]listenAddr, error) {
	out := make([]listenAddr, 0, len(addrs))
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("listen address %q: %w", a, err)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 {
			return nil, fmt.Errorf("listen address %q: bad port", a)
		}
		l := listenAddr{port: n}
		switch {
		case host == "" || host == "*":
		case strings.EqualFold(host, "localhost"):
			out = append(out, listenAddr{addr: netip.IPv6Loopback(), port: n})
			l.addr = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		default:
			ip, err := netip.ParseAddr(host)
			if err != nil {
				// A listener bound to a name: its addresses are our
				// interfaces' in any case.
				break
			}
			if !ip.IsUnspecified() {
				l.addr = ip.Unmap()
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// selfCheck tells whether an exchanger is this gateway.
type selfCheck struct {
	hostname string
	listen   []listenAddr

	once  sync.Once
	local map[netip.Addr]bool // addresses of the local interfaces
}

// isHost reports whether the exchanger's name is our Hostname.
func (c *selfCheck) isHost(host string) bool {
	return strings.EqualFold(strings.TrimSuffix(host, "."), strings.TrimSuffix(c.hostname, "."))
}

// isAddr reports whether mail sent to addr:port would reach one of our
// own listeners.
func (c *selfCheck) isAddr(addr netip.Addr, port int) bool {
	addr = addr.Unmap()
	for _, l := range c.listen {
		if l.port != port {
			continue
		}
		if l.addr.IsValid() {
			if l.addr == addr {
				return true
			}
			continue
		}
		if c.localAddrs()[addr] {
			return true
		}
	}
	return false
}

func (c *selfCheck) localAddrs() map[netip.Addr]bool {
	c.once.Do(func() {
		c.local = map[netip.Addr]bool{}
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				c.local[p.Addr().Unmap()] = true
			}
		}
	})
	return c.local
}
