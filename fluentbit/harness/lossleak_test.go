package harness

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
	"github.com/auditlane/auditlane/internal/secretshapes"
)

// envWith returns env with the variables of over replaced.
func envWith(env []string, over ...string) []string {
	out := append([]string(nil), env...)
	for _, o := range over {
		k, _, _ := strings.Cut(o, "=")
		for i, e := range out {
			if strings.HasPrefix(e, k+"=") {
				out[i] = o
			}
		}
	}
	return out
}

// TestAuthFailuresAreRetriedNotDropped: with wrong credentials every flush
// answers FLB_RETRY — nothing is dead-lettered or acknowledged — and the
// error is logged at error level, rate-limited; once the keys are fixed, a
// new process (Fluent Bit restarted on the same storage, which hands the
// chunk again) delivers every event.
func TestAuthFailuresAreRetriedNotDropped(t *testing.T) {
	needBuild(t)
	dir := t.TempDir()
	sample := readLines(t, "sample-audit.log", time.Now().Add(-time.Hour))[:300]
	chunk := writeFile(t, dir, "c.msgpack", logChunk(sample, time.Now()))
	cw, err := cwtest.New(cwtest.Options{Credentials: map[string]cwtest.Credential{"AKIDHARNESS": {SecretAccessKey: "harness-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()
	sl, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{"proj-a": {"audit"}},
		Keys:     map[string]string{"LTAIharness": "sls-harness-secret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	script := func(dl string) []string {
		return []string{
			"new cw", "set cw destination cloudwatch", "set cw endpoint " + cw.URL, "set cw log_group_name /k8s/audit",
			"set cw auto_create_group on", "set cw dead_letter_file " + dl + "-cw", "set cw stats_interval 0",
			"new sls", "set sls destination sls", "set sls endpoint " + sl.Endpoint(), "set sls project proj-a",
			"set sls logstore audit", "set sls dead_letter_file " + dl + "-sls", "set sls stats_interval 0",
			"init cw", "init sls",
			"flush cw kube.audit " + chunk, "flush cw kube.audit " + chunk, "flush cw kube.audit " + chunk,
			"flush sls kube.audit " + chunk, "flush sls kube.audit " + chunk,
			"exit cw", "exit sls",
		}
	}
	dl := filepath.Join(dir, "dead")
	bad := envWith(harnessEnv(sl.Addr()), "AWS_SECRET_ACCESS_KEY=rotated-away", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=rotated-away")
	r := runHarness(t, dir, bad, script(dl))
	if got := strings.Join(r.results["flush cw"], ","); got != "2,2,2" {
		t.Fatalf("flush cw with bad credentials = %s, want FLB_RETRY each time\n%s", got, r.stderr)
	}
	if got := strings.Join(r.results["flush sls"], ","); got != "2,2" {
		t.Fatalf("flush sls with bad credentials = %s, want FLB_RETRY each time\n%s", got, r.stderr)
	}
	for _, f := range []string{dl + "-cw", dl + "-sls"} {
		b, _ := os.ReadFile(f)
		t.Logf("%s: %d letters", f, strings.Count(string(b), "\n"))
		for _, reason := range []string{"sink_auth", "sink_access", "sink_expired", "sink_credentials", "sink_not_found"} {
			if strings.Contains(string(b), `"reason":"`+reason) {
				t.Errorf("%s dead-lettered events for destination trouble:\n%.600s", f, b)
				break
			}
		}
	}
	if cw.Stats().StoredEvents != 0 || len(sl.Logs("proj-a", "audit")) != 0 {
		t.Fatal("stored with bad credentials?")
	}
	// Loud, but rate-limited: one error line per destination and reason.
	if n := strings.Count(r.stderr, "[error]"); n < 2 || n > 4 {
		t.Errorf("%d error lines for 5 refused flushes, want one per destination:\n%s", n, r.stderr)
	}
	if !strings.Contains(r.stderr, "auth_failure") && !strings.Contains(r.stderr, "access_denied") {
		t.Errorf("the error does not say why:\n%s", r.stderr)
	}
	for _, s := range []string{"rotated-away", "harness-secret", "sls-harness-secret"} {
		if strings.Contains(r.stderr+r.stdout, s) {
			t.Errorf("a credential is in the output: %s", s)
		}
	}

	// Keys fixed, Fluent Bit restarted: the same chunk comes again.
	r = runHarness(t, dir, harnessEnv(sl.Addr()), script(dl))
	if got := r.results["flush cw"]; len(got) != 3 || got[0] != "1" {
		t.Fatalf("flush cw after the fix = %v\n%s", got, r.stderr)
	}
	if got := r.results["flush sls"]; len(got) != 2 || got[0] != "1" {
		t.Fatalf("flush sls after the fix = %v\n%s", got, r.stderr)
	}
	if got := cw.Stats().StoredEvents; got < len(sample) {
		t.Errorf("CloudWatch stored %d of %d events after the fix", got, len(sample))
	}
	if got := len(sl.Logs("proj-a", "audit")); got < len(sample) {
		t.Errorf("SLS stored %d of %d events after the fix", got, len(sample))
	}
}

// scrape reads /metrics at addr, retrying until deadline; the samples come
// back as "name{labels}" -> value.
func scrape(t *testing.T, addr string, deadline time.Time, ready func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	var last map[string]float64
	var lastErr error
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("/metrics answered %d:\n%s", resp.StatusCode, b)
			}
			last = parseMetrics(string(b))
			if ready(last) {
				return last
			}
		} else {
			lastErr = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("metrics at %s not ready: %v %v", addr, last, lastErr)
	return nil
}

func parseMetrics(text string) map[string]float64 {
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err == nil {
			m[l[:i]] += v
		}
	}
	return m
}

// sumMetric adds every series of name whose labels contain want.
func sumMetric(m map[string]float64, name, want string) float64 {
	var n float64
	for k, v := range m {
		if (k == name || strings.HasPrefix(k, name+"{")) && strings.Contains(k, want) {
			n += v
		}
	}
	return n
}

// TestCountersOnceAcrossRetriesAndMetrics flushes chunks through an SLS
// outage (each answered FLB_RETRY until the server is back) and reads the
// plugin's /metrics (metrics_listen): every event is counted once however
// often its chunk came back (in = kept + dropped + rejected = events), the
// kept ones are delivered once, retries are counted apart, and every series
// carries the instance's component label.
func TestCountersOnceAcrossRetriesAndMetrics(t *testing.T) {
	needBuild(t)
	dir := t.TempDir()
	sample := readLines(t, "sample-audit.log", time.Time{})[:1500]
	sl, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{"proj-a": {"audit"}},
		Keys:     map[string]string{"LTAIharness": "sls-harness-secret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	var files []string
	for i := 0; i < len(sample); i += 500 {
		files = append(files, writeFile(t, dir, fmt.Sprintf("c%d.msgpack", i), logChunk(sample[i:i+500], time.Now())))
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	policy := filepath.Join(repoRoot, "examples", "policies", "cost-saving.yaml")
	script := []string{
		"new a", "set a destination sls", "set a endpoint " + sl.Endpoint(), "set a project proj-a", "set a logstore audit",
		"set a policy_file " + policy, "set a retry_max_elapsed 200ms", "set a retry_initial_interval 50ms",
		"set a retry_max_interval 100ms", "set a stats_interval 0", "set a metrics_listen " + addr, "init a",
	}
	for _, f := range files {
		script = append(script, "flush_until a audit "+f+" 60 200")
	}
	script = append(script, "sleep 4000", "exit a")
	sl.Outage(1200 * time.Millisecond)
	done := make(chan harnessRun, 1)
	go func() { done <- runHarness(t, dir, harnessEnv(sl.Addr()), script) }()
	m := scrape(t, addr, time.Now().Add(60*time.Second), func(m map[string]float64) bool {
		return sumMetric(m, "auditlane_events_in", "") >= float64(len(sample)) &&
			sumMetric(m, "auditlane_events_delivered", "") > 0 &&
			sumMetric(m, "auditlane_events_delivered", "") == sumMetric(m, "auditlane_events_kept", "")
	})
	r := <-done
	retries := 0
	for _, a := range r.results["flush_until a"] {
		retries += strings.Count(a, "2")
	}
	in := sumMetric(m, "auditlane_events_in", "")
	kept := sumMetric(m, "auditlane_events_kept", "")
	dropped := sumMetric(m, "auditlane_events_dropped", "")
	rejected := sumMetric(m, "auditlane_events_rejected", "")
	t.Logf("flush answers %v: in=%v kept=%v dropped=%v rejected=%v delivered=%v retried=%v", r.results["flush_until a"], in, kept, dropped,
		rejected, sumMetric(m, "auditlane_events_delivered", ""), sumMetric(m, "auditlane_events_retried", ""))
	if retries == 0 {
		t.Fatalf("no FLB_RETRY during the outage: %v", r.results["flush_until a"])
	}
	if in != float64(len(sample)) || in != kept+dropped+rejected {
		t.Errorf("in=%v kept=%v dropped=%v rejected=%v for %d events: counted more than once", in, kept, dropped, rejected, len(sample))
	}
	if got := len(sl.Logs("proj-a", "audit")); float64(got) != kept {
		t.Errorf("stored %d, kept %v", got, kept)
	}
	if sumMetric(m, "auditlane_events_retried", "") == 0 {
		t.Error("retried events not counted")
	}
	if sumMetric(m, "auditlane_events_dropped", `rule="`) == 0 || sumMetric(m, "auditlane_events_in", `component="auditlane.`) != in {
		t.Errorf("labels missing: %v", m)
	}
	if sumMetric(m, "auditlane_sink_errors", `reason="`) == 0 {
		t.Errorf("sink errors by reason not counted: %v", m)
	}
	if _, ok := m["auditlane_oldest_pending_age_seconds{component=\"auditlane.0\"}"]; !ok {
		t.Errorf("no oldest pending age gauge: %v", m)
	}
}

// TestUnknownKeysRefused: a misspelt key fails the instance's start-up
// (Fluent Bit's own property check, which the plugin feeds with its keys);
// so does a key of the destination not chosen.
func TestUnknownKeysRefused(t *testing.T) {
	needBuild(t)
	dir := t.TempDir()
	r := runHarness(t, dir, harnessEnv(""), []string{
		"new a", "set a destination stdout", "set a polcy_file /etc/auditlane/policy.yaml", "init a",
		"new b", "set b destination stdout", "set b redact_secret on", "init b",
		"new c", "set c destination stdout", "set c project k8s-log", "init c",
		"new d", "set d destination stdout", "set d redact_secrets on", "set d max_input_size 1M", "set d stats_interval 0", "init d", "exit d",
	})
	for id, key := range map[string]string{"a": "polcy_file", "b": "redact_secret", "c": "project"} {
		if got := r.results["init "+id]; len(got) != 1 || got[0] != "0" {
			t.Errorf("init %s = %v, want FLB_ERROR", id, got)
		}
		if !strings.Contains(r.stderr, "'"+key+"'") && !strings.Contains(r.stderr, key+": ") {
			t.Errorf("the error does not name %s:\n%s", key, r.stderr)
		}
	}
	if got := r.results["init d"]; len(got) != 1 || got[0] != "1" {
		t.Errorf("init d = %v\n%s", got, r.stderr)
	}
	if !strings.Contains(r.stdout, "config_map=") || strings.Contains(r.stdout, "config_map=0") {
		t.Errorf("the plugin registered no config map: %s", r.stdout)
	}
}

// TestSecretShapesThroughPlugin sends every shape a Secret or a token takes
// through auditlane.so, as raw lines and inside an EventList record (the
// http input as the apiserver's webhook), with redact_secrets on, a size
// limit that sends some events to the dead letter, and undecodable input
// holding secrets (a truncated line, invalid UTF-8): no marker may appear
// in the output file, the dead letter or the logs.
func TestSecretShapesThroughPlugin(t *testing.T) {
	needBuild(t)
	dir := t.TempDir()
	shapes := secretshapes.Shapes(time.Now().Add(-time.Minute))
	var lines [][]byte
	var items []string
	for _, s := range shapes {
		lines = append(lines, []byte(s.Event))
		items = append(items, s.Event)
	}
	// An event too large even without its bodies (so it goes to the dead
	// letter) that holds a Secret.
	big := strings.TrimSuffix(shapes[1].Event, "}") + `,"impersonatedUser":{"username":"x","groups":[` +
		strings.TrimSuffix(strings.Repeat(`"group-with-a-name-of-some-length",`, 300), ",") + `]}}`
	lines = append(lines, []byte(big))
	// Undecodable input with secrets in it.
	trunc := shapes[0].Event[:len(shapes[0].Event)*2/3]
	lines = append(lines, []byte(trunc), []byte(`{"kind":"Event","verb":"create","requestObject":{"data":{"k":"`+secretshapes.MarkerPrefix+"-utf8-\xff\xfe"+`"}}}`))
	elist := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join(items, ",") + `]}`
	files := []string{
		writeFile(t, dir, "lines.msgpack", logChunk(lines, time.Now())),
		writeFile(t, dir, "eventlist.msgpack", mapChunk(t, [][]byte{[]byte(elist)}, time.Now(), true)),
	}
	out, dl := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "dead.jsonl")
	script := []string{
		"new a", "set a destination file", "set a file_path " + out, "set a redact_secrets on", "set a max_event_size 1300",
		"set a dead_letter_file " + dl, "set a auditlane_log_level debug", "set a stats_interval 0", "init a",
	}
	for _, f := range files {
		script = append(script, "flush a kube.audit "+f)
	}
	script = append(script, "exit a")
	r := runHarness(t, dir, harnessEnv(""), script)
	if got := strings.Join(r.results["flush a"], ","); got != "1,1" {
		t.Fatalf("flush = %s\n%s", got, r.stderr)
	}
	outB, dlB := mustReadFile(t, out), mustReadFile(t, dl)
	if n := strings.Count(string(outB), "\n"); n < len(shapes) {
		t.Errorf("output has %d events for %d shapes twice", n, len(shapes))
	}
	if strings.Count(string(dlB), `"reason":"too_large"`) == 0 || !strings.Contains(string(dlB), `"reason":"invalid_json"`) ||
		!strings.Contains(string(dlB), `"reason":"invalid_utf8"`) {
		t.Errorf("dead letter lacks the expected reasons:\n%s", dlB)
	}
	for _, where := range []struct {
		name string
		b    []byte
	}{{"output", outB}, {"dead letter", dlB}, {"logs", []byte(r.stderr + r.stdout)}} {
		if strings.Contains(string(where.b), secretshapes.MarkerPrefix) {
			i := strings.Index(string(where.b), secretshapes.MarkerPrefix)
			t.Errorf("a secret marker reached the %s: …%s…", where.name, where.b[max(0, i-200):min(len(where.b), i+60)])
		}
	}
}

func mustReadFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
