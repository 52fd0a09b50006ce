// Package lint finds what a security reviewer would raise about a
// Kubernetes audit policy before it goes live: rules that can never match,
// no catch-all, exec and RBAC changes not logged, bodies with secrets
// logged, RequestReceived kept, impersonation dropped, managedFields kept —
// and, given observed traffic, which rule drops or strips the events the
// enricher tags as risky.
//
// The output is a contract that checks outside the project depend on:
// every Finding has a stable Code, a Severity (high, medium, low), the
// 0-based Rule it concerns (-1 for the whole policy) and a Message that
// says what to change; Events counts the observed events it concerns (0
// without traffic). WriteJSON writes
//
//	{"findings":[{"code":"…","severity":"high","rule":3,"message":"…","events":12}]}
//
// and ExitCode is 1 when any finding is high, 0 otherwise (2, bad input,
// is the caller's). Codes are only ever added; see Codes.
//
// Static checks run the policy's own Decide on synthetic requests built
// from the values the policy mentions (see probe.go), so they follow the
// apiserver's matching rules exactly.
package lint

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/enrich"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/policy"
	"github.com/auditlane/auditlane/common/whatif"
)

// Severity ranks findings.
type Severity string

// Severities, from most to least urgent.
const (
	High   Severity = "high"
	Medium Severity = "medium"
	Low    Severity = "low"
)

func (s Severity) rank() int {
	switch s {
	case High:
		return 0
	case Medium:
		return 1
	}
	return 2
}

// The finding codes. They are stable: checks outside the project match on
// them.
const (
	// CodeShadowedRule: a rule can never match, earlier rules match every
	// request it would (medium).
	CodeShadowedRule = "shadowed-rule"
	// CodeNoCatchAll: requests no rule names are not logged, because no
	// rule matches everything or the catch-all's level is None (medium).
	CodeNoCatchAll = "no-catch-all"
	// CodeStreamingNotLogged: exec, attach, port-forward or proxy requests
	// fall to level None (high).
	CodeStreamingNotLogged = "streaming-not-logged"
	// CodeSecretBodies: Secrets, TokenReviews or TokenRequests (high) or
	// ConfigMaps (medium) are logged at Request or RequestResponse, so the
	// log holds their contents.
	CodeSecretBodies = "secret-bodies-logged"
	// CodeRBACWriteNotLogged: writes to roles, bindings and their cluster
	// variants fall to level None (high).
	CodeRBACWriteNotLogged = "rbac-write-not-logged"
	// CodeRequestReceivedKept: the RequestReceived stage is not omitted,
	// which logs every request twice (medium).
	CodeRequestReceivedKept = "request-received-kept"
	// CodeImpersonationNotLogged: requests by authenticated users fall to
	// level None, and with them impersonated requests, which the log
	// records under the impersonator (high).
	CodeImpersonationNotLogged = "impersonation-not-logged"
	// CodeManagedFieldsKept: a rule logs bodies without omitManagedFields
	// (low).
	CodeManagedFieldsKept = "managed-fields-kept"
	// CodeRiskTagDropped: observed events with a risk tag are dropped;
	// severity follows the tag's (critical and high: high).
	CodeRiskTagDropped = "risk-tag-dropped"
	// CodeRiskTagStripped: observed events with a risk tag whose evidence is
	// the request body are kept below Request level (low).
	CodeRiskTagStripped = "risk-tag-stripped"
)

// Codes lists every code with its severity ("by tag" where it varies).
var Codes = [][2]string{
	{CodeShadowedRule, "medium"},
	{CodeNoCatchAll, "medium"},
	{CodeStreamingNotLogged, "high"},
	{CodeSecretBodies, "high (configmaps: medium)"},
	{CodeRBACWriteNotLogged, "high"},
	{CodeRequestReceivedKept, "medium"},
	{CodeImpersonationNotLogged, "high"},
	{CodeManagedFieldsKept, "low"},
	{CodeRiskTagDropped, "the tag's: critical and high → high, medium → medium, low and info → low"},
	{CodeRiskTagStripped, "low"},
}

// Finding is one problem. Its JSON form is part of the contract.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	// Rule is the 0-based rule index, -1 for the whole policy.
	Rule    int    `json:"rule"`
	Message string `json:"message"`
	// Events counts observed events the finding concerns (0 without
	// traffic).
	Events int64 `json:"events"`
}

// ExitCode returns 1 when any finding is high, 0 otherwise.
func ExitCode(fs []Finding) int {
	for _, f := range fs {
		if f.Severity == High {
			return 1
		}
	}
	return 0
}

