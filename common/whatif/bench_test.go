package whatif

import (
	"io"
	"os"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/pipeline"
)

func sampleEvents(b *testing.B) []*audit.Event {
	b.Helper()
	f, err := os.Open("../../examples/data/sample-audit.log")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	d := audit.NewDecoder(f)
	var evs []*audit.Event
	for {
		ev, err := d.Next()
		if err == io.EOF {
			return evs
		}
		if err != nil {
			b.Fatal(err)
		}
		evs = append(evs, ev.Clone())
	}
}

// BenchmarkWhatIf compares, in one run, the pipeline alone (what a front
// end does per event) with the what-if engine (the pipeline, a second
// enrichment with every part on, and the accounting), per event of the
// bundled sample with the cost-saving policy.
func BenchmarkWhatIf(b *testing.B) {
	evs := sampleEvents(b)
	set := pipeline.DefaultSettings()
	set.Set("policy_file", "../../examples/policies/cost-saving.yaml")
	b.Run("pipeline", func(b *testing.B) {
		p, _, err := set.Build()
		if err != nil {
			b.Fatal(err)
		}
		var s pipeline.Scratch
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			p.Eval(evs[i%len(evs)], &s)
		}
	})
	b.Run("engine", func(b *testing.B) {
		e, err := New(Options{Settings: set})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			e.Add(evs[i%len(evs)])
		}
	})
}
