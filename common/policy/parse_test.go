package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadFixtures(t *testing.T) {
	tests := []struct {
		file       string
		apiVersion string
		rules      int
		omit       Stages
		omitMF     bool
		// summaries of selected rules
		summaries map[int]string
	}{
		{"ack-v1beta1.yaml", APIVersionV1beta1, 12, StageRequestReceived, false, map[int]string{
			0:  `#0 None users=[system:kube-proxy] verbs=[watch] resources=[""/endpoints,services]`,
			6:  `#6 None nonResourceURLs=[/healthz*,/version,/swagger*]`,
			8:  `#8 Metadata resources=[""/secrets,configmaps authentication.k8s.io/tokenreviews]`,
			11: `#11 Metadata`,
		}},
		{"audit2rbac-demo-policy.yaml", APIVersionV1, 1, 0, false, map[int]string{
			0: `#0 Metadata users=[system:admin,alice,bob,system:serviceaccount:ns1:sa1] omitStages=[Panic,RequestReceived,ResponseStarted]`,
		}},
		{"gce-v1.yaml", APIVersionV1, 17, 0, false, map[int]string{
			10: `#10 Request users=[kubelet,system:node-problem-detector,system:serviceaccount:kube-system:node-problem-detector] verbs=[update,patch] resources=[""/nodes/status,pods/status] omitStages=[RequestReceived]`,
			16: `#16 Metadata omitStages=[RequestReceived]`,
		}},
		{"gce-anchors.yaml", APIVersionV1, 17, 0, false, map[int]string{
			11: `#11 Request userGroups=[system:nodes] verbs=[update,patch] resources=[""/nodes/status,pods/status] omitStages=[RequestReceived]`,
			16: `#16 Metadata omitStages=[RequestReceived]`,
		}},
		{"eks-v1beta1.yaml", APIVersionV1beta1, 16, 0, false, map[int]string{
			12: `#12 Request resources=[""/serviceaccounts/token]`,
		}},
		{"features-v1.yaml", APIVersionV1, 8, StageRequestReceived, true, map[int]string{
			0: `#0 RequestResponse resources=[""/configmaps(names=kubeadm-config,cluster-info)] omitManagedFields=false`,
			1: `#1 Metadata resources=[*/*/exec,*/attach,pods/portforward]`,
			2: `#2 Request namespaces=[""] resources=[rbac.authorization.k8s.io/clusterroles,clusterrolebindings]`,
		}},
		{"json-v1alpha1.json", APIVersionV1alpha1, 5, StageRequestReceived, false, map[int]string{
			1: `#1 None nonResourceURLs=[/healthz*,/version]`,
		}},
	}
	if len(tests) != len(validFixtures) {
		t.Fatalf("%d cases for %d fixtures", len(tests), len(validFixtures))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := mustLoad(t, tt.file)
			if got, want := p.Name(), filepath.Join("testdata", tt.file); got != want {
				t.Errorf("Name() = %q, want %q", got, want)
			}
			if p.APIVersion() != tt.apiVersion {
				t.Errorf("APIVersion() = %q, want %q", p.APIVersion(), tt.apiVersion)
			}
			if p.Rules() != tt.rules {
				t.Errorf("Rules() = %d, want %d", p.Rules(), tt.rules)
			}
			if p.OmitStages() != tt.omit {
				t.Errorf("OmitStages() = %v, want %v", p.OmitStages(), tt.omit)
			}
			if p.OmitManagedFields() != tt.omitMF {
				t.Errorf("OmitManagedFields() = %v, want %v", p.OmitManagedFields(), tt.omitMF)
			}
			for i, want := range tt.summaries {
				if got := p.RuleSummary(i); got != want {
					t.Errorf("RuleSummary(%d) =\n  %s\nwant\n  %s", i, got, want)
				}
			}
		})
	}
}

