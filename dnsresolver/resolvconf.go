package dnsresolver

import (
	"bufio"
	"bytes"
	"net"
	"net/netip"
	"strings"
)

// firstNameserver returns host:port of the first nameserver line of a
// resolv.conf, or "" when there is none.
func firstNameserver(conf []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(conf))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		host, _, _ := strings.Cut(f[1], "%") // drop an IPv6 zone
		if _, err := netip.ParseAddr(host); err != nil {
			continue
		}
		return net.JoinHostPort(f[1], "53")
	}
	return ""
}
