package policy

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	refaudit "k8s.io/apiserver/pkg/audit"
	refpolicy "k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/klog/v2"

	"github.com/auditlane/auditlane/common/audit"
)

// The differential test runs generated policies through both this package
// and k8s.io/apiserver's loader (LoadPolicyFromBytes: decoding + validation)
// and evaluator (NewPolicyRuleEvaluator), and generated events through both
// deciders. They must agree on whether the policy is valid and, for every
// event, on level, omitStages, omitManagedFields and the matching rule.

// chooser is the generator's source of choices.
type chooser interface {
	// intn returns a value in [0, n).
	intn(n int) int
}

type randChooser struct{ r *rand.Rand }

func (c randChooser) intn(n int) int { return c.r.IntN(n) }

// byteChooser draws choices from fuzz input; once it is used up every
// choice is 0.
type byteChooser struct {
	b []byte
	i int
}

func (c *byteChooser) intn(n int) int {
	if c.i >= len(c.b) {
		return 0
	}
	v := int(c.b[c.i])
	c.i++
	if n > 256 {
		v = v<<8 | c.intn(256)
	}
	return v % n
}

func pick(c chooser, vs []string) string { return vs[c.intn(len(vs))] }

// chance returns true with probability about pct percent.
func chance(c chooser, pct int) bool { return c.intn(100) < pct }

// oddString builds a short string over characters that matter to the
// matcher ('/', '*') and a few others, to find edge cases the vocabulary
// misses.
func oddString(c chooser) string {
	const alphabet = "a/*.-:b"
	n := c.intn(5)
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[c.intn(len(alphabet))])
	}
	return b.String()
}

func vocab(c chooser, vs []string) string {
	if chance(c, 5) {
		return oddString(c)
	}
	return pick(c, vs)
}

// Vocabularies shared by policies and events, so that rules and events
// meet often.
var (
	vUsers      = []string{"alice", "bob", "system:kube-proxy", "system:serviceaccount:kube-system:default", "system:apiserver", ""}
	vGroups     = []string{"system:authenticated", "system:masters", "system:nodes", "dev", ""}
	vVerbs      = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "impersonate", "proxy"}
	vNamespaces = []string{"", "default", "kube-system", "ns1"}
	vAPIGroups  = []string{"", "apps", "rbac.authorization.k8s.io", "batch"}
	vRuleGroups = []string{"", "*", "apps", "rbac.authorization.k8s.io", "batch", "extensions"}
	vResources  = []string{"pods", "secrets", "deployments", "configmaps", "namespaces", "nodes", "*", ""}
	vSubres     = []string{"status", "exec", "log", "scale", "*"}
	vResSpecs   = []string{
		"pods", "secrets", "deployments", "configmaps", "nodes", "*",
		"pods/status", "pods/exec", "pods/log", "deployments/scale",
		"*/status", "*/scale", "*/exec", "pods/*", "deployments/*", "*/*",
		"/*", "*/", "", "pods/", "/status",
	}
	vNames    = []string{"a", "b", "c", ""}
	vURLSpecs = []string{"*", "/healthz", "/healthz*", "/api*", "/apis/*", "/version", "/", "/*", "/metrics", "/livez", "/api/v1"}
	vPaths    = []string{"/healthz", "/healthz/ready", "/version", "/api", "/api/v1", "/apis/apps/v1", "/metrics", "/", "", "/livez", "/healthzx", "/apis"}
	vQueries  = []string{"", "?timeout=32s", "?verbose", "?", "?a=/healthz"}
	vStages   = []string{"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"}
	vLevels   = []string{"None", "Metadata", "Request", "RequestResponse"}
)

// someOf returns 0..max values drawn with vocab.
func someOf(c chooser, vs []string, max int) []any {
	n := c.intn(max + 1)
	out := make([]any, 0, n)
	for range n {
		out = append(out, vocab(c, vs))
	}
	return out
}

