package pipeline

import (
	"encoding/json"
	"testing"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/policy"
	"github.com/auditlane/auditlane/internal/corpus"
	"github.com/auditlane/auditlane/internal/cputime"
)

// policyPath is the policy the decision benchmarks apply.
const policyPath = "../../examples/policies/ack-default.yaml"

var sinkLevel policy.Level

// BenchmarkBaselineEncodingJSON decodes each event into the apiserver's
// full audit/v1 Event struct with encoding/json: the baseline the hot paths
// are measured against. One op is one event; the corpus is cycled.
func BenchmarkBaselineEncodingJSON(b *testing.B) {
	lines, avg := corpus.Lines(b)
	b.SetBytes(avg)
	b.ReportAllocs()
	cpu := cputime.Start(b)
	for i := 0; b.Loop(); i++ {
		var ev auditv1.Event
		if err := json.Unmarshal(lines[i%len(lines)], &ev); err != nil {
			b.Fatal(err)
		}
	}
	cpu.Report(b)
}

// BenchmarkDecision is the decision path: decode the fields the policy
// needs and decide (ACK default policy).
func BenchmarkDecision(b *testing.B) {
	lines, avg := corpus.Lines(b)
	p, err := policy.Load(policyPath)
	if err != nil {
		b.Fatal(err)
	}
	var ev audit.Event
	b.SetBytes(avg)
	b.ReportAllocs()
	cpu := cputime.Start(b)
	for i := 0; b.Loop(); i++ {
		if err := audit.Parse(lines[i%len(lines)], &ev); err != nil {
			b.Fatal(err)
		}
		sinkLevel = p.Decide(&ev).Level
	}
	cpu.Report(b)
}

// BenchmarkDecideApply adds applying the decision and writing the output
// event.
func BenchmarkDecideApply(b *testing.B) {
	lines, avg := corpus.Lines(b)
	p, err := policy.Load(policyPath)
	if err != nil {
		b.Fatal(err)
	}
	pipe := New(Config{Policy: p})
	var s Scratch
	b.SetBytes(avg)
	b.ReportAllocs()
	cpu := cputime.Start(b)
	for i := 0; b.Loop(); i++ {
		if r := pipe.ProcessRaw(lines[i%len(lines)], &s); r.Outcome == Rejected {
			b.Fatal(r.Err)
		}
	}
	cpu.Report(b)
}

// BenchmarkFullPath is the whole flow as the front ends run it, from the
// default Settings: decode, decide (ACK default policy), apply, enrich
// (every part on, annotations in the event) and shape (compact JSON with a
// 1 MiB limit, secret and query-token redaction), and, for the sls
// sub-benchmark, ACK's key/value layout.
func BenchmarkFullPath(b *testing.B) {
	lines, avg := corpus.Lines(b)
	for _, layout := range []string{"json", "sls"} {
		b.Run(layout, func(b *testing.B) {
			s := DefaultSettings()
			s.PolicyFile = policyPath
			for k, v := range map[string]string{"layout": layout, "max_event_size": "1M", "redact_secrets": "on", "redact_query_tokens": "on", "cluster_name": "bench"} {
				if err := s.Set(k, v); err != nil {
					b.Fatal(err)
				}
			}
			pipe, _, err := s.Build()
			if err != nil {
				b.Fatal(err)
			}
			var sc Scratch
			b.SetBytes(avg)
			b.ReportAllocs()
			cpu := cputime.Start(b)
			for i := 0; b.Loop(); i++ {
				if r := pipe.ProcessRaw(lines[i%len(lines)], &sc); r.Outcome == Rejected {
					b.Fatal(r.Err)
				}
			}
			cpu.Report(b)
		})
	}
}
