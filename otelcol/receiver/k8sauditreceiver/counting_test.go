package k8sauditreceiver

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/auditlane/auditlane/otelcol/internal/audittest"
	"github.com/auditlane/auditlane/otelcol/receiver/k8sauditreceiver/internal/metadata"
)

// flaky refuses (retryably) every call while refuse is positive.
type flaky struct {
	refuse   atomic.Int64
	accepted atomic.Int64
}

func (f *flaky) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }
func (f *flaky) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	if f.refuse.Add(-1) >= 0 {
		return errors.New("pipeline busy")
	}
	f.accepted.Add(int64(ld.LogRecordCount()))
	return nil
}

// TestWebhookCountsEventsOnceAcrossResends posts EventLists the way the
// apiserver's webhook backend does — the same batch again after a 503 —
// while the next consumer refuses the first calls, and checks the
// receiver's counters: every event counted once (in = kept = events), the
// refused attempts counted as retried.
func TestWebhookCountsEventsOnceAcrossResends(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	cfg := webhookConfig(t, nil)
	cfg.Webhook.RetryAfter = time.Millisecond
	next := &flaky{}
	next.refuse.Store(7)
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, "hook")
	set.TelemetrySettings = tel.NewTelemetrySettings()
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	url := "http://" + cfg.Webhook.NetAddr.Endpoint + "/"
	const batches, per = 20, 100
	posts := 0
	now := time.Now()
	for b := 0; b < batches; b++ {
		for {
			posts++
			resp, body := post(t, http.DefaultClient, url, audittest.EventList(b*per, per, now), false)
			if resp.StatusCode == http.StatusOK {
				break
			}
			if resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("batch %d: %d %s", b, resp.StatusCode, body)
			}
		}
	}
	if posts <= batches {
		t.Fatalf("the consumer never refused (%d posts)", posts)
	}
	in := audittest.Sum(tel, "auditlane.events.in", "", "")
	kept := audittest.Sum(tel, "auditlane.events.kept", "", "")
	retried := audittest.Sum(tel, "auditlane.events.retried", "", "")
	t.Logf("%d posts for %d batches: in=%d kept=%d retried=%d accepted=%d", posts, batches, in, kept, retried, next.accepted.Load())
	if in != batches*per || kept != batches*per || next.accepted.Load() != batches*per {
		t.Errorf("in=%d kept=%d accepted=%d, want %d each: events counted per attempt", in, kept, next.accepted.Load(), batches*per)
	}
	if retried != int64(posts-batches)*per {
		t.Errorf("retried=%d, want %d", retried, (posts-batches)*per)
	}
	if c := audittest.Sum(tel, "auditlane.events.in", "component", "k8saudit/hook"); c != in {
		t.Errorf("series not labelled with the component id: %d", c)
	}
}
