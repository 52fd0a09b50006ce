package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
	"github.com/auditlane/auditlane/fluentbit/internal/chunk"
	"github.com/auditlane/auditlane/internal/corpus"
)

var (
	buildDir  string // holds auditlane.so and flbharness
	buildErr  error
	repoRoot  string
	plugPath  string
	harnessCC string
)

func TestMain(m *testing.M) {
	var err error
	repoRoot, err = filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	buildDir, err = os.MkdirTemp("", "auditlane-harness-")
	if err != nil {
		panic(err)
	}
	buildErr = build()
	code := m.Run()
	os.RemoveAll(buildDir)
	os.Exit(code)
}

// build compiles the plugin (no -race: c-shared) and the C harness.
func build() error {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	plugPath = filepath.Join(buildDir, "auditlane.so")
	cmd := exec.Command(gobin, "build", "-buildmode=c-shared", "-o", plugPath, "./fluentbit")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -buildmode=c-shared: %v\n%s", err, out)
	}
	harnessCC = filepath.Join(buildDir, "flbharness")
	cmd = exec.Command("gcc", "-O1", "-Wall", "-Werror", "-std=c11", "-o", harnessCC, "c/flbharness.c", "-ldl")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gcc: %v\n%s", err, out)
	}
	return nil
}

func needBuild(t testing.TB) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// harnessEnv is the plugin process environment: static test credentials
// for the SDK chains, no shared config files, no metadata service, and the
// SLS server as HTTP proxy (the SDK addresses <project>.<endpoint>, which
// only the test server answers). Loopback addresses are never proxied.
func harnessEnv(slsAddr string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.TempDir(),
		"AWS_ACCESS_KEY_ID=AKIDHARNESS", "AWS_SECRET_ACCESS_KEY=harness-secret", "AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIharness", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=sls-harness-secret",
		"NO_PROXY=", "no_proxy=",
	}
	if slsAddr != "" {
		env = append(env, "HTTP_PROXY=http://"+slsAddr, "http_proxy=http://"+slsAddr)
	}
	return env
}

type harnessRun struct {
	stdout, stderr string
	results        map[string][]string // "init A" -> ["1"], ...
}

// runHarness runs script (lines) under the harness with a time bound.
func runHarness(t testing.TB, dir string, env []string, script []string) harnessRun {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("script-%d.txt", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(strings.Join(script, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, harnessCC, plugPath, path)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("harness: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	r := harnessRun{stdout: out.String(), stderr: errb.String(), results: map[string][]string{}}
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 {
			k := f[0] + " " + f[1]
			r.results[k] = append(r.results[k], strings.Join(f[2:], " "))
		}
	}
	return r
}

// readLines returns the non-blank lines of examples/data/name; with a
// non-zero end, the event times are shifted so that the latest is end (see
// corpus.Rebase).
func readLines(t testing.TB, name string, end time.Time) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "examples", "data", name))
	if err != nil {
		t.Fatal(err)
	}
	if !end.IsZero() {
		b = corpus.Rebase(b, end)
	}
	var lines [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	return lines
}

// logChunk builds a v2 chunk of {"log": line} records (tail without parser).
func logChunk(lines [][]byte, t0 time.Time) []byte {
	var b []byte
	for i, l := range lines {
		body := msgp.AppendMapHeader(nil, 1)
		body = msgp.AppendString(body, "log")
		body = msgp.AppendStringFromBytes(body, l)
		b = chunk.AppendRecordV2(b, t0.Add(time.Duration(i)*time.Millisecond), body)
	}
	return b
}

