package shape

import (
	"encoding/json"
	"os"
	"testing"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/enrich"
	"github.com/auditlane/auditlane/common/policy"
	"github.com/auditlane/auditlane/internal/cputime"
)

// corpus returns the raw bytes of every bundled fixture event (Falco,
// audit2rbac, EKS seed).
func corpus(b *testing.B) (raws [][]byte, total int64) {
	for _, ev := range allEvents(b) {
		raws = append(raws, append([]byte(nil), ev.Raw...))
		total += int64(len(ev.Raw))
	}
	return raws, total
}

func loadPolicy(b testing.TB) *policy.Policy {
	data, err := os.ReadFile("testdata/ack-policy.yaml")
	if err != nil {
		b.Fatal(err)
	}
	p, err := policy.Parse("ack-policy.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkBaselineEncodingJSON decodes each corpus event into the
// apiserver's own audit/v1 Event struct with encoding/json: the baseline
// the full path is measured against.
func BenchmarkBaselineEncodingJSON(b *testing.B) {
	raws, total := corpus(b)
	b.SetBytes(total / int64(len(raws)))
	b.ReportAllocs()
	cpu := cputime.Start(b)
	for i := 0; i < b.N; i++ {
		var ev auditv1.Event
		if err := json.Unmarshal(raws[i%len(raws)], &ev); err != nil {
			b.Fatal(err)
		}
	}
	cpu.Report(b)
}

// BenchmarkStages measures the path's prefixes on the same corpus, to see
// where the time goes: decode alone; decode, decide, apply and write.
func BenchmarkStages(b *testing.B) {
	raws, total := corpus(b)
	pol := loadPolicy(b)
	var (
		ev  audit.Event
		w   audit.Rewrite
		buf []byte
	)
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(total / int64(len(raws)))
		b.ReportAllocs()
		cpu := cputime.Start(b)
		for i := 0; i < b.N; i++ {
			if err := audit.Parse(raws[i%len(raws)], &ev); err != nil {
				b.Fatal(err)
			}
		}
		cpu.Report(b)
	})
	b.Run("decode+policy+write", func(b *testing.B) {
		b.SetBytes(total / int64(len(raws)))
		b.ReportAllocs()
		cpu := cputime.Start(b)
		for i := 0; i < b.N; i++ {
			if err := audit.Parse(raws[i%len(raws)], &ev); err != nil {
				b.Fatal(err)
			}
			w.Reset()
			if policy.Apply(&ev, pol.Decide(&ev), &w) {
				buf = w.AppendTo(buf[:0], &ev)
			}
		}
		cpu.Report(b)
	})
}

// BenchmarkFullPath runs decode → decide → apply → enrich → shape (compact
// JSON with auditlane.io annotations, secret and query redaction, a 256 KiB
// limit) on each corpus event. One op is one event.
func BenchmarkFullPath(b *testing.B) {
	for _, layout := range []Layout{LayoutJSON, LayoutSLS} {
		b.Run(string(layout), func(b *testing.B) {
			raws, total := corpus(b)
			pol := loadPolicy(b)
			en, err := enrich.New(enrich.DefaultConfig())
			if err != nil {
				b.Fatal(err)
			}
			sh, err := New(Config{MaxEventSize: 256 << 10, RedactSecrets: true, RedactQueryTokens: true, Layout: layout})
			if err != nil {
				b.Fatal(err)
			}
			var (
				ev  audit.Event
				w   audit.Rewrite
				res enrich.Result
				out Output
			)
			b.SetBytes(total / int64(len(raws)))
			b.ReportAllocs()
			cpu := cputime.Start(b)
			for i := 0; i < b.N; i++ {
				if err := audit.Parse(raws[i%len(raws)], &ev); err != nil {
					b.Fatal(err)
				}
				d := pol.Decide(&ev)
				w.Reset()
				if !policy.Apply(&ev, d, &w) {
					continue
				}
				en.Enrich(&ev, &res)
				if err := sh.Shape(&ev, &w, &res, &out); err != nil {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
	}
}

// TestFullPathKeepsEveryEvent checks the benchmark's path end to end: every
// corpus event is either dropped by the policy or shaped into a valid
// event, none is lost.
func TestFullPathKeepsEveryEvent(t *testing.T) {
	pol := loadPolicy(t)
	en, err := enrich.New(enrich.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	sh := newShaper(t, Config{MaxEventSize: 256 << 10, RedactSecrets: true, RedactQueryTokens: true})
	var (
		w        audit.Rewrite
		res      enrich.Result
		out      Output
		kept, dr int
	)
	evs := allEvents(t)
	for _, ev := range evs {
		d := pol.Decide(ev)
		w.Reset()
		if !policy.Apply(ev, d, &w) {
			dr++
			continue
		}
		en.Enrich(ev, &res)
		if err := sh.Shape(ev, &w, &res, &out); err != nil {
			t.Fatal(err)
		}
		var back audit.Event
		if err := audit.Parse(out.Body, &back); err != nil {
			t.Fatalf("%s: %v", ev.AuditID, err)
		}
		if back.AuditID != ev.AuditID || back.Level != d.Level.String() && back.Level != ev.Level {
			t.Fatalf("%s: level %s, decision %s", ev.AuditID, back.Level, d.Level)
		}
		kept++
	}
	if kept+dr != len(evs) || kept == 0 || sh.Stats().Events != int64(kept) {
		t.Fatalf("kept %d dropped %d of %d, stats %+v", kept, dr, len(evs), sh.Stats())
	}
}