func TestRuleSummaryOutOfRange(t *testing.T) {
	p := mustLoad(t, "ack-v1beta1.yaml")
	for i, want := range map[int]string{-1: "no rule matched: None", 12: "#12 (no such rule)", -2: "#-2 (no such rule)"} {
		if got := p.RuleSummary(i); got != want {
			t.Errorf("RuleSummary(%d) = %q, want %q", i, got, want)
		}
	}
	q, err := Parse("q.yaml", []byte(`{"apiVersion":"audit.k8s.io/v1","kind":"Policy","rules":[{"level":"None","users":["a b",""],"resources":[{"group":"*","resources":["x,y"]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.RuleSummary(0), `#0 None users=["a b",""] resources=[*/"x,y"]`; got != want {
		t.Errorf("RuleSummary(0) = %s, want %s", got, want)
	}
}

// TestBadPolicies checks that each invalid policy is rejected with an error
// naming the file, line, rule and field.
func TestBadPolicies(t *testing.T) {
	const stages = "allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic"
	const dns = "an API group must be a lowercase RFC 1123 subdomain: lower case alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character (e.g. 'apps', 'rbac.authorization.k8s.io'; no version)"
	tests := []struct {
		file string
		want []string // full error texts, one per problem, without the "policy FILE: " prefix
	}{
		{"bad-apiversion.yaml", []string{`line 1: apiVersion: unsupported "audit.k8s.io/v2": expected audit.k8s.io/v1, audit.k8s.io/v1beta1 or audit.k8s.io/v1alpha1`}},
		{"missing-apiversion.yaml", []string{`line 1: apiVersion: required: expected audit.k8s.io/v1, audit.k8s.io/v1beta1 or audit.k8s.io/v1alpha1`}},
		{"policylist.yaml", []string{`line 2: kind: PolicyList is not supported: a policy file holds one Policy, as the apiserver requires`}},
		{"bad-group.yaml", []string{`line 8: rule 0: resources[1].group: invalid value "rbac.authorization.k8s.io/v1": ` + dns}},
		{"bad-level.yaml", []string{`line 5: rule 1: level: unsupported value "Everything": supported values are None, Metadata, Request, RequestResponse`}},
		{"missing-level.yaml", []string{`line 6: rule 1: level: required: one of None, Metadata, Request, RequestResponse`}},
		{"bad-omitmanagedfields.yaml", []string{`line 5: rule 0: omitManagedFields: expected true or false, found string "true"`}},
		{"bad-policy-stage.yaml", []string{`line 3: omitStages[0]: invalid stage "requestReceived": ` + stages}},
		{"bad-stage.yaml", []string{`line 7: rule 0: omitStages[1]: invalid stage "ResponseFinished": ` + stages}},
		{"bad-url-wildcard.yaml", []string{`line 5: rule 0: nonResourceURLs[0]: invalid value "/apis/*/v1": non-resource URL wildcards '*' must be the final character of the rule`}},
		{"bad-url.yaml", []string{`line 7: rule 0: nonResourceURLs[1]: invalid value "healthz": non-resource URL rules must begin with a '/' character`}},
		{"mixed-nonresource.yaml", []string{`line 5: rule 0: nonResourceURLs: rules cannot apply to both regular resources and non-resource URLs (this rule also has resources)`}},
		{"mixed-nonresource-namespaces.yaml", []string{`line 8: rule 1: nonResourceURLs: rules cannot apply to both regular resources and non-resource URLs (this rule also has namespaces)`}},
		{"resourcenames-without-resources.yaml", []string{`line 7: rule 0: resources[0].resourceNames: using resourceNames requires at least one resource`}},
		{"zero-rules.yaml", []string{`line 4: rules: a policy needs at least one rule (the apiserver refuses a policy with 0 rules)`}},
		{"no-rules.yaml", []string{`line 1: rules: a policy needs at least one rule (the apiserver refuses a policy with 0 rules)`}},
		{"unknown-field.yaml", []string{`line 6: rule 0: verb: unknown field (rule fields: level, users, userGroups, verbs, resources, namespaces, nonResourceURLs, omitStages, omitManagedFields)`}},
		{"unknown-policy-field.yaml", []string{`line 3: omitStage: unknown field (Policy fields: apiVersion, kind, metadata, rules, omitStages, omitManagedFields)`}},
		{"duplicate-field.yaml", []string{`line 6: rule 0: verbs: duplicate field (first at line 5)`}},
		{"not-a-list.yaml", []string{`line 5: rule 0: users: expected a list of strings, found string "system:kube-proxy"`}},
		{"number-user.yaml", []string{`line 5: rule 0: users[0]: expected a string, found integer 1000 (quote it)`}},
		{"yaml11-bool.yaml", []string{`line 5: rule 0: namespaces[1]: expected a string, found boolean no (the apiserver's YAML 1.1 parser reads it as a boolean; quote it)`}},
		{"resources-strings.yaml", []string{
			`line 5: rule 0: resources[0]: expected a mapping with group, resources, resourceNames; found string "pods"`,
			`line 5: rule 0: resources[1]: expected a mapping with group, resources, resourceNames; found string "secrets"`,
		}},
		{"syntax.yaml", []string{`line 3: invalid YAML: did not find expected '-' indicator`}},
		{"two-documents.yaml", []string{`line 5: more than one YAML document: a policy file holds exactly one Policy`}},
		{"json-syntax.json", []string{`line 5: invalid JSON (a policy starting with '{' is read as JSON): invalid character '}' looking for beginning of object key string`}},
		{"empty.yaml", []string{`empty document: expected a Policy`}},
		{"many-problems.yaml", []string{
			`line 3: omitStages[0]: invalid stage "Bogus": ` + stages,
			`line 5: rule 0: level: unsupported value "Loud": supported values are None, Metadata, Request, RequestResponse`,
			`line 7: rule 1: nonResourceURLs[0]: invalid value "healthz": non-resource URL rules must begin with a '/' character`,
			`line 10: rule 2: resources[0].group: invalid value "Apps": ` + dns,
		}},
	}
	files, err := filepath.Glob("testdata/bad/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d bad policy files, %d test cases", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tt.file)
			p, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded with %d rules", p.Rules())
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, "policy "+path+": "+w)
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("error:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *policy.Error", err)
			}
			if pe.File != path {
				t.Errorf("Error.File = %q, want %q", pe.File, path)
			}
		})
	}
}

