package enrich

import (
	"strconv"
	"strings"
	"time"
)

// UserAgent is a parsed Kubernetes-style user agent,
// "kubectl/v1.25.4 (darwin/amd64) kubernetes/872a965".
type UserAgent struct {
	// Client and Version come from the first product token
	// ("kubectl", "v1.25.4"); OS and Arch from a "(os/arch)" comment.
	Client, Version, OS, Arch string
	// Commit is the git commit after "kubernetes/", and Component any
	// further suffix ("tokens-controller" in kube-controller-manager's
	// "kubernetes/06ad960/tokens-controller").
	Commit, Component string
}

// ParseUserAgent parses ua. Non-Kubernetes agents yield what can be read:
// "Go-http-client/1.1" gives Client and Version, a browser gives
// Client "Mozilla" and Version "5.0". The parts are substrings of ua.
func ParseUserAgent(ua string) (u UserAgent) {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return u
	}
	tok, rest := cut(ua, ' ')
	if i := strings.IndexByte(tok, '/'); i >= 0 {
		u.Client, u.Version = tok[:i], tok[i+1:]
	} else {
		u.Client = tok
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "(") {
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return u
		}
		comment := rest[1:end]
		rest = strings.TrimSpace(rest[end+1:])
		if os, arch, ok := strings.Cut(comment, "/"); ok && isWord(os) && isWord(arch) {
			u.OS, u.Arch = os, arch
		}
	}
	if after, ok := strings.CutPrefix(rest, "kubernetes/"); ok {
		after, _ = cut(after, ' ')
		u.Commit, u.Component = cut(after, '/')
	}
	return u
}

func cut(s string, sep byte) (before, after string) {
	if i := strings.IndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Latency returns stageTimestamp − requestReceivedTimestamp; ok is false
// when either is missing or unparsable, or the difference is negative.
func Latency(requestReceived, stage string) (d time.Duration, ok bool) {
	if requestReceived == "" || stage == "" {
		return 0, false
	}
	a, err := time.Parse(time.RFC3339Nano, requestReceived)
	if err != nil {
		return 0, false
	}
	b, err := time.Parse(time.RFC3339Nano, stage)
	if err != nil {
		return 0, false
	}
	d = b.Sub(a)
	return d, d >= 0
}

// FormatMillis formats d in milliseconds with up to microsecond precision
// ("26.491").
func FormatMillis(d time.Duration) string {
	us := d.Microseconds()
	s := strconv.FormatInt(us/1000, 10)
	if frac := us % 1000; frac != 0 {
		f := strconv.FormatInt(frac+1000, 10)[1:]
		f = strings.TrimRight(f, "0")
		s += "." + f
	}
	return s
}

// ResponseClass returns "1xx".."5xx" for an HTTP status code, or "" when the
// code is outside 100..599 (absent codes are 0).
func ResponseClass(code int) string {
	if code < 100 || code > 599 {
		return ""
	}
	return responseClasses[code/100-1]
}

var responseClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// Access classes of a verb.
const (
	AccessRead  = "read"
	AccessWrite = "write"
	AccessOther = "other"
)

// VerbAccess classifies a Kubernetes verb (or, for non-resource requests,
// a lower-case HTTP method) as read, write or other (impersonate, bind,
// escalate, approve, ...).
func VerbAccess(verb string) string {
	switch verb {
	case "get", "list", "watch", "head", "options":
		return AccessRead
	case "create", "update", "patch", "delete", "deletecollection", "post", "put":
		return AccessWrite
	case "":
		return ""
	}
	return AccessOther
}

// AppendResourcePath appends "group/resource/namespace/name[/subresource]"
// to dst. The core group is written "core"; empty namespace or name leave
// their segment empty so positions stay fixed ("core/nodes//node-1").
func AppendResourcePath(dst []byte, group, resource, namespace, name, subresource string) []byte {
	if group == "" {
		group = "core"
	}
	dst = append(dst, group...)
	dst = append(dst, '/')
	dst = append(dst, resource...)
	dst = append(dst, '/')
	dst = append(dst, namespace...)
	dst = append(dst, '/')
	dst = append(dst, name...)
	if subresource != "" {
		dst = append(dst, '/')
		dst = append(dst, subresource...)
	}
	return dst
}