// WriteJSON writes {"findings":[...]} and a newline.
func WriteJSON(w io.Writer, fs []Finding) error {
	if fs == nil {
		fs = []Finding{}
	}
	b, err := json.Marshal(struct {
		Findings []Finding `json:"findings"`
	}{fs})
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteTable writes the findings as a table.
func WriteTable(w io.Writer, fs []Finding) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(fs) == 0 {
		fmt.Fprintln(tw, "no findings")
		return tw.Flush()
	}
	fmt.Fprintln(tw, "SEVERITY\tCODE\tRULE\tEVENTS\tMESSAGE")
	for _, f := range fs {
		rule := fmt.Sprint(f.Rule)
		if f.Rule < 0 {
			rule = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", f.Severity, f.Code, rule, f.Events, f.Message)
	}
	return tw.Flush()
}

// finding is a Finding with what it takes to count observed events.
type finding struct {
	Finding
	// tag is the risk tag of a risk-tag finding.
	tag string
	// concerns reports that an observed event counts toward the finding.
	concerns func(ev *audit.Event, o *whatif.Observation) bool
}

type key struct {
	code string
	rule int
	tag  string
}

// Linter holds a policy's findings and adds those that observed traffic
// shows. Use Check, then Observe each event (optional), then Findings.
type Linter struct {
	p     *policy.Policy
	cls   []class
	found map[key]*finding
	order []key
}

// Check runs the static checks on p.
func Check(p *policy.Policy) *Linter {
	l := &Linter{p: p, found: map[key]*finding{}}
	l.cls = l.classes()
	v := vocabOf(p)
	l.checkShadowed(&v)
	l.checkCatchAll()
	l.checkClasses(&v)
	l.checkRequestReceived()
	l.checkManagedFields()
	return l
}

func (l *Linter) add(f finding) *finding {
	k := key{f.Code, f.Rule, f.tag}
	if old, ok := l.found[k]; ok {
		return old
	}
	nf := &f
	l.found[k] = nf
	l.order = append(l.order, k)
	return nf
}

// Findings returns the findings, most severe first, then by rule.
func (l *Linter) Findings() []Finding {
	out := make([]Finding, 0, len(l.order))
	for _, k := range l.order {
		out = append(out, l.found[k].Finding)
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		if c := cmp.Compare(a.Severity.rank(), b.Severity.rank()); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Rule, b.Rule); c != 0 {
			return c
		}
		return strings.Compare(a.Code, b.Code)
	})
	return out
}

// ruleName names rule i for messages.
func (l *Linter) ruleName(i int) string {
	if i < 0 {
		return "no rule (requests that match no rule are not logged)"
	}
	return fmt.Sprintf("rule %d (%s)", i, l.p.RuleSummary(i))
}

func (l *Linter) checkShadowed(v *vocab) {
	budget := shadowProbeBudget
	for j := 1; j < l.p.Rules(); j++ {
		cover, ok := shadowedBy(l.p, j, v, &budget)
		if !ok {
			continue
		}
		by := fmt.Sprintf("rule %d before it matches", cover[0])
		if len(cover) > 1 {
			parts := make([]string, len(cover))
			for i, c := range cover {
				parts[i] = fmt.Sprint(c)
			}
			by = "rules " + strings.Join(parts, ", ") + " before it together match"
		}
		l.add(finding{Finding: Finding{Code: CodeShadowedRule, Severity: Medium, Rule: j,
			Message: fmt.Sprintf("rule %d can never match: %s every request it would. Remove it, or move it above rule %d if its level (%s) is what you meant.",
				j, by, cover[0], l.p.RuleLevel(j))}})
	}
}

func (l *Linter) checkCatchAll() {
	var pr probe
	worst := -2
	for _, res := range []bool{true, false} {
		pr.set(freshUser, nil, freshVerb)
		if res {
			pr.resource(freshGroup, freshRes, "", freshNS, freshName)
		} else {
			pr.nonResource(freshPath)
		}
		d := l.p.Decide(&pr.ev)
		if d.Rule == -1 {
			worst = -1
		} else if d.Level == policy.LevelNone && worst == -2 {
			worst = d.Rule
		}
	}
	switch {
	case worst == -1:
		l.add(finding{Finding: Finding{Code: CodeNoCatchAll, Severity: Medium, Rule: -1,
			Message: "no rule matches every request: requests no rule names are not logged at all. End the policy with a catch-all rule such as `- level: Metadata`."},
			concerns: func(_ *audit.Event, o *whatif.Observation) bool { return o.Result.Decision.Rule == -1 }})
	case worst >= 0:
		rule := worst
		l.add(finding{Finding: Finding{Code: CodeNoCatchAll, Severity: Medium, Rule: rule,
			Message: fmt.Sprintf("rule %d is the catch-all and its level is None: every request no earlier rule names is not logged. Give it level Metadata and drop noise with narrower rules above it.", rule)},
			concerns: func(_ *audit.Event, o *whatif.Observation) bool { return o.Result.Decision.Rule == rule }})
	}
}

