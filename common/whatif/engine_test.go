package whatif

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/pipeline"
)

func parse(t *testing.T, s string) *audit.Event {
	t.Helper()
	var ev audit.Event
	if err := audit.Parse([]byte(s), &ev); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return ev.Clone()
}

func TestClassify(t *testing.T) {
	cases := []struct {
		ev   string
		want Reasons
	}{
		{`{"verb":"create","user":{"username":"alice"},"objectRef":{"resource":"pods","subresource":"exec","namespace":"a"},"responseStatus":{"code":101}}`, Streaming},
		{`{"verb":"get","user":{"username":"alice"},"objectRef":{"resource":"nodes","subresource":"proxy"},"responseStatus":{"code":200}}`, Streaming},
		{`{"verb":"get","user":{"username":"alice"},"objectRef":{"resource":"pods","subresource":"log"},"responseStatus":{"code":200}}`, 0},
		{`{"verb":"list","user":{"username":"alice"},"objectRef":{"resource":"secrets"},"responseStatus":{"code":200}}`, SecretAccess},
		{`{"verb":"list","user":{"username":"alice"},"objectRef":{"resource":"secrets","apiGroup":"example.com"},"responseStatus":{"code":200}}`, 0},
		{`{"verb":"patch","user":{"username":"alice"},"objectRef":{"resource":"clusterrolebindings","apiGroup":"rbac.authorization.k8s.io"},"responseStatus":{"code":200}}`, RBACWrite},
		{`{"verb":"get","user":{"username":"alice"},"objectRef":{"resource":"clusterrolebindings","apiGroup":"rbac.authorization.k8s.io"},"responseStatus":{"code":200}}`, 0},
		{`{"verb":"create","user":{"username":"alice"},"objectRef":{"resource":"serviceaccounts","subresource":"token"},"responseStatus":{"code":201}}`, TokenRequest},
		{`{"verb":"get","user":{"username":"alice"},"objectRef":{"resource":"pods"},"responseStatus":{"code":403}}`, Denied},
		{`{"verb":"get","user":{"username":"system:anonymous","groups":["system:unauthenticated"]},"requestURI":"/healthz","responseStatus":{"code":200}}`, AnonymousAllowed},
		{`{"verb":"get","user":{"username":"system:anonymous","groups":["system:unauthenticated"]},"requestURI":"/api","responseStatus":{"code":403}}`, Denied},
		{`{"verb":"get","user":{"username":"bob","groups":["system:unauthenticated"]},"requestURI":"/version","annotations":{"authorization.k8s.io/decision":"allow"},"responseStatus":{"code":200}}`, AnonymousAllowed},
	}
	for _, c := range cases {
		if got := Classify(parse(t, c.ev), nil); got != c.want {
			t.Errorf("%s: %s, want %s", c.ev, got, c.want)
		}
	}
}

