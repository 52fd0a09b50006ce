package suggest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	refpolicy "k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/policy"
	"github.com/auditlane/auditlane/common/policy/lint"
	"github.com/auditlane/auditlane/common/whatif"
)

const sample = "../../../examples/data/sample-audit.log"

// traffic is a log read once: its events and what the what-if engine saw.
type traffic struct {
	events []*audit.Event
	col    *Collector
	rep    *whatif.Report
}

func load(t testing.TB, path string, set pipeline.Settings) *traffic {
	t.Helper()
	eng, err := whatif.New(whatif.Options{Settings: set})
	if err != nil {
		t.Fatal(err)
	}
	col, err := NewCollector(set)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := &traffic{col: col}
	d := audit.NewDecoder(f)
	for {
		ev, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		o := eng.Add(ev)
		col.Add(ev, &o)
		tr.events = append(tr.events, ev.Clone())
	}
	tr.rep = eng.Report("", []string{path}, nil)
	return tr
}

var (
	sampleOnce    sync.Once
	sampleTraffic *traffic
)

// loadSample reads the bundled sample once, with the default settings.
func loadSample(t testing.TB) *traffic {
	sampleOnce.Do(func() { sampleTraffic = load(t, sample, pipeline.DefaultSettings()) })
	if sampleTraffic == nil {
		t.Fatal("the sample did not load")
	}
	return sampleTraffic
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
		a.Namespace, a.APIGroup, a.Resource = ev.ObjectRef.Namespace, ev.ObjectRef.APIGroup, ev.ObjectRef.Resource
		a.Subresource, a.Name = ev.ObjectRef.Subresource, ev.ObjectRef.Name
	}
	return a
}

// check verifies a suggestion with the apiserver's own loader and
// evaluator (k8s.io/apiserver, test-only) and with a what-if run of the
// policy over the same events through the configured pipeline:
//   - the policy loads in the apiserver's reader;
//   - every security-relevant event keeps Metadata or above and its
//     ResponseComplete stage;
//   - what the policy ships, projected as `policy test` projects it, is
//     within the budget.
func check(t *testing.T, tr *traffic, s *Suggestion, set pipeline.Settings) {
	t.Helper()
	ref, err := refpolicy.LoadPolicyFromBytes(s.YAML)
	if err != nil {
		t.Fatalf("the apiserver refuses the policy: %v\n%s", err, s.YAML)
	}
	eval := refpolicy.NewPolicyRuleEvaluator(ref)
	pol, err := policy.Parse("suggested", s.YAML)
	if err != nil {
		t.Fatal(err)
	}
	// A reviewer's lint has nothing high to say about it.
	for _, f := range lint.Check(pol).Findings() {
		if f.Severity == lint.High {
			t.Errorf("lint: %s rule %d: %s", f.Code, f.Rule, f.Message)
		}
	}

	path := filepath.Join(t.TempDir(), "suggested.yaml")
	if err := os.WriteFile(path, s.YAML, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := set.Set("policy_file", path); err != nil {
		t.Fatal(err)
	}
	eng, err := whatif.New(whatif.Options{Settings: set})
	if err != nil {
		t.Fatal(err)
	}
	relevant, lost := 0, 0
	for _, ev := range tr.events {
		o := eng.Add(ev)
		if !o.Completion || o.Reasons == 0 {
			continue
		}
		relevant++
		rc := eval.EvaluatePolicyRule(attributesOf(ev))
		omitsRC := false
		for _, st := range rc.OmitStages {
			omitsRC = omitsRC || st == auditinternal.StageResponseComplete
		}
		if rc.Level == auditinternal.LevelNone || omitsRC {
			lost++
			if lost <= 5 {
				t.Errorf("security-relevant event (%s) %s %s/%s by %s: apiserver level %s omitStages %v",
					o.Reasons, ev.Verb, ev.ObjectRef.Resource, ev.ObjectRef.Subresource, ev.User.Username, rc.Level, rc.OmitStages)
			}
		}
	}
	if relevant == 0 {
		t.Fatal("no security-relevant events in the traffic: the check checks nothing")
	}
	rep := eng.Report(path, nil, nil)
	if rep.SecurityLost != 0 {
		t.Errorf("the what-if loses %d security-relevant events", rep.SecurityLost)
	}
	if rep.MonthlyGBAfter > s.BudgetGB {
		t.Errorf("policy test projects %.4f GB/month, over the %.4f GB budget", rep.MonthlyGBAfter, s.BudgetGB)
	}
	// The suggestion measures each event at each level with its own
	// pipelines; a pipeline's provider detection depends on the events it
	// enriched, so the policy's own run may differ by a few bytes an event
	// (the headroom the suggestion keeps under the budget).
	if d := rep.MonthlyGBAfter - s.MonthlyGB; d > (1-headroom)*s.MonthlyGB || -d > (1-headroom)*s.MonthlyGB {
		t.Errorf("policy test projects %.6f GB/month, the suggestion says %.6f", rep.MonthlyGBAfter, s.MonthlyGB)
	}
	t.Logf("%d rules, %.3f of %.3f GB/month (floor %.3f); %d security-relevant events kept by the apiserver's evaluator",
		s.Rules, rep.MonthlyGBAfter, s.BudgetGB, s.FloorGB, relevant)
}

func TestSuggestSample(t *testing.T) {
	set := pipeline.DefaultSettings()
	tr := loadSample(t)
	var rules []int
	for _, gb := range []float64{2, 10} {
		t.Run(fmt.Sprintf("%vGB", gb), func(t *testing.T) {
			s, err := tr.col.Suggest(tr.rep, Budget{GBPerMonth: gb}, whatif.Prices[0])
			if err != nil {
				t.Fatal(err)
			}
			check(t, tr, s, set)
			rules = append(rules, s.Rules)
			if s.Rules > 25 {
				t.Errorf("%d rules", s.Rules)
			}
		})
	}
	// A larger budget keeps more, with fewer drop rules.
	if len(rules) == 2 && rules[1] >= rules[0] {
		t.Errorf("rules at 2 and 10 GB/month: %v", rules)
	}
	// In dollars: $1 at $0.50/GB is 2 GB.
	s, err := tr.col.Suggest(tr.rep, Budget{USDPerMonth: 1}, whatif.Prices[0])
	if err != nil {
		t.Fatal(err)
	}
	if s.BudgetGB != 2 || s.MonthlyUSD > 1 {
		t.Errorf("USD budget: %v GB, $%v", s.BudgetGB, s.MonthlyUSD)
	}
}

// Below the smallest budget that keeps every security-relevant event,
// nothing is suggested and the error says that budget; at it, a policy is.
func TestSuggestInfeasible(t *testing.T) {
	set := pipeline.DefaultSettings()
	tr := loadSample(t)
	_, err := tr.col.Suggest(tr.rep, Budget{GBPerMonth: 0.1}, whatif.Prices[0])
	var inf *Infeasible
	if !errors.As(err, &inf) {
		t.Fatalf("err %v, want *Infeasible", err)
	}
	if inf.FloorGB <= 0.1 || !strings.Contains(err.Error(), fmt.Sprintf("%.3f GB/month", inf.FloorGB)) {
		t.Fatalf("floor %v: %v", inf.FloorGB, err)
	}
	s, err := tr.col.Suggest(tr.rep, Budget{GBPerMonth: inf.FloorGB}, whatif.Prices[0])
	if err != nil {
		t.Fatalf("at the floor the budget must work: %v", err)
	}
	check(t, tr, s, set)
	if _, err := tr.col.Suggest(tr.rep, Budget{GBPerMonth: inf.FloorGB * 0.99}, whatif.Prices[0]); !errors.As(err, &inf) {
		t.Errorf("1%% below the floor: %v", err)
	}
}

// generate runs the sample generator (examples/data/gen) with another seed
// and size, starting now.
func generate(t *testing.T, seed, n int) string {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	out := filepath.Join(t.TempDir(), "generated.log")
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second).Format(time.RFC3339)
	cmd := exec.Command(gobin, "run", "./examples/data/gen", "-seed", fmt.Sprint(seed), "-n", fmt.Sprint(n), "-start", start, "-out", out)
	cmd.Dir = "../../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen: %v\n%s", err, b)
	}
	return out
}

