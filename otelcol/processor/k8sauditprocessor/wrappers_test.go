package k8sauditprocessor

import (
	"context"
	"encoding/json"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditlane/auditlane/common/provider/providertest"
	"github.com/auditlane/auditlane/otelcol/internal/audittest"
)

// TestProviderWrappers: every provider export wrapper in a log body comes
// out as one record per event with the provider's metadata; records that
// are not audit events are counted as skipped, not rejected.
func TestProviderWrappers(t *testing.T) {
	samples, err := providertest.Samples()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		t.Run(s.Name, func(t *testing.T) {
			p, sink, tel := newProcessor(t, nil)
			ld := plog.NewLogs()
			ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(string(s.Body))
			if err := p.ConsumeLogs(context.Background(), ld); err != nil {
				t.Fatal(err)
			}
			recs := records(sink.AllLogs())
			if len(recs) != s.Events {
				t.Fatalf("%d records, want %d", len(recs), s.Events)
			}
			for _, r := range recs {
				var ev struct {
					Annotations map[string]string `json:"annotations"`
				}
				if err := json.Unmarshal([]byte(r.Body().Str()), &ev); err != nil {
					t.Fatal(err)
				}
				if ev.Annotations["auditlane.io/format"] == "" || s.Provider != "" && ev.Annotations["auditlane.io/provider"] != s.Provider {
					t.Errorf("metadata lost: %v", ev.Annotations)
				}
			}
			if n := max(audittest.Sum(tel, "auditlane.events.rejected", "", ""), 0); n != 0 {
				t.Errorf("rejected %d", n)
			}
			if n := max(audittest.Sum(tel, "auditlane.events.skipped", "", ""), 0); n != int64(s.NotAudit) {
				t.Errorf("skipped %d, want %d", n, s.NotAudit)
			}
		})
	}
}
