// Package suggest writes an audit.k8s.io/v1 Policy from observed traffic
// that ships at most a monthly budget and keeps every security-relevant
// event (see whatif.Classify) at Metadata or above with its
// ResponseComplete stage.
//
// The policy has four parts, in this order:
//
//  1. security rules, kept whatever the budget: exec / attach /
//     port-forward / proxy, Secrets and TokenRequests (Metadata, never
//     bodies), RBAC writes, anonymous callers;
//  2. drop rules (level None), chosen greedily by bytes saved among
//     classes of requests — who × verbs × resource [× namespace], or a
//     non-resource path — that hold no security-relevant event, until the
//     budget holds;
//  3. detail the budget still pays for: RBAC writes and then all writes at
//     RequestResponse or Request (ConfigMaps and TokenReviews stay at
//     Metadata, their bodies can hold credentials);
//  4. a catch-all at Metadata, so requests the traffic did not show are
//     logged.
//
// Policy-wide, RequestReceived is omitted and omitManagedFields set. Sizes
// are measured with the configured pipeline (enrichment, layout, max
// event size, redaction), as `policy test` measures them. When even
// dropping every class free of security-relevant events cannot meet the
// budget, Suggest returns an *Infeasible error carrying the smallest
// budget that works.
package suggest

import (
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditlane/auditlane/common/policy"
	"github.com/auditlane/auditlane/common/policy/lint"
	"github.com/auditlane/auditlane/common/whatif"
)

// Budget is a monthly budget; set one of the two.
type Budget struct {
	GBPerMonth  float64
	USDPerMonth float64
}

// Infeasible is returned when no policy meets the budget without losing a
// security-relevant event.
type Infeasible struct {
	Budget   float64 // GB per month asked for
	FloorGB  float64 // the smallest budget that works, GB per month
	FloorUSD float64 // the same at the price
	Price    whatif.Price
}

func (e *Infeasible) Error() string {
	return fmt.Sprintf("no policy ships at most %.3f GB/month and keeps every security-relevant event: the smallest budget that works is %.3f GB/month ($%.2f/month at $%.4g/GB, %s)",
		e.Budget, e.FloorGB, e.FloorUSD, e.Price.USDPerGB, e.Price.Name)
}

// Suggestion is a suggested policy.
type Suggestion struct {
	// YAML is the policy, commented.
	YAML []byte
	// Rules is the number of rules.
	Rules int
	// BudgetGB is the budget in GB per month; MonthlyGB and MonthlyUSD
	// what the policy ships on the observed traffic, projected.
	BudgetGB, MonthlyGB, MonthlyUSD float64
	// FloorGB is the smallest budget that works.
	FloorGB float64
	// Price is the model the costs use.
	Price whatif.Price
	// Kept and Dropped count observed events.
	Kept, Dropped int64
}

// headroom keeps the suggestion this fraction under the budget: sizes are
// measured per level with the configured pipeline, and a pipeline's
// provider detection (which adds an annotation) depends on the events it
// has seen, so a policy test of the result can differ by a few bytes per
// event.
const headroom = 0.995

