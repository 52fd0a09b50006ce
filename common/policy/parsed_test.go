package policy

import (
	"encoding/json"
	"testing"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/auditlane/auditlane/common/audit"
)

// TestDecideParsedEvents decides the fixture events decoded by audit.Parse
// and checks the decisions equal those on the same events decoded with
// encoding/json: the decoder's view carries what the policy needs.
func TestDecideParsedEvents(t *testing.T) {
	pols, _ := decideInputs(t)
	lines := fixtureLines(t)
	jsonEvents := fixtureEvents(t)
	var ev audit.Event
	for name, p := range pols {
		for i, line := range lines {
			if err := audit.Parse(line, &ev); err != nil {
				t.Fatalf("audit.Parse(%s): %v", line, err)
			}
			if got, want := p.Decide(&ev), p.Decide(jsonEvents[i]); got != want {
				t.Errorf("%s: event %d (%s): parsed %+v, encoding/json %+v", name, i, describeEvent(jsonEvents[i]), got, want)
			}
		}
	}
}

// BenchmarkParseDecide is the decision path: audit.Parse into a reused
// Event, then Decide (ACK policy), over the fixture events. Compare its
// MB/s with BenchmarkEncodingJSONBaseline.
func BenchmarkParseDecide(b *testing.B) {
	p := mustLoad(b, "ack-v1beta1.yaml")
	lines := fixtureLines(b)
	b.ReportAllocs()
	b.SetBytes(int64(averageEventSize(b)))
	var ev audit.Event
	i := 0
	for b.Loop() {
		if err := audit.Parse(lines[i], &ev); err != nil {
			b.Fatal(err)
		}
		_ = p.Decide(&ev)
		if i++; i == len(lines) {
			i = 0
		}
	}
}

// BenchmarkEncodingJSONFullEvent decodes the fixture events with
// encoding/json into the apiserver's own audit.k8s.io/v1 Event type: what
// a straightforward implementation would do.
func BenchmarkEncodingJSONFullEvent(b *testing.B) {
	lines := fixtureLines(b)
	b.ReportAllocs()
	b.SetBytes(int64(averageEventSize(b)))
	i := 0
	for b.Loop() {
		var ev auditv1.Event
		if err := json.Unmarshal(lines[i], &ev); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(lines) {
			i = 0
		}
	}
}
