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
	// Most requests start and end in the same minute: read the shared
	// date and time once.
	if len(requestReceived) >= 20 && len(stage) >= 20 && requestReceived[:17] == stage[:17] {
		if _, secA, okA := parseFast(requestReceived); okA {
			if secB, okB := parseSeconds(stage); okB {
				d = time.Duration(secB-secA) * time.Nanosecond
				return d, d >= 0
			}
		}
	}
	a, okA := parseTime(requestReceived)
	b, okB := parseTime(stage)
	if !okA || !okB {
		return 0, false
	}
	d = time.Duration(b-a) * time.Nanosecond
	return d, d >= 0
}

// parseTime returns nanoseconds since the Unix epoch of an RFC 3339
// timestamp. The apiserver's form, "2006-01-02T15:04:05.999999Z", is read
// directly; anything else goes through time.Parse.
func parseTime(s string) (int64, bool) {
	if minute, sec, ok := parseFast(s); ok {
		return minute + sec, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	return t.UnixNano(), true
}

// parseFast reads the apiserver's form, "2006-01-02T15:04:05.999999Z":
// minute is the start of the minute in nanoseconds since the Unix epoch,
// sec the nanoseconds since then. ok is false for any other form.
func parseFast(s string) (minute, sec int64, ok bool) {
	if len(s) < 20 || len(s) > 30 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, 0, false
	}
	y, ok1 := digits(s[0:4])
	mo, ok2 := digits(s[5:7])
	dd, ok3 := digits(s[8:10])
	h, ok4 := digits(s[11:13])
	mi, ok5 := digits(s[14:16])
	sec, ok6 := parseSeconds(s)
	if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && mo >= 1 && mo <= 12 && dd >= 1 && dd <= 31 && h < 24 && mi < 60 {
		days := daysFromCivil(y, mo, dd)
		return ((days*24+int64(h))*60 + int64(mi)) * 60 * 1e9, sec, true
	}
	return 0, 0, false
}

// parseSeconds reads "05.999999Z" at s[17:] of a timestamp in the
// apiserver's form, in nanoseconds; the caller checks the rest.
func parseSeconds(s string) (int64, bool) {
	if len(s) < 20 || len(s) > 30 || s[len(s)-1] != 'Z' {
		return 0, false
	}
	sec, ok := digits(s[17:19])
	if !ok || sec >= 61 {
		return 0, false
	}
	frac := int64(0)
	if len(s) > 20 {
		f := s[19 : len(s)-1]
		if f[0] != '.' || len(f) < 2 || len(f) > 10 {
			return 0, false
		}
		n, ok := digits(f[1:])
		if !ok {
			return 0, false
		}
		for i := len(f) - 1; i < 9; i++ {
			n *= 10
		}
		frac = int64(n)
	} else if s[19] != 'Z' {
		return 0, false
	}
	return int64(sec)*1e9 + frac, true
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097+doe) - 719468
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