// Suggest writes a policy for the events collected, within budget. rep is
// the what-if report of the same events (its observed rate projects bytes
// to months); price converts dollars.
func (c *Collector) Suggest(rep *whatif.Report, b Budget, price whatif.Price) (*Suggestion, error) {
	if rep.MonthlyFactor <= 0 {
		return nil, whatif.ErrNoRate
	}
	budgetGB := b.GBPerMonth
	if b.USDPerMonth > 0 {
		if price.USDPerGB <= 0 {
			return nil, errors.New("a budget in USD needs a price per GB above zero")
		}
		budgetGB = b.USDPerMonth / price.USDPerGB
	}
	if budgetGB <= 0 || math.IsNaN(budgetGB) || math.IsInf(budgetGB, 0) {
		return nil, fmt.Errorf("budget must be a positive number of GB or USD per month")
	}
	budgetBytes := int64(budgetGB * headroom * whatif.GB / rep.MonthlyFactor)
	toGB := func(n int64) float64 { return float64(n) * rep.MonthlyFactor / whatif.GB }

	// People's requests are kept when the budget allows: first try
	// without dropping any, then allow it.
	pl := newPlan(c.cells, true)
	floor := pl.floor()
	if floor > budgetBytes {
		pl = newPlan(c.cells, false)
		floor = pl.floor()
	}
	if floor > budgetBytes {
		return nil, &Infeasible{Budget: budgetGB, FloorGB: toGB(floor) / headroom, FloorUSD: toGB(floor) / headroom * price.USDPerGB, Price: price}
	}
	if pl.protectHumans {
		// The smallest budget that works is the one that drops people's
		// requests too.
		floor = newPlan(c.cells, false).floor()
	}
	pl.chooseDrops(budgetBytes)
	pl.upgrade(budgetBytes)
	rules := pl.rules()
	text, pol, err := render(rules, c, rep, price, budgetGB, toGB(floor)/headroom)
	if err != nil {
		return nil, err
	}
	// Check the policy as written, with the policy engine: every
	// security-relevant cell keeps its level and stage, and the cost is
	// what the plan says.
	var cost int64
	s := &Suggestion{YAML: text, Rules: pol.Rules(), BudgetGB: budgetGB, FloorGB: toGB(floor) / headroom, Price: price}
	for i := range c.cells {
		cl := &c.cells[i]
		d := pol.Decide(cl.key.probe())
		lost := d.Level == policy.LevelNone || d.OmitStages&policy.StageResponseComplete != 0
		if cl.must && lost {
			return nil, fmt.Errorf("suggest: internal error: rule %d drops security-relevant requests (%s)", d.Rule, cl.key.describe())
		}
		if d.Level != policy.LevelNone {
			cost += cl.size[d.Level]
			s.Kept += cl.count[d.Level]
			s.Dropped += cl.events - cl.count[d.Level]
		} else {
			s.Dropped += cl.events
		}
	}
	if cost != pl.cost() {
		return nil, fmt.Errorf("suggest: internal error: the policy ships %d bytes, the plan %d", cost, pl.cost())
	}
	s.MonthlyGB = toGB(cost)
	s.MonthlyUSD = s.MonthlyGB * price.USDPerGB
	return s, nil
}

func (k *cellKey) describe() string {
	var b strings.Builder
	b.WriteString(k.verb + " ")
	if k.hasRef {
		if k.group != "" {
			b.WriteString(k.group + "/")
		}
		b.WriteString(k.res)
		if k.sub != "" {
			b.WriteString("/" + k.sub)
		}
		if k.ns != "" {
			b.WriteString(" in " + k.ns)
		}
	} else {
		b.WriteString(k.path)
	}
	return b.String() + " by " + k.user
}

// ---- rules ---------------------------------------------------------------

// groupRes is one resources entry; no resources means the whole group.
type groupRes struct {
	group     string
	resources []string
}

// rule is a policy rule in the shapes suggestions use.
type rule struct {
	level      policy.Level
	users      []string
	groups     []string
	verbs      []string
	resources  []groupRes
	namespaces []string
	urls       []string
	// part is the section the rule belongs to; why explains it.
	part, why string
}

func (r *rule) matches(k *cellKey) bool {
	if len(r.users) > 0 && !slices.Contains(r.users, k.user) {
		return false
	}
	if len(r.groups) > 0 && !slices.ContainsFunc(r.groups, k.hasGroup) {
		return false
	}
	if len(r.verbs) > 0 && !slices.Contains(r.verbs, k.verb) {
		return false
	}
	resourceRule := len(r.resources) > 0 || len(r.namespaces) > 0
	if resourceRule {
		if !k.hasRef || len(r.namespaces) > 0 && !slices.Contains(r.namespaces, k.ns) {
			return false
		}
		if len(r.resources) == 0 {
			return true
		}
		name := k.res
		if k.sub != "" {
			name += "/" + k.sub
		}
		for _, gr := range r.resources {
			if gr.group == k.group && (len(gr.resources) == 0 || slices.Contains(gr.resources, name)) {
				return true
			}
		}
		return false
	}
	if len(r.urls) > 0 {
		if k.hasRef {
			return false
		}
		for _, u := range r.urls {
			if p, ok := strings.CutSuffix(u, "*"); ok && strings.HasPrefix(k.path, p) || u == k.path {
				return true
			}
		}
		return false
	}
	return true
}

