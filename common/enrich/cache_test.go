package enrich

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
)

// snapshot is what a Result exposes, for comparing results computed with
// and without warm caches.
type snapshot struct {
	Fields                  map[string]string
	Annotations             string
	Identity                Identity
	Principal               Principal
	Decision, Reason        string
	RBAC                    RBACReason
	HasRBAC                 bool
	UA                      UserAgent
	SourceIPs               []SourceIP
	Tags                    []string
	Severity                Severity
	Resource, UserAgentOrig string
}

func snap(r *Result) snapshot {
	ann, _ := r.AppendAnnotationsJSON(nil, false)
	return snapshot{
		Fields: attrs(r), Annotations: string(ann), Identity: r.Identity, Principal: r.Principal,
		Decision: r.Decision, Reason: r.Reason, RBAC: r.RBAC, HasRBAC: r.HasRBAC, UA: r.UA,
		SourceIPs: append([]SourceIP(nil), r.SourceIPs...), Tags: append([]string(nil), r.Tags...),
		Severity: r.Severity, Resource: r.Resource, UserAgentOrig: r.UserAgent,
	}
}

// TestCachesKeepResults enriches every fixture event with a fresh Result
// (cold caches) and then, three times over in changing orders, with one
// shared Result (warm caches, hits, evictions); every result must be the
// same.
func TestCachesKeepResults(t *testing.T) {
	var evs []*audit.Event
	for _, pat := range []string{"falco-k8s-audit/*.json", "audit2rbac/*.log", "seeds/*.jsonl"} {
		files, _ := filepath.Glob(filepath.Join("testdata", pat))
		for _, f := range files {
			if filepath.Base(f) == "fal_01_003.json" { // not an event (kind is a number)
				continue
			}
			rel, _ := filepath.Rel("testdata", f)
			evs = append(evs, loadEvents(t, rel)...)
		}
	}
	// Variants that differ from a cached value in one byte, and with the
	// reason escaped differently, must not hit each other's entries.
	evs = append(evs,
		variant(t, "seeds/eks-blog.jsonl", `"system:authenticated"]`, `"system:authenticated"],"extra":{"arn":["arn:aws:iam::1:user/a"]}`),
		variant(t, "seeds/eks-blog.jsonl", `"system:authenticated"]`, `"system:authenticated"],"extra":{"arN":["arn:aws:iam::1:user/a"]}`),
		variant(t, "seeds/eks-blog.jsonl", `"system:authenticated"]`, `"system:authenticated"],"extra":{"arn":["arn:aws:iam::2:user/a"]}`),
		variant(t, "seeds/eks-blog.jsonl", `ClusterRoleBinding`, `ClusterRoleBindinG`),
	)
	if len(evs) < 50 {
		t.Fatalf("only %d fixture events", len(evs))
	}
	for _, cfg := range []Config{DefaultConfig(), {Authz: true, Identity: true}, {Request: true, Network: true, Provider: ProviderACK}} {
		want := make([]snapshot, len(evs))
		for i, ev := range evs {
			var r Result
			mustNew(t, cfg).Enrich(ev, &r)
			want[i] = snap(&r)
		}
		var shared Result
		e := mustNew(t, cfg)
		for round := 0; round < 3; round++ {
			for k := range evs {
				i := (k*7 + round*13) % len(evs)
				if round == 1 {
					i = len(evs) - 1 - k
				}
				e.Enrich(evs[i], &shared)
				got := snap(&shared)
				if cfg.Provider == ProviderAuto {
					// Detection carries over from earlier events by design.
					got.Fields, want[i].Fields = nil, nil
					got.Annotations, want[i].Annotations = "", ""
				}
				if !reflect.DeepEqual(got, want[i]) {
					t.Fatalf("config %+v round %d event %d (%s): warm result differs\n got %+v\nwant %+v", cfg, round, i,
						strings.TrimSpace(string(evs[i].Raw[:min(80, len(evs[i].Raw))])), got, want[i])
				}
			}
		}
	}
}
