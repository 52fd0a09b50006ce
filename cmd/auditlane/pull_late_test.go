package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
	"github.com/auditlane/auditlane/common/source/cloudwatchsrc"
	"github.com/auditlane/auditlane/common/source/slssrc"
)

const pullGroup = "/aws/eks/prod/cluster"

// auditLine is a small whole audit event with the given ID.
func auditLine(id string, ts time.Time) string {
	return fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":%q,"stage":"ResponseComplete","requestURI":"/api/v1/pods","verb":"list","user":{"username":"alice"},"stageTimestamp":%q}`,
		id, ts.UTC().Format(time.RFC3339Nano))
}

func pullCW(t *testing.T, srv *cwtest.Server, args ...string) (stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(append([]string{"pull", "--from", "cloudwatch", "--group", pullGroup, "--region", "eu-west-1", "--endpoint", srv.URL}, args...), nil, &out, &errb)
	if out.Len() != 0 {
		t.Fatalf("pull wrote to stdout with --out: %q", out.String())
	}
	return errb.String(), err
}

var idRe = regexp.MustCompile(`"auditID":"([^"]+)"`)

// ids counts the audit IDs in a pulled file.
func ids(t *testing.T, path string, into map[string]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := idRe.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("line without auditID: %s", sc.Text())
		}
		into[m[1]]++
	}
}

// TestPullCloudWatchLateVisibility30k is the acceptance run through
// pull: 30,000 events from 3 apiservers in batches that arrive out of
// order, each visible 0–3 s after it was stored, pulled in two consecutive
// windows while they are written (pull's waits let time pass): every event
// is pulled exactly once.
func TestPullCloudWatchLateVisibility30k(t *testing.T) {
	const n = 30_000
	clock := cwtest.NewClock(time.Now().Truncate(time.Second))
	srv := cwPullServer(t, clock, cwtest.Visibility{MaxDelay: 3 * time.Second, Seed: 9})
	prod := cwtest.NewProducer(srv, clock, cwtest.ProducerConfig{Group: pullGroup, Events: n, Seed: 9,
		Message: func(i int, ts time.Time) string { return auditLine(fmt.Sprintf("%06d", i), ts) }})
	srv.CreateGroup(pullGroup, 0)
	fakePullTime(t, clock, prod.Advance) // while pull waits, the apiservers write
	t0 := clock.Now()
	dir := t.TempDir()
	got := map[string]int{}
	late := 0
	bounds := []time.Time{t0.Add(-10 * time.Second), t0.Add(25 * time.Second), t0.Add(60 * time.Second)}
	for w := range 2 {
		out := filepath.Join(dir, fmt.Sprintf("window-%d.jsonl", w))
		stderr, err := pullCW(t, srv, "--since", bounds[w].Format(time.RFC3339Nano), "--until", bounds[w+1].Format(time.RFC3339Nano),
			"--look-back", "10s", "--out", out)
		if err != nil {
			t.Fatalf("window %d: %v\n%s", w, err, stderr)
		}
		if m := regexp.MustCompile(`(\d+) became visible late`).FindStringSubmatch(stderr); m != nil {
			var k int
			fmt.Sscan(m[1], &k)
			late += k
		}
		ids(t, out, got)
	}
	if !prod.Done() {
		t.Fatalf("only %d events written by the end of the second window", prod.Produced())
	}
	lost, dups := 0, 0
	for i := range n {
		switch c := got[fmt.Sprintf("%06d", i)]; {
		case c == 0:
			lost++
		case c > 1:
			dups += c - 1
		}
	}
	t.Logf("pull: %d events in two windows, %d pulled, %d lost, %d duplicates, %d became visible late", n, len(got), lost, dups, late)
	if lost != 0 || dups != 0 || len(got) != n {
		t.Fatalf("%d lost, %d duplicates, %d distinct", lost, dups, len(got))
	}
	if late == 0 {
		t.Fatal("no event became visible late: the run did not test the look-back")
	}
}

// TestPullCloudWatchErrorClasses: 503 with an empty body, 500
// InternalServerError and 429 TooManyRequestsException are retried within
// the reader's budget instead of ending pull after the SDK's attempts.
func TestPullCloudWatchErrorClasses(t *testing.T) {
	clock := cwtest.NewClock(time.Now())
	srv := cwPullServer(t, clock, cwtest.Visibility{})
	fakePullTime(t, clock, clock.Sleep)
	pullBackoff = cloudwatchsrc.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}
	defer func() { pullBackoff = cloudwatchsrc.Backoff{} }()
	for i, l := range goodEvents() {
		srv.AddEvents(pullGroup, "kube-apiserver-audit-a", cwtest.Event{Timestamp: clock.Now().Add(-time.Duration(10-i) * time.Minute).UnixMilli(), Message: l})
	}
	srv.FailNext("FilterLogEvents", 2, cwtest.Answer{Status: 503})
	srv.FailNext("FilterLogEvents", 2, cwtest.Answer{Status: 500, Type: "InternalServerError", Message: "internal"})
	srv.FailNext("FilterLogEvents", 2, cwtest.Answer{Status: 429, Type: "TooManyRequestsException", Message: "too many"})
	out := filepath.Join(t.TempDir(), "out.jsonl")
	stderr, err := pullCW(t, srv, "--since", "1h", "--look-back", "0", "--out", out)
	if err != nil || !strings.Contains(stderr, "pulled 4 events") {
		t.Fatalf("pull: %v\n%s", err, stderr)
	}
	if st := srv.Stats(); st.Scripted != 6 {
		t.Fatalf("scripted answers used: %d", st.Scripted)
	}
}