var readVerbs = []string{"get", "list", "watch"}

// securityRules are kept whatever the budget; rbac is the index of the
// RBAC-writes rule, whose level an upgrade may raise.
func securityRules() (rules []rule, rbac int) {
	streaming := slices.Clone(whatif.StreamingSubresources)
	rules = []rule{
		{level: policy.LevelMetadata, resources: []groupRes{{"", streaming}}, part: "security",
			why: "exec, attach, port-forward and proxy: a shell or tunnel into a workload bypasses every other control"},
		{level: policy.LevelMetadata, resources: []groupRes{{"", []string{"secrets", "serviceaccounts/token"}}}, part: "security",
			why: "every access to Secrets and every TokenRequest, at Metadata: who read which secret, never its value"},
		{level: policy.LevelMetadata, verbs: whatif.WriteVerbs, resources: []groupRes{{"rbac.authorization.k8s.io", whatif.RBACResources}}, part: "security",
			why: "RBAC writes: a change of who may do what"},
		{level: policy.LevelMetadata, groups: []string{"system:unauthenticated"}, part: "security",
			why: "anonymous callers (system:anonymous is always in system:unauthenticated): scanners and misconfigured clients"},
	}
	return rules, 2
}

// ---- the plan ------------------------------------------------------------

type idKind uint8

const (
	idAny idKind = iota
	idUser
	idGroup
)

type verbKind uint8

const (
	verbsAny verbKind = iota
	verbsOne
	verbsRead
)

// candKey is a class of requests a drop rule can name.
type candKey struct {
	id       idKind
	who      string
	vk       verbKind
	verb     string
	anyRes   bool // any resource (and non-resource requests): no resources field
	group    string
	res      string // resource or resource/subresource
	ns       string
	hasNS    bool
	path     string // non-resource: exact path, or prefix "/seg" for ["/seg", "/seg/*"]
	prefix   bool
	nonResou bool
}

type cand struct {
	key     candKey
	members []int
	clean   bool
	picked  bool
	savings int64
	// breadth ranks broader classes first when savings tie.
	breadth int
}

type plan struct {
	cells []cell
	// protectHumans: classes holding people's requests are not dropped.
	protectHumans bool
	sec           []rule
	rbac          int
	secOf         []int // per cell: the security rule that decides it, or -1
	cands         []*cand
	dropped       []bool
	picked        []*cand
	// detail: level of the writes rule (None: absent).
	detail policy.Level
}

// specialGroups are groups a drop rule may name instead of listing users
// (node names change, the group does not).
var specialGroups = []string{"system:nodes"}

