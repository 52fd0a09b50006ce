package policy

import (
	"strings"

	"github.com/auditlane/auditlane/common/audit"
)

// Policy is a compiled audit policy. It is immutable and safe for concurrent
// use.
type Policy struct {
	name              string
	apiVersion        string
	omitStages        Stages
	omitManagedFields bool
	specs             []ruleSpec
	rules             []rule
}

// Name returns the name the policy was loaded under (the file path for Load).
func (p *Policy) Name() string { return p.name }

// APIVersion returns the policy's apiVersion as written.
func (p *Policy) APIVersion() string { return p.apiVersion }

// OmitStages returns the policy-wide omitStages.
func (p *Policy) OmitStages() Stages { return p.omitStages }

// OmitManagedFields returns the policy-wide omitManagedFields default.
func (p *Policy) OmitManagedFields() bool { return p.omitManagedFields }

// Rules returns the number of rules.
func (p *Policy) Rules() int { return len(p.rules) }

// Decide returns the decision of the first rule that matches ev, or Level
// None with the policy's omitStages and omitManagedFields when none does.
// It does not allocate.
func (p *Policy) Decide(ev *audit.Event) Decision {
	vb := verbBit(ev.Verb)
	for i := range p.rules {
		r := &p.rules[i]
		if r.verbMask&vb != 0 && r.matches(ev, vb) {
			return Decision{Level: r.level, OmitStages: r.omitStages, OmitManagedFields: r.omitManagedFields, Rule: i}
		}
	}
	return Decision{Level: LevelNone, OmitStages: p.omitStages, OmitManagedFields: p.omitManagedFields, Rule: -1}
}

// setThreshold is the size from which a string set uses a map; below it a
// linear scan is faster.
const setThreshold = 8

// strSet is a set of strings. The zero value is empty.
type strSet struct {
	list []string
	m    map[string]struct{}
}

func newStrSet(ss []string) strSet {
	var s strSet
	if len(ss) >= setThreshold {
		s.m = make(map[string]struct{}, len(ss))
		for _, v := range ss {
			s.m[v] = struct{}{}
		}
		return s
	}
	s.list = ss
	return s
}

func (s *strSet) has(v string) bool {
	if s.m != nil {
		_, ok := s.m[v]
		return ok
	}
	for _, x := range s.list {
		if x == v {
			return true
		}
	}
	return false
}

func (s *strSet) empty() bool { return s.m == nil && len(s.list) == 0 }

// rule is a compiled rule. Empty restrictions match everything, as in the
// apiserver.
type rule struct {
	level             Level
	omitStages        Stages // policy's ∪ rule's
	omitManagedFields bool   // rule's if set, else policy's

	users  strSet
	groups strSet
	verbs  strSet
	// verbMask has verbBit of each listed verb (every bit when verbs is
	// empty), so most events are told apart without a string compare.
	verbMask uint16

	// resourceRule: the rule has namespaces or resources, so it matches
	// resource requests only. nonResourceRule: it has nonResourceURLs (and
	// neither of those), so it matches non-resource requests only. A rule
	// with neither matches every request.
	resourceRule    bool
	nonResourceRule bool

	namespaces strSet
	// anyResource: the rule has namespaces but no resources.
	anyResource bool
	// allGroups: entries without resources (all resources of the group),
	// folded into one set; allAnyGroup: one of them has group "*".
	allGroups   strSet
	allAnyGroup bool
	// groupRes are the entries that list resources.
	groupRes []compiledGroupRes

	urls urlMatcher
}

// compiledGroupRes is one resources entry that lists resources.
type compiledGroupRes struct {
	group    string
	anyGroup bool   // group "*"
	names    strSet // resourceNames; empty = any name
	hasNames bool
	star     bool // "*" among resources
	specs    []resSpec
}

// resSpec is one entry of a resources list other than "*".
type resSpec struct {
	// exact: the whole spec, matched against "resource" or
	// "resource/subresource".
	exact string
	// starSub: spec "*/sub" (sub = starSub) matches any resource's sub.
	starSub   string
	isStarSub bool
	// resStar: spec "res/*" (res = resStar) matches res and all its
	// subresources.
	resStar   string
	isResStar bool
}

// urlMatcher matches request paths against nonResourceURLs.
type urlMatcher struct {
	star     bool
	exact    strSet
	prefixes []string
}

func (m *urlMatcher) match(path string) bool {
	if m.star || m.exact.has(path) {
		return true
	}
	for _, pre := range m.prefixes {
		if strings.HasPrefix(path, pre) {
			return true
		}
	}
	return false
}