// class is a kind of request a check probes for.
type class struct {
	code string
	// cases are the requests of the class and when a decision breaks
	// the check for them.
	cases []reqCase
	// humansOnly probes only identities of people.
	humansOnly bool
	// what describes the class, advice says what to do.
	what, advice string
	// observed, when set, limits the class to observed events it accepts
	// (beyond matching a case).
	observed func(ev *audit.Event) bool
}

// reqCase is one kind of request: verbs on a target, a severity, and the
// levels that break the check.
type reqCase struct {
	t     target
	verbs []string
	sev   Severity
	// badFrom: a level at or above it breaks the check; badNone: level
	// None does.
	badFrom policy.Level
	badNone bool
}

func (c *reqCase) bad(d policy.Decision) bool {
	if c.badNone {
		return d.Level == policy.LevelNone
	}
	return d.Level >= c.badFrom
}

// find returns the case an observed event falls in, nil if none.
func (c *class) find(ev *audit.Event) *reqCase {
	if !ev.HasObjectRef {
		return nil
	}
	r := &ev.ObjectRef
	for i := range c.cases {
		k := &c.cases[i]
		if k.t.group == r.APIGroup && k.t.res == r.Resource && k.t.sub == r.Subresource && slices.Contains(k.verbs, ev.Verb) {
			if c.observed != nil && !c.observed(ev) {
				return nil
			}
			return k
		}
	}
	if c.observed != nil && len(c.cases) > 0 && c.cases[0].t == (target{}) && c.observed(ev) {
		return &c.cases[0]
	}
	return nil
}

type target struct{ group, res, sub string }

func (l *Linter) classes() []class {
	var streaming, rbac []reqCase
	for _, s := range whatif.StreamingSubresources {
		r, sub, _ := strings.Cut(s, "/")
		streaming = append(streaming, reqCase{t: target{"", r, sub}, verbs: []string{"create", "get"}, sev: High, badNone: true})
	}
	for _, r := range whatif.RBACResources {
		rbac = append(rbac, reqCase{t: target{"rbac.authorization.k8s.io", r, ""}, verbs: whatif.WriteVerbs, sev: High, badNone: true})
	}
	reads, writes := []string{"get", "list", "watch"}, []string{"create", "update", "patch"}
	rr, req := policy.LevelRequestResponse, policy.LevelRequest
	impersonated := func(ev *audit.Event) bool {
		v := ev.Value(audit.MemberImpersonatedUser)
		return len(v) > 0 && v[0] == '{'
	}
	return []class{
		{code: CodeStreamingNotLogged, cases: streaming,
			what:   "exec, attach, port-forward and proxy requests",
			advice: "keep them at Metadata or above (a shell in a container bypasses every other control): add a rule for pods/exec, pods/attach, pods/portforward, pods/proxy, services/proxy and nodes/proxy above it"},
		{code: CodeSecretBodies, cases: []reqCase{
			// Reads carry the secret in the response, writes in the request.
			{t: target{"", "secrets", ""}, verbs: reads, sev: High, badFrom: rr},
			{t: target{"", "secrets", ""}, verbs: writes, sev: High, badFrom: req},
			{t: target{"", "configmaps", ""}, verbs: reads, sev: Medium, badFrom: rr},
			{t: target{"", "configmaps", ""}, verbs: writes, sev: Medium, badFrom: req},
			// A TokenRequest's token is in the response, a TokenReview's in
			// the request.
			{t: target{"", "serviceaccounts", "token"}, verbs: []string{"create"}, sev: High, badFrom: rr},
			{t: target{"authentication.k8s.io", "tokenreviews", ""}, verbs: []string{"create"}, sev: High, badFrom: req},
		},
			what:   "Secret, ConfigMap, TokenReview or TokenRequest bodies",
			advice: "log these at Metadata: the bodies hold secret values and tokens, and whoever can read the log can use them"},
		{code: CodeRBACWriteNotLogged, cases: rbac,
			what:   "writes to roles, rolebindings, clusterroles and clusterrolebindings",
			advice: "keep them at Metadata or above (RequestResponse shows what changed): a change of RBAC is a change of who may do what"},
		{code: CodeImpersonationNotLogged, humansOnly: true, observed: impersonated, cases: []reqCase{
			{t: target{}, verbs: nil, sev: High, badNone: true}, // observed impersonated requests of any kind
			{t: target{"", "pods", ""}, verbs: []string{"get", "create", "delete"}, sev: High, badNone: true},
			{t: target{"", "secrets", ""}, verbs: []string{"get"}, sev: High, badNone: true},
			{t: target{"apps", "deployments", ""}, verbs: []string{"create", "patch"}, sev: High, badNone: true},
			{t: target{"rbac.authorization.k8s.io", "clusterrolebindings", ""}, verbs: []string{"create"}, sev: High, badNone: true},
		},
			what:   "requests by authenticated people",
			advice: "impersonated requests are recorded under the impersonator with impersonatedUser set, so dropping people's requests drops impersonation too; keep them at Metadata or above"},
	}
}