func newPlan(cells []cell, protectHumans bool) *plan {
	p := &plan{cells: cells, protectHumans: protectHumans}
	p.sec, p.rbac = securityRules()
	p.secOf = make([]int, len(cells))
	p.dropped = make([]bool, len(cells))
	index := map[candKey]*cand{}
	for i := range cells {
		k := &cells[i].key
		p.secOf[i] = -1
		for j := range p.sec {
			if p.sec[j].matches(k) {
				p.secOf[i] = j
				break
			}
		}
		if p.secOf[i] >= 0 {
			continue
		}
		ids := []candKey{{id: idUser, who: k.user}, {id: idAny}}
		for _, g := range specialGroups {
			if k.hasGroup(g) {
				ids = append(ids, candKey{id: idGroup, who: g})
			}
		}
		add := func(ck candKey, breadth int) {
			c := index[ck]
			if c == nil {
				c = &cand{key: ck, breadth: breadth}
				index[ck] = c
				p.cands = append(p.cands, c)
			}
			c.members = append(c.members, i)
		}
		isRead := slices.Contains(readVerbs, k.verb)
		for _, id := range ids {
			b := 0
			if id.id != idAny {
				b = 1
			}
			if id.id != idAny && isRead {
				rk := id
				rk.vk, rk.anyRes = verbsRead, true
				add(rk, b+0)
			}
			if k.hasRef {
				res := k.res
				if k.sub != "" {
					res += "/" + k.sub
				}
				vks := []candKey{{vk: verbsOne, verb: k.verb}}
				if isRead {
					vks = append(vks, candKey{vk: verbsRead})
				}
				for _, v := range vks {
					ck := id
					ck.vk, ck.verb, ck.group, ck.res = v.vk, v.verb, k.group, res
					vb := 0
					if v.vk == verbsOne {
						vb = 1
					}
					add(ck, b+vb+1)
					if k.ns != "" {
						ck.ns, ck.hasNS = k.ns, true
						add(ck, b+vb+2)
					}
				}
			} else {
				ck := id
				ck.nonResou, ck.path = true, k.path
				add(ck, b+1)
				if seg := firstSegment(k.path); seg != "" && id.id == idAny {
					ck.path, ck.prefix = seg, true
					add(ck, b)
				}
			}
		}
	}
	for _, c := range p.cands {
		c.clean = true
		for _, m := range c.members {
			if cells[m].must || protectHumans && cells[m].human {
				c.clean = false
				break
			}
		}
		if c.clean && c.key.id != idUser {
			c.clean = p.lintAllows(c)
		}
	}
	slices.SortFunc(p.cands, func(a, b *cand) int { return strings.Compare(a.key.String(), b.key.String()) })
	return p
}

// lintAllows reports whether a drop rule for c, placed where suggestions
// put drop rules, passes lint without a high finding. A class can be clean
// on the traffic seen and still drop what a reviewer must see in future
// traffic: "create pods in namespace shop, by anyone" drops the next
// person's (or impersonator's) pod. Only rules that name no user can.
func (p *plan) lintAllows(c *cand) bool {
	rules := append(slices.Clone(p.sec), mergeDrops([]*cand{c})...)
	rules = append(rules, rule{level: policy.LevelMetadata})
	pol, err := policy.Parse("candidate", append([]byte(head), rulesYAML(rules, nil)...))
	if err != nil {
		return false
	}
	for _, f := range lint.Check(pol).Findings() {
		if f.Severity == lint.High && f.Rule == len(p.sec) {
			return false
		}
	}
	return true
}

// firstSegment returns "/seg" for "/seg" or "/seg/...", "" for "/".
func firstSegment(path string) string {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok || rest == "" {
		return ""
	}
	seg, _, _ := strings.Cut(rest, "/")
	return "/" + seg
}

func (k candKey) String() string {
	return fmt.Sprintf("%d|%s|%d|%s|%t|%s|%s|%s|%t|%s|%t|%t", k.id, k.who, k.vk, k.verb, k.anyRes, k.group, k.res, k.ns, k.hasNS, k.path, k.prefix, k.nonResou)
}

// level returns the level cell i gets when it is not dropped.
func (p *plan) level(i int) policy.Level {
	if j := p.secOf[i]; j >= 0 {
		return p.sec[j].level
	}
	if p.detail != policy.LevelNone {
		k := &p.cells[i].key
		if bodiesNever.matches(k) {
			return policy.LevelMetadata
		}
		if writesRule(p.detail).matches(k) {
			return p.detail
		}
	}
	return policy.LevelMetadata
}

func (p *plan) cost() int64 {
	var n int64
	for i := range p.cells {
		if !p.dropped[i] {
			n += p.cells[i].size[p.level(i)]
		}
	}
	return n
}