// compile builds the matchers from the parsed rules.
func (p *Policy) compile() {
	p.rules = make([]rule, len(p.specs))
	for i := range p.specs {
		s := &p.specs[i]
		r := &p.rules[i]
		r.level = s.level
		r.omitStages = p.omitStages | s.omitStages
		r.omitManagedFields = p.omitManagedFields
		if s.omitManagedFields != nil {
			r.omitManagedFields = *s.omitManagedFields
		}
		r.users = newStrSet(s.users)
		r.groups = newStrSet(s.userGroups)
		r.verbs = newStrSet(s.verbs)
		r.verbMask = 0xffff
		if len(s.verbs) > 0 {
			r.verbMask = 0
			for _, v := range s.verbs {
				r.verbMask |= verbBit(v)
			}
		}
		r.resourceRule = len(s.namespaces) > 0 || len(s.resources) > 0
		r.nonResourceRule = !r.resourceRule && len(s.nonResourceURLs) > 0
		r.namespaces = newStrSet(s.namespaces)
		r.anyResource = len(s.resources) == 0
		var allGroups []string
		for _, gr := range s.resources {
			if len(gr.resources) == 0 {
				// The apiserver matches such an entry before looking at
				// resourceNames (validation rejects names without resources).
				if gr.group == "*" {
					r.allAnyGroup = true
				} else {
					allGroups = append(allGroups, gr.group)
				}
				continue
			}
			cg := compiledGroupRes{group: gr.group, anyGroup: gr.group == "*"}
			cg.names = newStrSet(gr.resourceNames)
			cg.hasNames = len(gr.resourceNames) > 0
			for _, res := range gr.resources {
				if res == "*" {
					cg.star = true
					continue
				}
				rs := resSpec{exact: res}
				if sub, ok := strings.CutPrefix(res, "*/"); ok {
					rs.starSub, rs.isStarSub = sub, true
				}
				if base, ok := strings.CutSuffix(res, "/*"); ok {
					rs.resStar, rs.isResStar = base, true
				}
				cg.specs = append(cg.specs, rs)
			}
			r.groupRes = append(r.groupRes, cg)
		}
		r.allGroups = newStrSet(allGroups)
		for _, u := range s.nonResourceURLs {
			switch {
			case u == "*":
				r.urls.star = true
			case strings.HasSuffix(u, "*"):
				r.urls.prefixes = append(r.urls.prefixes, strings.TrimRight(u, "*"))
			}
		}
		var exact []string
		for _, u := range s.nonResourceURLs {
			if u != "*" && !strings.HasSuffix(u, "*") {
				exact = append(exact, u)
			}
		}
		r.urls.exact = newStrSet(exact)
	}
}

// verbBit maps the standard Kubernetes verbs to one bit each and every
// other verb to verbOther.
func verbBit(v string) uint16 {
	switch v {
	case "get":
		return 1 << 0
	case "list":
		return 1 << 1
	case "watch":
		return 1 << 2
	case "create":
		return 1 << 3
	case "update":
		return 1 << 4
	case "patch":
		return 1 << 5
	case "delete":
		return 1 << 6
	case "deletecollection":
		return 1 << 7
	}
	return verbOther
}

// verbOther is verbBit of a verb outside the standard ones: a rule whose
// mask has it still compares the verb as a string.
const verbOther = 1 << 15

// matches reports whether the rule matches ev; vb is verbBit(ev.Verb) and
// the caller has checked it against verbMask. The cheap checks come first;
// a rule matches when all of them pass, so their order does not matter.
func (r *rule) matches(ev *audit.Event, vb uint16) bool {
	if r.resourceRule != ev.HasObjectRef && (r.resourceRule || r.nonResourceRule) {
		return false
	}
	if vb == verbOther && !r.verbs.empty() && !r.verbs.has(ev.Verb) {
		return false
	}
	if !r.users.empty() && !r.users.has(ev.User.Username) {
		return false
	}
	if !r.groups.empty() {
		matched := false
		for _, g := range ev.User.Groups {
			if r.groups.has(g) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	if r.resourceRule {
		return ev.HasObjectRef && r.matchesResource(&ev.ObjectRef)
	}
	if r.nonResourceRule {
		return !ev.HasObjectRef && r.urls.match(ev.Path())
	}
	return true
}

func (r *rule) matchesResource(ref *audit.ObjectRef) bool {
	if !r.namespaces.empty() && !r.namespaces.has(ref.Namespace) {
		return false
	}
	if r.anyResource || r.allAnyGroup || r.allGroups.has(ref.APIGroup) {
		return true
	}
	for i := range r.groupRes {
		g := &r.groupRes[i]
		if !g.anyGroup && g.group != ref.APIGroup {
			continue
		}
		if g.hasNames && !g.names.has(ref.Name) {
			continue
		}
		if g.star {
			return true
		}
		for j := range g.specs {
			if g.specs[j].matches(ref.Resource, ref.Subresource) {
				return true
			}
		}
	}
	return false
}

// matches reports whether the spec matches the resource and subresource the
// way the apiserver's checker does.
func (s *resSpec) matches(resource, sub string) bool {
	if combinedEquals(s.exact, resource, sub) {
		return true
	}
	if s.isStarSub && sub != "" && sub == s.starSub {
		return true
	}
	return s.isResStar && resource == s.resStar
}

// combinedEquals reports spec == resource+"/"+sub (or spec == resource when
// sub is empty) without building the combined string.
func combinedEquals(spec, resource, sub string) bool {
	if sub == "" {
		return spec == resource
	}
	return len(spec) == len(resource)+1+len(sub) &&
		spec[len(resource)] == '/' &&
		spec[:len(resource)] == resource &&
		spec[len(resource)+1:] == sub
}
