package enrich

import (
	"path/filepath"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/internal/cputime"
)

func benchCorpus(b *testing.B) []*audit.Event {
	var evs []*audit.Event
	for _, pat := range []string{"falco-k8s-audit/*.json", "audit2rbac/*.log", "seeds/*.jsonl"} {
		files, _ := filepath.Glob(filepath.Join("testdata", pat))
		for _, f := range files {
			if filepath.Base(f) == "fal_01_003.json" {
				continue
			}
			rel, _ := filepath.Rel("testdata", f)
			evs = append(evs, loadEvents(b, rel)...)
		}
	}
	return evs
}

// BenchmarkEnrich derives every field and evaluates every rule for each
// corpus event in turn (one op = one event).
func BenchmarkEnrich(b *testing.B) {
	evs := benchCorpus(b)
	e := mustNew(b, DefaultConfig())
	var r Result
	b.ReportAllocs()
	cpu := cputime.Start(b)
	for i := 0; i < b.N; i++ {
		e.Enrich(evs[i%len(evs)], &r)
	}
	cpu.Report(b)
}

// BenchmarkEnrichReadBySystem is the common path: a list by a control-plane
// identity (no body is parsed, no rule matches).
func BenchmarkEnrichReadBySystem(b *testing.B) {
	ev := loadEvents(b, "seeds/eks-blog.jsonl")[0]
	e := mustNew(b, DefaultConfig())
	var r Result
	b.ReportAllocs()
	cpu := cputime.Start(b)
	for i := 0; i < b.N; i++ {
		e.Enrich(ev, &r)
	}
	cpu.Report(b)
}

// BenchmarkAttributes builds the flat attribute map as sink fields.
func BenchmarkAttributes(b *testing.B) {
	ev := loadEvents(b, "seeds/eks-blog.jsonl")[3]
	e := mustNew(b, DefaultConfig())
	var r Result
	e.Enrich(ev, &r)
	fields := r.AppendFields(nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fields = r.AppendFields(fields[:0])
	}
}