// floor is the cost with every clean class dropped.
func (p *plan) floor() int64 {
	can := make([]bool, len(p.cells))
	for _, c := range p.cands {
		if c.clean {
			for _, m := range c.members {
				can[m] = true
			}
		}
	}
	var n int64
	for i := range p.cells {
		if !can[i] {
			n += p.cells[i].size[p.level(i)]
		}
	}
	return n
}

type candHeap []*cand

func (h candHeap) Len() int { return len(h) }
func (h candHeap) Less(i, j int) bool {
	if h[i].savings != h[j].savings {
		return h[i].savings > h[j].savings
	}
	return h[i].breadth < h[j].breadth
}
func (h candHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *candHeap) Push(x any)   { *h = append(*h, x.(*cand)) }
func (h *candHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (p *plan) savings(c *cand) int64 {
	var n int64
	for _, m := range c.members {
		if !p.dropped[m] {
			n += p.cells[m].size[p.level(m)]
		}
	}
	return n
}

// chooseDrops picks clean classes by bytes saved (lazy greedy) until the
// cost is within budget, then removes picks that later picks made
// redundant.
func (p *plan) chooseDrops(budget int64) {
	cost := p.cost()
	if cost <= budget {
		return
	}
	h := candHeap{}
	for _, c := range p.cands {
		if c.clean {
			c.savings = p.savings(c)
			if c.savings > 0 {
				h = append(h, c)
			}
		}
	}
	heap.Init(&h)
	for cost > budget && h.Len() > 0 {
		c := heap.Pop(&h).(*cand)
		if s := p.savings(c); s != c.savings {
			c.savings = s
			if s > 0 {
				heap.Push(&h, c)
			}
			continue
		}
		c.picked = true
		p.picked = append(p.picked, c)
		for _, m := range c.members {
			p.dropped[m] = true
		}
		cost -= c.savings
	}
	// A pick is redundant when later picks cover all its members.
	covered := make([]int, len(p.cells))
	for _, c := range p.picked {
		for _, m := range c.members {
			covered[m]++
		}
	}
	kept := make([]*cand, 0, len(p.picked))
	for i := len(p.picked) - 1; i >= 0; i-- {
		c := p.picked[i]
		redundant := true
		for _, m := range c.members {
			if covered[m] < 2 {
				redundant = false
				break
			}
		}
		if redundant {
			for _, m := range c.members {
				covered[m]--
			}
			c.picked = false
			continue
		}
		kept = append(kept, c)
	}
	slices.Reverse(kept)
	p.picked = kept
}

// upgrade spends what the budget leaves on detail: RBAC writes at
// RequestResponse, then all writes at RequestResponse or Request.
func (p *plan) upgrade(budget int64) {
	p.sec[p.rbac].level = policy.LevelRequestResponse
	p.sec[p.rbac].why += ", at RequestResponse: what changed"
	if p.cost() > budget {
		p.sec[p.rbac].level = policy.LevelMetadata
		p.sec[p.rbac].why = strings.TrimSuffix(p.sec[p.rbac].why, ", at RequestResponse: what changed")
	}
	for _, l := range []policy.Level{policy.LevelRequestResponse, policy.LevelRequest} {
		p.detail = l
		if p.cost() <= budget {
			return
		}
	}
	p.detail = policy.LevelNone
}

// bodiesNever keeps ConfigMaps and TokenReviews at Metadata under a
// detail rule: their bodies can hold credentials.
var bodiesNever = rule{level: policy.LevelMetadata, resources: []groupRes{{"", []string{"configmaps"}}, {"authentication.k8s.io", []string{"tokenreviews"}}},
	part: "detail", why: "ConfigMaps and TokenReviews at Metadata: their bodies can hold credentials and tokens"}

func writesRule(l policy.Level) *rule {
	return &rule{level: l, verbs: whatif.WriteVerbs, part: "detail",
		why: "every other write at " + l.String() + ": what was changed, by whom"}
}

// rules returns the policy's rules in order.
func (p *plan) rules() []rule {
	out := slices.Clone(p.sec)
	out = append(out, mergeDrops(p.picked)...)
	if p.detail != policy.LevelNone {
		out = append(out, bodiesNever, *writesRule(p.detail))
	}
	return append(out, rule{level: policy.LevelMetadata, part: "catch-all",
		why: "everything else at Metadata, so requests this traffic did not show are logged"})
}

// mergeDrops turns picked classes into rules, in pick order, and merges
// rules that differ in one list only (who, resources or namespaces): a
// rule is a product of its lists, so such a merge names exactly the union
// of the two.
func mergeDrops(picked []*cand) []rule {
	rules := make([]rule, 0, len(picked))
	for _, c := range picked {
		rules = append(rules, dropRule(c.key))
	}
	for merged := true; merged; {
		merged = false
		for i := 0; i < len(rules) && !merged; i++ {
			for j := i + 1; j < len(rules) && !merged; j++ {
				if m, ok := mergeRules(&rules[i], &rules[j]); ok {
					rules[i] = m
					rules = slices.Delete(rules, j, j+1)
					merged = true
				}
			}
		}
	}
	for i := range rules {
		r := &rules[i]
		kind, who := idAny, r.users
		switch {
		case len(r.users) > 0:
			kind = idUser
		case len(r.groups) > 0:
			kind, who = idGroup, r.groups
		}
		ns := ""
		if len(r.namespaces) > 0 {
			ns = strings.Join(r.namespaces, ", ")
		}
		vk, verb := verbsAny, ""
		switch {
		case slices.Equal(r.verbs, readVerbs):
			vk = verbsRead
		case len(r.verbs) == 1:
			vk, verb = verbsOne, r.verbs[0]
		}
		r.why = describeShape(kind, who, vk, verb, len(r.resources) == 0 && len(r.urls) == 0, len(r.urls) > 0, len(r.urls) > 1, ns)
	}
	return rules
}

// dropRule is the rule that drops class k.
func dropRule(k candKey) rule {
	r := rule{level: policy.LevelNone, part: "drop"}
	switch k.id {
	case idUser:
		r.users = []string{k.who}
	case idGroup:
		r.groups = []string{k.who}
	}
	switch k.vk {
	case verbsOne:
		r.verbs = []string{k.verb}
	case verbsRead:
		r.verbs = readVerbs
	}
	switch {
	case k.nonResou && k.prefix:
		r.urls = []string{k.path, k.path + "/*"}
	case k.nonResou:
		r.urls = []string{k.path}
	case !k.anyRes:
		r.resources = []groupRes{{k.group, []string{k.res}}}
		if k.hasNS {
			r.namespaces = []string{k.ns}
		}
	}
	return r
}

// resourceSet lists a rule's resources as "group/resource" strings.
func resourceSet(r *rule) []string {
	var out []string
	for _, gr := range r.resources {
		for _, res := range gr.resources {
			out = append(out, gr.group+"\x00"+res)
		}
	}
	slices.Sort(out)
	return out
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// mergeRules merges two drop rules that differ in exactly one of their
// who, resources and namespaces lists, both lists non-empty.
func mergeRules(a, b *rule) (rule, bool) {
	if !slices.Equal(a.verbs, b.verbs) || !sameSet(a.urls, b.urls) || (len(a.users) > 0) != (len(b.users) > 0) || (len(a.groups) > 0) != (len(b.groups) > 0) {
		return rule{}, false
	}
	whoA, whoB := append(slices.Clone(a.users), a.groups...), append(slices.Clone(b.users), b.groups...)
	resA, resB := resourceSet(a), resourceSet(b)
	sameWho, sameRes, sameNS := sameSet(whoA, whoB), slices.Equal(resA, resB), sameSet(a.namespaces, b.namespaces)
	m := *a
	switch {
	case !sameWho && sameRes && sameNS && len(whoA) > 0 && len(whoB) > 0:
		m.users, m.groups = union(a.users, b.users), union(a.groups, b.groups)
		slices.Sort(m.users)
		slices.Sort(m.groups)
	case sameWho && !sameRes && sameNS && len(resA) > 0 && len(resB) > 0:
		m.resources = slices.Clone(a.resources)
		for _, gr := range b.resources {
			for _, res := range gr.resources {
				addResource(&m, gr.group, res)
			}
		}
	case sameWho && sameRes && !sameNS && len(a.namespaces) > 0 && len(b.namespaces) > 0:
		m.namespaces = union(a.namespaces, b.namespaces)
	default:
		return rule{}, false
	}
	return m, true
}

// describeShape says in words what a drop rule names.
func describeShape(id idKind, who []string, vk verbKind, verb string, anyRes, nonRes, prefix bool, ns string) string {
	var what string
	switch vk {
	case verbsRead:
		what = "reads (get, list, watch)"
	case verbsOne:
		what = verb
	default:
		what = "requests"
	}
	switch {
	case nonRes && prefix:
		what += " to the paths below"
	case nonRes:
		what += " to the path below"
	case anyRes:
		what += " of anything"
	default:
		what += " of the resources below"
		if ns != "" {
			what += " in namespace " + ns
		}
	}
	if strings.Contains(ns, ", ") {
		what = strings.Replace(what, " in namespace ", " in namespaces ", 1)
	}
	switch id {
	case idUser:
		if len(who) == 1 {
			return what + ", by " + who[0]
		}
		return fmt.Sprintf("%s, by the %d identities below", what, len(who))
	case idGroup:
		return what + ", by members of " + strings.Join(who, ", ")
	}
	return what + ", by anyone"
}

func addResource(r *rule, group, res string) {
	for i := range r.resources {
		if r.resources[i].group == group {
			r.resources[i].resources = append(r.resources[i].resources, res)
			return
		}
	}
	r.resources = append(r.resources, groupRes{group, []string{res}})
}

// ---- writing -------------------------------------------------------------

func quote(s string) string { return strconv.Quote(s) }

func list(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// head is the start of every suggested policy.
const head = "apiVersion: audit.k8s.io/v1\nkind: Policy\n# RequestReceived repeats every request's ResponseComplete record.\nomitStages: [\"RequestReceived\"]\n# managedFields is server-side-apply bookkeeping, never needed in an investigation.\nomitManagedFields: true\nrules:\n"

// rulesYAML writes the rules list; stats, when set, gives each rule's
// volume comment.
func rulesYAML(rules []rule, stats func(i int) string) []byte {
	var b bytes.Buffer
	part := ""
	for i, r := range rules {
		if r.part != part {
			part = r.part
			b.WriteString("\n  # ---- " + partTitle[part] + " ----\n")
		}
		b.WriteString("  # " + strconv.Itoa(i) + ". " + r.why + "\n")
		if stats != nil {
			b.WriteString("  #    " + stats(i) + "\n")
		}
		b.WriteString("  - level: " + r.level.String() + "\n")
		if len(r.users) > 0 {
			b.WriteString("    users: " + list(r.users) + "\n")
		}
		if len(r.groups) > 0 {
			b.WriteString("    userGroups: " + list(r.groups) + "\n")
		}
		if len(r.verbs) > 0 {
			b.WriteString("    verbs: " + list(r.verbs) + "\n")
		}
		if len(r.namespaces) > 0 {
			b.WriteString("    namespaces: " + list(r.namespaces) + "\n")
		}
		if len(r.resources) > 0 {
			b.WriteString("    resources:\n")
			for _, gr := range r.resources {
				b.WriteString("      - group: " + quote(gr.group) + "\n")
				if len(gr.resources) > 0 {
					b.WriteString("        resources: " + list(gr.resources) + "\n")
				}
			}
		}
		if len(r.urls) > 0 {
			b.WriteString("    nonResourceURLs: " + list(r.urls) + "\n")
		}
	}
	return b.Bytes()
}

// render writes the policy with comments and parses it back.
func render(rules []rule, c *Collector, rep *whatif.Report, price whatif.Price, budgetGB, floorGB float64) ([]byte, *policy.Policy, error) {
	// First pass without comments, to attribute cells to rules with the
	// policy engine itself.
	body := func(stats func(i int) string) []byte { return rulesYAML(rules, stats) }
	pol, err := policy.Parse("suggested policy", append([]byte(head), body(nil)...))
	if err != nil {
		return nil, nil, fmt.Errorf("suggest: internal error: %w", err)
	}
	type ruleStat struct {
		events, kept, bytes, wouldShip int64
	}
	st := make([]ruleStat, pol.Rules())
	var total int64
	for i := range c.cells {
		cl := &c.cells[i]
		d := pol.Decide(cl.key.probe())
		if d.Rule < 0 {
			continue
		}
		s := &st[d.Rule]
		s.events += cl.events
		if d.Level != policy.LevelNone {
			s.kept += cl.count[d.Level]
			s.bytes += cl.size[d.Level]
			total += cl.size[d.Level]
		} else {
			s.wouldShip += cl.size[policy.LevelMetadata]
		}
	}
	gb := func(n int64) float64 { return float64(n) * rep.MonthlyFactor / whatif.GB }
	stats := func(i int) string {
		s := st[i]
		if rules[i].level == policy.LevelNone {
			return fmt.Sprintf("drops %d events; at Metadata they would ship %.3f GB/month ($%.2f)", s.events, gb(s.wouldShip), gb(s.wouldShip)*price.USDPerGB)
		}
		omitted := ""
		switch n := s.events - s.kept; {
		case n == 1:
			omitted = " (1 more is a RequestReceived record)"
		case n > 1:
			omitted = fmt.Sprintf(" (%d more are RequestReceived records)", n)
		}
		return fmt.Sprintf("keeps %d events%s: %.3f GB/month, $%.2f, %.0f%% of what ships", s.kept, omitted, gb(s.bytes), gb(s.bytes)*price.USDPerGB, 100*float64(s.bytes)/math.Max(1, float64(total)))
	}
	var b bytes.Buffer
	span := time.Duration(rep.SpanSeconds * float64(time.Second)).Round(time.Second)
	fmt.Fprintf(&b, "# Suggested by `auditlane policy suggest` from %d observed events (%s) over %s.\n", c.events, strings.Join(rep.Inputs, ", "), span)
	fmt.Fprintf(&b, "# Budget %.3f GB/month; on that traffic this policy ships %.3f GB/month, $%.2f/month at $%.4g/GB (%s).\n",
		budgetGB, gb(total), gb(total)*price.USDPerGB, price.USDPerGB, price.Name)
	fmt.Fprintf(&b, "# The smallest budget that keeps every security-relevant event is %.3f GB/month.\n", floorGB)
	if len(rep.Settings) > 0 {
		fmt.Fprintf(&b, "# Measured with the pipeline settings %s.\n", strings.Join(rep.Settings, " "))
	}
	b.WriteString("# Kept at Metadata or above with ResponseComplete, whatever the budget: every event with a risk tag,\n" +
		"# exec / attach / port-forward / proxy, Secret access, RBAC writes, TokenRequests, denied (403) requests\n" +
		"# and allowed anonymous requests. Drop rules name only requests among which none of those was seen.\n" +
		"# Rules are tried top to bottom; the first match decides.\n")
	b.WriteString(head)
	b.Write(body(stats))
	out := b.Bytes()
	pol2, err := policy.Parse("suggested policy", out)
	if err != nil {
		return nil, nil, fmt.Errorf("suggest: internal error: %w", err)
	}
	return out, pol2, nil
}

var partTitle = map[string]string{
	"security":  "Security-relevant requests: kept whatever the budget",
	"drop":      "Noise: dropped, largest saving first (no security-relevant event among them)",
	"detail":    "Detail the budget pays for",
	"catch-all": "Everything else",
}