// TestPullJunkLines: values in the audit streams and the logstore that are
// not audit events are counted as unreadable and dead-lettered with their
// reason, as the receiver does, not written as events; an EventList is
// split into its events.
func TestPullJunkLines(t *testing.T) {
	clock := cwtest.NewClock(time.Now())
	srv := cwPullServer(t, clock, cwtest.Visibility{})
	fakePullTime(t, clock, clock.Sleep)
	at := clock.Now().Add(-10 * time.Minute)
	msgs := []string{
		auditLine("good-1", at),
		"I1206 04:52:24.123456 1 trace.go:236] Trace[1]: not an audit event",
		auditLine("good-2", at),
		`{"msg":"hello","level":"info"}`,
		`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + auditLine("list-1", at) + `,` + auditLine("list-2", at) + `]}`,
		auditLine("good-3", at) + "\r\n",
		`{"kind":"Event","auditID":"cut","requestObject":{"data":"xxxx` + cloudwatchsrc.TruncatedMarker + "\r\n",
	}
	for i, m := range msgs {
		srv.AddEvents(pullGroup, "kube-apiserver-audit-a", cwtest.Event{Timestamp: at.Add(time.Duration(i) * time.Second).UnixMilli(), Message: m})
	}
	dir := t.TempDir()
	out, dead := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "dead.jsonl")
	stderr, err := pullCW(t, srv, "--since", "1h", "--look-back", "0", "--out", out, "--dead-letter", dead)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(stderr, "pulled 5 events") || !strings.Contains(stderr, "1 truncated, 2 unreadable") {
		t.Fatalf("exit %v; stderr %s", err, stderr)
	}
	got := map[string]int{}
	ids(t, out, got)
	if len(got) != 5 || got["good-3"] != 1 || got["list-2"] != 1 {
		t.Fatalf("pulled %v", got)
	}
	reasons := deadReasons(t, dead)
	if fmt.Sprint(reasons) != "map[invalid_json:1 truncated:1 unsupported_kind:1]" {
		t.Fatalf("dead letters %v", reasons)
	}

	// The same junk in an ACK logstore.
	s := slsPullServer(t)
	str := func(s string) *string { return &s }
	now := time.Now()
	tm := uint32(now.Add(-time.Minute).Unix())
	good := ackLog(t, goodEvents()[0], tm)
	junk := &slssdk.Log{Time: &tm, Contents: []*slssdk.LogContent{{Key: str("content"), Value: str("time=now msg=not-audit")}, {Key: str("__topic__"), Value: str("x")}}}
	if err := s.AddLogGroup("k8s-log-c1", "audit-c1", 0, now.Add(-time.Minute), &slssdk.LogGroup{Logs: []*slssdk.Log{good, junk}}); err != nil {
		t.Fatal(err)
	}
	dead2 := filepath.Join(dir, "dead-sls.jsonl")
	var o, e bytes.Buffer
	err = run([]string{"pull", "--from", "sls", "--endpoint", strings.TrimPrefix(s.Endpoint(), "http://"), "--project", "k8s-log-c1", "--logstore", "audit-c1",
		"--since", "1h", "--dead-letter", dead2}, nil, &o, &e)
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(e.String(), "pulled 1 events") || !strings.Contains(e.String(), "1 unreadable") {
		t.Fatalf("sls: exit %v; stderr %s", err, &e)
	}
	if r := deadReasons(t, dead2); fmt.Sprint(r) != "map[unsupported_kind:1]" {
		t.Fatalf("sls dead letters %v", r)
	}
}

func deadReasons(t *testing.T, path string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var letter map[string]any
		if err := json.Unmarshal([]byte(l), &letter); err != nil {
			t.Fatalf("dead letter %q: %v", l, err)
		}
		out[letter["reason"].(string)]++
	}
	return out
}