// genPolicy returns a policy document as a generic value. With invalid
// set, it sometimes breaks a validation rule.
func genPolicy(c chooser, maxRules int, invalid bool) map[string]any {
	pol := map[string]any{"kind": "Policy"}
	if chance(c, 40) {
		pol["omitStages"] = genStages(c, invalid)
	}
	switch c.intn(3) {
	case 1:
		pol["omitManagedFields"] = true
	case 2:
		pol["omitManagedFields"] = false
	}
	if invalid && chance(c, 2) {
		pol["rules"] = []any{}
		return pol
	}
	n := 1 + c.intn(maxRules)
	rules := make([]any, 0, n)
	for range n {
		rules = append(rules, genRule(c, invalid))
	}
	pol["rules"] = rules
	return pol
}

func genStages(c chooser, invalid bool) []any {
	out := someOf(c, vStages, 3)
	if invalid && chance(c, 3) {
		out = append(out, "Bogus")
	}
	return out
}

func genRule(c chooser, invalid bool) map[string]any {
	r := map[string]any{"level": pick(c, vLevels)}
	if invalid && chance(c, 2) {
		r["level"] = pick(c, []string{"none", "Everything", ""})
	}
	if chance(c, 35) {
		r["users"] = someOf(c, vUsers, 3)
	}
	if chance(c, 25) {
		r["userGroups"] = someOf(c, vGroups, 2)
	}
	if chance(c, 45) {
		r["verbs"] = someOf(c, vVerbs, 3)
	}
	if invalid && chance(c, 1) {
		r["users"] = []any{5}
	}
	switch kind := c.intn(10); {
	case kind < 6: // resource rule
		if chance(c, 40) {
			r["namespaces"] = someOf(c, vNamespaces, 2)
		}
		if chance(c, 80) {
			n := c.intn(4)
			res := make([]any, 0, n)
			for range n {
				gr := map[string]any{}
				if !chance(c, 15) {
					g := vocab(c, vRuleGroups)
					if !invalid && checkDNSSubdomain(g) != "" && g != "" && g != "*" {
						g = "apps"
					}
					gr["group"] = g
				}
				if chance(c, 75) {
					gr["resources"] = someOf(c, vResSpecs, 3)
				}
				if chance(c, 25) {
					if invalid || len(asSlice(gr["resources"])) > 0 {
						gr["resourceNames"] = someOf(c, vNames, 2)
					}
				}
				res = append(res, gr)
			}
			r["resources"] = res
		}
	case kind < 9: // non-resource rule
		urls := make([]any, 0, 3)
		for range 1 + c.intn(3) {
			u := vocab(c, vURLSpecs)
			if !invalid && (u != "*" && (!strings.HasPrefix(u, "/") || strings.Contains(u[:len(u)-1], "*"))) {
				u = "/" + strings.ReplaceAll(u, "*", "") + "*"
			}
			urls = append(urls, u)
		}
		r["nonResourceURLs"] = urls
		if invalid && chance(c, 5) {
			r["namespaces"] = []any{"default"}
		}
	}
	if chance(c, 30) {
		r["omitStages"] = genStages(c, invalid)
	}
	switch c.intn(3) {
	case 1:
		r["omitManagedFields"] = true
	case 2:
		r["omitManagedFields"] = false
	}
	return r
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// encodePolicy renders the document with apiVersion, as JSON or YAML.
func encodePolicy(t testing.TB, pol map[string]any, apiVersion string, asJSON bool) []byte {
	t.Helper()
	doc := make(map[string]any, len(pol)+1)
	for k, v := range pol {
		doc[k] = v
	}
	doc["apiVersion"] = apiVersion
	var (
		b   []byte
		err error
	)
	if asJSON {
		b, err = json.MarshalIndent(doc, "", "  ")
	} else {
		b, err = yaml.Marshal(doc)
	}
	if err != nil {
		t.Fatalf("encode policy: %v", err)
	}
	return b
}

// genEvent returns an event and the authorizer attributes the apiserver
// would have evaluated the policy on for it.
func genEvent(c chooser) (*audit.Event, authorizer.AttributesRecord) {
	ev := &audit.Event{
		Verb:  vocab(c, vVerbs),
		Stage: pick(c, vStages),
		User:  audit.UserInfo{Username: vocab(c, vUsers)},
	}
	for range c.intn(4) {
		ev.User.Groups = append(ev.User.Groups, vocab(c, vGroups))
	}
	if chance(c, 60) {
		ev.HasObjectRef = true
		ev.ObjectRef = audit.ObjectRef{
			Resource:  vocab(c, vResources),
			Namespace: vocab(c, vNamespaces),
			APIGroup:  vocab(c, vAPIGroups),
		}
		if chance(c, 35) {
			ev.ObjectRef.Subresource = vocab(c, vSubres)
		}
		if chance(c, 50) {
			ev.ObjectRef.Name = vocab(c, vNames)
		}
		ev.RequestURI = "/api/v1/namespaces/" + ev.ObjectRef.Namespace + "/" + ev.ObjectRef.Resource
	} else {
		ev.RequestURI = vocab(c, vPaths) + pick(c, vQueries)
	}
	attrs := authorizer.AttributesRecord{
		User:            &user.DefaultInfo{Name: ev.User.Username, Groups: ev.User.Groups},
		Verb:            ev.Verb,
		ResourceRequest: ev.HasObjectRef,
		Path:            ev.Path(),
	}
	if ev.HasObjectRef {
		attrs.Namespace = ev.ObjectRef.Namespace
		attrs.APIGroup = ev.ObjectRef.APIGroup
		attrs.Resource = ev.ObjectRef.Resource
		attrs.Subresource = ev.ObjectRef.Subresource
		attrs.Name = ev.ObjectRef.Name
	}
	return ev, attrs
}

// reference is the apiserver's view of one policy.
type reference struct {
	eval refaudit.PolicyRuleEvaluator
	// single[i] evaluates rule i alone, at level Metadata, so a non-None
	// result means rule i matches.
	single []refaudit.PolicyRuleEvaluator
}

// refConfig is the reference's decision as plain values.
type refConfig struct {
	level      string
	omitStages []string
	omitMF     bool
}

func evaluate(e refaudit.PolicyRuleEvaluator, a authorizer.Attributes) refConfig {
	rc := e.EvaluatePolicyRule(a)
	out := refConfig{level: string(rc.Level), omitMF: rc.OmitManagedFields}
	for _, s := range rc.OmitStages {
		out.omitStages = append(out.omitStages, string(s))
	}
	return out
}

// newReference loads doc with the apiserver's loader.
func newReference(doc []byte) (*reference, error) {
	pol, err := refpolicy.LoadPolicyFromBytes(doc)
	if err != nil {
		return nil, err
	}
	ref := &reference{}
	for i := range pol.Rules {
		r := pol.Rules[i].DeepCopy()
		r.Level = auditinternal.LevelMetadata
		ref.single = append(ref.single, refpolicy.NewPolicyRuleEvaluator(&auditinternal.Policy{Rules: []auditinternal.PolicyRule{*r}}))
	}
	ref.eval = refpolicy.NewPolicyRuleEvaluator(pol)
	return ref, nil
}

// checkCase compares one policy document against the reference over the
// events. ours is the same policy, possibly under another apiVersion.
func checkCase(t testing.TB, refDoc, ourDoc []byte, events []*audit.Event, attrs []authorizer.AttributesRecord) (st caseStats) {
	t.Helper()
	ref, refErr := newReference(refDoc)
	ours, ourErr := Parse("generated.yaml", ourDoc)
	if (refErr == nil) != (ourErr == nil) {
		t.Fatalf("validity differs:\napiserver: %v\nours:      %v\npolicy:\n%s", refErr, ourErr, ourDoc)
	}
	if refErr != nil {
		st.invalid = true
		return st
	}
	for i, ev := range events {
		want := evaluate(ref.eval, attrs[i])
		got := ours.Decide(ev)
		gotStages := got.OmitStages.Names()
		slices.Sort(want.omitStages)
		// The apiserver returns the policy's omitStages list as written
		// (duplicates included) when no rule matches; compare sets.
		want.omitStages = slices.Compact(want.omitStages)
		wantRule := -1
		for j, s := range ref.single {
			if evaluate(s, attrs[i]).level != "None" {
				wantRule = j
				break
			}
		}
		if got.Level.String() != want.level || !slices.Equal(gotStages, want.omitStages) ||
			got.OmitManagedFields != want.omitMF || got.Rule != wantRule {
			t.Fatalf("decision differs for event %s\napiserver: level=%s omitStages=%v omitManagedFields=%v rule=%d\nours:      level=%s omitStages=%v omitManagedFields=%v rule=%d\npolicy:\n%s",
				describeEvent(ev), want.level, want.omitStages, want.omitMF, wantRule,
				got.Level, gotStages, got.OmitManagedFields, got.Rule, ourDoc)
		}
		st.levels[got.Level]++
		if got.Rule < 0 {
			st.noMatch++
		}
		if got.Dropped(ev.Stage) != (got.Level == LevelNone || slices.Contains(want.omitStages, ev.Stage)) {
			t.Fatalf("Dropped(%q) = %v for %+v", ev.Stage, got.Dropped(ev.Stage), got)
		}
	}
	return st
}

// caseStats counts outcomes, so the tests can check that the generator
// reaches every kind of outcome.
type caseStats struct {
	invalid bool
	levels  [4]int
	noMatch int
}

var apiVersions = []string{APIVersionV1, APIVersionV1beta1, APIVersionV1alpha1}

// runGenerated generates one policy and nEvents events from c and checks
// them.
func runGenerated(t testing.TB, c chooser, maxRules, nEvents int, invalid bool) caseStats {
	t.Helper()
	pol := genPolicy(c, maxRules, invalid)
	asJSON := chance(c, 30)
	refDoc := encodePolicy(t, pol, APIVersionV1, asJSON)
	ourDoc := encodePolicy(t, pol, apiVersions[c.intn(len(apiVersions))], asJSON)
	events := make([]*audit.Event, nEvents)
	attrs := make([]authorizer.AttributesRecord, nEvents)
	for i := range events {
		events[i], attrs[i] = genEvent(c)
	}
	return checkCase(t, refDoc, ourDoc, events, attrs)
}

func TestDifferential(t *testing.T) {
	cases := 3000
	if testing.Short() {
		cases = 300
	}
	r := rand.New(rand.NewPCG(2026, 36))
	var (
		invalidPolicies, noMatch int
		levels                   [4]int
	)
	for i := range cases {
		invalid := i%4 == 3
		t.Run("", func(t *testing.T) {
			st := runGenerated(t, randChooser{r}, 6, 40, invalid)
			if st.invalid {
				invalidPolicies++
			}
			for l, n := range st.levels {
				levels[l] += n
			}
			noMatch += st.noMatch
		})
		if t.Failed() {
			t.Fatalf("case %d failed", i)
		}
	}
	// The generator must exercise both validity outcomes and every level.
	t.Logf("%d cases: %d invalid policies; decisions per level %v, %d without a matching rule", cases, invalidPolicies, levels, noMatch)
	if invalidPolicies < cases/20 || invalidPolicies > cases/2 {
		t.Errorf("%d of %d policies invalid: generator out of balance", invalidPolicies, cases)
	}
	for l, n := range levels {
		if n < cases {
			t.Errorf("only %d decisions at level %v", n, Level(l))
		}
	}
	if noMatch < cases {
		t.Errorf("only %d decisions without a matching rule", noMatch)
	}
}

// TestDifferentialFixtures runs the checked-in policies against the
// reference over generated events.
func TestDifferentialFixtures(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	events := make([]*audit.Event, 2000)
	attrs := make([]authorizer.AttributesRecord, len(events))
	for i := range events {
		events[i], attrs[i] = genEvent(randChooser{r})
	}
	// Events from the real fixtures too.
	for _, ev := range fixtureEvents(t) {
		events = append(events, ev)
		attrs = append(attrs, attributesOf(ev))
	}
	for _, name := range validFixtures {
		t.Run(name, func(t *testing.T) {
			doc := readTestdata(t, name)
			// The apiserver only reads audit.k8s.io/v1 now.
			refDoc := oldVersion.ReplaceAll(doc, []byte("audit.k8s.io/v1"))
			checkCase(t, refDoc, doc, events, attrs)
		})
	}
}

func init() {
	// The apiserver's loader warns through klog when it falls back to
	// lenient decoding (merge keys overriding keys count as duplicates for
	// its strict decoder); keep test output readable.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
}

var oldVersion = regexp.MustCompile(`audit\.k8s\.io/v1(alpha1|beta1)`)

// describeEvent prints the fields of ev the policy looks at.
func describeEvent(ev *audit.Event) string {
	s := fmt.Sprintf("user=%q groups=%q verb=%q", ev.User.Username, ev.User.Groups, ev.Verb)
	if ev.HasObjectRef {
		r := ev.ObjectRef
		return s + fmt.Sprintf(" objectRef{apiGroup=%q resource=%q subresource=%q namespace=%q name=%q}", r.APIGroup, r.Resource, r.Subresource, r.Namespace, r.Name)
	}
	return s + fmt.Sprintf(" requestURI=%q path=%q", ev.RequestURI, ev.Path())
}

// attributesOf builds the attributes the apiserver evaluates for ev.
func attributesOf(ev *audit.Event) authorizer.AttributesRecord {
	a := authorizer.AttributesRecord{
		User:            &user.DefaultInfo{Name: ev.User.Username, Groups: ev.User.Groups},
		Verb:            ev.Verb,
		ResourceRequest: ev.HasObjectRef,
		Path:            ev.Path(),
	}
	if ev.HasObjectRef {
		a.Namespace = ev.ObjectRef.Namespace
		a.APIGroup = ev.ObjectRef.APIGroup
		a.Resource = ev.ObjectRef.Resource
		a.Subresource = ev.ObjectRef.Subresource
		a.Name = ev.ObjectRef.Name
	}
	return a
}

func FuzzDifferential(f *testing.F) {
	// Handwritten seeds: a resource rule with subresource wildcards, a
	// non-resource prefix rule, resourceNames, an invalid policy.
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte("\x63\x00\x01\x50\x07\x20\x30\x40\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"))
	f.Add([]byte("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3\xf2\xf1\xf0"))
	f.Add([]byte("resources: [pods/*, */status]; nonResourceURLs: [/healthz*]"))
	r := rand.New(rand.NewPCG(1, 2))
	for range 8 {
		b := make([]byte, 64)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &byteChooser{b: data}
		invalid := chance(c, 25)
		runGenerated(t, c, 4, 6, invalid)
	})
}

