package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
)

// TestHarnessThroughput drives the plugin through the harness with chunks
// of 1024 records into a local CloudWatch server and reports events/s. It
// always runs a short round (as a correctness check of the repeat path);
// AUDITLANE_HARNESS_BENCH=N runs N rounds and logs the rate.
func TestHarnessThroughput(t *testing.T) {
	needBuild(t)
	rounds := 3
	if v := os.Getenv("AUDITLANE_HARNESS_BENCH"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("AUDITLANE_HARNESS_BENCH=%q: want a number of rounds", v)
		}
		rounds = n
	}
	dir := t.TempDir()
	end := time.Now().Add(-2 * time.Hour)
	sample := readLines(t, "sample-audit.log", end)[:1024]
	cw, err := cwtest.New(cwtest.Options{Discard: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()
	f := writeFile(t, dir, "c.msgpack", logChunk(sample, time.Now()))
	policy := filepath.Join(repoRoot, "examples", "policies", "cost-saving.yaml")
	r := runHarness(t, dir, harnessEnv(""), []string{
		"new a", "set a destination cloudwatch", "set a policy_file " + policy, "set a endpoint " + cw.URL,
		"set a log_group_name /bench", "set a auto_create_group on", "set a stats_interval 0",
		"init a", "rss start",
		fmt.Sprintf("repeat a bench %s %d", f, rounds),
		"rss end", "exit a",
	})
	res := strings.Fields(r.results["repeat a"][0])
	if len(res) != 4 || res[0] != strconv.Itoa(rounds) {
		t.Fatalf("repeat: %v\n%s", res, r.stderr)
	}
	ns, _ := strconv.ParseFloat(res[3], 64)
	ev := float64(rounds * len(sample))
	t.Logf("harness: %d chunks × %d records: %.0f events/s (one flush at a time), %.0f ns/event; rss %v -> %v kB; server stored %d",
		rounds, len(sample), ev/(ns/1e9), ns/ev, r.results["rss start"], r.results["rss end"], cw.Stats().StoredEvents)
	if cw.Stats().StoredEvents == 0 {
		t.Error("nothing stored")
	}
}

// TestOutageMemoryBounded keeps the SLS server down while the harness keeps
// flushing new chunks (each answered FLB_RETRY), and reports the harness's
// RSS before, during and after. AUDITLANE_OUTAGE_SECONDS sets the outage
// (default 3 in CI; the README's numbers use 60).
func TestOutageMemoryBounded(t *testing.T) {
	needBuild(t)
	secs := 3
	if v := os.Getenv("AUDITLANE_OUTAGE_SECONDS"); v != "" {
		secs, _ = strconv.Atoi(v)
		if secs < 1 || secs > 600 {
			t.Fatalf("AUDITLANE_OUTAGE_SECONDS=%q out of range", v)
		}
	}
	dir := t.TempDir()
	sample := readLines(t, "sample-audit.log", time.Time{})
	sl, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects:  map[string][]string{"proj-a": {"audit"}},
		Keys:      map[string]string{"LTAIharness": "sls-harness-secret"},
		CountOnly: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	var files []string
	for i := 0; i+1000 <= len(sample); i += 1000 {
		files = append(files, writeFile(t, dir, fmt.Sprintf("c%d", i), logChunk(sample[i:i+1000], time.Now())))
	}
	script := []string{"new a", "set a destination sls", "set a endpoint " + sl.Endpoint(), "set a project proj-a",
		"set a logstore audit", "set a retry_max_elapsed 200ms", "set a retry_initial_interval 50ms",
		"set a retry_max_interval 100ms", "set a flush_timeout 2s", "set a stats_interval 0", "init a",
		"flush a warm " + files[0], "rss before"}
	// During the outage: a new chunk about every 500 ms, answered FLB_RETRY.
	steps := secs * 2 // each step: a flush (≥ retry_max_elapsed while down) and 250 ms
	for i := 0; i < steps; i++ {
		script = append(script, fmt.Sprintf("flush a t%d %s", i%8, files[i%len(files)]), "sleep 250")
		if i == steps/2 || i == steps-1 {
			script = append(script, "rss during")
		}
	}
	script = append(script, "sleep 500")
	for i := 0; i < 8; i++ {
		script = append(script, fmt.Sprintf("flush_until a t%d %s 20 200", i, files[i%len(files)]))
	}
	script = append(script, "rss after", "exit a")
	// The outage starts after the warm-up flush has had time to pass.
	go func() {
		time.Sleep(1500 * time.Millisecond)
		sl.Outage(time.Duration(secs)*time.Second + 500*time.Millisecond)
	}()
	r := runHarness(t, dir, harnessEnv(sl.Addr()), script)
	kb := func(k string) []int {
		var out []int
		for _, v := range r.results[k] {
			n, _ := strconv.Atoi(v)
			out = append(out, n)
		}
		return out
	}
	retries := strings.Count(strings.Join(r.results["flush a"], " "), "2")
	t.Logf("outage %ds: rss before %v, during %v, after %v kB; FLB_RETRY answers during outage %d of %d",
		secs, kb("rss before"), kb("rss during"), kb("rss after"), retries, steps)
	if retries == 0 {
		t.Errorf("no FLB_RETRY during the outage: %v", r.results["flush a"])
	}
	for _, a := range r.results["flush_until a"] {
		if !strings.HasSuffix(a, "1") {
			t.Errorf("chunk did not complete after the outage: %s", a)
		}
	}
	for _, v := range append(kb("rss during"), kb("rss after")...) {
		if v > 400<<10 {
			t.Errorf("rss %d kB during/after the outage: memory is not bounded", v)
		}
	}
}