func (l *Linter) checkClasses(v *vocab) {
	ids := identities(v)
	var humans []ident
	humans = append(humans, ident{"jane@example.com", []string{"system:authenticated"}})
	for _, g := range v.groups {
		if !strings.HasPrefix(g, "system:") {
			humans = append(humans, ident{"jane@example.com", []string{g, "system:authenticated"}})
		}
	}
	namespaces := append([]string{"default", "kube-system"}, v.namespaces...)
	names := v.names
	for ci := range l.cls {
		c := &l.cls[ci]
		classIDs := ids
		if c.humansOnly {
			classIDs = humans
		}
		type hit struct {
			example string
			sev     Severity
			level   policy.Level
		}
		hits := map[int]*hit{}
		var rules []int
		var pr probe
		for _, k := range c.cases {
			for _, id := range classIDs {
				for _, verb := range k.verbs {
					pr.set(id.user, id.groups, verb)
					for _, ns := range namespaces {
						for _, name := range names {
							pr.resource(k.t.group, k.t.res, k.t.sub, ns, name)
							d := l.p.Decide(&pr.ev)
							if !k.bad(d) {
								continue
							}
							h := hits[d.Rule]
							if h == nil {
								hits[d.Rule] = &hit{example: pr.describe(), sev: k.sev, level: d.Level}
								rules = append(rules, d.Rule)
							} else if k.sev.rank() < h.sev.rank() {
								h.example, h.sev, h.level = pr.describe(), k.sev, d.Level
							}
						}
					}
				}
			}
		}
		for _, rule := range rules {
			h := hits[rule]
			msg := fmt.Sprintf("%s puts %s at level %s (for example %s): %s.", capitalize(l.ruleName(rule)), c.what, h.level, h.example, c.advice)
			l.add(finding{Finding: Finding{Code: c.code, Severity: h.sev, Rule: rule, Message: msg}})
		}
	}
}

func (l *Linter) checkRequestReceived() {
	if l.p.OmitStages()&policy.StageRequestReceived != 0 {
		return
	}
	var rules []int
	for i := 0; i < l.p.Rules(); i++ {
		r := l.p.Rule(i)
		if r.Level != policy.LevelNone && r.OmitStages&policy.StageRequestReceived == 0 {
			rules = append(rules, i)
		}
	}
	if len(rules) == 0 {
		return
	}
	rule := -1
	where := "the policy keeps it"
	if len(rules) == 1 {
		rule = rules[0]
		where = fmt.Sprintf("rule %d keeps it", rule)
	} else if len(rules) > 1 {
		parts := make([]string, len(rules))
		for i, r := range rules {
			parts[i] = fmt.Sprint(r)
		}
		where = "rules " + strings.Join(parts, ", ") + " keep it"
	}
	l.add(finding{Finding: Finding{Code: CodeRequestReceivedKept, Severity: Medium, Rule: rule,
		Message: fmt.Sprintf("the RequestReceived stage is not omitted (%s): every request is logged twice, once on arrival and once on completion. Add `omitStages: [\"RequestReceived\"]` at the top of the policy.", where)},
		concerns: func(ev *audit.Event, o *whatif.Observation) bool {
			return ev.Stage == audit.StageRequestReceived && o.Result.Decision.Level != policy.LevelNone &&
				!o.Result.Decision.Dropped(ev.Stage) && (rule < 0 || o.Result.Decision.Rule == rule)
		}})
}

