package cwtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// TestLateVisibility checks that stored events reach reads only once the
// service clock passed their visibility time, so that a later event can
// be read before an earlier one.
func TestLateVisibility(t *testing.T) {
	clock := NewClock(time.UnixMilli(1_700_000_000_000))
	srv, c := start(t, Options{Clock: clock.Now, Visibility: Visibility{MaxDelay: 3 * time.Second, Seed: 1}})
	const g = "/aws/eks/late/cluster"
	base := clock.Now().UnixMilli()
	var evs []Event
	for i := range 200 {
		evs = append(evs, Event{Timestamp: base + int64(i), Message: fmt.Sprintf("ev %d", i)})
	}
	stored := srv.AddEvents(g, "kube-apiserver-audit-0", evs...)
	// One event with a fixed visibility time: 10 s late.
	pinned := srv.AddEvents(g, "kube-apiserver-audit-1", Event{Timestamp: base, Message: "pinned", VisibleAt: base + 10_000})
	spread := map[int64]bool{}
	for _, ev := range stored {
		if ev.VisibleAt < base || ev.VisibleAt > base+3000 {
			t.Fatalf("VisibleAt %d outside [%d, %d]", ev.VisibleAt, base, base+3000)
		}
		spread[(ev.VisibleAt-base)/1000] = true
	}
	if len(spread) < 3 || pinned[0].VisibleAt != base+10_000 {
		t.Fatalf("delays not spread over 0-3 s (%v) or pinned time lost (%d)", spread, pinned[0].VisibleAt)
	}
	count := func() (n int, outOfOrder bool) {
		got, _ := filterAll(t, c, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(g)})
		for i, ev := range got {
			if i > 0 && *ev.Timestamp < *got[i-1].Timestamp {
				outOfOrder = true
			}
		}
		return len(got), outOfOrder
	}
	seen := []int{}
	for range 5 {
		n, ooo := count()
		if ooo {
			t.Fatal("an answer is not in timestamp order")
		}
		seen = append(seen, n)
		clock.Advance(time.Second)
	}
	if seen[1] == 0 || seen[1] >= 200 || seen[2] <= seen[1] || seen[4] != 200 {
		t.Fatalf("visible per second: %v, want some after 1 s, more after 2 s, all 200 after 3 s", seen)
	}
	clock.Advance(6 * time.Second)
	if n, _ := count(); n != 201 {
		t.Fatalf("after 10 s %d visible, want 201", n)
	}
	if srv.Stats().Hidden == 0 {
		t.Fatal("no hidden events counted")
	}
	// GetLogEvents follows the same visibility.
	srv.AddEvents(g, "kube-apiserver-audit-2", Event{Timestamp: base, Message: "later", VisibleAt: clock.Now().UnixMilli() + 1})
	out, err := c.GetLogEvents(context.Background(), &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(g), LogStreamName: aws.String("kube-apiserver-audit-2"), StartFromHead: aws.Bool(true)})
	if err != nil || len(out.Events) != 0 {
		t.Fatalf("GetLogEvents before visibility: %v %v", out, err)
	}
}

// TestFailNext checks scripted answers: any status, with or without an
// error body, for the next requests of one operation only.
func TestFailNext(t *testing.T) {
	srv, c := start(t, Options{})
	const g = "/aws/eks/fail/cluster"
	srv.AddEvents(g, "kube-apiserver-audit-0", Event{Timestamp: 1, Message: "x"})
	srv.FailNext("FilterLogEvents", 1, Answer{Status: http.StatusServiceUnavailable})
	srv.FailNext("FilterLogEvents", 1, Answer{Status: http.StatusInternalServerError, Type: "InternalServerError", Message: "boom"})
	srv.FailNext("FilterLogEvents", 1, Answer{Status: http.StatusTooManyRequests, Type: "TooManyRequestsException", Message: "slow down"})
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(g)}
	for i, want := range []struct {
		status int
		code   string
	}{{503, ""}, {500, "InternalServerError"}, {429, "TooManyRequestsException"}} {
		_, err := c.FilterLogEvents(context.Background(), in)
		var re *smithyhttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != want.status {
			t.Fatalf("answer %d: %v, want HTTP %d", i, err, want.status)
		}
		if want.code != "" && code(err) != want.code {
			t.Fatalf("answer %d: code %q, want %q", i, code(err), want.code)
		}
	}
	if _, err := c.FilterLogEvents(context.Background(), in); err != nil {
		t.Fatalf("after the script: %v", err)
	}
	if st := srv.Stats(); st.Scripted != 3 || st.Errors["HTTP 503"] != 1 || st.Errors["TooManyRequestsException"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestProducer checks the producer writes every event once, in batches
// whose timestamps go back in time within a stream.
func TestProducer(t *testing.T) {
	clock := NewClock(time.UnixMilli(1_700_000_000_000))
	srv, _ := start(t, Options{Clock: clock.Now})
	p := NewProducer(srv, clock, ProducerConfig{Group: "/g", Events: 1000, Seed: 2})
	for !p.Done() {
		p.Advance(time.Second)
	}
	seen := map[string]bool{}
	backwards := 0
	for s := range 3 {
		evs := srv.Events("/g", fmt.Sprintf("kube-apiserver-audit-%d", s))
		for i, ev := range evs {
			if seen[ev.Message] {
				t.Fatalf("%s written twice", ev.Message)
			}
			seen[ev.Message] = true
			if i > 0 && ev.Timestamp < evs[i-1].Timestamp {
				backwards++
			}
		}
	}
	if len(seen) != 1000 || backwards < 10 {
		t.Fatalf("%d events written, %d steps back in time", len(seen), backwards)
	}
}