const testLog = `{"auditID":"1","stage":"ResponseComplete","verb":"get","user":{"username":"alice","groups":["system:authenticated"]},"objectRef":{"resource":"secrets","namespace":"a","name":"s"},"requestURI":"/api/v1/namespaces/a/secrets/s","responseStatus":{"code":200},"stageTimestamp":"2024-01-01T00:00:00Z"}
{"auditID":"2","stage":"RequestReceived","verb":"get","user":{"username":"alice","groups":["system:authenticated"]},"objectRef":{"resource":"secrets","namespace":"a","name":"s"},"requestURI":"/api/v1/namespaces/a/secrets/s","stageTimestamp":"2024-01-01T00:00:00Z"}
{"auditID":"3","stage":"ResponseComplete","verb":"update","user":{"username":"system:node:n1","groups":["system:nodes"]},"objectRef":{"resource":"leases","apiGroup":"coordination.k8s.io","namespace":"kube-node-lease","name":"n1"},"requestURI":"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1","responseStatus":{"code":200},"stageTimestamp":"2024-01-01T00:10:00Z"}
{"auditID":"4","stage":"ResponseComplete","verb":"create","user":{"username":"bob","groups":["system:authenticated"]},"objectRef":{"resource":"pods","subresource":"exec","namespace":"b","name":"p"},"requestURI":"/api/v1/namespaces/b/pods/p/exec?command=sh","responseStatus":{"code":101},"stageTimestamp":"2024-01-01T00:20:00Z"}
{"auditID":"5","stage":"ResponseComplete","verb":"get","user":{"username":"system:anonymous","groups":["system:unauthenticated"]},"requestURI":"/healthz","responseStatus":{"code":200},"stageTimestamp":"2024-01-01T00:30:00Z"}
{"auditID":"6","stage":"ResponseComplete","verb":"get","user":{"username":"carol","groups":["system:authenticated"]},"objectRef":{"resource":"pods","namespace":"b"},"requestURI":"/api/v1/namespaces/b/pods","responseStatus":{"code":403},"stageTimestamp":"2024-01-01T00:40:00Z"}
`

const testPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  nonResourceURLs: ["/healthz*"]
- level: None
  resources: [{group: "coordination.k8s.io", resources: ["leases"]}]
- level: None
  users: ["bob"]
- level: Metadata
`

func engine(t *testing.T, kv ...string) *Engine {
	t.Helper()
	dir := t.TempDir()
	pol := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(pol, []byte(testPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	set := pipeline.DefaultSettings()
	kv = append([]string{"policy_file", pol}, kv...)
	for i := 0; i < len(kv); i += 2 {
		if err := set.Set(kv[i], kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(Options{Settings: set})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEngineAccounting(t *testing.T) {
	e := engine(t)
	// The same settings through the pipeline the front ends build.
	ref, _, err := func() (*pipeline.Pipeline, *pipeline.DeadLetter, error) {
		set := pipeline.DefaultSettings()
		set.Set("policy_file", e.Policy().Name())
		return set.Build()
	}()
	if err != nil {
		t.Fatal(err)
	}
	var scratch pipeline.Scratch
	var shipped int64
	for _, l := range strings.Split(strings.TrimSpace(testLog), "\n") {
		ev := parse(t, l)
		o := e.Add(ev)
		if r := ref.Eval(ev, &scratch); r.Outcome == pipeline.Kept {
			shipped += int64(len(r.Out))
			if o.BytesOut != len(r.Out) {
				t.Errorf("event %s: %d bytes out, the pipeline ships %d", ev.AuditID, o.BytesOut, len(r.Out))
			}
		}
	}
	e.Reject(audit.ErrSyntax, 10)
	rep := e.Report("p", []string{"log"}, []string{"policy_file=p"})
	if rep.Total.Events != 6 || rep.Total.Kept != 2 || rep.Dropped != 4 || rep.Rejected != 1 || rep.Total.BytesOut != shipped {
		t.Errorf("totals %+v dropped %d rejected %d; shipped %d", rep.Total, rep.Dropped, rep.Rejected, shipped)
	}
	for name, rows := range map[string][]KeyedVolume{"users": rep.TopUsers, "resources": rep.TopResources, "namespaces": rep.TopNS, "verbs": rep.TopVerbs} {
		var v Volume
		for _, r := range rows {
			v.Events += r.Events
			v.BytesIn += r.BytesIn
			v.Kept += r.Kept
			v.BytesOut += r.BytesOut
		}
		if v.Events != rep.Total.Events || v.Kept != rep.Total.Kept || v.BytesOut != rep.Total.BytesOut || v.BytesIn != rep.Total.BytesIn-10 {
			t.Errorf("%s add up to %+v, total %+v", name, v, rep.Total)
		}
	}
	var ruleOut int64
	for _, r := range rep.ByRule {
		ruleOut += r.BytesOut
	}
	if ruleOut != rep.Total.BytesOut {
		t.Errorf("rules ship %d, total %d", ruleOut, rep.Total.BytesOut)
	}
	// Security: 1 secret read (kept), exec by bob (lost to rule 2),
	// anonymous /healthz allowed (lost to rule 0), a 403 (kept). The
	// RequestReceived copy of the secret read is not a request of its own.
	lost := map[string]int64{}
	events := map[string]int64{}
	for _, s := range rep.Security {
		lost[s.Reason], events[s.Reason] = s.Lost, s.Events
	}
	if rep.SecurityEvents != 4 || rep.SecurityLost != 2 || lost["exec-attach-portforward-proxy"] != 1 || lost["anonymous-allowed"] != 1 ||
		events["secret-access"] != 1 || lost["secret-access"] != 0 || events["denied"] != 1 {
		t.Errorf("security %d lost %d: %+v", rep.SecurityEvents, rep.SecurityLost, rep.Security)
	}
	var tl int64
	for _, b := range rep.Timeline {
		tl += b.Events
	}
	if tl+rep.OutsideTimeline != 6 {
		t.Errorf("timeline holds %d events, %d outside", tl, rep.OutsideTimeline)
	}
	// Six event times over 40 minutes: the 5% and 95% quantiles of so few
	// are the ends.
	if rep.SpanSeconds != 2400 || rep.MonthlyFactor != 0.9/2400*SecondsPerMonth {
		t.Errorf("span %v", rep.SpanSeconds)
	}
	b, _ := json.Marshal(rep)
	for _, k := range []string{`"topNamespaces"`, `"timeline"`, `"security"`, `"prices"`, `"savingsNote"`, `"monthlyCostBefore"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s", k)
		}
	}
}

