package policy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the loader: it must never panic, every
// error must be a *Error naming the input, and every accepted policy must
// decide the fixture events without panicking. An accepted audit.k8s.io/v1
// policy must also be accepted by the apiserver's loader (which is more
// lenient: it only warns about unknown and duplicate fields) and decide the
// same way.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("testdata/*.json")
	bad, _ := filepath.Glob("testdata/bad/*")
	for _, name := range append(append(seeds, more...), bad...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"apiVersion":"audit.k8s.io/v1","kind":"Policy","rules":[{"level":"None","resources":[{"group":"*","resources":["*/status","pods/*"]}]}]}`))
	f.Add([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- &r {level: None}\n- <<: *r\n  level: Request\n"))
	events := fixtureEvents(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *Error: %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), "policy fuzz.yaml: ") {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		if p.Rules() == 0 {
			t.Fatal("accepted a policy without rules")
		}
		for i := -1; i < p.Rules(); i++ {
			if p.RuleSummary(i) == "" {
				t.Fatalf("empty summary for rule %d", i)
			}
		}
		for _, ev := range events {
			d := p.Decide(ev)
			if d.Rule < -1 || d.Rule >= p.Rules() {
				t.Fatalf("rule %d out of range", d.Rule)
			}
		}
		if p.APIVersion() != APIVersionV1 || bytes.Contains(data, []byte("<<")) {
			// The apiserver reads only v1; merge keys overriding keys are
			// duplicates to its strict decoder and its lenient fallback
			// decodes them differently in corner cases.
			return
		}
		ref, err := newReference(data)
		if err != nil {
			t.Fatalf("we accept, the apiserver rejects: %v\n%s", err, data)
		}
		for _, ev := range events {
			want := evaluate(ref.eval, attributesOf(ev))
			got := p.Decide(ev)
			if got.Level.String() != want.level || got.OmitManagedFields != want.omitMF {
				t.Fatalf("%s: ours %+v, apiserver %+v\n%s", describeEvent(ev), got, want, data)
			}
		}
	})
}