// TestPullChainedWindows: consecutive windows [a, b), [b, c) pull an event
// at exactly b once, from CloudWatch (milliseconds) and from SLS (receive
// time, seconds).
func TestPullChainedWindows(t *testing.T) {
	clock := cwtest.NewClock(time.Now().Truncate(time.Second))
	srv := cwPullServer(t, clock, cwtest.Visibility{})
	fakePullTime(t, clock, clock.Sleep)
	a := clock.Now().Add(-time.Hour)
	b, c := a.Add(10*time.Minute), a.Add(20*time.Minute)
	for i, ts := range []time.Time{a, b.Add(-time.Millisecond), b, c.Add(-time.Millisecond), c} {
		srv.AddEvents(pullGroup, "kube-apiserver-audit-a", cwtest.Event{Timestamp: ts.UnixMilli(), Message: auditLine(fmt.Sprintf("cw-%d", i), ts)})
	}
	dir := t.TempDir()
	got := map[string]int{}
	for w, win := range [][2]time.Time{{a, b}, {b, c}} {
		out := filepath.Join(dir, fmt.Sprintf("cw-%d.jsonl", w))
		if stderr, err := pullCW(t, srv, "--since", win[0].Format(time.RFC3339Nano), "--until", win[1].Format(time.RFC3339Nano), "--out", out); err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		ids(t, out, got)
	}
	if fmt.Sprint(got) != "map[cw-0:1 cw-1:1 cw-2:1 cw-3:1]" {
		t.Fatalf("cloudwatch windows pulled %v", got)
	}

	s := slsPullServer(t)
	now := time.Now().Truncate(time.Second)
	sa := now.Add(-time.Hour)
	sb, sc := sa.Add(10*time.Minute), sa.Add(20*time.Minute)
	for i, ts := range []time.Time{sa, sb.Add(-time.Second), sb, sb.Add(500 * time.Millisecond), sc.Add(-time.Second), sc} {
		tm := uint32(ts.Unix())
		l := ackLog(t, strings.Replace(goodEvents()[0], `"auditID":"a1"`, fmt.Sprintf(`"auditID":"sls-%d"`, i), 1), tm)
		if err := s.AddLogGroup("k8s-log-c1", "audit-c1", i%2, ts, &slssdk.LogGroup{Logs: []*slssdk.Log{l}}); err != nil {
			t.Fatal(err)
		}
	}
	got = map[string]int{}
	for w, win := range [][2]time.Time{{sa, sb}, {sb, sc}} {
		out := filepath.Join(dir, fmt.Sprintf("sls-%d.jsonl", w))
		var o, e bytes.Buffer
		if err := run([]string{"pull", "--from", "sls", "--endpoint", strings.TrimPrefix(s.Endpoint(), "http://"), "--project", "k8s-log-c1", "--logstore", "audit-c1",
			"--since", win[0].Format(time.RFC3339Nano), "--until", win[1].Format(time.RFC3339Nano), "--out", out}, nil, &o, &e); err != nil {
			t.Fatalf("%v\n%s", err, &e)
		}
		ids(t, out, got)
	}
	if fmt.Sprint(got) != "map[sls-0:1 sls-1:1 sls-2:1 sls-3:1 sls-4:1]" {
		t.Fatalf("sls windows pulled %v", got)
	}
}

// TestPullSLSThrottled: with 30% of the reads throttled (403
// ReadQuotaExceed / ShardReadQuotaExceed), pull
// --from sls retries with backoff and pulls all 20,000 events (it stopped
// at the first throttle).
func TestPullSLSThrottled(t *testing.T) {
	s := slsPullServer(t)
	now := time.Now()
	const n, per = 20_000, 50
	tmpl := ackLog(t, auditLine("", now), uint32(now.Add(-time.Minute).Unix()))
	for g := range n / per {
		lg := &slssdk.LogGroup{}
		for i := g * per; i < (g+1)*per; i++ {
			l := &slssdk.Log{Time: tmpl.Time}
			for _, c := range tmpl.Contents {
				if c.GetKey() == "auditID" {
					id := fmt.Sprintf("%06d", i)
					c = &slssdk.LogContent{Key: c.Key, Value: &id}
				}
				l.Contents = append(l.Contents, c)
			}
			lg.Logs = append(lg.Logs, l)
		}
		if err := s.AddLogGroup("k8s-log-c1", "audit-c1", g%2, now.Add(-time.Minute), lg); err != nil {
			t.Fatal(err)
		}
	}
	s.SetFaults(slstest.Faults{ThrottleRate: 0.3, Seed: 8, Operations: []string{"ListShards", "GetCursor", "PullLogs"}})
	pullSLSBackoff = slssrc.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}
	defer func() { pullSLSBackoff = slssrc.Backoff{} }()
	pullPullCount = 10 // many pulls, many throttles
	defer func() { pullPullCount = 1000 }()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	var o, e bytes.Buffer
	if err := run([]string{"pull", "--from", "sls", "--endpoint", strings.TrimPrefix(s.Endpoint(), "http://"), "--project", "k8s-log-c1", "--logstore", "audit-c1",
		"--since", "1h", "--out", out}, nil, &o, &e); err != nil {
		t.Fatalf("%v\n%s", err, &e)
	}
	got := map[string]int{}
	ids(t, out, got)
	st := s.Stats()
	t.Logf("sls pull: %d of %d events; %s; server answered %v", len(got), n, strings.TrimSpace(e.String()), st.Errors)
	if len(got) != n || st.Errors["ReadQuotaExceed"]+st.Errors["ShardReadQuotaExceed"] == 0 || !strings.Contains(e.String(), "calls retried") {
		t.Fatalf("pulled %d of %d", len(got), n)
	}
}
