package corpus

import (
	"regexp"
	"time"
)

// stamp matches the RFC 3339 UTC timestamps audit events carry
// ("2024-05-14T09:16:16.477273Z"), inside JSON strings.
var stamp = regexp.MustCompile(`"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z)"`)

// eventTime matches an event's stageTimestamp member.
var eventTime = regexp.MustCompile(`"stageTimestamp":\s*"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z)"`)

// Rebase shifts every RFC 3339 UTC timestamp in data by one offset so that
// the latest event time (stageTimestamp) becomes end, keeping the gaps between events (and their
// fractional digits' precision). Tests use it to move a recorded sample into
// a destination's acceptance window relative to their clock, whatever the
// time of day: never put a fixed time of day on a computed date.
func Rebase(data []byte, end time.Time) []byte {
	var latest time.Time
	for _, m := range eventTime.FindAllSubmatch(data, -1) {
		if t, err := time.Parse(time.RFC3339Nano, string(m[1])); err == nil && t.After(latest) {
			latest = t
		}
	}
	if latest.IsZero() {
		return data
	}
	shift := end.Sub(latest)
	return stamp.ReplaceAllFunc(data, func(m []byte) []byte {
		s := string(m[1 : len(m)-1])
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return m
		}
		layout := "2006-01-02T15:04:05Z"
		if n := len(s) - len("2006-01-02T15:04:05Z"); n > 0 {
			layout = "2006-01-02T15:04:05." + "000000000"[:n-1] + "Z"
		}
		return []byte(`"` + t.Add(shift).UTC().Format(layout) + `"`)
	})
}
