package k8sauditprocessor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
	"github.com/auditlane/auditlane/otelcol/internal/audittest"
	"github.com/auditlane/auditlane/otelcol/processor/k8sauditprocessor/internal/metadata"
)

// refusing fails the first calls with a retryable error.
type refusing struct {
	refuse int
	got    []plog.Logs
}

func (r *refusing) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}
func (r *refusing) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	if r.refuse > 0 {
		r.refuse--
		return errors.New("busy")
	}
	r.got = append(r.got, ld)
	return nil
}

// TestEventListBodySplitAndCountedOnce gives the processor an EventList as
// one log body: each event becomes its own record (its own audit ID and
// time, decided by the policy on its own: the list is not kept whole); and
// when the next consumer refuses the batch (retryably) and the same body
// comes again, each event is counted once.
func TestEventListBodySplitAndCountedOnce(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := processortest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, "lists")
	set.TelemetrySettings = tel.NewTelemetrySettings()
	next := &refusing{refuse: 2}
	// The policy drops get: events 0..9 of audittest alternate verbs.
	cfg := &Config{Pipeline: auditotel.PipelineConfig{"policy_file": writePolicy(t, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  verbs: [get]\n- level: Metadata\n")}}
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	now := time.Now()
	body := audittest.EventList(0, 10, now)
	attempts := 0
	for {
		ld := plog.NewLogs()
		lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.Body().SetStr(body)
		lr.Attributes().PutStr("origin", "webhook")
		attempts++
		err := p.ConsumeLogs(context.Background(), ld)
		if err == nil {
			break
		}
		if consumererror.IsPermanent(err) || attempts > 5 {
			t.Fatal(err)
		}
	}
	recs := records(next.got)
	gets := strings.Count(body, `"verb":"get"`)
	if len(recs) != 10-gets || gets == 0 {
		t.Fatalf("%d records for 10 events (%d gets dropped)", len(recs), gets)
	}
	for _, lr := range recs {
		id, _ := lr.Attributes().Get(auditotel.AttrAuditID)
		origin, _ := lr.Attributes().Get("origin")
		if id.Str() == "" || lr.Timestamp() == 0 || origin.Str() != "webhook" || strings.Contains(lr.Body().Str(), "EventList") {
			t.Errorf("record is not one event with its ID, time and the record's attributes: %v %v %q", id, lr.Timestamp(), lr.Body().Str()[:80])
		}
	}
	if in := audittest.Sum(tel, "auditlane.events.in", "", ""); in != 10 {
		t.Errorf("in = %d after %d attempts, want 10", in, attempts)
	}
	if r := audittest.Sum(tel, "auditlane.events.retried", "", ""); r != 20 {
		t.Errorf("retried = %d, want 20 (2 refused attempts of 10)", r)
	}
}

func writePolicy(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
