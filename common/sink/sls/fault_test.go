package sls

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
)

// TestFaultSoak sends 100,000 events while the server throttles, fails or
// resets 30% of requests and goes down completely for 10 seconds. Like a
// front end, the test resends what the writer hands back. In the end every
// event is stored exactly once, every Write result is accounted for, and
// the counters agree with the server.
func TestFaultSoak(t *testing.T) {
	const (
		total   = 100_000
		perCall = 2_000
		workers = 4
		rounds  = 20
	)
	srv := startServer(t, func(o *slstest.Options) {
		o.StoreKeys = []string{"auditID"}
		o.Faults = slstest.Faults{ThrottleRate: 0.12, ErrorRate: 0.12, ResetRate: 0.06, Seed: 42}
	})
	w := newTestWriter(t, srv, func(c *Config) {
		c.MaxBatchLogs = 1000
		c.RetryInitial = 20 * time.Millisecond
		c.RetryMax = 500 * time.Millisecond
		// Shorter than the outage: writes during the outage hand their
		// records back as Retryable and the test resends them.
		c.RetryMaxElapsed = 3 * time.Second
	})
	// Small events: the soak is about accounting, and -race on two cores
	// makes per-field work expensive.
	recs := make([]sink.Record, total)
	for i := range recs {
		id := fmt.Sprintf("id-%07d", i)
		recs[i] = sink.Record{ID: id, Body: []byte(`{"auditID":"` + id + `","verb":"get"}`)}
	}

	var (
		mu        sync.Mutex
		delivered = make([]int, total) // Delivered reports per record
		handed    int                  // Retryable/Pending reports
	)
	pending := make([]int, total)
	for i := range pending {
		pending[i] = i
	}
	start := time.Now()
	// The outage starts at the middle Write call of the first round, so it
	// always falls inside the run however fast the machine is.
	var calls atomic.Int64
	outageCall := int64(total / perCall / 2)
	for round := 0; round < rounds && len(pending) > 0; round++ {
		var next []int
		jobs := make(chan []int)
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for idx := range jobs {
					if calls.Add(1) == outageCall {
						srv.Outage(10 * time.Second)
					}
					batch := make([]sink.Record, len(idx))
					for j, i := range idx {
						batch[j] = recs[i]
					}
					res := make([]sink.Result, len(batch))
					w.Write(context.Background(), batch, res)
					mu.Lock()
					for j, r := range res {
						switch r.Status {
						case sink.Delivered:
							delivered[idx[j]]++
						case sink.Retryable, sink.Pending:
							handed++
							next = append(next, idx[j])
						default:
							t.Errorf("record %s: permanent %s: %v", batch[j].ID, r.Reason, r.Err)
						}
					}
					mu.Unlock()
				}
			}()
		}
		for i := 0; i < len(pending); i += perCall {
			jobs <- pending[i:min(i+perCall, len(pending))]
		}
		close(jobs)
		wg.Wait()
		pending = next
	}
	elapsed := time.Since(start)
	if len(pending) > 0 {
		t.Fatalf("%d records still undelivered after %d rounds", len(pending), rounds)
	}

	stored := map[string]int{}
	for _, l := range srv.Logs(testProject, testLogstore) {
		id, _ := l.Get("auditID")
		stored[id]++
	}
	for i, r := range recs {
		if delivered[i] != 1 {
			t.Fatalf("record %s reported delivered %d times", r.ID, delivered[i])
		}
		if stored[r.ID] != 1 {
			t.Fatalf("record %s stored %d times", r.ID, stored[r.ID])
		}
	}
	if len(stored) != total {
		t.Fatalf("server holds %d distinct ids, want %d", len(stored), total)
	}
	ws, ss := w.Stats(), srv.Stats()
	if ws.EventsSent != total || ss.LogsStored != total {
		t.Errorf("writer sent %d, server stored %d, want %d", ws.EventsSent, ss.LogsStored, total)
	}
	if ws.Batches != ss.Accepted {
		t.Errorf("writer batches %d != server accepted requests %d", ws.Batches, ss.Accepted)
	}
	if ws.Throttles == 0 || ws.Retries == 0 || ss.Resets == 0 || ss.Errors["ServerBusy"] == 0 || handed == 0 {
		t.Errorf("faults not exercised: writer %+v server %+v handed back %d", ws, ss, handed)
	}
	t.Logf("100k events in %v: %d requests, %d accepted, %d resets, errors %v; writer retries %d, throttles %d, handed back %d",
		elapsed.Round(time.Millisecond), ss.Requests, ss.Accepted, ss.Resets, ss.Errors, ws.Retries, ws.Throttles, handed)
}
