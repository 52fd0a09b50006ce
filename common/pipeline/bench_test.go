package pipeline

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/policy"
)

// The bundled sample is the benchmark corpus; AUDITLANE_BENCH_CORPUS
// names another file of JSON lines.
const (
	corpusPath = "../../examples/data/sample-audit.log"
	policyPath = "../../examples/policies/ack-default.yaml"
)

func loadCorpus(b *testing.B) ([][]byte, int64) {
	b.Helper()
	path := corpusPath
	if p := os.Getenv("AUDITLANE_BENCH_CORPUS"); p != "" {
		path = p
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatalf("benchmark corpus: %v", err)
	}
	var lines [][]byte
	var total int64
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
			total += int64(len(l))
		}
	}
	return lines, total / int64(len(lines))
}

var sinkLevel policy.Level

// BenchmarkBaselineEncodingJSON decodes each event into the apiserver's
// full audit/v1 Event struct with encoding/json: the baseline the hot paths
// are measured against. One op is one event; the corpus is cycled.
func BenchmarkBaselineEncodingJSON(b *testing.B) {
	lines, avg := loadCorpus(b)
	b.SetBytes(avg)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		var ev auditv1.Event
		if err := json.Unmarshal(lines[i%len(lines)], &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecision is the decision path: decode the fields the policy
// needs and decide (ACK default policy).
func BenchmarkDecision(b *testing.B) {
	lines, avg := loadCorpus(b)
	p, err := policy.Load(policyPath)
	if err != nil {
		b.Fatal(err)
	}
	var ev audit.Event
	b.SetBytes(avg)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := audit.Parse(lines[i%len(lines)], &ev); err != nil {
			b.Fatal(err)
		}
		sinkLevel = p.Decide(&ev).Level
	}
}

// BenchmarkDecideApply adds applying the decision and writing the output
// event.
func BenchmarkDecideApply(b *testing.B) {
	lines, avg := loadCorpus(b)
	p, err := policy.Load(policyPath)
	if err != nil {
		b.Fatal(err)
	}
	pipe := New(Config{Policy: p})
	var s Scratch
	b.SetBytes(avg)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if r := pipe.ProcessRaw(lines[i%len(lines)], &s); r.Outcome == Rejected {
			b.Fatal(r.Err)
		}
	}
}
