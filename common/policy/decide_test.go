package policy

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
)

func resEvent(user string, groups []string, verb, group, resource, sub, ns, name string) *audit.Event {
	return &audit.Event{
		Verb:         verb,
		Stage:        audit.StageResponseComplete,
		User:         audit.UserInfo{Username: user, Groups: groups},
		HasObjectRef: true,
		ObjectRef:    audit.ObjectRef{APIGroup: group, Resource: resource, Subresource: sub, Namespace: ns, Name: name},
		RequestURI:   "/apis/whatever",
	}
}

func urlEvent(user, verb, uri string) *audit.Event {
	return &audit.Event{Verb: verb, Stage: audit.StageResponseComplete, User: audit.UserInfo{Username: user}, RequestURI: uri}
}

var authenticated = []string{"system:authenticated"}

func TestDecideFeatures(t *testing.T) {
	p := mustLoad(t, "features-v1.yaml")
	rr := StageRequestReceived
	tests := []struct {
		name  string
		ev    *audit.Event
		rule  int
		level Level
		omit  Stages
		omf   bool
	}{
		{"resourceNames match", resEvent("alice", authenticated, "get", "", "configmaps", "", "kube-system", "kubeadm-config"), 0, LevelRequestResponse, rr, false},
		{"resourceNames other name", resEvent("alice", authenticated, "get", "", "configmaps", "", "kube-system", "other"), 7, LevelMetadata, rr, true},
		{"resourceNames no name (list)", resEvent("alice", authenticated, "list", "", "configmaps", "", "kube-system", ""), 7, LevelMetadata, rr, true},
		{"*/exec any group", resEvent("alice", authenticated, "create", "", "pods", "exec", "default", "web"), 1, LevelMetadata, rr, true},
		{"*/attach other group", resEvent("alice", authenticated, "create", "kubevirt.io", "vms", "attach", "default", "vm"), 1, LevelMetadata, rr, true},
		{"*/exec needs the subresource", resEvent("alice", authenticated, "get", "", "exec", "", "default", ""), 7, LevelMetadata, rr, true},
		{"res/sub exact", resEvent("alice", authenticated, "create", "", "pods", "portforward", "default", "web"), 1, LevelMetadata, rr, true},
		{"res/sub needs the resource", resEvent("alice", authenticated, "create", "", "services", "portforward", "default", "web"), 7, LevelMetadata, rr, true},
		{"cluster-scoped namespace \"\"", resEvent("alice", authenticated, "create", "rbac.authorization.k8s.io", "clusterroles", "", "", "admin"), 2, LevelRequest, rr, true},
		{"namespaced does not match \"\"", resEvent("alice", authenticated, "create", "rbac.authorization.k8s.io", "clusterroles", "", "default", "admin"), 7, LevelMetadata, rr, true},
		{"group must match", resEvent("alice", authenticated, "create", "", "clusterroles", "", "", "admin"), 7, LevelMetadata, rr, true},
		{"res/* matches plain res", resEvent("alice", authenticated, "update", "apps", "deployments", "", "default", "web"), 3, LevelRequest, rr | StageResponseStarted, true},
		{"res/* matches subresource", resEvent("alice", authenticated, "update", "apps", "deployments", "scale", "default", "web"), 3, LevelRequest, rr | StageResponseStarted, true},
		{"res/* other group", resEvent("alice", authenticated, "update", "extensions", "deployments", "scale", "default", "web"), 7, LevelMetadata, rr, true},
		{"url prefix", urlEvent("alice", "get", "/healthz/etcd?verbose"), 4, LevelNone, rr, true},
		{"url prefix exact", urlEvent("alice", "get", "/livez"), 4, LevelNone, rr, true},
		{"url exact ignores the query", urlEvent("alice", "get", "/metrics?format=text"), 4, LevelNone, rr, true},
		{"url exact is exact", urlEvent("alice", "get", "/metrics/cadvisor"), 5, LevelMetadata, rr | StagePanic, true},
		{"url star", urlEvent("alice", "get", "/openapi/v2"), 5, LevelMetadata, rr | StagePanic, true},
		{"url star, empty path", urlEvent("alice", "get", ""), 5, LevelMetadata, rr | StagePanic, true},
		{"resource request never matches nonResourceURLs", &audit.Event{Verb: "get", User: audit.UserInfo{Username: "alice"}, HasObjectRef: true, ObjectRef: audit.ObjectRef{Resource: "nodes"}, RequestURI: "/healthz"}, 7, LevelMetadata, rr, true},
		{"userGroups, override omitManagedFields", resEvent("admin", []string{"system:masters", "system:authenticated"}, "get", "", "pods", "", "default", "web"), 6, LevelRequest, rr, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Decide(tt.ev)
			want := Decision{Level: tt.level, OmitStages: tt.omit, OmitManagedFields: tt.omf, Rule: tt.rule}
			if got != want {
				t.Errorf("Decide = %+v, want %+v (%s)", got, want, p.RuleSummary(got.Rule))
			}
		})
	}
}

