package enrich

import "net/netip"

// Classes of a source IP.
const (
	IPPublic      = "public"
	IPPrivate     = "private"
	IPLoopback    = "loopback"
	IPLinkLocal   = "link-local"
	IPUnspecified = "unspecified"
	IPInvalid     = "invalid"
)

// cgnat is RFC 6598 shared address space, used for pod networks (EKS custom
// networking, many CNIs); it is not routable on the internet.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// ClassifyIP returns the class of an IP address string: public, private
// (RFC 1918, RFC 4193 and RFC 6598), loopback, link-local, unspecified,
// or invalid when s is not an IP address. IPv4-mapped IPv6 addresses are
// classified as IPv4.
func ClassifyIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return IPInvalid
	}
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return IPLoopback
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return IPLinkLocal
	case a.IsPrivate(), cgnat.Contains(a):
		return IPPrivate
	case a.IsUnspecified():
		return IPUnspecified
	}
	return IPPublic
}