// On generated traffic, with settings that change the shipped bytes.
func TestSuggestGenerated(t *testing.T) {
	set := pipeline.DefaultSettings()
	for _, kv := range [][2]string{{"cluster_name", "gen"}, {"max_event_size", "16k"}, {"redact_secrets", "on"}} {
		if err := set.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	tr := load(t, generate(t, 7, 3000), set)
	_, err := tr.col.Suggest(tr.rep, Budget{GBPerMonth: 0.001}, whatif.Prices[0])
	var inf *Infeasible
	if !errors.As(err, &inf) {
		t.Fatalf("err %v, want *Infeasible", err)
	}
	for _, f := range []float64{1.05, 2, 8} {
		t.Run(fmt.Sprintf("floor×%v", f), func(t *testing.T) {
			s, err := tr.col.Suggest(tr.rep, Budget{GBPerMonth: inf.FloorGB * f}, whatif.Prices[0])
			if err != nil {
				t.Fatal(err)
			}
			check(t, tr, s, set)
		})
	}
}

// The policy is ordered so a reader sees why: security first, then drops
// (largest first), detail, and a catch-all last; each rule is commented
// with its volume and cost.
func TestSuggestLayout(t *testing.T) {
	tr := loadSample(t)
	s, err := tr.col.Suggest(tr.rep, Budget{GBPerMonth: 2}, whatif.Prices[0])
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse("s", s.YAML)
	if err != nil {
		t.Fatal(err)
	}
	text := string(s.YAML)
	for _, want := range []string{"apiVersion: audit.k8s.io/v1", "kind: Policy", `omitStages: ["RequestReceived"]`, "omitManagedFields: true",
		"Security-relevant requests", "Noise: dropped", "Everything else", "GB/month", "$"} {
		if !strings.Contains(text, want) {
			t.Errorf("policy lacks %q", want)
		}
	}
	last := pol.Rule(pol.Rules() - 1)
	if last.Level != policy.LevelMetadata || len(last.Users)+len(last.UserGroups)+len(last.Verbs)+len(last.Resources)+len(last.Namespaces)+len(last.NonResourceURLs) != 0 {
		t.Errorf("last rule is not a Metadata catch-all: %+v", last)
	}
	// Every rule has a comment line with its numbers.
	if n := strings.Count(text, "\n  #    "); n != pol.Rules() {
		t.Errorf("%d rules, %d volume comments", pol.Rules(), n)
	}
	var drops []int64
	for _, l := range strings.Split(text, "\n") {
		var n int64
		var gb, usd float64
		if _, err := fmt.Sscanf(strings.TrimSpace(l), "#    drops %d events; at Metadata they would ship %f GB/month ($%f)", &n, &gb, &usd); err == nil {
			drops = append(drops, int64(gb*1e6))
		}
	}
	if len(drops) < 2 || drops[0] < drops[len(drops)-1] {
		t.Errorf("drop rules not largest first: %v", drops)
	}
	var b bytes.Buffer
	b.Write(s.YAML)
	t.Logf("suggested policy at 2 GB/month:\n%s", b.String())
}