// TestDifferentialYAMLForms checks YAML corner cases against the
// apiserver's loader: both must accept or both reject, and decide alike.
// (Unknown and duplicate fields, where we deliberately differ, are
// covered in parse_test.go.)
func TestDifferentialYAMLForms(t *testing.T) {
	const head = "apiVersion: audit.k8s.io/v1\nkind: Policy\n"
	docs := []string{
		`{apiVersion: audit.k8s.io/v1, kind: Policy, rules: [{level: None}]}`,
		head + "metadata:\n  name: p\n  labels: {a: b}\nrules:\n- level: None\n",
		head + "omitStages: null\nrules:\n- level: None\n  users: ~\n  resources:\n",
		head + "omitManagedFields: yes\nrules:\n- level: Request\n  omitManagedFields: off\n- level: Metadata\n",
		head + "omitManagedFields: on\nrules:\n- level: Request\n  users: [alice]\n",
		head + "rules:\n- level: None\n  namespaces: ['no', \"yes\"]\n- level: Metadata\n",
		head + "rules:\n- level: Request\n  users: [!!str 1000, 2001-12-14, \"\", ~]\n- level: Metadata\n",
		head + "rules:\n- level: None\n  users: [1000]\n",
		head + "rules:\n- level: None\n  users: [1.5]\n",
		head + "rules:\n- level: None\n  namespaces: [no]\n",
		head + "rules:\n- level: None\n  users: [true]\n",
		head + "rules:\n- level: None\n  omitManagedFields: \"true\"\n",
		head + "rules:\n- level: None\n  omitManagedFields: 1\n",
		head + "rules:\n- level: None\n  resources: [~]\n- level: Metadata\n",
		head + "rules:\n- level: None\n  resources: [{group: \"*\"}]\n- level: Metadata\n",
		head + "rules:\n- level: None\n  resources: [pods]\n",
		head + "rules:\n- level: \"\"\n",
		head + "rules:\n- level: ~\n",
		head + "rules:\n- ~\n",
		head + "rules:\n- None\n",
		head + "rules: {level: None}\n",
		head + "rules: []\n",
		head + "rules:\n",
		head + "omitStages: RequestReceived\nrules:\n- level: None\n",
		head + "rules:\n- level: None\n  nonResourceURLs: [\"\"]\n",
		head + "rules:\n- level: None\n  nonResourceURLs: [\"/*\", \"*\"]\n- level: Metadata\n",
		head + "rules:\n- level: None\n  nonResourceURLs: [\"/a**\"]\n",
		head + "rules:\n- level: None\n  nonResourceURLs: [\"/healthz\"]\n  namespaces: []\n- level: Metadata\n",
		head + "rules:\n- level: None\n  resources: [{group: Apps}]\n",
		head + "rules:\n- level: None\n  resources: [{group: a.b-c.d}]\n- level: Metadata\n",
		head + "rules:\n- level: None\n  resources: [{group: -a}]\n",
		head + "rules:\n- level: None\n  resources: [{group: a.}]\n",
		head + "rules:\n- level: None\n  resources: [{group: \"" + strings.Repeat("a", 254) + "\"}]\n",
		head + "rules:\n- level: None\n  resources: [{resourceNames: [x], resources: []}]\n",
		head + "rules:\n- &r {level: Request, verbs: [get]}\n- <<: *r\n  verbs: [list]\n- level: Metadata\n",
		head + "rules:\n- level: None\n  users: &u [alice, bob]\n- level: Request\n  userGroups: *u\n",
		"apiVersion: audit.k8s.io/v1\nkind: PolicyList\nitems: []\n",
		"kind: Policy\nrules:\n- level: None\n",
		"apiVersion: audit.k8s.io/v1\nrules:\n- level: None\n",
		"apiVersion: v1\nkind: Policy\nrules:\n- level: None\n",
		"",
		"~\n",
		"[]\n",
	}
	r := rand.New(rand.NewPCG(3, 3))
	events := make([]*audit.Event, 500)
	attrs := make([]authorizer.AttributesRecord, len(events))
	for i := range events {
		events[i], attrs[i] = genEvent(randChooser{r})
	}
	for _, name := range []string{"alice", "bob", "1000", "2001-12-14", ""} {
		ev := resEvent(name, []string{"alice"}, "get", "", "pods", "", "default", "")
		events = append(events, ev)
		attrs = append(attrs, attributesOf(ev))
	}
	for i, doc := range docs {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			checkCase(t, []byte(doc), []byte(doc), events, attrs)
		})
	}
}
