package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/fluentbit/internal/chunk"
)

func getter(m map[string]string) Getter { return func(k string) string { return m[k] } }

func TestLoadErrorsNameTheKey(t *testing.T) {
	base := map[string]string{"destination": "stdout"}
	cases := []struct {
		set map[string]string
		key string
	}{
		{map[string]string{"destination": ""}, "destination"},
		{map[string]string{"destination": "kafka"}, "destination"},
		{map[string]string{"destination": "file"}, "file_path"},
		{map[string]string{"flush_timeout": "soon"}, "flush_timeout"},
		{map[string]string{"stats_interval": "-3s"}, "stats_interval"},
		{map[string]string{"auditlane_log_level": "loud"}, "auditlane_log_level"},
		{map[string]string{"progress_chunks": "0"}, "progress_chunks"},
		{map[string]string{"max_event_size": "big"}, "max_event_size"},
		{map[string]string{"enrich_identity": "maybe"}, "enrich_identity"},
		{map[string]string{"destination": "cloudwatch"}, "log_group_name"},
		{map[string]string{"destination": "cloudwatch", "log_group_name": "/a", "log_retention_days": "42"}, "log_retention_days"},
		{map[string]string{"destination": "cloudwatch", "log_group_name": "/a", "log_group_tags": "novalue"}, "log_group_tags"},
		{map[string]string{"destination": "sls", "endpoint": "cn-hangzhou.log.aliyuncs.com", "project": "x", "logstore": "audit"}, "project"},
		// A key of the other destination is refused, not ignored.
		{map[string]string{"destination": "cloudwatch", "log_group_name": "/a", "logstore": "audit"}, "logstore: applies to another destination"},
		{map[string]string{"destination": "stdout", "log_group_name": "/a"}, "log_group_name: applies to another destination"},
		{map[string]string{"destination": "stdout", "file_path": "/tmp/x"}, "file_path: applies to destination file"},
		{map[string]string{"layout": "xml"}, "layout"},
		{map[string]string{"max_input_size": "lots"}, "max_input_size"},
		{map[string]string{"dead_letter_max_files": "0"}, "dead_letter_max_files"},
	}
	for _, c := range cases {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range c.set {
			m[k] = v
		}
		_, err := Load(getter(m))
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%v: err = %v, want one naming %s", c.set, err, c.key)
		}
	}
	c, err := Load(getter(map[string]string{"destination": "sls", "endpoint": "cn-hangzhou.log.aliyuncs.com", "project": "proj-a",
		"logstore": "audit", "flush_timeout": "12", "cluster_id": "c1"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.FlushTimeout != 12*time.Second || c.Pipeline.Shape.Layout != "sls" || c.SLS.RetryMaxElapsed != 2*time.Second || c.Pipeline.Enrich.ClusterID != "c1" {
		t.Errorf("config %+v", c)
	}
}

// memSink is a strict in-memory sink: it fails records by index on demand
// and records what it delivered.
type memSink struct {
	mu        sync.Mutex
	delivered [][]byte
	fail      func(i int, r *sink.Record) sink.Status
}

func (m *memSink) Write(ctx context.Context, recs []sink.Record, res []sink.Result) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range recs {
		st := sink.Delivered
		if m.fail != nil {
			st = m.fail(i, &recs[i])
		}
		res[i] = sink.Result{Status: st}
		switch st {
		case sink.Delivered:
			m.delivered = append(m.delivered, bytes.Clone(recs[i].Body))
		case sink.Permanent:
			res[i].Reason, res[i].Err = "too_large", errors.New("too large")
		default:
			res[i].Err = errors.New("unavailable")
		}
	}
	return sink.Summarize(res)
}

func (m *memSink) Close(context.Context) error { return nil }

func sampleLines(tb testing.TB, n int) [][]byte {
	b, err := os.ReadFile("../../../examples/data/sample-audit.log")
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.SplitN(b, []byte("\n"), n+1)[:n]
}

func logChunk(lines [][]byte) []byte {
	var c []byte
	for _, l := range lines {
		body := msgp.AppendMapHeader(nil, 1)
		body = msgp.AppendString(body, "log")
		body = msgp.AppendStringFromBytes(body, l)
		c = chunk.AppendRecordV2(c, time.Unix(1700000000, 0), body)
	}
	return c
}

func newInstance(t testing.TB, s sink.Writer, set map[string]string) *Instance {
	m := map[string]string{"destination": "stdout", "stats_interval": "0"}
	for k, v := range set {
		m[k] = v
	}
	cfg, err := Load(getter(m))
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(context.Background(), "test.0", cfg, Options{Sink: s, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestRetryResumesWithoutDuplicates(t *testing.T) {
	lines := sampleLines(t, 300)
	c := logChunk(lines)
	attempt := 0
	ms := &memSink{}
	ms.fail = func(i int, r *sink.Record) sink.Status {
		if attempt == 0 && i%3 == 0 || attempt == 1 && i%2 == 0 {
			return sink.Retryable
		}
		return sink.Delivered
	}
	dl := filepath.Join(t.TempDir(), "dl.jsonl")
	in := newInstance(t, ms, map[string]string{"dead_letter_file": dl})
	defer in.Close(time.Second)
	var got []Status
	for ; attempt < 5; attempt++ {
		st := in.Flush(c, "kube.audit")
		got = append(got, st)
		if st != StatusRetry {
			break
		}
	}
	if len(got) != 3 || got[0] != StatusRetry || got[1] != StatusRetry || got[2] != StatusOK {
		t.Fatalf("answers %v", got)
	}
	if len(ms.delivered) != 300 {
		t.Fatalf("delivered %d, want 300", len(ms.delivered))
	}
	seen := map[string]bool{}
	for _, b := range ms.delivered {
		if seen[string(b)] {
			t.Fatalf("duplicate delivery %.80s", b)
		}
		seen[string(b)] = true
	}
	s := in.Stats()
	if s.Retries != 2 || s.PendingChunks != 0 || s.Delivered != 300 || s.Skipped == 0 {
		t.Errorf("stats %+v", s)
	}
	// The same bytes under another tag are another chunk.
	if st := in.Flush(c, "other"); st != StatusOK || len(ms.delivered) != 600 {
		t.Errorf("other tag: %v, %d delivered", st, len(ms.delivered))
	}
}

func TestPermanentAndMalformed(t *testing.T) {
	lines := sampleLines(t, 20)
	ms := &memSink{fail: func(i int, r *sink.Record) sink.Status {
		if i == 0 {
			return sink.Permanent
		}
		return sink.Delivered
	}}
	// Without a dead letter, a malformed chunk tail is an error.
	in := newInstance(t, ms, nil)
	c := append(logChunk(lines), 0xc1, 0xc1)
	if st := in.Flush(c, "t"); st != StatusError {
		t.Fatalf("malformed chunk without dead letter: %v", st)
	}
	if got := len(ms.delivered); got != 19 {
		t.Errorf("delivered %d, want 19 (one permanent)", got)
	}
	in.Close(time.Second)
	// With one, it is dead-lettered and the chunk is done.
	dl := filepath.Join(t.TempDir(), "dl.jsonl")
	ms.delivered = nil
	in = newInstance(t, ms, map[string]string{"dead_letter_file": dl})
	if st := in.Flush(c, "t"); st != StatusOK {
		t.Fatalf("malformed chunk with dead letter: %v", st)
	}
	in.Close(time.Second)
	b, _ := os.ReadFile(dl)
	if n := bytes.Count(b, []byte("\n")); n != 2 || !bytes.Contains(b, []byte(`"sink_too_large"`)) {
		t.Errorf("dead letter:\n%s", b)
	}
}

func TestRecordShapes(t *testing.T) {
	lines := sampleLines(t, 3)
	ms := &memSink{}
	in := newInstance(t, ms, map[string]string{"raw_key": "message"})
	defer in.Close(time.Second)
	var c []byte
	// raw line under the configured key
	body := msgp.AppendMapHeader(nil, 1)
	body = msgp.AppendString(body, "message")
	body = msgp.AppendStringFromBytes(body, lines[0])
	c = chunk.AppendRecordV2(c, time.Unix(1, 0), body)
	// parsed map, old format
	c = msgp.AppendArrayHeader(c, 2)
	c = msgp.AppendInt64(c, 1)
	c = append(c, jsonToMsgp(t, lines[1])...)
	// EventList
	el, err := os.ReadFile("../../../examples/data/eventlist.json")
	if err != nil {
		t.Fatal(err)
	}
	c = chunk.AppendRecordV2(c, time.Unix(1, 0), jsonToMsgp(t, el))
	if st := in.Flush(c, "t"); st != StatusOK {
		t.Fatal(st)
	}
	if len(ms.delivered) != 52 {
		t.Fatalf("delivered %d, want 1 + 1 + 50", len(ms.delivered))
	}
}

// TestGroupMarkersAreNotEvents: Fluent Bit's OpenTelemetry input frames
// each resource/scope with group start and end records (EventTime seconds
// -1 and -2; found with a real Fluent Bit 4.2.8, where both used to come
// out as "audit events" built from the group attributes). They are skipped
// and counted, not processed, on the first flush and on a retry alike.
func TestGroupMarkersAreNotEvents(t *testing.T) {
	lines := sampleLines(t, 3)
	marker := func(c []byte, sec uint32) []byte {
		c = msgp.AppendArrayHeader(c, 2)
		c = msgp.AppendArrayHeader(c, 2)
		c = append(c, 0xd7, 0, byte(sec>>24), byte(sec>>16), byte(sec>>8), byte(sec), 0, 0, 0, 0)
		c = msgp.AppendMapHeader(c, 0)
		return append(c, jsonToMsgp(t, []byte(`{"resource":{"attributes":{"k8s.cluster.name":"c1"}},"scope":{"name":"audit"}}`))...)
	}
	c := marker(nil, 0xFFFFFFFF)
	c = append(c, logChunk(lines)...)
	c = marker(c, 0xFFFFFFFE)
	attempt := 0
	ms := &memSink{fail: func(i int, r *sink.Record) sink.Status {
		if attempt == 0 && i == 1 {
			return sink.Retryable
		}
		return sink.Delivered
	}}
	in := newInstance(t, ms, nil)
	defer in.Close(time.Second)
	if st := in.Flush(c, "otlp"); st != StatusRetry {
		t.Fatalf("first flush: %v, want FLB_RETRY", st)
	}
	attempt++
	if st := in.Flush(c, "otlp"); st != StatusOK {
		t.Fatalf("retry: %v", st)
	}
	if len(ms.delivered) != 3 {
		t.Fatalf("delivered %d, want the 3 events", len(ms.delivered))
	}
	for _, b := range ms.delivered {
		if !bytes.HasPrefix(b, []byte(`{"kind":"Event"`)) {
			t.Errorf("delivered a non-event: %.120s", b)
		}
	}
	s := in.Stats()
	if s.GroupMarkers != 2 || s.Delivered != 3 || s.Pipeline.Rejected != 0 || s.RejectedNoDeadLetter != 0 {
		t.Errorf("stats: group markers %d, delivered %d, rejected %d/%d", s.GroupMarkers, s.Delivered, s.Pipeline.Rejected, s.RejectedNoDeadLetter)
	}
	if !strings.Contains(in.StatsLine(), " group_markers=2") {
		t.Errorf("stats line: %s", in.StatsLine())
	}
}

func jsonToMsgp(t testing.TB, j []byte) []byte {
	var v map[string]any
	if err := json.Unmarshal(j, &v); err != nil {
		t.Fatal(err)
	}
	b, err := msgp.AppendIntf(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// discard is a sink that accepts everything (benchmarks).
type discard struct{}

func (discard) Write(_ context.Context, recs []sink.Record, res []sink.Result) error {
	for i := range res {
		res[i] = sink.Result{Status: sink.Delivered}
	}
	return nil
}
func (discard) Close(context.Context) error { return nil }

// BenchmarkFlush measures the plugin's whole flush path (chunk reading,
// pipeline, copying into records, sink call to a discarding sink) next to
// the pipeline alone on the same events: the difference is the plugin's
// overhead.
func BenchmarkFlush(b *testing.B) {
	lines := sampleLines(b, 1024)
	c := logChunk(lines)
	policy := "../../../examples/policies/cost-saving.yaml"
	b.Run("pipeline", func(b *testing.B) {
		s := pipeline.DefaultSettings()
		s.PolicyFile = policy
		p, _, err := s.Build()
		if err != nil {
			b.Fatal(err)
		}
		var sc pipeline.Scratch
		b.ReportAllocs()
		for b.Loop() {
			for _, l := range lines {
				p.ProcessRaw(l, &sc)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lines)), "ns/event")
	})
	b.Run("plugin", func(b *testing.B) {
		in := newInstance(b, discard{}, map[string]string{"policy_file": policy})
		defer in.Close(time.Second)
		b.ReportAllocs()
		for b.Loop() {
			if st := in.Flush(c, "t"); st != StatusOK {
				b.Fatal(st)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lines)), "ns/event")
	})
}
