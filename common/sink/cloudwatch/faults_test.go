package cloudwatch

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
)

// TestFaultSoak sends 100,000 events while the server throttles or fails
// 30 % of the calls, resets some connections and goes fully down for
// 10 seconds. Like a front end, the driver resends only records reported
// Retryable or Pending, for a bounded number of rounds. At the end every
// event is stored exactly once or reported failed; none is unaccounted for.
func TestFaultSoak(t *testing.T) {
	const (
		total   = 100_000
		perCall = 1_000
		workers = 4
		rounds  = 40
	)
	srv := newServer(t, cwtest.Options{Faults: cwtest.Faults{
		ThrottleRate: 0.15, ErrorRate: 0.15, ResetRate: 0.02, Seed: 42,
	}})
	w := newTestWriter(t, srv, Config{
		AutoCreateGroup:      true,
		LogStreamName:        "node-{shard}",
		MaxBatchEvents:       250,
		Concurrency:          4,
		RetryInitialInterval: 5 * time.Millisecond,
		RetryMaxInterval:     200 * time.Millisecond,
		MaxRetryElapsed:      time.Second,
	})
	base := time.Now().Add(-time.Hour)
	recs := make([]sink.Record, total)
	for i := range recs {
		recs[i] = sink.Record{
			ID:     fmt.Sprintf("e%06d", i),
			Time:   base.Add(time.Duration(i) * time.Millisecond),
			Body:   fmt.Appendf(nil, `{"auditID":"e%06d","verb":"get","pad":"%s"}`, i, strings.Repeat("x", i%97)),
			Fields: []sink.Field{{Key: "shard", Value: fmt.Sprint(i % 3)}},
		}
	}
	final := make([]sink.Result, total)

	// Chunks of work, each a list of record indexes still to deliver.
	work := make(chan []int, total/perCall)
	for lo := 0; lo < total; lo += perCall {
		idx := make([]int, 0, perCall)
		for i := lo; i < min(lo+perCall, total); i++ {
			idx = append(idx, i)
		}
		work <- idx
	}
	var taken atomic.Int64
	var resent atomic.Int64 // records a Write reported Retryable or Pending
	outageDone := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var idx []int
				select {
				case idx = <-work:
				default:
					return
				}
				// The outage starts at the tenth chunk taken, so it always
				// falls inside the run however fast the machine is.
				if taken.Add(1) == 10 {
					srv.Outage(10 * time.Second)
					close(outageDone)
				}
				for round := 0; round < rounds && len(idx) > 0; round++ {
					batch := make([]sink.Record, len(idx))
					res := make([]sink.Result, len(idx))
					for j, i := range idx {
						batch[j] = recs[i]
					}
					_ = w.Write(context.Background(), batch, res)
					var again []int
					for j, i := range idx {
						final[i] = res[j]
						if res[j].Status == sink.Retryable || res[j].Status == sink.Pending {
							again = append(again, i)
						}
					}
					idx = again
					resent.Add(int64(len(again)))
					if len(idx) > 0 {
						time.Sleep(100 * time.Millisecond) // the front end's retry delay
					}
				}
			}
		}()
	}
	wg.Wait()
	<-outageDone

	// Every stored event appears once and belongs to a Delivered record.
	seen := make(map[string]int, total)
	for _, stream := range []string{"node-0", "node-1", "node-2"} {
		for _, ev := range srv.Events("/k8s/test/audit", stream) {
			id := ev.Message[len(`{"auditID":"`) : len(`{"auditID":"`)+7]
			seen[id]++
		}
	}
	var delivered, failed int
	for i, r := range final {
		id := recs[i].ID
		switch r.Status {
		case sink.Delivered:
			delivered++
			if seen[id] != 1 {
				t.Fatalf("%s delivered but stored %d times", id, seen[id])
			}
		case sink.Retryable, sink.Permanent, sink.Pending:
			failed++
			if seen[id] != 0 {
				t.Fatalf("%s reported %v but stored %d times", id, r.Status, seen[id])
			}
		}
		delete(seen, id)
	}
	if len(seen) != 0 {
		t.Fatalf("%d stored events belong to no record", len(seen))
	}
	if delivered+failed != total {
		t.Fatalf("delivered %d + failed %d != %d", delivered, failed, total)
	}
	ss, ws := srv.Stats(), w.Stats()
	if ws.EventsSent != int64(delivered) || ss.StoredEvents != delivered {
		t.Fatalf("writer sent %d, server stored %d, delivered %d", ws.EventsSent, ss.StoredEvents, delivered)
	}
	if ss.Throttled == 0 || ss.Unavailable == 0 || ss.Resets == 0 || ws.Retries == 0 || ws.Throttles == 0 {
		t.Fatalf("faults not exercised: server %+v writer %+v", ss, ws)
	}
	if resent.Load() == 0 {
		t.Fatal("the outage never outlasted the retry budget: the resend path was not exercised")
	}
	// With 40 resend rounds every record gets through once the outage ends.
	if delivered != total {
		t.Fatalf("only %d of %d delivered", delivered, total)
	}
	t.Logf("delivered %d; server: %d requests, %d throttled, %d unavailable, %d resets; writer: %d batches, %d retries; %d records resent",
		delivered, ss.Requests, ss.Throttled, ss.Unavailable, ss.Resets, ws.Batches, ws.Retries, resent.Load())
}