func TestDecideACK(t *testing.T) {
	p := mustLoad(t, "ack-v1beta1.yaml")
	nodes := []string{"system:nodes", "system:authenticated"}
	tests := []struct {
		ev    *audit.Event
		rule  int
		level Level
	}{
		{resEvent("system:kube-proxy", authenticated, "watch", "", "endpoints", "", "default", ""), 0, LevelNone},
		{resEvent("system:kube-proxy", authenticated, "list", "", "endpoints", "", "default", ""), 9, LevelRequest},
		{resEvent("system:unsecured", nil, "get", "", "configmaps", "", "kube-system", "ingress-uid"), 1, LevelNone},
		{resEvent("kubelet", nil, "get", "", "nodes", "", "", "node-1"), 2, LevelNone},
		{resEvent("system:node:node-1", nodes, "get", "", "nodes", "", "", "node-1"), 3, LevelNone},
		{resEvent("system:node:node-1", nodes, "get", "", "nodes", "status", "", "node-1"), 9, LevelRequest},
		{resEvent("system:kube-scheduler", authenticated, "update", "", "endpoints", "", "kube-system", "kube-scheduler"), 4, LevelNone},
		{resEvent("system:apiserver", nil, "get", "", "namespaces", "", "default", "default"), 5, LevelNone},
		{urlEvent("system:anonymous", "get", "/healthz?timeout=5s"), 6, LevelNone},
		{urlEvent("system:anonymous", "get", "/version"), 6, LevelNone},
		{urlEvent("system:anonymous", "get", "/swagger-2.0.0.pb-v1"), 6, LevelNone},
		{urlEvent("system:anonymous", "get", "/versions"), 11, LevelMetadata},
		{resEvent("system:kube-scheduler", authenticated, "create", "", "events", "", "default", ""), 7, LevelNone},
		{resEvent("alice", authenticated, "get", "", "secrets", "", "default", "db"), 8, LevelMetadata},
		{resEvent("alice", authenticated, "create", "authentication.k8s.io", "tokenreviews", "", "", ""), 8, LevelMetadata},
		{resEvent("alice", authenticated, "list", "apps", "deployments", "", "default", ""), 9, LevelRequest},
		{resEvent("alice", authenticated, "create", "apps", "deployments", "", "default", "web"), 10, LevelRequestResponse},
		{resEvent("alice", authenticated, "create", "", "pods", "exec", "default", "web"), 10, LevelRequestResponse},
		{resEvent("alice", authenticated, "create", "example.com", "widgets", "", "default", "w"), 11, LevelMetadata},
	}
	for _, tt := range tests {
		got := p.Decide(tt.ev)
		want := Decision{Level: tt.level, OmitStages: StageRequestReceived, Rule: tt.rule}
		if got != want {
			t.Errorf("%s: Decide = %+v, want %+v", describeEvent(tt.ev), got, want)
		}
		if !got.Dropped(audit.StageRequestReceived) {
			t.Errorf("%s: RequestReceived not dropped", describeEvent(tt.ev))
		}
		if got.Dropped(audit.StageResponseComplete) != (tt.level == LevelNone) {
			t.Errorf("%s: Dropped(ResponseComplete) = %v", describeEvent(tt.ev), got.Dropped(audit.StageResponseComplete))
		}
	}
}

// TestDecideDemoLog runs the audit2rbac demo log through its policy: the
// policy matches the authenticated user (system:admin here), not the
// impersonated one.
func TestDecideDemoLog(t *testing.T) {
	p := mustLoad(t, "audit2rbac-demo-policy.yaml")
	listed := []string{"system:admin", "alice", "bob", "system:serviceaccount:ns1:sa1"}
	omit := StageRequestReceived | StageResponseStarted | StagePanic
	events := fixtureEvents(t)
	matched := 0
	for _, ev := range events {
		got := p.Decide(ev)
		var want Decision
		if slices.Contains(listed, ev.User.Username) {
			want = Decision{Level: LevelMetadata, OmitStages: omit, Rule: 0}
			matched++
		} else {
			want = Decision{Level: LevelNone, Rule: -1}
		}
		if got != want {
			t.Errorf("%s: Decide = %+v, want %+v", describeEvent(ev), got, want)
		}
	}
	if matched < 30 || matched == len(events) {
		t.Errorf("%d of %d fixture events matched: fixtures not as expected", matched, len(events))
	}
}

