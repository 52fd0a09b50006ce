package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	refaudit "k8s.io/apiserver/pkg/audit"
	refpolicy "k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

var legacyVersion = regexp.MustCompile(`(?m)^apiVersion:\s*audit\.k8s\.io/v1(alpha|beta)1\b`)

// refEvent is what the reference needs from an event, decoded with
// encoding/json independently of common/audit.
type refEvent struct {
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"user"`
	ObjectRef *struct {
		Resource, Namespace, Name, APIGroup, APIVersion, Subresource string
	} `json:"objectRef"`
}

func (e *refEvent) attributes() authorizer.AttributesRecord {
	path, _, _ := strings.Cut(e.RequestURI, "?")
	a := authorizer.AttributesRecord{
		User: &user.DefaultInfo{Name: e.User.Username, Groups: e.User.Groups},
		Verb: e.Verb, Path: path, ResourceRequest: e.ObjectRef != nil,
	}
	if o := e.ObjectRef; o != nil {
		a.Namespace, a.Name, a.Resource, a.Subresource, a.APIGroup = o.Namespace, o.Name, o.Resource, o.Subresource, o.APIGroup
		if g, _, ok := strings.Cut(o.APIVersion, "/"); ok && o.APIGroup == "" {
			a.APIGroup = g // v1alpha1 objectRef.apiVersion "group/version"
		}
	}
	return a
}

// TestEvalAgreesWithAPIServer runs `auditlane policy eval` on the bundled
// sample under each example policy and checks every decision against
// k8s.io/apiserver's loader and evaluator: level, omitStages,
// omitManagedFields, dropped and the index of the first matching rule.
func TestEvalAgreesWithAPIServer(t *testing.T) {
	sample := "../../examples/data/sample-audit.log"
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	var events []refEvent
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var e refEvent
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	policies, _ := filepath.Glob("../../examples/policies/*.yaml")
	policies = append(policies, "../../examples/data/recorded-policy.yaml")
	if len(policies) < 4 {
		t.Fatalf("policies: %v", policies)
	}
	for _, path := range policies {
		t.Run(filepath.Base(path), func(t *testing.T) {
			doc, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// The apiserver no longer registers v1beta1/v1alpha1 (removed in
			// 1.24); the rule schema is the same, so the reference reads the
			// legacy documents as v1.
			refDoc := legacyVersion.ReplaceAll(doc, []byte("apiVersion: audit.k8s.io/v1"))
			pol, err := refpolicy.LoadPolicyFromBytes(refDoc)
			if err != nil {
				t.Fatalf("reference loader: %v", err)
			}
			eval := refpolicy.NewPolicyRuleEvaluator(pol)
			single := make([]refaudit.PolicyRuleEvaluator, len(pol.Rules))
			for i := range pol.Rules {
				r := pol.Rules[i].DeepCopy()
				r.Level = auditinternal.LevelMetadata
				single[i] = refpolicy.NewPolicyRuleEvaluator(&auditinternal.Policy{Rules: []auditinternal.PolicyRule{*r}})
			}
			var stdout, stderr bytes.Buffer
			if err := run([]string{"policy", "eval", "--policy", path, sample}, nil, &stdout, &stderr); err != nil {
				t.Fatalf("eval: %v %s", err, &stderr)
			}
			sc := bufio.NewScanner(&stdout)
			sc.Buffer(nil, 1<<20)
			n, levels := 0, map[string]int{}
			for ; sc.Scan(); n++ {
				var got struct {
					AuditID           string   `json:"auditID"`
					Level             string   `json:"level"`
					OmitStages        []string `json:"omitStages"`
					OmitManagedFields bool     `json:"omitManagedFields"`
					Dropped           bool     `json:"dropped"`
					Rule              int      `json:"rule"`
				}
				if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
					t.Fatalf("line %d: %v", n+1, err)
				}
				e := &events[n]
				a := e.attributes()
				rc := eval.EvaluatePolicyRule(a)
				wantStages := []string{}
				for _, s := range rc.OmitStages {
					wantStages = append(wantStages, string(s))
				}
				slices.Sort(wantStages)
				wantRule := -1
				for i, s := range single {
					if s.EvaluatePolicyRule(a).Level != auditinternal.LevelNone {
						wantRule = i
						break
					}
				}
				wantDropped := rc.Level == auditinternal.LevelNone || slices.Contains(wantStages, e.Stage)
				if got.AuditID != e.AuditID || got.Level != string(rc.Level) || !reflect.DeepEqual(got.OmitStages, wantStages) ||
					got.OmitManagedFields != rc.OmitManagedFields || got.Dropped != wantDropped || got.Rule != wantRule {
					t.Errorf("event %d (%s %s %s): got %+v, reference level=%s omitStages=%v omitManagedFields=%v dropped=%v rule=%d",
						n+1, e.User.Username, e.Verb, e.RequestURI, got, rc.Level, wantStages, rc.OmitManagedFields, wantDropped, wantRule)
				}
				levels[got.Level]++
			}
			if n != len(events) {
				t.Fatalf("eval printed %d decisions for %d events", n, len(events))
			}
			t.Logf("%d events agree: %v", n, levels)
		})
	}
}