func TestProjection(t *testing.T) {
	rep := &Report{MonthlyFactor: 1440, PricePerGB: 0.5}
	n, err := rep.BytesForMonthlyGB(3)
	if err != nil || math.Abs(rep.MonthlyGB(n)-3) > 1e-6 {
		t.Errorf("%d bytes, %v GB: %v", n, rep.MonthlyGB(n), err)
	}
	if _, err := (&Report{}).BytesForMonthlyGB(1); err != ErrNoRate {
		t.Errorf("no rate: %v", err)
	}
}

func TestSavingsNote(t *testing.T) {
	for p, want := range map[string]string{
		"eks": "before any agent sees it", "aks": "Azure Monitor", "gke": "Cloud Logging",
		"ack": "at the source", "self-managed": "at the source", "": "depends on the cluster",
	} {
		if got := SavingsNote(p); !strings.Contains(got, want) {
			t.Errorf("%q: %s", p, got)
		}
	}
	// A configured provider decides.
	e := engine(t, "provider", "ack")
	e.Add(parse(t, strings.Split(testLog, "\n")[0]))
	if rep := e.Report("", nil, nil); rep.Provider != "ack" || !strings.Contains(rep.SavingsNote, "at the source") {
		t.Errorf("provider %q: %s", rep.Provider, rep.SavingsNote)
	}
}

// The timeline stays bounded however long the log, and loses no event.
func TestTimelineCoarsens(t *testing.T) {
	var tl timeline
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 3 * maxSlots
	for i := range n {
		tl.add(t0.Add(time.Duration(i)*7*time.Second), 100, 10, i%2 == 0)
	}
	if len(tl.slots) > maxSlots || tl.res < 60 {
		t.Fatalf("%d slots at %ds", len(tl.slots), tl.res)
	}
	bs := tl.buckets(t0, t0.Add(time.Duration(n)*7*time.Second), 60)
	var events, out int64
	for _, b := range bs {
		events += b.Events
		out += b.BytesOut
	}
	if len(bs) > 60 || events != int64(n) || out != int64(n/2*10) {
		t.Errorf("%d buckets, %d events, %d bytes out", len(bs), events, out)
	}
}