func TestLevelsAndStages(t *testing.T) {
	for i, name := range []string{"None", "Metadata", "Request", "RequestResponse"} {
		l, ok := ParseLevel(name)
		if !ok || l != Level(i) || l.String() != name {
			t.Errorf("ParseLevel(%q) = %v, %v", name, l, ok)
		}
	}
	for _, bad := range []string{"", "none", "metadata", "REQUEST", "RequestResponse "} {
		if _, ok := ParseLevel(bad); ok {
			t.Errorf("ParseLevel(%q) accepted", bad)
		}
	}
	if !(LevelNone < LevelMetadata && LevelMetadata < LevelRequest && LevelRequest < LevelRequestResponse) {
		t.Error("levels out of order")
	}
	if got := Level(9).String(); got != "Level(9)" {
		t.Errorf("Level(9).String() = %q", got)
	}
	var all Stages
	for _, name := range []string{"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"} {
		s, ok := ParseStage(name)
		if !ok || s == 0 || all&s != 0 {
			t.Errorf("ParseStage(%q) = %v, %v", name, s, ok)
		}
		all |= s
		if !s.Has(name) || !all.Has(name) {
			t.Errorf("%v.Has(%q) = false", s, name)
		}
	}
	if _, ok := ParseStage("responseComplete"); ok {
		t.Error("ParseStage is case-insensitive")
	}
	if all.Has("Bogus") || all.Has("") || Stages(0).Has("Panic") {
		t.Error("Has accepts unknown names")
	}
	if got := all.Names(); !slices.Equal(got, []string{"Panic", "RequestReceived", "ResponseComplete", "ResponseStarted"}) {
		t.Errorf("Names() = %v", got)
	}
	if got := (StageResponseStarted | StageRequestReceived).String(); got != "RequestReceived,ResponseStarted" {
		t.Errorf("String() = %q", got)
	}
	if Stages(0).Names() != nil {
		t.Error("empty set has names")
	}
	d := Decision{Level: LevelMetadata, OmitStages: StageRequestReceived}
	if !d.Dropped("RequestReceived") || d.Dropped("ResponseComplete") || d.Dropped("") {
		t.Error("Dropped wrong for Metadata")
	}
	if !(Decision{}).Dropped("ResponseComplete") {
		t.Error("level None not dropped")
	}
}

// decideInputs returns the policies and events the allocation test and the
// benchmark use.
func decideInputs(t testing.TB) (map[string]*Policy, []*audit.Event) {
	pols := map[string]*Policy{}
	for _, f := range []string{"ack-v1beta1.yaml", "gce-v1.yaml", "eks-v1beta1.yaml", "features-v1.yaml"} {
		pols[f] = mustLoad(t, f)
	}
	events := fixtureEvents(t)
	events = append(events,
		resEvent("system:kube-proxy", authenticated, "watch", "", "endpoints", "", "default", ""),
		resEvent("system:node:n1", []string{"system:nodes", "system:authenticated"}, "patch", "", "nodes", "status", "", "n1"),
		urlEvent("system:anonymous", "get", "/healthz?verbose"),
		urlEvent("system:anonymous", "get", "/openapi/v2"),
		resEvent("alice", authenticated, "get", "", "configmaps", "", "kube-system", "kubeadm-config"),
	)
	return pols, events
}

func TestDecideDoesNotAllocate(t *testing.T) {
	pols, events := decideInputs(t)
	for name, p := range pols {
		allocs := testing.AllocsPerRun(20, func() {
			for _, ev := range events {
				_ = p.Decide(ev)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per %d decisions", name, allocs, len(events))
		}
	}
}

func TestDecideConcurrent(t *testing.T) {
	pols, events := decideInputs(t)
	p := pols["gce-v1.yaml"]
	want := make([]Decision, len(events))
	for i, ev := range events {
		want[i] = p.Decide(ev)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i, ev := range events {
				if got := p.Decide(ev); got != want[i] {
					t.Errorf("concurrent Decide = %+v, want %+v", got, want[i])
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkDecide measures one decision over the fixture events (falco
// traces, audit2rbac demo log and a few typical requests). SetBytes is the
// events' average JSON size, so MB/s compares with decoding throughput.
func BenchmarkDecide(b *testing.B) {
	pols, events := decideInputs(b)
	avg := int64(averageEventSize(b))
	for _, name := range []string{"ack-v1beta1.yaml", "gce-v1.yaml", "eks-v1beta1.yaml", "features-v1.yaml"} {
		p := pols[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(avg)
			i := 0
			for b.Loop() {
				_ = p.Decide(events[i])
				if i++; i == len(events) {
					i = 0
				}
			}
		})
	}
}

// BenchmarkEncodingJSONBaseline decodes the same fixture events with
// encoding/json into a struct holding only the fields Decide reads: the
// baseline that decode+decide must beat tenfold.
func BenchmarkEncodingJSONBaseline(b *testing.B) {
	lines := fixtureLines(b)
	var total int64
	for _, l := range lines {
		total += int64(len(l))
	}
	b.ReportAllocs()
	b.SetBytes(total / int64(len(lines)))
	i := 0
	for b.Loop() {
		var f fixtureEvent
		if err := json.Unmarshal(lines[i], &f); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(lines) {
			i = 0
		}
	}
}

func averageEventSize(b testing.TB) int {
	lines := fixtureLines(b)
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	return n / len(lines)
}
