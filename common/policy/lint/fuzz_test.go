package lint

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/auditlane/auditlane/common/policy"
)

// FuzzCheck: any policy the loader accepts can be linted without a panic,
// and findings carry a known code, a severity and a rule index in range
// (TestShadowedNeverDecides checks shadowing against random requests).
func FuzzCheck(f *testing.F) {
	for _, p := range []string{"ack-default.yaml", "eks.yaml", "cost-saving.yaml"} {
		if b, err := os.ReadFile(filepath.Join(examples, p)); err == nil {
			f.Add(b)
		}
	}
	for _, p := range []string{"testdata/everything-wrong.yaml", "testdata/clean.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  nonResourceURLs: [\"*\"]\n- level: Metadata\n  resources: [{group: \"*\", resources: [\"*/*\"]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := policy.Parse("fuzz", data)
		if err != nil {
			return
		}
		codes := map[string]bool{}
		for _, c := range Codes {
			codes[c[0]] = true
		}
		for _, fd := range Check(p).Findings() {
			if !codes[fd.Code] || fd.Severity.rank() > 2 || fd.Rule < -1 || fd.Rule >= p.Rules() || fd.Message == "" {
				t.Fatalf("finding %+v", fd)
			}
		}
	})
}
