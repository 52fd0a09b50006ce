package corpus

import (
	"os"
	"testing"
	"time"
)

// TestRebaseAnyHour rebases the bundled sample for a clock at hours spread
// over a day (the early-morning band a date-only shift got wrong among them) (the time source is a parameter, not the wall clock) and checks
// that no event time lands in the future and the 4,000 events of the
// sample's main day land inside CloudWatch Logs' acceptance window (not
// older than 14 days; the 51 older fixture events stay too old, as
// recorded), and that the gaps are kept.
func TestRebaseAnyHour(t *testing.T) {
	data, err := os.ReadFile(Path())
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2031, 3, 9, 0, 0, 0, 0, time.UTC)
	for _, h := range []int{0, 2, 3, 5, 7, 12, 18, 23} {
		now := day.Add(time.Duration(h)*time.Hour + 17*time.Minute)
		out := Rebase(data, now.Add(-time.Minute))
		ms := eventTime.FindAllSubmatch(out, -1)
		if len(ms) < 1000 {
			t.Fatalf("only %d timestamps found", len(ms))
		}
		inWindow := 0
		for _, m := range ms {
			ts, err := time.Parse(time.RFC3339Nano, string(m[1]))
			if err != nil {
				t.Fatalf("hour %d: %s does not parse: %v", h, m[1], err)
			}
			if ts.After(now) {
				t.Fatalf("hour %d: %s is in the future for now=%s", h, m[1], now)
			}
			if !ts.Before(now.Add(-14 * 24 * time.Hour)) {
				inWindow++
			}
		}
		if inWindow != 4000 {
			t.Fatalf("hour %d: %d event times inside [now-14d, now], want 4000", h, inWindow)
		}
	}
	in := []byte(`{"a":"2024-05-14T09:00:00.123456Z","stageTimestamp":"2024-05-14T10:00:00Z","c":"not 2024-05-14T10:00:00Z"}`)
	got := string(Rebase(in, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)))
	want := `{"a":"2030-01-02T02:04:05.123456Z","stageTimestamp":"2030-01-02T03:04:05Z","c":"not 2024-05-14T10:00:00Z"}`
	if got != want {
		t.Fatalf("Rebase:\n got %s\nwant %s", got, want)
	}
}
