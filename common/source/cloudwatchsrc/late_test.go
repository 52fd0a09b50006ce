package cloudwatchsrc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
)

// lateWorld is a cwtest server whose reads are eventually consistent, on a
// manual clock shared with the readers under test.
type lateWorld struct {
	srv   *cwtest.Server
	c     *cloudwatchlogs.Client
	clock *cwtest.Clock
}

func newLateWorld(t *testing.T, vis cwtest.Visibility) *lateWorld {
	t.Helper()
	clock := cwtest.NewClock(time.Now().Truncate(time.Second))
	srv, err := cwtest.New(cwtest.Options{Clock: clock.Now, Visibility: vis})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c := cloudwatchlogs.New(cloudwatchlogs.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDLATE", "late", ""),
		BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{},
	})
	return &lateWorld{srv, c, clock}
}

func (w *lateWorld) reader(t *testing.T, cfg Config, ck *Checkpoint) *Reader {
	t.Helper()
	cfg.LogGroup = group
	cfg.Clock = w.clock.Now
	cfg.Backoff = Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}
	r, err := New(w.c, cfg, ck)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// collect reads once and returns the bodies delivered.
func collect(t *testing.T, r *Reader) []string {
	t.Helper()
	var got []string
	if err := r.Read(context.Background(), func(b []Message) error {
		for _, m := range b {
			got = append(got, string(m.Body))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestLateEventsAreRead: events that become visible after later ones were
// read (1 ms to 5 s late, in several streams) are delivered once, and
// counted as late. Before the look-back they were skipped as already
// delivered.
func TestLateEventsAreRead(t *testing.T) {
	w := newLateWorld(t, cwtest.Visibility{})
	now := w.clock.Now().UnixMilli()
	for i := range 30 {
		w.srv.AddEvents(group, fmt.Sprintf("kube-apiserver-audit-%d", i%3), cwtest.Event{Timestamp: now - 10_000 + int64(i)*100, Message: fmt.Sprintf("on-time-%d", i)})
	}
	r := w.reader(t, Config{LookBack: 30 * time.Second}, nil)
	if got := collect(t, r); len(got) != 30 {
		t.Fatalf("first read: %d events", len(got))
	}
	lateness := []int64{1, 5, 200, 1000, 2500, 4000, 5000}
	for i, d := range lateness {
		// Timestamped before events already read, visible from now on.
		w.srv.AddEvents(group, fmt.Sprintf("kube-apiserver-audit-%d", i%3), cwtest.Event{Timestamp: now - 7100 - d, Message: fmt.Sprintf("late-%d", d)})
	}
	var got []string
	for range 40 { // polls over 40 s
		w.clock.Advance(time.Second)
		got = append(got, collect(t, r)...)
	}
	if len(got) != len(lateness) {
		t.Fatalf("late events delivered: %v, want the %d late ones once each", got, len(lateness))
	}
	for _, g := range got {
		if !strings.HasPrefix(g, "late-") {
			t.Fatalf("redelivered %q", g)
		}
	}
	if st := r.Stats(); st.Late != len(lateness) || st.MaxLate < 5*time.Second || st.Skipped == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestNewStreamOlderThanProgress: a replacement apiserver's stream whose
// first events are older than what the other streams delivered is read,
// also by a reader restarted from a checkpoint.
func TestNewStreamOlderThanProgress(t *testing.T) {
	w := newLateWorld(t, cwtest.Visibility{})
	now := w.clock.Now().UnixMilli()
	for i := range 10 {
		w.srv.AddEvents(group, "kube-apiserver-audit-old", cwtest.Event{Timestamp: now - 1000 + int64(i), Message: fmt.Sprintf("old-%d", i)})
	}
	r := w.reader(t, Config{LookBack: time.Minute}, nil)
	if got := collect(t, r); len(got) != 10 {
		t.Fatalf("first read %d", len(got))
	}
	w.clock.Advance(time.Second)
	w.srv.AddEvents(group, "kube-apiserver-audit-new", cwtest.Event{Timestamp: now - 20_000, Message: "new-first"}, cwtest.Event{Timestamp: now - 19_000, Message: "new-second"})
	if got := collect(t, r); len(got) != 0 {
		t.Logf("read at once: %v", got)
	}
	var got []string
	for range 40 {
		w.clock.Advance(time.Second)
		got = append(got, collect(t, r)...)
	}
	// A restart from the checkpoint finds the next replacement stream too.
	b, _ := json.Marshal(r.Checkpoint())
	var ck Checkpoint
	if err := json.Unmarshal(b, &ck); err != nil {
		t.Fatal(err)
	}
	w.srv.AddEvents(group, "kube-apiserver-audit-newer", cwtest.Event{Timestamp: now - 15_000, Message: "newer"})
	r2 := w.reader(t, Config{LookBack: time.Minute}, &ck)
	got = append(got, collect(t, r2)...)
	if strings.Join(got, ",") != "new-first,new-second,newer" {
		t.Fatalf("delivered %v", got)
	}
}

// TestFutureEventDoesNotHideLaterEvents: one event dated an hour ahead is
// delivered once and does not move the watermark: the 1,000 events after
// it are all delivered.
func TestFutureEventDoesNotHideLaterEvents(t *testing.T) {
	w := newLateWorld(t, cwtest.Visibility{})
	now := w.clock.Now()
	w.srv.AddEvents(group, "kube-apiserver-audit-0", cwtest.Event{Timestamp: now.Add(time.Hour).UnixMilli(), Message: "future"})
	r := w.reader(t, Config{LookBack: 10 * time.Second, PageLimit: 100}, nil)
	if got := collect(t, r); len(got) != 1 {
		t.Fatalf("future event: %v", got)
	}
	delivered := map[string]int{}
	for i := range 1000 {
		if i%100 == 0 {
			w.clock.Advance(time.Second)
			for _, g := range collect(t, r) {
				delivered[g]++
			}
		}
		w.srv.AddEvents(group, fmt.Sprintf("kube-apiserver-audit-%d", i%3), cwtest.Event{Timestamp: w.clock.Now().UnixMilli() + int64(i%100), Message: fmt.Sprintf("ev-%d", i)})
	}
	for range 5 {
		w.clock.Advance(time.Second)
		for _, g := range collect(t, r) {
			delivered[g]++
		}
	}
	if len(delivered) != 1000 {
		t.Fatalf("%d of 1000 events after the future-dated one delivered", len(delivered))
	}
	for g, n := range delivered {
		if n != 1 {
			t.Fatalf("%s delivered %d times", g, n)
		}
	}
	if wm := r.Checkpoint().Watermark; wm > w.clock.Now().UnixMilli() {
		t.Fatalf("watermark %d is ahead of the clock %d", wm, w.clock.Now().UnixMilli())
	}
}

// TestIdleStreamKeepsPollsCheap: one stream goes quiet while another keeps
// writing; the events read per poll stay proportional to the new data
// instead of growing with the time since the quiet stream's last event,
// and the quiet stream's state expires.
func TestIdleStreamKeepsPollsCheap(t *testing.T) {
	w := newLateWorld(t, cwtest.Visibility{})
	const perPoll, polls = 50, 200
	r := w.reader(t, Config{LookBack: 10 * time.Second}, nil)
	w.srv.AddEvents(group, "kube-apiserver-audit-quiet", cwtest.Event{Timestamp: w.clock.Now().UnixMilli() - 500, Message: "last words"})
	var readPerPoll []int
	prev := 0
	for p := range polls {
		w.clock.Advance(time.Second)
		base := w.clock.Now().UnixMilli() - 1000
		var evs []cwtest.Event
		for i := range perPoll {
			evs = append(evs, cwtest.Event{Timestamp: base + int64(i*1000/perPoll), Message: fmt.Sprintf("busy-%d-%d", p, i)})
		}
		w.srv.AddEvents(group, "kube-apiserver-audit-busy", evs...)
		if got := collect(t, r); len(got) != perPoll && p > 0 {
			t.Fatalf("poll %d delivered %d, want %d", p, len(got), perPoll)
		}
		st := r.Stats()
		readPerPoll = append(readPerPoll, st.Skipped+st.Messages-prev)
		prev = st.Skipped + st.Messages
	}
	sum, most := 0, 0
	for _, n := range readPerPoll[polls-50:] {
		sum += n
		most = max(most, n)
	}
	// Reaches 2.5, 5, 10 and 20 s: about 6× the new data on average, the
	// whole 20 s (1,000 events) at most; before, a poll re-read everything
	// since the quiet stream's last event (10,000 events by poll 200).
	if avg := sum / 50; avg > 8*perPoll || most > 22*perPoll {
		t.Fatalf("events read per poll over the last 50 polls: average %d, most %d (new per poll %d)", avg, most, perPoll)
	}
	if st := r.Stats(); st.Streams != 1 {
		t.Fatalf("quiet stream's state did not expire: %+v", st)
	}
	// Everything goes quiet: once the look-back has passed, polls read
	// only the newest millisecond again.
	for range 30 {
		w.clock.Advance(time.Second)
		collect(t, r)
	}
	before := r.Stats()
	for range 20 {
		w.clock.Advance(time.Second)
		if got := collect(t, r); len(got) != 0 {
			t.Fatalf("quiet group delivered %v", got)
		}
	}
	if st := r.Stats(); st.Skipped-before.Skipped > 20*3 {
		t.Fatalf("20 polls of a quiet group re-read %d events", st.Skipped-before.Skipped)
	}
}

// TestTruncatedMarkerWithTrailingSpace: the marker is recognised before a
// line end, CR LF or spaces.
func TestTruncatedMarkerWithTrailingSpace(t *testing.T) {
	w := newLateWorld(t, cwtest.Visibility{})
	now := w.clock.Now().UnixMilli()
	for i, tail := range []string{"", "\n", "\r\n", " ", " \t \r\n"} {
		w.srv.AddEvents(group, "kube-apiserver-audit-0", cwtest.Event{Timestamp: now + int64(i), Message: `{"auditID":"cut","requestObject":{"data":"xx` + TruncatedMarker + tail})
	}
	w.srv.AddEvents(group, "kube-apiserver-audit-0", cwtest.Event{Timestamp: now + 10, Message: `{"auditID":"whole","note":"ends in [Truncated...] text"} `})
	r := w.reader(t, Config{}, nil)
	var truncated []bool
	if err := r.Read(context.Background(), func(b []Message) error {
		for _, m := range b {
			truncated = append(truncated, m.Truncated)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(truncated) != "[true true true true true false]" || r.Stats().Truncated != 5 {
		t.Fatalf("truncated flags %v, stats %+v", truncated, r.Stats())
	}
}

// TestChainedWindows: [a, b) then [b, c) read an event at exactly b once.
func TestChainedWindows(t *testing.T) {
	w := newLateWorld(t, cwtest.Visibility{})
	a := w.clock.Now().Add(-time.Hour)
	b, c := a.Add(10*time.Minute), a.Add(20*time.Minute)
	for _, ts := range []time.Time{a, b.Add(-time.Millisecond), b, c.Add(-time.Millisecond), c} {
		w.srv.AddEvents(group, "kube-apiserver-audit-0", cwtest.Event{Timestamp: ts.UnixMilli(), Message: ts.Sub(a).String()})
	}
	first := collect(t, w.reader(t, Config{StartTime: a, EndTime: b}, nil))
	second := collect(t, w.reader(t, Config{StartTime: b, EndTime: c}, nil))
	if fmt.Sprint(first, second) != "[0s 9m59.999s] [10m0s 19m59.999s]" {
		t.Fatalf("windows read %v and %v", first, second)
	}
	if got := collect(t, w.reader(t, Config{StartTime: b, EndTime: b}, nil)); len(got) != 0 {
		t.Fatalf("empty window read %v", got)
	}
}

// TestFirstFormatCheckpoint: a checkpoint written before the look-back
// (per-stream timestamp and eventIds) resumes without re-delivering what
// it recorded.
func TestFirstFormatCheckpoint(t *testing.T) {
	w := newLateWorld(t, cwtest.Visibility{})
	now := w.clock.Now().UnixMilli()
	var stored []cwtest.Event
	for i := range 6 {
		stored = append(stored, w.srv.AddEvents(group, "kube-apiserver-audit-0", cwtest.Event{Timestamp: now - 5000 + int64(i/2), Message: fmt.Sprintf("ev-%d", i)})...)
	}
	// Delivered through ev-4 (timestamp now-4998, eventIds of ev-4 only).
	old := fmt.Sprintf(`{"streams":{"kube-apiserver-audit-0":{"timestamp":%d,"event_ids":[%q]}}}`, now-4998, stored[4].ID)
	var ck Checkpoint
	if err := json.Unmarshal([]byte(old), &ck); err != nil {
		t.Fatal(err)
	}
	r := w.reader(t, Config{}, &ck)
	if got := collect(t, r); fmt.Sprint(got) != "[ev-5]" {
		t.Fatalf("resumed from the first format: %v", got)
	}
	if _, err := New(w.c, Config{LogGroup: group}, &Checkpoint{Version: 9}); err == nil {
		t.Fatal("unknown checkpoint version accepted")
	}
	if _, err := New(w.c, Config{LogGroup: group}, &Checkpoint{Version: CheckpointVersion, Delivered: []byte{7, 1}}); err == nil {
		t.Fatal("corrupt delivered events accepted")
	}
}

// TestMaxRememberedCutsTheLookBack: past the bound the oldest remembered
// events are forgotten and the look-back is cut there, so they are not
// delivered again.
func TestMaxRememberedCutsTheLookBack(t *testing.T) {
	w := newLateWorld(t, cwtest.Visibility{})
	now := w.clock.Now().UnixMilli()
	for i := range 3000 {
		w.srv.AddEvents(group, "kube-apiserver-audit-0", cwtest.Event{Timestamp: now - 30_000 + int64(i*10), Message: fmt.Sprintf("ev-%d", i)})
	}
	r := w.reader(t, Config{LookBack: time.Minute, MaxRemembered: 1000}, nil)
	n := len(collect(t, r))
	for range 10 {
		w.clock.Advance(10 * time.Second)
		n += len(collect(t, r))
	}
	st := r.Stats()
	if n != 3000 || st.Remembered > 1000 || st.Evicted < 2000 {
		t.Fatalf("delivered %d of 3000; %+v", n, st)
	}
}

// TestLateVisibility30k is the acceptance run at the reader: 30,000
// events from 3 apiservers, written in batches that arrive out of order,
// each visible 0–3 s after it was stored, read every second with a crash
// and restart from the last committed checkpoint in the middle. Nothing is
// lost; the duplicates are the pages the crashed reader had handed on but
// not committed.
func TestLateVisibility30k(t *testing.T) {
	w := newLateWorld(t, cwtest.Visibility{MaxDelay: 3 * time.Second, Seed: 13})
	res := lateRun(t, w, 30_000, func(cfg Config, ck *Checkpoint) *Reader { return w.reader(t, cfg, ck) })
	t.Logf("reader: %d events, %d delivered once, %d lost, %d duplicates; %+v", res.total, res.distinct, res.lost, res.dups, res.stats)
	if res.lost != 0 {
		t.Fatalf("%d events lost", res.lost)
	}
	if res.dups == 0 || res.dups > res.pageLimit {
		t.Fatalf("%d duplicates, want the crashed reader's uncommitted page (1..%d)", res.dups, res.pageLimit)
	}
	if res.stats.Late == 0 {
		t.Fatal("no event was late: the visibility delay did not reorder anything")
	}
}

type lateResult struct {
	total, distinct, lost, dups, pageLimit int
	stats                                  Stats
}

// lateRun drives n events through readers made by mk: cwtest's Producer
// (3 streams, batches flushed out of order), polls every second, a crash
// in the middle (a page handed on, then the reader dies before it commits)
// and a restart from the last committed checkpoint.
func lateRun(t *testing.T, w *lateWorld, n int, mk func(Config, *Checkpoint) *Reader) lateResult {
	t.Helper()
	const pageLimit = 2000
	got := map[string]int{}
	var committed []byte
	cfg := Config{PageLimit: pageLimit, LookBack: 15 * time.Second, OnCommit: func(ck Checkpoint) {
		b, err := json.Marshal(ck)
		if err != nil {
			t.Fatal(err)
		}
		committed = b
	}}
	r := mk(cfg, nil)
	deliver := func(b []Message) error {
		for _, m := range b {
			got[string(m.Body)]++
		}
		return nil
	}
	poll := func() {
		if err := r.Read(context.Background(), deliver); err != nil {
			t.Fatal(err)
		}
	}
	p := cwtest.NewProducer(w.srv, w.clock, cwtest.ProducerConfig{Group: group, Events: n, Seed: 13})
	crashed := false
	for !p.Done() {
		p.Advance(time.Second)
		if !crashed && p.Produced() >= n/2 {
			// Crash: a page is handed on, then the reader dies before it
			// remembers it (the callback's error stands for the kill).
			crashed = true
			_ = r.Read(context.Background(), func(b []Message) error {
				deliver(b)
				return errors.New("killed")
			})
			var ck Checkpoint
			if err := json.Unmarshal(committed, &ck); err != nil {
				t.Fatal(err)
			}
			r = mk(cfg, &ck)
		}
		poll()
	}
	// Everything is written; poll on until the look-back passed it.
	for settle := w.clock.Now().Add(r.LookBack() + 5*time.Second); w.clock.Now().Before(settle); {
		w.clock.Advance(time.Second)
		poll()
	}
	res := lateResult{total: n, distinct: len(got), pageLimit: pageLimit, stats: r.Stats()}
	for i := range n {
		switch c := got[fmt.Sprintf(`{"auditID":"%06d"}`, i)]; {
		case c == 0:
			res.lost++
		case c > 1:
			res.dups += c - 1
		}
	}
	if len(got) != n-res.lost {
		t.Fatalf("delivered %d distinct bodies that are not test events", len(got)-(n-res.lost))
	}
	return res
}
