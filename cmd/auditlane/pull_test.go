package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
)

// goodEvents are the four single-event lines of the shared test log.
func goodEvents() []string { return strings.Split(events, "\n")[:4] }

// fakePullTime makes pull read the time from clock and sleep by running
// sleep (which moves the clock), for the duration of the test.
func fakePullTime(t *testing.T, clock *cwtest.Clock, sleep func(time.Duration)) {
	t.Helper()
	pullNow = clock.Now
	pullSleep = func(_ context.Context, d time.Duration) error { sleep(d); return nil }
	t.Cleanup(func() {
		pullNow = time.Now
		pullSleep = sleepCtx
	})
}

// cwPullServer starts a CloudWatch test server on clock with the
// credentials of the environment it sets for pull.
func cwPullServer(t *testing.T, clock *cwtest.Clock, vis cwtest.Visibility) *cwtest.Server {
	t.Helper()
	srv, err := cwtest.New(cwtest.Options{Region: "eu-west-1", Credentials: map[string]cwtest.Credential{"AKIDPULL": {SecretAccessKey: "pull-secret"}},
		Clock: clock.Now, Visibility: vis})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDPULL")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "pull-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	return srv
}

func TestPullCloudWatchFeedsPolicyTest(t *testing.T) {
	clock := cwtest.NewClock(time.Now())
	srv := cwPullServer(t, clock, cwtest.Visibility{})
	fakePullTime(t, clock, clock.Sleep)
	now := clock.Now()
	for i, l := range goodEvents() {
		srv.AddEvents("/aws/eks/prod/cluster", "kube-apiserver-audit-"+string(rune('a'+i%2)), cwtest.Event{Timestamp: now.Add(-time.Duration(30-i) * time.Minute).UnixMilli(), Message: l})
	}
	srv.AddEvents("/aws/eks/prod/cluster", "kube-apiserver-audit-a", cwtest.Event{Timestamp: now.Add(-20 * time.Minute).UnixMilli(), Message: `{"kind":"Event","auditID":"big","requestObject":{"x":"` + "[Truncated...]"})
	srv.AddEvents("/aws/eks/prod/cluster", "kube-apiserver-audit-a", cwtest.Event{Timestamp: now.Add(-5 * time.Hour).UnixMilli(), Message: `{"kind":"Event","auditID":"too-old"}`})
	srv.AddEvents("/aws/eks/prod/cluster", "authenticator-x", cwtest.Event{Timestamp: now.Add(-10 * time.Minute).UnixMilli(), Message: "not audit"})

	dir := t.TempDir()
	out, dead := filepath.Join(dir, "history.jsonl"), filepath.Join(dir, "dead.jsonl")
	var stdout, stderr bytes.Buffer
	err := run([]string{"pull", "--from", "cloudwatch", "--group", "/aws/eks/prod/cluster", "--region", "eu-west-1", "--endpoint", srv.URL,
		"--since", "2h", "--out", out, "--dead-letter", dead, "--page-limit", "2"}, nil, &stdout, &stderr)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("exit %v, want status 1 for the truncated message; stderr %s", err, &stderr)
	}
	if !strings.Contains(stderr.String(), "pulled 4 events") || !strings.Contains(stderr.String(), "1 truncated") {
		t.Fatalf("stderr %q", &stderr)
	}
	b, _ := os.ReadFile(out)
	if got := strings.TrimSpace(string(b)); got != strings.Join(goodEvents(), "\n") {
		t.Fatalf("output:\n%s", got)
	}
	dl, _ := os.ReadFile(dead)
	var letter map[string]any
	if err := json.Unmarshal(dl, &letter); err != nil {
		t.Fatalf("dead letter %q: %v", dl, err)
	}
	// Undecodable input is dead-lettered as its size, hash and a masked
	// prefix (dead_letter_raw keeps the bytes).
	if letter["reason"] != "truncated" || !strings.Contains(letter["source"].(string), "kube-apiserver-audit-a@") || letter["raw"] != nil ||
		letter["size"] == nil || letter["sha256"] == nil {
		t.Fatalf("dead letter %v", letter)
	}

	// The pulled history prices a policy.
	policyPath, _ := writeFiles(t)
	stdout.Reset()
	if err := run([]string{"policy", "test", "--policy", policyPath, "--output", "json", out}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("%v: %s", err, &stderr)
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Total.Events != 4 || rep.Total.Kept != 2 || rep.Dropped != 2 {
		t.Fatalf("report totals %+v dropped %d", rep.Total, rep.Dropped)
	}
}

