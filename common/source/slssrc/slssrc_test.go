package slssrc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/shape"
	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
)

func fixtures(t testing.TB) [][]byte {
	t.Helper()
	files, _ := filepath.Glob("testdata/falco/*.json")
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			var ev audit.Event
			if len(line) == 0 || audit.Parse(line, &ev) != nil {
				continue // fal_01_003.json: not an audit Event
			}
			out = append(out, append([]byte(nil), line...))
		}
	}
	if len(out) < 40 {
		t.Fatalf("only %d fixture events", len(out))
	}
	return out
}

// slsLayout shapes an event into ACK's key layout with the shape package.
func slsLayout(t testing.TB, sh *shape.Shaper, line []byte) []sink.Field {
	t.Helper()
	var ev audit.Event
	if err := audit.Parse(line, &ev); err != nil {
		t.Fatal(err)
	}
	var w audit.Rewrite
	var out shape.Output
	if err := sh.Shape(&ev, &w, nil, &out); err != nil {
		t.Fatal(err)
	}
	return append([]sink.Field(nil), out.Fields...)
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return reflect.DeepEqual(x, y)
}

func TestRebuildRoundTrip(t *testing.T) {
	sh, err := shape.New(shape.Config{Layout: shape.LayoutSLS})
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range fixtures(t) {
		fields := slsLayout(t, sh, line)
		// SLS metadata keys are not part of the event.
		fields = append(fields, sink.Field{Key: "__topic__", Value: "k8s-audit"}, sink.Field{Key: "__tag__:__receive_time__", Value: "1700000000"})
		got, err := Rebuild(nil, fields)
		if err != nil {
			t.Fatalf("fixture %d: %v", i, err)
		}
		if !sameJSON(t, got, line) {
			t.Fatalf("fixture %d does not round-trip:\n got %s\nwant %s", i, got, line)
		}
		var ev audit.Event
		if err := audit.Parse(got, &ev); err != nil {
			t.Fatalf("fixture %d: rebuilt event does not decode: %v", i, err)
		}
	}
}

func TestRebuildErrors(t *testing.T) {
	for name, fields := range map[string][]sink.Field{
		"bad user":  {{Key: "kind", Value: "Event"}, {Key: "user", Value: "alice"}},
		"bad json":  {{Key: "kind", Value: "Event"}, {Key: "objectRef", Value: `{"resource":`}},
		"duplicate": {{Key: "verb", Value: "get"}, {Key: "verb", Value: "list"}},
		"empty":     {{Key: "__topic__", Value: "x"}},
	} {
		if out, err := Rebuild([]byte("keep"), fields); err == nil || string(out) != "keep" {
			t.Errorf("%s: %q %v", name, out, err)
		}
	}
	// A string field that looks like JSON stays a string; empty nested
	// fields are left out.
	out, err := Rebuild(nil, []sink.Field{{Key: "requestURI", Value: `{"x":1}`}, {Key: "requestObject", Value: ""}, {Key: "extra", Value: `[1,2]`}, {Key: "note", Value: "a\"b"}})
	if err != nil || string(out) != `{"requestURI":"{\"x\":1}","extra":[1,2],"note":"a\"b"}` {
		t.Fatalf("%s %v", out, err)
	}
}

const (
	ak = "LTAIslssrc"
	sk = "slssrc-secret"
)

func server(t *testing.T, shards int) (*slstest.Server, *slssdk.Client) {
	t.Helper()
	s, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{"k8s-log-c1": {"audit-c1"}},
		Keys:     map[string]string{ak: sk},
		Shards:   shards,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := slssdk.CreateNormalInterface(s.Endpoint(), ak, sk, "").(*slssdk.Client)
	c.SetHTTPClient(s.Client())
	return s, c
}

// logGroup turns events into one LogGroup in ACK's layout.
func logGroup(t *testing.T, sh *shape.Shaper, lines [][]byte) *slssdk.LogGroup {
	lg := &slssdk.LogGroup{}
	for _, line := range lines {
		tm := uint32(1_700_000_000)
		l := &slssdk.Log{Time: &tm}
		for _, f := range slsLayout(t, sh, line) {
			k, v := f.Key, f.Value
			l.Contents = append(l.Contents, &slssdk.LogContent{Key: &k, Value: &v})
		}
		lg.Logs = append(lg.Logs, l)
	}
	return lg
}

