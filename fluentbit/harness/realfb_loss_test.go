package harness

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
	"github.com/auditlane/auditlane/internal/secretshapes"
)

// fluentBit is a running real Fluent Bit.
type fluentBit struct {
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan error
	done   bool
}

func realFluentBit(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("FLUENT_BIT_BIN")
	if bin == "" {
		t.Skip("FLUENT_BIT_BIN is not set: skipping a test with a real Fluent Bit")
	}
	needBuild(t)
	return bin
}

// startFluentBit runs bin with the plugin and the configuration text.
func startFluentBit(t *testing.T, bin, dir, name, conf string, env []string) *fluentBit {
	t.Helper()
	cf := writeFile(t, dir, name, []byte(conf))
	cmd := exec.Command(bin, "-e", plugPath, "-c", cf)
	cmd.Env = env
	fb := &fluentBit{cmd: cmd, logs: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = fb.logs, fb.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { fb.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		fb.stop()
		if t.Failed() {
			t.Logf("fluent-bit %s log:\n%s", name, tail(fb.logs.String(), 6000))
		}
	})
	return fb
}

// stop ends Fluent Bit gracefully (SIGTERM; Grace in the configuration).
func (fb *fluentBit) stop() error {
	if fb.done {
		return nil
	}
	fb.done = true
	_ = fb.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-fb.exited:
		return err
	case <-time.After(30 * time.Second):
		_ = fb.cmd.Process.Kill()
		return <-fb.exited
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func waitFor(t *testing.T, fb *fluentBit, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s", what, limit)
		}
		select {
		case err := <-fb.exited:
			fb.done = true
			t.Fatalf("%s: fluent-bit exited: %v", what, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestRealFluentBitRefusesUnknownKeys: Fluent Bit 5.1.1 refuses a
// misspelt auditlane key at start-up, naming it (the plugin registers its
// keys as a config map).
func TestRealFluentBitRefusesUnknownKeys(t *testing.T) {
	bin := realFluentBit(t)
	dir := t.TempDir()
	for _, key := range []string{"polcy_file", "redact_secret"} {
		fb := startFluentBit(t, bin, dir, key+".conf", fmt.Sprintf(`[SERVICE]
    Flush 1
[INPUT]
    Name dummy
[OUTPUT]
    Name        auditlane
    Match       *
    destination stdout
    %s on
`, key), harnessEnv(""))
		select {
		case err := <-fb.exited:
			fb.done = true
			if err == nil {
				t.Errorf("%s: fluent-bit exited 0", key)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: fluent-bit still running with an unknown key", key)
		}
		if !strings.Contains(fb.logs.String(), "unknown configuration property '"+key+"'") {
			t.Errorf("%s: not named in the error:\n%s", key, fb.logs.String())
		}
	}
}

// TestRealFluentBitOutageDoesNotBlockInputs keeps the SLS destination down
// while the apiserver's webhook (the http input) keeps posting: with
// Workers set, every POST is answered at once during the outage, the
// plugin answers FLB_RETRY after its short budget, and once the outage is
// over every kept event is stored exactly once.
func TestRealFluentBitOutageDoesNotBlockInputs(t *testing.T) {
	bin := realFluentBit(t)
	dir := t.TempDir()
	sl, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{"proj-a": {"audit"}},
		Keys:     map[string]string{"LTAIharness": "sls-harness-secret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	port := freePort(t)
	conf := fmt.Sprintf(`[SERVICE]
    Flush          1
    Grace          5
    Log_Level      info
    storage.path   %s
    scheduler.base 1
    scheduler.cap  2
[INPUT]
    Name         http
    Listen       127.0.0.1
    Port         %d
    Tag          webhook
    storage.type filesystem
[OUTPUT]
    Name        auditlane
    Match       webhook
    Workers     2
    destination sls
    endpoint    %s
    project     proj-a
    logstore    audit
    Retry_Limit no_limits
`, filepath.Join(dir, "storage"), port, sl.Endpoint())
	const outage = 10 * time.Second
	sl.Outage(outage)
	start := time.Now()
	fb := startFluentBit(t, bin, dir, "fb.conf", conf, harnessEnv(sl.Addr()))
	url := fmt.Sprintf("http://127.0.0.1:%d/webhook", port)
	waitFor(t, fb, 20*time.Second, "http input up", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	const batches, per = 20, 50
	var slowest time.Duration
	now := time.Now()
	for b := 0; b < batches; b++ {
		body := eventListBody(b*per, per, now)
		t0 := time.Now()
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST %d during the outage: %v", b, err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %d during the outage: %d", b, resp.StatusCode)
		}
		slowest = max(slowest, time.Since(t0))
		time.Sleep(200 * time.Millisecond)
	}
	if time.Since(start) > outage {
		t.Logf("the posts took longer than the outage (%s): a slow machine", time.Since(start))
	}
	t.Logf("slowest POST during the outage: %s", slowest)
	if slowest > 2*time.Second {
		t.Errorf("the http input took %s to answer during the outage: the engine is blocked", slowest)
	}
	waitFor(t, fb, 90*time.Second, "every event stored", func() bool { return len(sl.Logs("proj-a", "audit")) >= batches*per })
	ids := map[string]int{}
	for _, l := range sl.Logs("proj-a", "audit") {
		id, _ := l.Get("auditID")
		ids[id]++
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("%s stored %d times", id, n)
		}
	}
	if len(ids) != batches*per {
		t.Errorf("%d distinct events stored, want %d", len(ids), batches*per)
	}
	if !strings.Contains(fb.logs.String(), "retry") {
		t.Errorf("no retry during the outage?\n%s", tail(fb.logs.String(), 3000))
	}
}

// eventListBody is an EventList of n generated events from first.
func eventListBody(first, n int, at time.Time) string {
	var items []string
	for i := first; i < first+n; i++ {
		items = append(items, fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"00000000-0000-4000-8000-%012d","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/configmaps","verb":"list","user":{"username":"alice"},"objectRef":{"resource":"configmaps","namespace":"default","apiVersion":"v1"},"responseStatus":{"code":200},"requestReceivedTimestamp":%q,"stageTimestamp":%q}`,
			i, at.UTC().Format(time.RFC3339Nano), at.UTC().Format(time.RFC3339Nano)))
	}
	return `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join(items, ",") + `]}`
}

// TestRealFluentBitLongLines: with the examples' tail settings
// (Skip_Long_Lines on, a Buffer_Max_Size that fits real events), a line
// over the limit is skipped and every other line is delivered.
func TestRealFluentBitLongLines(t *testing.T) {
	bin := realFluentBit(t)
	dir := t.TempDir()
	sample := readLines(t, "sample-audit.log", time.Now().Add(-time.Hour))[:400]
	long := strings.TrimSuffix(string(sample[0]), "}") + `,"requestObject":{"blob":"` + strings.Repeat("x", 3<<20) + `"}}`
	lines := append(append(append([][]byte{}, sample[:200]...), []byte(long)), sample[200:]...)
	in := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(in, joinLines(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.jsonl")
	fb := startFluentBit(t, bin, dir, "fb.conf", fmt.Sprintf(`[SERVICE]
    Flush     1
    Grace     2
[INPUT]
    Name              tail
    Path              %s
    Read_from_Head    true
    Tag               kube.audit
    Buffer_Chunk_Size 256k
    Buffer_Max_Size   1M
    Skip_Long_Lines   on
[OUTPUT]
    Name        auditlane
    Match       kube.audit
    Workers     2
    destination file
    file_path   %s
`, in, out), harnessEnv(""))
	e := newExpectation(t, func(s *pipeline.Settings) {})
	for _, l := range sample {
		e.line(l)
	}
	want := sum(e.kept) + e.old // a file keeps what CloudWatch would find too old
	waitFor(t, fb, 60*time.Second, "the lines after the long one", func() bool { return countLines(out) >= want })
	_ = fb.stop()
	if n := countLines(out); n != want {
		t.Errorf("%d events out, want %d (every line but the long one)", n, want)
	}
}

// TestRealFluentBitAuthFixedAfterRestart: with credentials CloudWatch
// refuses, chunks are retried and kept in Fluent Bit's filesystem storage
// (nothing dead-lettered); Fluent Bit restarted on the same storage with
// the keys fixed delivers every kept event.
func TestRealFluentBitAuthFixedAfterRestart(t *testing.T) {
	bin := realFluentBit(t)
	dir := t.TempDir()
	sample := readLines(t, "sample-audit.log", time.Now().Add(-time.Hour))[:500]
	cw, err := cwtest.New(cwtest.Options{Credentials: map[string]cwtest.Credential{"AKIDHARNESS": {SecretAccessKey: "harness-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()
	in := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(in, joinLines(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "dead.jsonl")
	conf := fmt.Sprintf(`[SERVICE]
    Flush                     1
    Grace                     3
    storage.path              %s
    storage.sync              full
    scheduler.base            1
    scheduler.cap             2
[INPUT]
    Name           tail
    Path           %s
    DB             %s
    Read_from_Head true
    Tag            kube.audit
    storage.type   filesystem
[OUTPUT]
    Name              auditlane
    Match             kube.audit
    Workers           2
    destination       cloudwatch
    region            us-east-1
    endpoint          %s
    log_group_name    /auth
    log_stream_name   s
    auto_create_group on
    dead_letter_file  %s
    Retry_Limit       no_limits
`, filepath.Join(dir, "storage"), in, filepath.Join(dir, "tail.db"), cw.URL, dead)
	e := newExpectation(t, func(s *pipeline.Settings) {})
	for _, l := range sample {
		e.line(l)
	}
	fb := startFluentBit(t, bin, dir, "bad.conf", conf, envWith(harnessEnv(""), "AWS_SECRET_ACCESS_KEY=rotated-away"))
	waitFor(t, fb, 30*time.Second, "a refused flush", func() bool { return strings.Contains(fb.logs.String(), "auth_failure") })
	time.Sleep(3 * time.Second) // a few retries
	_ = fb.stop()
	if cw.Stats().StoredEvents != 0 {
		t.Fatal("stored with bad credentials")
	}
	if b, _ := os.ReadFile(dead); strings.Contains(string(b), `"reason":"sink_auth`) || strings.Contains(string(b), `"reason":"sink_access`) {
		t.Fatalf("destination trouble dead-lettered events:\n%.500s", b)
	}
	fb = startFluentBit(t, bin, dir, "good.conf", conf, harnessEnv(""))
	waitFor(t, fb, 60*time.Second, "every kept event after the restart", func() bool {
		return len(cw.Events("/auth", "s")) >= sum(e.kept)-e.old
	})
	_ = fb.stop()
	t.Logf("stored %d events after the restart (kept %d, %d too old for CloudWatch)", len(cw.Events("/auth", "s")), sum(e.kept), e.old)
}

// TestRealFluentBitSecretsAndMetrics posts every Secret and token shape as
// the apiserver's webhook does (one EventList) to Fluent Bit's http input,
// and tails them as lines: with redact_secrets on no marker reaches the
// output or Fluent Bit's log, and the plugin's /metrics counts each event
// once with the instance's component label.
func TestRealFluentBitSecretsAndMetrics(t *testing.T) {
	bin := realFluentBit(t)
	dir := t.TempDir()
	shapes := secretshapes.Shapes(time.Now().Add(-time.Minute))
	var lines [][]byte
	var items []string
	for _, s := range shapes {
		lines = append(lines, []byte(s.Event))
		items = append(items, s.Event)
	}
	in := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(in, joinLines(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.jsonl")
	port, mport := freePort(t), freePort(t)
	fb := startFluentBit(t, bin, dir, "fb.conf", fmt.Sprintf(`[SERVICE]
    Flush 1
    Grace 2
[INPUT]
    Name           tail
    Path           %s
    Read_from_Head true
    Tag            kube.audit
[INPUT]
    Name   http
    Listen 127.0.0.1
    Port   %d
    Tag    webhook
[OUTPUT]
    Name             auditlane
    Match_Regex      ^(kube\.audit|webhook)$
    Workers          2
    destination      file
    file_path        %s
    redact_secrets   on
    auditlane_log_level debug
    metrics_listen   127.0.0.1:%d
`, in, port, out, mport), harnessEnv(""))
	url := fmt.Sprintf("http://127.0.0.1:%d/webhook", port)
	elist := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join(items, ",") + `]}`
	waitFor(t, fb, 20*time.Second, "webhook accepted", func() bool {
		resp, err := http.Post(url, "application/json", strings.NewReader(elist))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode/100 == 2
	})
	waitFor(t, fb, 30*time.Second, "every shape out twice", func() bool { return countLines(out) >= 2*len(shapes) })
	m := scrape(t, fmt.Sprintf("127.0.0.1:%d", mport), time.Now().Add(10*time.Second), func(m map[string]float64) bool {
		return sumMetric(m, "auditlane_events_in", "") >= float64(2*len(shapes))
	})
	_ = fb.stop()
	if got := sumMetric(m, "auditlane_events_in", `component="auditlane.0"`); got != float64(2*len(shapes)) {
		t.Errorf("auditlane_events_in = %v, want %d", got, 2*len(shapes))
	}
	for where, b := range map[string][]byte{"output": mustReadFile(t, out), "fluent-bit log": []byte(fb.logs.String())} {
		if i := strings.Index(string(b), secretshapes.MarkerPrefix); i >= 0 {
			t.Errorf("a marker reached the %s: …%s…", where, b[max(0, i-200):min(len(b), i+60)])
		}
	}
}