func TestErrorFields(t *testing.T) {
	_, err := Load("testdata/bad/bad-group.yaml")
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("%v is not a *Error", err)
	}
	if pe.Line != 8 || pe.Column != 16 || pe.Rule != 0 || pe.Field != "resources[1].group" {
		t.Errorf("got line %d col %d rule %d field %q", pe.Line, pe.Column, pe.Rule, pe.Field)
	}
	_, err = Load("testdata/no-such-file.yaml")
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "policy testdata/no-such-file.yaml: read: ") {
		t.Errorf("missing file: %v", err)
	}
}

func TestTooManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n")
	for range 30 {
		b.WriteString("- level: Bogus\n")
	}
	_, err := Parse("many.yaml", []byte(b.String()))
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 || lines[maxErrors] != "policy many.yaml: 10 more problems not shown" {
		t.Errorf("got %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

// TestYAMLForms checks input forms the apiserver's loader also reads.
func TestYAMLForms(t *testing.T) {
	valid := map[string]string{
		"flow style":           "# a comment first: YAML, not JSON\n{apiVersion: audit.k8s.io/v1, kind: Policy, rules: [{level: None}]}",
		"kind missing":         "apiVersion: audit.k8s.io/v1\nrules:\n- level: None\n",
		"metadata":             "apiVersion: audit.k8s.io/v1\nkind: Policy\nmetadata:\n  name: p\n  labels: {a: b}\nrules:\n- level: None\n",
		"null lists":           "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: null\nrules:\n- level: None\n  users: ~\n  resources:\n",
		"yaml 1.1 bool":        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitManagedFields: yes\nrules:\n- level: None\n  omitManagedFields: off\n",
		"quoted bool string":   "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  namespaces: ['no', \"yes\"]\n",
		"tagged string":        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  users: [!!str 1000]\n",
		"document marker":      "---\napiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n...\n",
		"comment only after":   "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n# end\n",
		"null resources entry": "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  resources: [~]\n",
	}
	for name, doc := range valid {
		if _, err := Parse(name, []byte(doc)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	invalid := map[string]string{
		"scalar document":  `hello`,
		"list document":    `[1, 2]`,
		"null document":    `~`,
		"comments only":    "# nothing\n",
		"metadata unknown": "apiVersion: audit.k8s.io/v1\nkind: Policy\nmetadata: {nam: p}\nrules:\n- level: None\n",
		"non-string key":   "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  [a]: b\n",
		"flow style first": `{apiVersion: audit.k8s.io/v1, kind: Policy, rules: [{level: None}]}`,
		"kind other":       "apiVersion: audit.k8s.io/v1\nkind: Event\nrules:\n- level: None\n",
		"rule not a map":   "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- None\n",
		"null rule":        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- ~\n",
		"rules not a list": "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: {level: None}\n",
		"bad merge":        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- <<: 5\n  level: None\n",
		"undefined alias":  "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: *x\n",
		"level as list":    "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: [None]\n",
		"case-sensitive":   "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- Level: None\n",
		"level lowercase":  "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: metadata\n",
	}
	for name, doc := range invalid {
		_, err := Parse(name, []byte(doc))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "policy "+name+": ") {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
}

// TestAliasBomb checks that a policy whose aliases expand exponentially is
// rejected quickly instead of exhausting memory.
func TestAliasBomb(t *testing.T) {
	// 1000 rules, each an alias of a rule with 1000 users and 1000
	// resources entries of 1000 resources: 10^9 nodes once expanded, from
	// a 20 kB file.
	var b strings.Builder
	b.WriteString("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- &r {level: None, users: &u [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("u")
	}
	b.WriteString("], resources: [&g {resources: *u}")
	for range 999 {
		b.WriteString(", *g")
	}
	b.WriteString("]}\n")
	for range 999 {
		b.WriteString("- *r\n")
	}
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "expands to more than 1048576 YAML nodes (aliases?)") {
		t.Fatalf("alias bomb: %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	doc := "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n#" + strings.Repeat("x", MaxSize)
	_, err := Parse("big.yaml", []byte(doc))
	if err == nil || err.Error() != "policy big.yaml: 4194367 bytes is larger than the 4194304-byte limit for a policy" {
		t.Fatalf("got %v", err)
	}
}

func TestVersionsEquivalent(t *testing.T) {
	base := string(readTestdata(t, "features-v1.yaml"))
	events := fixtureEvents(t)
	ref := mustLoad(t, "features-v1.yaml")
	for _, v := range []string{APIVersionV1beta1, APIVersionV1alpha1} {
		p, err := Parse(v, []byte(strings.Replace(base, APIVersionV1, v, 1)))
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			if got, want := p.Decide(ev), ref.Decide(ev); got != want {
				t.Fatalf("%s: %+v, v1: %+v", v, got, want)
			}
		}
	}
}
