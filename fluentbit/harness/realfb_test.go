package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
)

// TestRealFluentBit runs a real Fluent Bit (FLUENT_BIT_BIN, built with the
// tail, http and opentelemetry inputs and Go plugin support) with the
// plugin: a tail input over the whole sample (half written before start,
// half appended while Fluent Bit runs), an http input receiving an EventList
// POSTed like the apiserver's webhook plus one body that is no audit event,
// and an opentelemetry input receiving audit lines as OTLP/JSON log bodies
// in two resource groups (Fluent Bit frames each group with marker records,
// which are not events). Five [OUTPUT] instances with different
// configurations:
//
//   - all: tail only, destination file, no policy: every line once, byte for
//     byte as the in-process pipeline shapes it;
//   - cost: tail and http, destination file, the cost-saving policy, a
//     cluster name and a dead letter: exactly the pipeline's kept events,
//     the rejected body in the dead letter;
//   - hook: the http input only, destination stdout;
//   - cw: tail only, destination cloudwatch into a local CloudWatch Logs
//     server, the eks policy;
//   - otlp: the opentelemetry input only, destination file.
//
// After the outputs are complete Fluent Bit runs two more flush periods (no
// duplicate may appear), then stops on SIGTERM; each instance's exit stats
// line must match the expected counts.
func TestRealFluentBit(t *testing.T) {
	bin := os.Getenv("FLUENT_BIT_BIN")
	if bin == "" {
		t.Skip("FLUENT_BIT_BIN is not set: skipping the end-to-end test with a real Fluent Bit")
	}
	needBuild(t)
	dir := t.TempDir()
	end := time.Now().Add(-2 * time.Hour)
	sample := readLines(t, "sample-audit.log", end)
	elist := readLines(t, "eventlist.json", end)
	if len(elist) != 1 {
		t.Fatalf("eventlist.json has %d lines, want 1", len(elist))
	}
	notAudit := []byte(`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web","namespace":"default"}}`)

	cw, err := cwtest.New(cwtest.Options{Credentials: map[string]cwtest.Credential{"AKIDHARNESS": {SecretAccessKey: "harness-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()

	in := filepath.Join(dir, "audit.log")
	half := len(sample) / 2
	if err := os.WriteFile(in, joinLines(sample[:half]), 0o600); err != nil {
		t.Fatal(err)
	}
	outAll, outCost, outOTLP := filepath.Join(dir, "all.jsonl"), filepath.Join(dir, "cost.jsonl"), filepath.Join(dir, "otlp.jsonl")
	otlpLines := sample[:7]
	otlpBody := otlpLogs(t, otlpLines[:4], otlpLines[4:])
	dead := filepath.Join(dir, "dead-cost.jsonl")
	costPolicy := filepath.Join(repoRoot, "examples", "policies", "cost-saving.yaml")
	eksPolicy := filepath.Join(repoRoot, "examples", "policies", "eks.yaml")
	port, otlpPort := freePort(t), freePort(t)
	conf := fmt.Sprintf(`[SERVICE]
    Flush     1
    Grace     2
    Log_Level info
[INPUT]
    Name           tail
    Path           %s
    Read_from_Head true
    Refresh_Interval 1
    Tag            kube.audit
[INPUT]
    Name   http
    Listen 127.0.0.1
    Port   %d
    Tag    webhook
[INPUT]
    Name   opentelemetry
    Listen 127.0.0.1
    Port   %d
    Tag    otlp
    Tag_From_Uri false
[OUTPUT]
    Name           auditlane
    Match          kube.audit
    destination    file
    file_path      %s
    stats_interval 1
[OUTPUT]
    Name             auditlane
    Match_Regex      ^(kube\.audit|webhook)$
    destination      file
    file_path        %s
    policy_file      %s
    cluster_name     e2e
    dead_letter_file %s
[OUTPUT]
    Name        auditlane
    Match       webhook
    destination stdout
[OUTPUT]
    Name              auditlane
    Match             kube.audit
    destination       cloudwatch
    policy_file       %s
    cluster_name      e2e
    provider          eks
    region            us-east-1
    endpoint          %s
    log_group_name    /e2e/{cluster}/audit
    log_stream_name   fluent-bit
    auto_create_group on
[OUTPUT]
    Name        auditlane
    Match       otlp
    destination file
    file_path   %s
`, in, port, otlpPort, outAll, outCost, costPolicy, dead, eksPolicy, cw.URL, outOTLP)
	cf := writeFile(t, dir, "fluent-bit.conf", []byte(conf))

	// What the same pipelines decide in-process.
	expect := func(set func(*pipeline.Settings), tail, webhook bool) *expectation {
		e := newExpectation(t, set)
		e.cutoff = time.Time{}
		if tail {
			e.trackBodies = true
			for _, l := range sample {
				e.line(l)
			}
			e.trackBodies = false
		}
		if webhook {
			e.eventList(elist[0])
			e.line(notAudit)
		}
		return e
	}
	eAll := expect(func(s *pipeline.Settings) {}, true, false)
	eCost := expect(func(s *pipeline.Settings) { s.PolicyFile, s.Enrich.ClusterName = costPolicy, "e2e" }, true, true)
	eHook := expect(func(s *pipeline.Settings) {}, false, true)
	eCW := newExpectation(t, func(s *pipeline.Settings) {
		s.PolicyFile, s.Enrich.ClusterName, s.Enrich.Provider = eksPolicy, "e2e", "eks"
	})
	for _, l := range sample {
		eCW.line(l)
	}
	eOTLP := newExpectation(t, func(s *pipeline.Settings) {})
	eOTLP.cutoff = time.Time{}
	for _, l := range otlpLines {
		eOTLP.line(l)
	}
	if sum(eCost.kept) == 0 || eCost.dropped == 0 || eCost.rejected != 1 || eCW.dropped == 0 || eHook.rejected != 1 {
		t.Fatalf("test data does not exercise every outcome: cost kept %d dropped %d rejected %d; cw dropped %d",
			sum(eCost.kept), eCost.dropped, eCost.rejected, eCW.dropped)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-e", plugPath, "-c", cf)
	cmd.Env = harnessEnv("")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()

	hookURL := fmt.Sprintf("http://127.0.0.1:%d/webhook", port)
	posted, appended := 0, false
	complete := func() bool {
		return countLines(outAll) >= sum(eAll.kept) && countLines(outCost) >= sum(eCost.kept) &&
			countEventLines(stdout.Bytes()) >= sum(eHook.kept) && len(cw.Events("/e2e/e2e/audit", "fluent-bit")) >= sum(eCW.kept) &&
			countLines(outOTLP) >= sum(eOTLP.kept)
	}
	deadline := time.Now().Add(90 * time.Second)
	for !complete() {
		if time.Now().After(deadline) {
			t.Fatalf("outputs incomplete after 90 s: all %d/%d, cost %d/%d, stdout %d/%d, cloudwatch %d/%d, otlp %d/%d\n%s",
				countLines(outAll), sum(eAll.kept), countLines(outCost), sum(eCost.kept),
				countEventLines(stdout.Bytes()), sum(eHook.kept), len(cw.Events("/e2e/e2e/audit", "fluent-bit")), sum(eCW.kept),
				countLines(outOTLP), sum(eOTLP.kept), stderr.String())
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("fluent-bit exited early: %v\n%s", err, stderr.String())
		case <-time.After(200 * time.Millisecond):
		}
		if !appended && countLines(outAll) > 0 {
			// Fluent Bit has read the first half: append the rest.
			f, err := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(joinLines(sample[half:])); err != nil {
				t.Fatal(err)
			}
			f.Close()
			appended = true
		}
		for posted < 2 {
			body := elist[0]
			if posted == 1 {
				body = notAudit
			}
			resp, err := http.Post(hookURL, "application/json", bytes.NewReader(body))
			if err != nil {
				break // not listening yet
			}
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				t.Fatalf("POST %s: %s", hookURL, resp.Status)
			}
			posted++
		}
		if posted == 2 {
			resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/v1/logs", otlpPort), "application/json", bytes.NewReader(otlpBody))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					t.Fatalf("POST /v1/logs: %s", resp.Status)
				}
				posted++
			}
		}
	}
	// Two more flush periods: nothing may arrive twice.
	time.Sleep(2500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("fluent-bit exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("fluent-bit did not stop within 30 s of SIGTERM\n%s", stderr.String())
	}
	logs := stderr.String()

	checkIDs := func(name string, got map[string]int, e *expectation) {
		t.Helper()
		if sum(got) != sum(e.kept) {
			t.Errorf("%s: %d events, want %d", name, sum(got), sum(e.kept))
		}
		for id, n := range e.kept {
			if got[id] != n {
				t.Errorf("%s: auditID %s arrived %d times, want %d", name, id, got[id], n)
				break
			}
		}
	}
	idsAll, bodiesAll := readEvents(t, mustRead(t, outAll))
	checkIDs("all", idsAll, eAll)
	for body, n := range eAll.keptBodies {
		if bodiesAll[body] != n {
			t.Errorf("all: output differs from the pipeline's for %.160s", body)
			break
		}
	}
	idsCost, _ := readEvents(t, mustRead(t, outCost))
	checkIDs("cost", idsCost, eCost)
	if d := readDeadLetters(t, dead); sum(d) != 1 {
		t.Errorf("cost: dead letters %v, want the one body that is no audit event", d)
	}
	idsHook, _ := readEvents(t, eventLines(stdout.Bytes()))
	checkIDs("hook (stdout)", idsHook, eHook)
	idsCW := map[string]int{}
	for _, ev := range cw.Events("/e2e/e2e/audit", "fluent-bit") {
		var x struct {
			AuditID     string            `json:"auditID"`
			Annotations map[string]string `json:"annotations"`
		}
		if err := json.Unmarshal([]byte(ev.Message), &x); err != nil {
			t.Fatalf("cloudwatch message is not JSON: %v", err)
		}
		idsCW[x.AuditID]++
	}
	checkIDs("cloudwatch", idsCW, eCW)
	idsOTLP, _ := readEvents(t, mustRead(t, outOTLP))
	checkIDs("otlp", idsOTLP, eOTLP)

	// Each instance's last stats line: kept / out / dropped / rejected.
	for i, c := range []struct {
		name string
		e    *expectation
	}{{"all", eAll}, {"cost", eCost}, {"hook", eHook}, {"cw", eCW}, {"otlp", eOTLP}} {
		st := exitStats(logs, i)
		if st == nil {
			t.Errorf("%s: no exit stats line for auditlane.%d\n%s", c.name, i, logs)
			continue
		}
		want := map[string]int{"kept": sum(c.e.kept) + c.e.old, "out": sum(c.e.kept), "sink_rejected": c.e.old,
			"dropped": c.e.dropped, "rejected": c.e.rejected, "retries": 0, "errors": 0, "pending_chunks": 0, "group_markers": 0}
		if c.name == "otlp" {
			want["group_markers"] = 4 // two groups, each a start and an end
		}
		for k, v := range want {
			if st[k] != v {
				t.Errorf("%s: exit stats %s=%d, want %d", c.name, k, st[k], v)
			}
		}
	}
	for _, bad := range []string{"[error]", "harness-secret", "FLB_ERROR"} {
		if strings.Contains(logs, bad) {
			t.Errorf("fluent-bit log contains %q:\n%s", bad, logs)
		}
	}
	t.Logf("real Fluent Bit: all %d, cost %d (dropped %d, dead-lettered 1), stdout %d, cloudwatch %d, otlp %d",
		sum(idsAll), sum(idsCost), eCost.dropped, sum(idsHook), sum(idsCW), sum(idsOTLP))
}

// syncBuffer is a bytes.Buffer safe for one writer (the exec copier) and
// concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }

// otlpLogs is an OTLP/JSON logs request with one resource per group of
// lines, each line a string log body (Fluent Bit's opentelemetry input
// puts it under the "log" key).
func otlpLogs(t *testing.T, groups ...[][]byte) []byte {
	t.Helper()
	type kv struct {
		Key   string            `json:"key"`
		Value map[string]string `json:"value"`
	}
	var rls []any
	for i, g := range groups {
		var recs []any
		for _, l := range g {
			recs = append(recs, map[string]any{"timeUnixNano": strconv.FormatInt(time.Now().UnixNano(), 10),
				"body": map[string]string{"stringValue": string(l)}})
		}
		rls = append(rls, map[string]any{
			"resource":  map[string]any{"attributes": []kv{{"k8s.cluster.name", map[string]string{"stringValue": fmt.Sprintf("c%d", i)}}}},
			"scopeLogs": []any{map[string]any{"scope": map[string]string{"name": "audit"}, "logRecords": recs}},
		})
	}
	b, err := json.Marshal(map[string]any{"resourceLogs": rls})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func joinLines(lines [][]byte) []byte {
	return append(bytes.Join(lines, []byte("\n")), '\n')
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eventLines keeps the lines of Fluent Bit's stdout that are audit events.
func eventLines(b []byte) []byte {
	var out []byte
	for _, l := range bytes.SplitAfter(b, []byte("\n")) {
		if bytes.HasPrefix(l, []byte(`{"kind":"Event"`)) {
			out = append(out, l...)
		}
	}
	return out
}

func countEventLines(b []byte) int { return bytes.Count(eventLines(b), []byte("\n")) }

// readEvents counts the auditIDs and the exact lines of a JSON-lines output.
func readEvents(t *testing.T, b []byte) (ids, bodies map[string]int) {
	t.Helper()
	ids, bodies = map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var x struct {
			AuditID string `json:"auditID"`
		}
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil || x.AuditID == "" {
			t.Fatalf("output line is not an audit event (%v): %.200s", err, sc.Bytes())
		}
		ids[x.AuditID]++
		bodies[sc.Text()]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ids, bodies
}

var statsField = regexp.MustCompile(`\b([a-z_]+)=(\d+)\b`)

// exitStats parses instance i's "exit: stats:" line.
func exitStats(logs string, i int) map[string]int {
	mark := fmt.Sprintf("[output:auditlane:auditlane.%d] exit: stats: ", i)
	for _, l := range strings.Split(logs, "\n") {
		if _, rest, ok := strings.Cut(l, mark); ok {
			m := map[string]int{}
			for _, f := range statsField.FindAllStringSubmatch(rest, -1) {
				m[f[1]], _ = strconv.Atoi(f[2])
			}
			return m
		}
	}
	return nil
}

// TestRealFluentBitRetry runs a real Fluent Bit (FLUENT_BIT_BIN) whose
// CloudWatch Logs server fails half of the PutLogEvents calls: flushes
// answer FLB_RETRY, Fluent Bit's scheduler retries the same chunks, the
// plugin resumes them where they stopped, and in the end every kept event
// is stored exactly once.
func TestRealFluentBitRetry(t *testing.T) {
	bin := os.Getenv("FLUENT_BIT_BIN")
	if bin == "" {
		t.Skip("FLUENT_BIT_BIN is not set: skipping the end-to-end test with a real Fluent Bit")
	}
	needBuild(t)
	dir := t.TempDir()
	end := time.Now().Add(-2 * time.Hour)
	sample := readLines(t, "sample-audit.log", end)[:2000]
	cw, err := cwtest.New(cwtest.Options{
		Credentials: map[string]cwtest.Credential{"AKIDHARNESS": {SecretAccessKey: "harness-secret"}},
		Faults:      cwtest.Faults{ErrorRate: 0.5, Operations: []string{"PutLogEvents"}, Seed: 7},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()
	in := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(in, joinLines(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`[SERVICE]
    Flush           1
    Grace           2
    Log_Level       info
    scheduler.base  1
    scheduler.cap   2
[INPUT]
    Name           tail
    Path           %s
    Read_from_Head true
    Tag            kube.audit
[OUTPUT]
    Name                   auditlane
    Match                  kube.audit
    destination            cloudwatch
    region                 us-east-1
    endpoint               %s
    log_group_name         /retry
    log_stream_name        s
    auto_create_group      on
    max_batch_events       100
    retry_max_elapsed      1ms
    retry_initial_interval 10ms
    retry_max_interval     20ms
    Retry_Limit            no_limits
`, in, cw.URL)
	cf := writeFile(t, dir, "fluent-bit.conf", []byte(conf))
	e := newExpectation(t, func(s *pipeline.Settings) {})
	for _, l := range sample {
		e.line(l)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-e", plugPath, "-c", cf)
	cmd.Env = harnessEnv("")
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()
	deadline := time.Now().Add(90 * time.Second)
	for len(cw.Events("/retry", "s")) < sum(e.kept) {
		if time.Now().After(deadline) {
			t.Fatalf("stored %d of %d after 90 s\n%s", len(cw.Events("/retry", "s")), sum(e.kept), stderr.String())
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("fluent-bit exited early: %v\n%s", err, stderr.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	cw.SetFaults(cwtest.Faults{})
	time.Sleep(2500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("fluent-bit exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("fluent-bit did not stop within 30 s of SIGTERM")
	}
	got := map[string]int{}
	for _, ev := range cw.Events("/retry", "s") {
		var x struct {
			AuditID string `json:"auditID"`
		}
		if err := json.Unmarshal([]byte(ev.Message), &x); err != nil {
			t.Fatal(err)
		}
		got[x.AuditID]++
	}
	if sum(got) != sum(e.kept) {
		t.Errorf("stored %d events, want %d", sum(got), sum(e.kept))
	}
	for id, n := range e.kept {
		if got[id] != n {
			t.Errorf("auditID %s stored %d times, want %d", id, got[id], n)
			break
		}
	}
	st := exitStats(stderr.String(), 0)
	if st == nil || st["retries"] == 0 || st["out"] != sum(e.kept) || st["pending_chunks"] != 0 {
		t.Errorf("exit stats %v: want retries > 0, out=%d, pending_chunks=0", st, sum(e.kept))
	}
	t.Logf("real Fluent Bit under 50%% PutLogEvents failures: %d stored once each, %d FLB_RETRY answers, error answers %v",
		sum(got), st["retries"], cw.Stats().Errors)
}