// mapChunk builds an old-format ([int timestamp, map]) chunk of parsed JSON
// objects (tail with the json parser, or the http input).
func mapChunk(t testing.TB, objs [][]byte, t0 time.Time, v2 bool) []byte {
	t.Helper()
	var b []byte
	for _, o := range objs {
		var v map[string]any
		if err := json.Unmarshal(o, &v); err != nil {
			t.Fatal(err)
		}
		body, err := msgp.AppendIntf(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if v2 {
			b = chunk.AppendRecordV2(b, t0, body)
		} else {
			b = msgp.AppendArrayHeader(b, 2)
			b = msgp.AppendInt64(b, t0.Unix())
			b = append(b, body...)
		}
	}
	return b
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// expectation runs the same pipeline in-process.
type expectation struct {
	kept        map[string]int // auditID -> count
	keptBodies  map[string]int // exact output bodies (log path only)
	old         int            // kept but older than CloudWatch's 14 days
	rejected    int
	dropped     int
	keptOldIDs  map[string]int
	cutoff      time.Time
	pipe        *pipeline.Pipeline
	scratch     pipeline.Scratch
	trackBodies bool
}

func newExpectation(t testing.TB, set func(*pipeline.Settings)) *expectation {
	s := pipeline.DefaultSettings()
	set(&s)
	p, _, err := s.Build()
	if err != nil {
		t.Fatal(err)
	}
	return &expectation{kept: map[string]int{}, keptBodies: map[string]int{}, keptOldIDs: map[string]int{},
		pipe: p, cutoff: time.Now().Add(-14*24*time.Hour + time.Hour)}
}

func (e *expectation) add(r pipeline.Result, id string) {
	switch r.Outcome {
	case pipeline.Dropped:
		e.dropped++
	case pipeline.Rejected:
		e.rejected++
	case pipeline.Kept:
		if !r.Time.IsZero() && r.Time.Before(e.cutoff) {
			e.old++
			e.keptOldIDs[id]++
			return
		}
		e.kept[id]++
		if e.trackBodies {
			e.keptBodies[string(r.Out)]++
		}
	}
}

func (e *expectation) line(l []byte) {
	if bytes.Contains(l, []byte(`"EventList"`)) {
		e.eventList(l)
		return
	}
	r := e.pipe.ProcessRaw(l, &e.scratch)
	e.add(r, e.scratch.Event.AuditID)
}

func (e *expectation) eventList(l []byte) {
	n := 0
	err := audit.ForEach(l, func(ev *audit.Event, err error) bool {
		n++
		if err != nil {
			e.rejected++
			return true
		}
		e.add(e.pipe.Process(ev, &e.scratch), ev.AuditID)
		return true
	})
	if err != nil && n == 0 {
		e.rejected++
	}
}

type letter struct {
	Reason string `json:"reason"`
}

func readDeadLetters(t testing.TB, path string) map[string]int {
	t.Helper()
	m := map[string]int{}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return m
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var x letter
		if err := json.Unmarshal(l, &x); err != nil {
			t.Fatalf("dead letter %q: %v", l, err)
		}
		m[x.Reason]++
	}
	return m
}

func sum(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

func TestTwoInstancesCloudWatchAndSLS(t *testing.T) {
	needBuild(t)
	dir := t.TempDir()
	end := time.Now().Add(-2 * time.Hour)
	sample := readLines(t, "sample-audit.log", end)
	bad := readLines(t, "bad-input.log", end)
	elist := readLines(t, "eventlist.json", end)
	elistRaw := elist[0]

	cw, err := cwtest.New(cwtest.Options{Credentials: map[string]cwtest.Credential{"AKIDHARNESS": {SecretAccessKey: "harness-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()
	sl, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{"audit-proj": {"audit-c123"}},
		Keys:     map[string]string{"LTAIharness": "sls-harness-secret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()

	t0 := time.Now().Add(-time.Minute)
	var files []string
	for i := 0; i < len(sample); i += 700 {
		files = append(files, writeFile(t, dir, fmt.Sprintf("log-%d.msgpack", i), logChunk(sample[i:min(i+700, len(sample))], t0)))
	}
	mapsFile := writeFile(t, dir, "maps.msgpack", mapChunk(t, sample[:200], t0, false))
	elFile := writeFile(t, dir, "eventlist.msgpack", mapChunk(t, [][]byte{elistRaw}, t0, true))
	badFile := writeFile(t, dir, "bad.msgpack", logChunk(bad, t0))
	files = append(files, mapsFile, elFile, badFile)

	policy := filepath.Join(repoRoot, "examples", "policies", "cost-saving.yaml")
	dlA, dlB := filepath.Join(dir, "dead-a.jsonl"), filepath.Join(dir, "dead-b.jsonl")
	script := []string{
		"new cw",
		"set cw destination cloudwatch",
		"set cw policy_file " + policy,
		"set cw cluster_name prod-a",
		"set cw provider eks",
		"set cw region us-east-1",
		"set cw endpoint " + cw.URL,
		"set cw log_group_name /k8s/{cluster}/audit",
		"set cw log_stream_name kube-apiserver-{cluster}",
		"set cw auto_create_group on",
		"set cw log_retention_days 30",
		"set cw dead_letter_file " + dlA,
		"set cw stats_interval 1",
		"new sls",
		"set sls destination sls",
		"set sls cluster_id c123",
		"set sls endpoint " + sl.Endpoint(),
		"set sls project audit-proj",
		"set sls logstore audit-c123",
		"set sls topic k8s-audit",
		"set sls max_batch_logs 500",
		"set sls dead_letter_file " + dlB,
		"new broken",
		"set broken destination cloudwatch",
		"set broken log_retention_days 42",
		"set broken log_group_name /x",
		"init cw",
		"init sls",
		"init broken",
	}
	for _, f := range files {
		script = append(script, "flush cw audit.kube "+f, "flush sls audit.kube "+f)
	}
	script = append(script, "sleep 1100", "exit cw", "exit sls")
	r := runHarness(t, dir, harnessEnv(sl.Addr()), script)

	if !strings.Contains(r.stdout, "register auditlane type=2 proxy=11") {
		t.Errorf("registration: %s", r.stdout)
	}
	if got := r.results["init cw"]; len(got) != 1 || got[0] != "1" {
		t.Fatalf("init cw = %v\n%s", got, r.stderr)
	}
	if got := r.results["init sls"]; len(got) != 1 || got[0] != "1" {
		t.Fatalf("init sls = %v\n%s", got, r.stderr)
	}
	if got := r.results["init broken"]; len(got) != 1 || got[0] != "0" {
		t.Errorf("init broken = %v, want FLB_ERROR", got)
	}
	if !strings.Contains(r.stderr, "log_retention_days") {
		t.Errorf("config error does not name the key:\n%s", r.stderr)
	}
	for _, id := range []string{"cw", "sls"} {
		for i, rc := range r.results["flush "+id] {
			if rc != "1" {
				t.Errorf("flush %s #%d = %s, want FLB_OK", id, i, rc)
			}
		}
		if len(r.results["flush "+id]) != len(files) {
			t.Errorf("flush %s: %d answers", id, len(r.results["flush "+id]))
		}
	}
	if !strings.Contains(r.stderr, "[ info] [output:auditlane:auditlane.0] stats: in=") ||
		!strings.Contains(r.stderr, "[output:auditlane:auditlane.1] exit: stats:") {
		t.Errorf("missing stats lines:\n%s", r.stderr)
	}
	for _, secret := range []string{"harness-secret", "sls-harness-secret"} {
		if strings.Contains(r.stderr+r.stdout, secret) {
			t.Errorf("credential %q in output", secret)
		}
	}

	// What the same pipelines decide in-process.
	inputs := func(e *expectation) {
		e.trackBodies = true
		for _, l := range sample {
			e.line(l)
		}
		e.trackBodies = false
		for _, l := range sample[:200] {
			e.line(l) // the map chunk: same events, re-encoded
		}
		e.eventList(elistRaw)
		e.trackBodies = true
		for _, l := range bad {
			e.line(l)
		}
	}
	ea := newExpectation(t, func(s *pipeline.Settings) {
		s.PolicyFile = policy
		s.Enrich.ClusterName, s.Enrich.Provider = "prod-a", "eks"
	})
	inputs(ea)
	eb := newExpectation(t, func(s *pipeline.Settings) {
		s.Enrich.ClusterID = "c123"
		s.Shape.Layout = "sls"
	})
	eb.cutoff = time.Time{} // SLS has no age limit
	inputs(eb)
	t.Logf("cloudwatch expectation: kept %d, old %d, dropped %d, rejected %d; sls kept %d rejected %d", sum(ea.kept), ea.old, ea.dropped, ea.rejected, sum(eb.kept), eb.rejected)
	if ea.dropped == 0 || ea.rejected == 0 || ea.old == 0 || sum(ea.kept) == 0 {
		t.Fatalf("test data does not exercise every outcome: %+v", ea)
	}

	// CloudWatch: every kept recent event exactly once, byte for byte on
	// the raw-line path; old ones dead-lettered as sink_too_old.
	got := map[string]int{}
	gotBodies := map[string]int{}
	for _, ev := range cw.Events("/k8s/prod-a/audit", "kube-apiserver-prod-a") {
		var x struct {
			AuditID string `json:"auditID"`
		}
		if err := json.Unmarshal([]byte(ev.Message), &x); err != nil {
			t.Fatalf("stored message is not JSON: %v", err)
		}
		got[x.AuditID]++
		gotBodies[ev.Message]++
	}
	if sum(got) != sum(ea.kept) {
		t.Errorf("cloudwatch stored %d events, want %d", sum(got), sum(ea.kept))
	}
	for id, n := range ea.kept {
		if got[id] != n {
			t.Errorf("cloudwatch: auditID %s stored %d times, want %d", id, got[id], n)
			break
		}
	}
	for body, n := range ea.keptBodies {
		if gotBodies[body] < n {
			t.Errorf("cloudwatch: output differs from the pipeline's for %.120s", body)
			break
		}
	}
	if g, ok := cw.Group("/k8s/prod-a/audit"); !ok || g.RetentionDays != 30 {
		t.Errorf("log group = %+v, %v", g, ok)
	}
	da := readDeadLetters(t, dlA)
	if da["sink_too_old"] != ea.old {
		t.Errorf("dead letters sink_too_old = %d, want %d (%v)", da["sink_too_old"], ea.old, da)
	}
	if sum(da)-da["sink_too_old"] != ea.rejected {
		t.Errorf("dead letters for rejected input = %d, want %d (%v)", sum(da)-da["sink_too_old"], ea.rejected, da)
	}

	// SLS: no policy, every decodable event exactly once.
	logs := sl.Logs("audit-proj", "audit-c123")
	gotS := map[string]int{}
	for _, l := range logs {
		id, _ := l.Get("auditID")
		gotS[id]++
		if l.Topic != "k8s-audit" {
			t.Fatalf("topic %q", l.Topic)
		}
	}
	if len(logs) != sum(eb.kept) {
		t.Errorf("sls stored %d logs, want %d", len(logs), sum(eb.kept))
	}
	for id, n := range eb.kept {
		if gotS[id] != n {
			t.Errorf("sls: auditID %s stored %d times, want %d", id, gotS[id], n)
			break
		}
	}
	if db := readDeadLetters(t, dlB); sum(db) != eb.rejected {
		t.Errorf("sls dead letters = %v, want %d", db, eb.rejected)
	}
}

// TestOutageRetryWithoutDuplicates: the SLS server fails every request for
// a while; flushes answer FLB_RETRY, and once it is back the retried chunks
// complete with every event stored exactly once. Seeded partial failures
// make retries resume half-delivered chunks.
func TestOutageRetryWithoutDuplicates(t *testing.T) {
	needBuild(t)
	dir := t.TempDir()
	sample := readLines(t, "sample-audit.log", time.Time{})
	sl, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{"proj-a": {"audit"}},
		Keys:     map[string]string{"LTAIharness": "sls-harness-secret"},
		Faults:   slstest.Faults{ErrorRate: 0.3, Seed: 7},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	t0 := time.Now()
	var files []string
	for i := 0; i < 1500; i += 500 {
		files = append(files, writeFile(t, dir, fmt.Sprintf("c%d.msgpack", i), logChunk(sample[i:i+500], t0)))
	}
	script := []string{
		"new a",
		"set a destination sls",
		"set a endpoint " + sl.Endpoint(),
		"set a project proj-a",
		"set a logstore audit",
		"set a max_batch_logs 50",
		"set a retry_max_elapsed 300ms",
		"set a retry_initial_interval 50ms",
		"set a retry_max_interval 100ms",
		"set a flush_timeout 5s",
		"set a stats_interval 0",
		"init a",
		"rss before",
	}
	for _, f := range files {
		script = append(script, "flush_until a audit "+f+" 60 200")
	}
	script = append(script, "rss after", "exit a")
	sl.Outage(1500 * time.Millisecond)
	r := runHarness(t, dir, harnessEnv(sl.Addr()), script)
	if got := r.results["init a"]; len(got) != 1 || got[0] != "1" {
		t.Fatalf("init = %v\n%s", got, r.stderr)
	}
	answers := r.results["flush_until a"]
	if len(answers) != len(files) {
		t.Fatalf("answers %v", answers)
	}
	retried := 0
	for _, a := range answers {
		rcs := strings.Split(a, ",")
		if rcs[len(rcs)-1] != "1" {
			t.Fatalf("chunk never completed: %s\n%s", a, r.stderr)
		}
		retried += len(rcs) - 1
		for _, rc := range rcs[:len(rcs)-1] {
			if rc != "2" {
				t.Fatalf("unexpected answer %s in %s", rc, a)
			}
		}
	}
	if !strings.HasPrefix(answers[0], "2,") {
		t.Errorf("first chunk during the outage answered %s, want FLB_RETRY first", answers[0])
	}
	ids := map[string]int{}
	for _, l := range sl.Logs("proj-a", "audit") {
		id, _ := l.Get("auditID")
		ids[id]++
	}
	want := map[string]int{}
	for _, l := range sample[:1500] {
		var x struct {
			AuditID string `json:"auditID"`
		}
		if json.Unmarshal(l, &x) == nil {
			want[x.AuditID]++
		}
	}
	if sum(ids) != sum(want) {
		t.Errorf("stored %d logs, want %d (retries %d)", sum(ids), sum(want), retried)
	}
	for id, n := range want {
		if ids[id] != n {
			t.Errorf("auditID %s stored %d times, want %d", id, ids[id], n)
			break
		}
	}
	t.Logf("flush answers %v; rss %v -> %v kB", answers, r.results["rss before"], r.results["rss after"])
}
