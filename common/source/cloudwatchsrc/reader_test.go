package cloudwatchsrc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
)

const group = "/aws/eks/prod/cluster"

func setup(t *testing.T, faults cwtest.Faults) (*cwtest.Server, *cloudwatchlogs.Client) {
	t.Helper()
	srv, err := cwtest.New(cwtest.Options{
		Credentials: map[string]cwtest.Credential{"AKIDSRC": {SecretAccessKey: "src-secret"}},
		Faults:      faults,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c := cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSRC", "src-secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      aws.NopRetryer{}, // the Reader's own backoff is under test
	})
	return srv, c
}

// history writes n events over 3 audit streams (several per millisecond)
// and a few to a non-audit stream.
func history(srv *cwtest.Server, n int) {
	for i := range n {
		stream := fmt.Sprintf("kube-apiserver-audit-%x", i%3)
		srv.AddEvents(group, stream, cwtest.Event{Timestamp: int64(1_700_000_000_000 + i/4), Message: fmt.Sprintf(`{"auditID":"%d"}`, i)})
	}
	srv.AddEvents(group, "authenticator-abc", cwtest.Event{Timestamp: 1_700_000_000_000, Message: "not audit"})
}

func ids(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Body))
	}
	return out
}

func TestReadAllAtLeastOnceAcrossFailures(t *testing.T) {
	srv, c := setup(t, cwtest.Faults{})
	history(srv, 50)
	r, err := New(c, Config{LogGroup: group, PageLimit: 7, Backoff: Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	calls := 0
	boom := errors.New("downstream refused")
	fn := func(b []Message) error {
		calls++
		if calls == 3 || calls == 5 {
			return boom // the next consumer refuses: nothing may be lost
		}
		for _, m := range b {
			if !strings.HasPrefix(m.Stream, DefaultStreamPrefix) || m.EventID == "" || m.Truncated {
				t.Fatalf("message %+v", m)
			}
			got[string(m.Body)]++
		}
		return nil
	}
	for attempt := 0; ; attempt++ {
		err := r.Read(context.Background(), fn)
		if err == nil {
			break
		}
		if !errors.Is(err, boom) || attempt > 3 {
			t.Fatalf("Read: %v", err)
		}
	}
	if len(got) != 50 {
		t.Fatalf("delivered %d distinct events, want 50", len(got))
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("%s delivered %d times after acknowledged delivery", id, n)
		}
	}
	// A new reader from the serialised checkpoint re-delivers nothing, and
	// picks up new events only.
	b, err := json.Marshal(r.Checkpoint())
	if err != nil {
		t.Fatal(err)
	}
	var ck Checkpoint
	if err := json.Unmarshal(b, &ck); err != nil {
		t.Fatal(err)
	}
	r2, _ := New(c, Config{LogGroup: group, PageLimit: 7}, &ck)
	srv.AddEvents(group, "kube-apiserver-audit-1", cwtest.Event{Timestamp: 1_700_000_000_000 + 12, Message: `{"auditID":"late-same-ms"}`})
	var again []Message
	if err := r2.Read(context.Background(), func(b []Message) error { again = append(again, b...); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids(again)) != `[{"auditID":"late-same-ms"}]` {
		t.Fatalf("after restart delivered %v", ids(again))
	}
	if st := r2.Stats(); st.Skipped == 0 {
		t.Errorf("restart re-read the boundary millisecond but counted no duplicates: %+v", st)
	}
}

func TestTruncatedAndTimeRange(t *testing.T) {
	srv, c := setup(t, cwtest.Faults{})
	base := time.UnixMilli(1_700_000_000_000)
	srv.AddEvents(group, "kube-apiserver-audit-0",
		cwtest.Event{Timestamp: base.UnixMilli(), Message: `{"auditID":"early"}`},
		cwtest.Event{Timestamp: base.Add(time.Minute).UnixMilli(), Message: `{"auditID":"cut","requestObject":{"data":"xxxx` + TruncatedMarker},
		cwtest.Event{Timestamp: base.Add(2 * time.Minute).UnixMilli(), Message: `{"auditID":"whole"}`},
		cwtest.Event{Timestamp: base.Add(3 * time.Minute).UnixMilli(), Message: `{"auditID":"late"}`},
	)
	// StartTime is inclusive, EndTime exclusive: "late", at exactly
	// EndTime, belongs to the next window.
	r, _ := New(c, Config{LogGroup: group, StartTime: base.Add(time.Second), EndTime: base.Add(3 * time.Minute)}, nil)
	var got []Message
	if err := r.Read(context.Background(), func(b []Message) error { got = append(got, b...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Truncated || got[1].Truncated || string(got[1].Body) != `{"auditID":"whole"}` {
		t.Fatalf("got %+v", got)
	}
	if st := r.Stats(); st.Truncated != 1 || st.Messages != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestThrottlingBacksOff(t *testing.T) {
	srv, c := setup(t, cwtest.Faults{ThrottleRate: 0.5, Operations: []string{"FilterLogEvents"}, Seed: 7})
	history(srv, 40)
	r, _ := New(c, Config{LogGroup: group, PageLimit: 5, Backoff: Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}}, nil)
	n := 0
	if err := r.Read(context.Background(), func(b []Message) error { n += len(b); return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 40 || r.Stats().Retries == 0 || srv.Stats().Throttled != r.Stats().Retries {
		t.Fatalf("delivered %d; reader %+v; server throttled %d", n, r.Stats(), srv.Stats().Throttled)
	}
}

func TestErrors(t *testing.T) {
	srv, c := setup(t, cwtest.Faults{})
	if _, err := New(c, Config{}, nil); err == nil || !strings.Contains(err.Error(), "log_group") {
		t.Fatalf("empty config: %v", err)
	}
	if _, err := New(c, Config{LogGroup: group, PageLimit: 10001}, nil); err == nil {
		t.Fatal("page limit 10001 accepted")
	}
	r, _ := New(c, Config{LogGroup: "/aws/eks/missing/cluster"}, nil)
	err := r.Read(context.Background(), func([]Message) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") || r.Stats().Retries != 0 {
		t.Fatalf("missing group: %v (retries %d)", err, r.Stats().Retries)
	}
	srv.Outage(time.Hour)
	r, _ = New(c, Config{LogGroup: group, Backoff: Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond, MaxElapsed: 50 * time.Millisecond}}, nil)
	if err := r.Read(context.Background(), func([]Message) error { return nil }); err == nil || !strings.Contains(err.Error(), "ServiceUnavailable") {
		t.Fatalf("outage: %v", err)
	}
}

func BenchmarkRead(b *testing.B) {
	srv, err := cwtest.New(cwtest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c := cloudwatchlogs.New(cloudwatchlogs.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "s", ""), BaseEndpoint: aws.String(srv.URL)})
	msg := strings.Repeat("x", 1500)
	for i := range 2000 {
		srv.AddEvents(group, "kube-apiserver-audit-0", cwtest.Event{Timestamp: int64(1_700_000_000_000 + i), Message: msg})
	}
	b.ReportAllocs()
	b.SetBytes(2000 * 1500)
	for b.Loop() {
		r, _ := New(c, Config{LogGroup: group}, nil)
		if err := r.Read(context.Background(), func([]Message) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOnCommitFollowsDeliveredPages(t *testing.T) {
	srv, c := setup(t, cwtest.Faults{})
	history(srv, 30)
	var commits []Checkpoint
	r, err := New(c, Config{LogGroup: group, PageLimit: 10, OnCommit: func(ck Checkpoint) { commits = append(commits, ck) }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pages := 0
	if err := r.Read(context.Background(), func([]Message) error {
		pages++
		if pages == 2 {
			return errors.New("refused")
		}
		return nil
	}); err == nil {
		t.Fatal("refused page: no error")
	}
	if len(commits) != 1 {
		t.Fatalf("%d commits after one accepted and one refused page, want 1", len(commits))
	}
	seen, err := unmarshalSeen(commits[0].Delivered)
	if err != nil || seen.len() != 10 || len(commits[0].Streams) != 3 {
		t.Fatalf("committed checkpoint %+v (%v) does not cover the first page", commits[0], err)
	}
	if err := r.Read(context.Background(), func([]Message) error { return nil }); err != nil {
		t.Fatal(err)
	}
	last, now := commits[len(commits)-1], r.Checkpoint()
	a, errA := unmarshalSeen(last.Delivered)
	b, errB := unmarshalSeen(now.Delivered)
	if errA != nil || errB != nil || !maps.Equal(a.ids, b.ids) || a.len() != 30 {
		t.Fatalf("last commit remembers %v, the reader %v (%v %v)", a.ids, b.ids, errA, errB)
	}
	last.Delivered, now.Delivered = nil, nil
	if got, want := fmt.Sprint(last), fmt.Sprint(now); got != want {
		t.Fatalf("last commit %s, reader checkpoint %s", got, want)
	}
}

// TestErrorClassesByStatus: answers without a known code are told apart by
// their HTTP status: 503 with an empty body, 500 InternalServerError and
// 429 TooManyRequestsException are retried, a 400 without a known code is
// not.
func TestErrorClassesByStatus(t *testing.T) {
	srv, c := setup(t, cwtest.Faults{})
	history(srv, 5)
	for _, a := range []cwtest.Answer{
		{Status: 503},
		{Status: 500, Type: "InternalServerError", Message: "boom"},
		{Status: 429, Type: "TooManyRequestsException", Message: "slow down"},
		{Status: 502, Type: "BadGateway"},
	} {
		srv.FailNext("FilterLogEvents", 2, a)
	}
	r, _ := New(c, Config{LogGroup: group, Backoff: Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}}, nil)
	n := 0
	if err := r.Read(context.Background(), func(b []Message) error { n += len(b); return nil }); err != nil {
		t.Fatalf("transient answers not retried: %v", err)
	}
	if n != 5 || r.Stats().Retries != 8 {
		t.Fatalf("delivered %d, retries %d", n, r.Stats().Retries)
	}
	srv.FailNext("FilterLogEvents", 1, cwtest.Answer{Status: 400, Type: "SomethingNewException"})
	r, _ = New(c, Config{LogGroup: group, Backoff: Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}}, nil)
	if err := r.Read(context.Background(), func([]Message) error { return nil }); err == nil || r.Stats().Retries != 0 {
		t.Fatalf("unknown 400: %v, retries %d", err, r.Stats().Retries)
	}
}

// nopAPI answers nothing (checkpoint loading tests).
type nopAPI struct{}

func (nopAPI) FilterLogEvents(context.Context, *cloudwatchlogs.FilterLogEventsInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	return &cloudwatchlogs.FilterLogEventsOutput{}, nil
}

// BenchmarkReread measures a poll over a look-back whose events were all
// delivered already: the cost of recognising them (hash and lookup) on top
// of reading the page.
func BenchmarkReread(b *testing.B) {
	srv, err := cwtest.New(cwtest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c := cloudwatchlogs.New(cloudwatchlogs.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "s", ""), BaseEndpoint: aws.String(srv.URL)})
	msg := strings.Repeat("x", 1500)
	now := time.Now().UnixMilli()
	for i := range 2000 {
		srv.AddEvents(group, fmt.Sprintf("kube-apiserver-audit-%d", i%3), cwtest.Event{Timestamp: now - 2000 + int64(i), Message: msg})
	}
	r, _ := New(c, Config{LogGroup: group}, nil)
	if err := r.Read(context.Background(), func([]Message) error { return nil }); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(2000 * 1500)
	for b.Loop() {
		r.ForceSweep()
		if err := r.Read(context.Background(), func([]Message) error { b.Fatal("redelivered"); return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRemembered measures remembering and recognising events.
func BenchmarkRemembered(b *testing.B) {
	s := newSeenSet()
	keys := make([]uint64, 100_000)
	for i := range keys {
		keys[i] = eventKey("kube-apiserver-audit-0", fmt.Sprintf("%056d", i))
		s.add(keys[i], int64(i))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if !s.has(keys[i%len(keys)]) {
			b.Fatal("lost")
		}
		i++
	}
}