func TestPullRange(t *testing.T) {
	s, c := server(t, 2)
	sh, _ := shape.New(shape.Config{Layout: shape.LayoutSLS})
	evs := fixtures(t)
	base := time.Unix(1_700_000_000, 0)
	// Groups of 5 events, a minute apart, alternating shards.
	for i := 0; i*5 < len(evs); i++ {
		lines := evs[i*5 : min(i*5+5, len(evs))]
		if err := s.AddLogGroup("k8s-log-c1", "audit-c1", i%2, base.Add(time.Duration(i)*time.Minute), logGroup(t, sh, lines)); err != nil {
			t.Fatal(err)
		}
	}
	var got [][]byte
	err := PullRange(context.Background(), c, Range{Project: "k8s-log-c1", Logstore: "audit-c1", From: base.Add(2 * time.Minute), To: base.Add(5 * time.Minute)}, func(b []Message) error {
		for _, m := range b {
			if m.Err != nil {
				t.Fatal(m.Err)
			}
			got = append(got, m.Body)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 15 { // groups 2, 3 and 4
		t.Fatalf("pulled %d events, want 15", len(got))
	}
	want := map[string]bool{}
	for _, l := range evs[10:25] {
		var ev audit.Event
		audit.Parse(l, &ev)
		want[string(l)] = true
	}
	for _, b := range got {
		found := false
		for w := range want {
			if sameJSON(t, b, []byte(w)) {
				found = true
				delete(want, w)
				break
			}
		}
		if !found {
			t.Fatalf("pulled an event outside the range: %s", b)
		}
	}
	// fn's error stops the pull and is returned.
	boom := errors.New("full")
	if err := PullRange(context.Background(), c, Range{Project: "k8s-log-c1", Logstore: "audit-c1", From: base}, func([]Message) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("callback error: %v", err)
	}
	if err := PullRange(context.Background(), c, Range{Project: "k8s-log-c1", Logstore: "nope", From: base}, func([]Message) error { return nil }); err == nil || !strings.Contains(err.Error(), "LogStoreNotExist") {
		t.Fatalf("missing logstore: %v", err)
	}
}

func TestConsumerCommitsOnlyAfterDelivery(t *testing.T) {
	s, c := server(t, 2)
	sh, _ := shape.New(shape.Config{Layout: shape.LayoutSLS})
	evs := fixtures(t)[:20]
	for i := range 4 {
		if err := c.PutLogs("k8s-log-c1", "audit-c1", logGroup(t, sh, evs[i*5:i*5+5])); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	refuse := true
	delivered := map[string]int{}
	cfg := Config{
		Endpoint: s.Endpoint(), Project: "k8s-log-c1", Logstore: "audit-c1",
		ConsumerGroup: "auditlane", ConsumerName: "replica-0",
		HeartbeatInterval: time.Second, HeartbeatTimeout: 3 * time.Second,
		Credentials: Credentials{AccessKeyID: ak, AccessKeySecret: sk},
		HTTPClient:  s.Client(),
	}
	cons, err := NewConsumer(context.Background(), cfg, func(b []Message) error {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			return errors.New("downstream full")
		}
		for _, m := range b {
			delivered[string(m.Body)]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cons.Start()
	defer cons.Stop()
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	wait("both shards assigned", func() bool { return len(s.Assignment("k8s-log-c1", "audit-c1", "auditlane")["replica-0"]) == 2 })
	time.Sleep(700 * time.Millisecond) // several refused deliveries
	for sh, cp := range s.Checkpoints("k8s-log-c1", "audit-c1", "auditlane") {
		if n, _ := slstest.CursorOffset(sh, cp); n != 0 {
			t.Fatalf("shard %d committed to %d while the callback refused", sh, n)
		}
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	wait("all events and checkpoints", func() bool {
		mu.Lock()
		n := len(delivered)
		mu.Unlock()
		cps := s.Checkpoints("k8s-log-c1", "audit-c1", "auditlane")
		a, _ := slstest.CursorOffset(0, cps[0])
		b, _ := slstest.CursorOffset(1, cps[1])
		return n == 20 && a == 2 && b == 2
	})
	if err := (&Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "endpoint") {
		t.Fatalf("empty config: %v", err)
	}
	if _, err := NewConsumer(context.Background(), Config{Endpoint: "x", Project: "p", Logstore: "l", ConsumerGroup: "auditlane", ConsumerName: "n", Credentials: Credentials{"a", "b", ""}, HeartbeatInterval: 1500 * time.Millisecond}, nil); err == nil {
		t.Fatal("fractional heartbeat accepted")
	}
}

func BenchmarkRebuild(b *testing.B) {
	sh, _ := shape.New(shape.Config{Layout: shape.LayoutSLS})
	evs := fixtures(b)
	fields := make([][]sink.Field, len(evs))
	size := 0
	for i, l := range evs {
		fields[i] = slsLayout(b, sh, l)
		size += len(l)
	}
	b.ReportAllocs()
	b.SetBytes(int64(size))
	var dst []byte
	for b.Loop() {
		for _, f := range fields {
			var err error
			if dst, err = Rebuild(dst[:0], f); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func TestValidateWithProvider(t *testing.T) {
	cfg := Config{Endpoint: "e", Project: "p", Logstore: "l", ConsumerGroup: "g", ConsumerName: "n"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "access_key_id") {
		t.Fatalf("no credentials: %v", err)
	}
	cfg.Provider = slssdk.NewStaticCredentialsProvider(ak, sk, "")
	if err := cfg.Validate(); err != nil {
		t.Fatalf("with a provider: %v", err)
	}
}

// TestPrimeClient checks that the SDK race work-around still finds the
// consumer library's client (it reports false when the SDK's layout
// changed) and leaves no lazy initialisation to race on.
func TestPrimeClient(t *testing.T) {
	s, _ := server(t, 1)
	cons, err := NewConsumer(context.Background(), Config{Endpoint: s.Endpoint(), Project: "k8s-log-c1", Logstore: "audit-c1", ConsumerGroup: "auditlane", ConsumerName: "n",
		Credentials: Credentials{AccessKeyID: ak, AccessKeySecret: sk}, HTTPClient: s.Client()}, func([]Message) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !primeClient(cons.worker) {
		t.Fatal("primeClient did not find the SDK client: the aliyun-log-go-sdk layout changed")
	}
}
