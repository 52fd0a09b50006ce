package policy

import (
	"slices"

	"github.com/auditlane/auditlane/common/audit"
)

// RuleSpec is one rule as written in the policy, for tools that reason
// about a policy rather than apply it (lint, suggestions). Empty lists
// restrict nothing, as in the policy.
type RuleSpec struct {
	// Line is the rule's line in the policy file (0 when unknown).
	Line            int
	Level           Level
	Users           []string
	UserGroups      []string
	Verbs           []string
	Resources       []GroupResources
	Namespaces      []string
	NonResourceURLs []string
	// OmitStages is the rule's own omitStages, without the policy's.
	OmitStages Stages
	// OmitManagedFields is the rule's own setting, nil when unset.
	OmitManagedFields *bool
}

// GroupResources is one entry of a rule's resources list. No Resources
// means every resource of Group.
type GroupResources struct {
	Group         string
	Resources     []string
	ResourceNames []string
}

// Rule returns rule i as written; the slices are copies.
func (p *Policy) Rule(i int) RuleSpec {
	s := &p.specs[i]
	r := RuleSpec{
		Line: s.line, Level: s.level,
		Users: slices.Clone(s.users), UserGroups: slices.Clone(s.userGroups), Verbs: slices.Clone(s.verbs),
		Namespaces: slices.Clone(s.namespaces), NonResourceURLs: slices.Clone(s.nonResourceURLs),
		OmitStages: s.omitStages,
	}
	if s.omitManagedFields != nil {
		v := *s.omitManagedFields
		r.OmitManagedFields = &v
	}
	for _, gr := range s.resources {
		r.Resources = append(r.Resources, GroupResources{Group: gr.group, Resources: slices.Clone(gr.resources), ResourceNames: slices.Clone(gr.resourceNames)})
	}
	return r
}

// RuleMatches reports whether rule i, taken alone, matches ev (whatever
// the rules before it decide).
func (p *Policy) RuleMatches(i int, ev *audit.Event) bool {
	return p.rules[i].verbMask&verbBit(ev.Verb) != 0 && p.rules[i].matches(ev, verbBit(ev.Verb))
}