// slsPullServer starts an SLS test server with the credentials of the
// environment it sets for pull.
func slsPullServer(t *testing.T, faults ...slstest.Faults) *slstest.Server {
	t.Helper()
	opts := slstest.Options{
		Projects: map[string][]string{"k8s-log-c1": {"audit-c1"}},
		Keys:     map[string]string{"LTAIpull": "pull-secret"},
	}
	if len(faults) > 0 {
		opts.Faults = faults[0]
	}
	s, err := slstest.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIpull")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "pull-secret")
	t.Setenv(slsDialEnv, s.Addr())
	return s
}

// ackLog turns an audit event line into one log in ACK's layout: strings
// unquoted, objects as JSON text.
func ackLog(t *testing.T, line string, tm uint32) *slssdk.Log {
	t.Helper()
	var ev map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatal(err)
	}
	lg := &slssdk.Log{Time: &tm}
	for k, v := range ev {
		var sv string
		if json.Unmarshal(v, &sv) != nil {
			sv = string(v)
		}
		k := k
		lg.Contents = append(lg.Contents, &slssdk.LogContent{Key: &k, Value: &sv})
	}
	return lg
}

func TestPullSLS(t *testing.T) {
	s := slsPullServer(t)
	str := func(s string) *string { return &s }
	now := time.Now()
	for i, l := range goodEvents() {
		lg := ackLog(t, l, uint32(now.Unix()))
		if err := s.AddLogGroup("k8s-log-c1", "audit-c1", i%2, now.Add(-time.Duration(10+i)*time.Minute), &slssdk.LogGroup{Logs: []*slssdk.Log{lg}}); err != nil {
			t.Fatal(err)
		}
	}
	bad := &slssdk.Log{Time: str2u(now), Contents: []*slssdk.LogContent{{Key: str("kind"), Value: str("Event")}, {Key: str("user"), Value: str("not json")}}}
	if err := s.AddLogGroup("k8s-log-c1", "audit-c1", 0, now.Add(-5*time.Minute), &slssdk.LogGroup{Logs: []*slssdk.Log{bad}}); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(t.TempDir(), "dead.jsonl")
	var stdout, stderr bytes.Buffer
	err := run([]string{"pull", "--from", "sls", "--endpoint", strings.TrimPrefix(s.Endpoint(), "http://"), "--project", "k8s-log-c1", "--logstore", "audit-c1",
		"--since", now.Add(-time.Hour).Format(time.RFC3339), "--dead-letter", dead}, nil, &stdout, &stderr)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(stderr.String(), "pulled 4 events") || !strings.Contains(stderr.String(), "1 unreadable") {
		t.Fatalf("exit %v; stderr %s", err, &stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("output %q", stdout.String())
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var got, want any
		json.Unmarshal([]byte(l), &got)
		for _, w := range goodEvents() {
			json.Unmarshal([]byte(w), &want)
			if jsonEqual(got, want) {
				seen[w] = true
			}
		}
	}
	if len(seen) != 4 {
		t.Fatalf("rebuilt events do not match the originals: %v", lines)
	}
	if dl, _ := os.ReadFile(dead); !bytes.Contains(dl, []byte(`"reason":"rebuild_failed"`)) {
		t.Fatalf("dead letter %s", dl)
	}
}

func TestPullFlags(t *testing.T) {
	for _, args := range [][]string{
		{"pull"},
		{"pull", "--from", "cloudwatch"},
		{"pull", "--from", "kafka", "--since", "1h"},
		{"pull", "--from", "sls", "--since", "yesterday"},
		{"pull", "--from", "sls", "--since", "1h", "--until", "2h"},
		{"pull", "--from", "sls", "--since", "1h"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(args, nil, &stdout, &stderr); err == nil || stdout.Len() != 0 {
			t.Errorf("%v: %v", args, err)
		}
	}
}

func str2u(t time.Time) *uint32 { v := uint32(t.Unix()); return &v }

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