func (l *Linter) checkManagedFields() {
	for i := 0; i < l.p.Rules(); i++ {
		r := l.p.Rule(i)
		if r.Level < policy.LevelRequest {
			continue
		}
		omit := l.p.OmitManagedFields()
		if r.OmitManagedFields != nil {
			omit = *r.OmitManagedFields
		}
		if omit {
			continue
		}
		rule := i
		l.add(finding{Finding: Finding{Code: CodeManagedFieldsKept, Severity: Low, Rule: i,
			Message: fmt.Sprintf("rule %d logs bodies at %s with managedFields, server-side-apply bookkeeping that is often a third of an event and never needed in an investigation: set `omitManagedFields: true` on the rule or at the top of the policy.", i, r.Level)},
			concerns: func(_ *audit.Event, o *whatif.Observation) bool {
				return o.Result.Decision.Rule == rule && o.Result.Outcome == pipeline.Kept
			}})
	}
}

// bodyTags are the risk tags whose evidence is the request body: below
// Request level the shipped event says the tag, not why.
var bodyTags = map[string]bool{
	"privileged-pod": true, "host-network-pod": true, "host-pid-pod": true, "host-ipc-pod": true,
	"sensitive-host-mount": true, "nodeport-service": true, "ephemeral-container-added": true,
	"clusterrole-wildcard-verbs": true, "clusterrole-wildcard-resources": true, "clusterrole-pod-exec": true,
	"clusterrole-write-privileges": true, "cluster-admin-binding": true,
}

func tagSeverity(tag string) (Severity, string) {
	for _, r := range enrich.Rules {
		if r.Name == tag {
			switch r.Severity {
			case enrich.SeverityCritical, enrich.SeverityHigh:
				return High, r.Severity.String()
			case enrich.SeverityMedium:
				return Medium, r.Severity.String()
			}
			return Low, r.Severity.String()
		}
	}
	return Medium, "custom"
}

// Observe adds what one observed event shows: the static findings it
// concerns count it, and risk-tagged events the policy drops or strips
// become findings of their own. o is the event's what-if observation
// with the same policy.
func (l *Linter) Observe(ev *audit.Event, o *whatif.Observation) {
	for _, k := range l.order {
		f := l.found[k]
		if f.concerns != nil && f.concerns(ev, o) {
			f.Events++
		}
	}
	if !o.Completion {
		return
	}
	d := o.Result.Decision
	for i := range l.cls {
		c := &l.cls[i]
		k := c.find(ev)
		if k == nil || !k.bad(d) {
			continue
		}
		f := l.found[key{c.code, d.Rule, ""}]
		if f == nil {
			f = l.add(finding{Finding: Finding{Code: c.code, Severity: k.sev, Rule: d.Rule,
				Message: fmt.Sprintf("%s puts %s at level %s (observed: %s): %s.", capitalize(l.ruleName(d.Rule)), c.what, d.Level, describeEvent(ev), c.advice)}})
		}
		f.Events++
	}
	if o.Enrich == nil || len(o.Enrich.Tags) == 0 {
		return
	}
	for _, tag := range o.Enrich.Tags {
		switch {
		case o.Lost:
			sev, tagSev := tagSeverity(tag)
			what := "match no rule and are not logged: add a catch-all rule (`- level: Metadata`) or a rule that keeps them"
			if d.Rule >= 0 {
				what = fmt.Sprintf("are dropped by rule %d (%s): keep them at Metadata or above with a rule placed before it", d.Rule, l.p.RuleSummary(d.Rule))
			}
			f := l.add(finding{Finding: Finding{Code: CodeRiskTagDropped, Severity: sev, Rule: d.Rule,
				Message: fmt.Sprintf("events tagged %s (%s) %s.", tag, tagSev, what)}, tag: tag})
			f.Events++
		case bodyTags[tag] && d.Level < policy.LevelRequest && o.Result.Outcome == pipeline.Kept:
			f := l.add(finding{Finding: Finding{Code: CodeRiskTagStripped, Severity: Low, Rule: d.Rule,
				Message: fmt.Sprintf("events tagged %s are kept at %s by rule %d (%s): the request body that shows why is not shipped (the auditlane.io/risk-tags annotation still is); log them at Request to keep the evidence.",
					tag, d.Level, d.Rule, l.p.RuleSummary(d.Rule))}, tag: tag})
			f.Events++
		}
	}
}

// describeEvent says what an observed event asked, for messages.
func describeEvent(ev *audit.Event) string {
	pr := probe{ev: audit.Event{User: ev.User, Verb: ev.Verb, HasObjectRef: ev.HasObjectRef, ObjectRef: ev.ObjectRef, RequestURI: ev.Path()}}
	return pr.describe()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
