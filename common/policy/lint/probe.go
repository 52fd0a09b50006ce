package lint

import (
	"slices"
	"strconv"
	"strings"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/policy"
)

// Probes are synthetic requests run through the policy's own Decide, so
// lint reasons with the exact matching semantics rather than a copy of
// them. The values a probe takes come from the policy itself (every user,
// group, verb, namespace, resource and URL any rule names) plus a fresh
// value no rule names: two requests that agree on membership in every
// literal the policy mentions are decided alike, so these values reach
// every distinction a rule can make.

// fresh values match no literal a policy can hold (they contain a space or
// an upper-case letter where Kubernetes names cannot).
const (
	freshUser  = "lint probe user"
	freshVerb  = "lintprobeverb"
	freshNS    = "Lint-probe-ns"
	freshGroup = "Lint.probe.group"
	freshRes   = "Lintproberesource"
	freshSub   = "Lintprobesub"
	freshName  = "Lint probe name"
	freshPath  = "/Lint-probe-path"
)

// standardVerbs are the verbs the apiserver records for resource requests.
var standardVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// vocab is what a policy mentions, per dimension.
type vocab struct {
	users, groups, verbs, namespaces, names []string
	apiGroups                               []string
	// resPairs are (resource, subresource) pairs reaching every resource
	// pattern: "res" → (res, ""), "res/sub" → (res, sub), "*/sub" →
	// (fresh, sub), "res/*" → (res, fresh).
	resPairs [][2]string
	urls     []string
}

func vocabOf(p *policy.Policy) vocab {
	var v vocab
	add := func(list *[]string, vals ...string) {
		for _, x := range vals {
			if !slices.Contains(*list, x) {
				*list = append(*list, x)
			}
		}
	}
	addPair := func(r, s string) {
		pr := [2]string{r, s}
		if !slices.Contains(v.resPairs, pr) {
			v.resPairs = append(v.resPairs, pr)
		}
	}
	for i := 0; i < p.Rules(); i++ {
		r := p.Rule(i)
		add(&v.users, r.Users...)
		add(&v.groups, r.UserGroups...)
		add(&v.verbs, r.Verbs...)
		add(&v.namespaces, r.Namespaces...)
		for _, gr := range r.Resources {
			if gr.Group != "*" {
				add(&v.apiGroups, gr.Group)
			}
			add(&v.names, gr.ResourceNames...)
			for _, res := range gr.Resources {
				base, sub, hasSub := strings.Cut(res, "/")
				switch {
				case res == "*":
				case !hasSub:
					addPair(base, "")
				case base == "*":
					addPair(freshRes, sub)
				case sub == "*":
					addPair(base, "")
					addPair(base, freshSub)
				default:
					addPair(base, sub)
					addPair(base, "")
				}
			}
		}
		for _, u := range r.NonResourceURLs {
			switch {
			case u == "*":
			case strings.HasSuffix(u, "*"):
				pre := strings.TrimRight(u, "*")
				add(&v.urls, pre, pre+"Lint-probe")
			default:
				add(&v.urls, u)
			}
		}
	}
	add(&v.verbs, standardVerbs...)
	// The fresh values go first, so a search for a request no earlier rule
	// matches usually ends at once.
	v.users = append([]string{freshUser}, v.users...)
	v.verbs = append([]string{freshVerb}, v.verbs...)
	v.namespaces = append([]string{freshNS, ""}, v.namespaces...)
	v.apiGroups = append([]string{freshGroup}, v.apiGroups...)
	v.names = append([]string{"", freshName}, v.names...)
	v.resPairs = append([][2]string{{freshRes, ""}}, v.resPairs...)
	v.urls = append([]string{freshPath}, v.urls...)
	return v
}

// probe is a synthetic request.
type probe struct {
	ev audit.Event
}

func (pr *probe) set(user string, groups []string, verb string) {
	pr.ev.User = audit.UserInfo{Username: user, Groups: groups}
	pr.ev.Verb = verb
	pr.ev.Stage = audit.StageResponseComplete
}

func (pr *probe) resource(group, res, sub, ns, name string) {
	pr.ev.HasObjectRef = true
	pr.ev.ObjectRef = audit.ObjectRef{APIGroup: group, Resource: res, Subresource: sub, Namespace: ns, Name: name}
	pr.ev.RequestURI = ""
}

func (pr *probe) nonResource(path string) {
	pr.ev.HasObjectRef = false
	pr.ev.ObjectRef = audit.ObjectRef{}
	pr.ev.RequestURI = path
}

// describe says what the probe asks, for messages.
func (pr *probe) describe() string {
	ev := &pr.ev
	var b strings.Builder
	b.WriteString(ev.Verb)
	b.WriteByte(' ')
	if ev.HasObjectRef {
		ref := &ev.ObjectRef
		if ref.APIGroup != "" {
			b.WriteString(ref.APIGroup)
			b.WriteByte('/')
		}
		b.WriteString(ref.Resource)
		if ref.Subresource != "" {
			b.WriteByte('/')
			b.WriteString(ref.Subresource)
		}
		if ref.Name != "" && ref.Name != freshName {
			b.WriteString(" " + strconv.Quote(ref.Name))
		}
		if ref.Namespace != "" {
			b.WriteString(" in namespace ")
			b.WriteString(ref.Namespace)
		}
	} else {
		b.WriteString(ev.RequestURI)
	}
	b.WriteString(" by ")
	b.WriteString(ev.User.Username)
	if len(ev.User.Groups) > 0 {
		b.WriteString(" (groups ")
		b.WriteString(strings.Join(ev.User.Groups, ", "))
		b.WriteByte(')')
	}
	return b.String()
}

// shadowProbeBudget bounds the requests tried, over all rules of a policy,
// in the search for requests that reach each rule; a rule whose search is
// cut short is not reported (lint never reports a rule it has not proved
// shadowed). Real policies need a few thousand.
const shadowProbeBudget = 20_000_000

// shadowedBy reports whether rule j can never match because rules before
// it match every request it would, and which rules those are. It tries
// requests built from j's own values and, where j restricts nothing, from
// every value the policy mentions plus a fresh one.
func shadowedBy(p *policy.Policy, j int, v *vocab, budget *int) (covering []int, shadowed bool) {
	r := p.Rule(j)
	users := r.Users
	if len(users) == 0 {
		users = v.users
	}
	// Group membership only helps a rule match, so the hardest requests
	// carry one of j's groups (or none when j names none).
	groupSets := [][]string{nil}
	if len(r.UserGroups) > 0 {
		groupSets = groupSets[:0]
		for _, g := range r.UserGroups {
			groupSets = append(groupSets, []string{g})
		}
	}
	verbs := r.Verbs
	if len(verbs) == 0 {
		verbs = v.verbs
	}
	resourceRule := len(r.Resources) > 0 || len(r.Namespaces) > 0
	nonResourceRule := !resourceRule && len(r.NonResourceURLs) > 0
	namespaces := r.Namespaces
	if len(namespaces) == 0 {
		namespaces = v.namespaces
	}
	// Resource targets: (group, resource, sub, name).
	type target struct{ g, res, sub, name string }
	var targets []target
	if !nonResourceRule {
		groups := v.apiGroups
		pairs := v.resPairs
		names := v.names
		if len(r.Resources) == 0 {
			for _, g := range groups {
				for _, pr := range pairs {
					for _, n := range names {
						targets = append(targets, target{g, pr[0], pr[1], n})
					}
				}
			}
		}
		for _, gr := range r.Resources {
			gs := []string{gr.Group}
			if gr.Group == "*" {
				gs = groups
			}
			ps := pairs
			if len(gr.Resources) > 0 && !slices.Contains(gr.Resources, "*") {
				ps = nil
				for _, res := range gr.Resources {
					base, sub, hasSub := strings.Cut(res, "/")
					switch {
					case !hasSub:
						ps = append(ps, [2]string{base, ""})
					case base == "*":
						ps = append(ps, [2]string{freshRes, sub})
						for _, pr := range pairs {
							ps = append(ps, [2]string{pr[0], sub})
						}
					case sub == "*":
						ps = append(ps, [2]string{base, ""}, [2]string{base, freshSub})
						for _, pr := range pairs {
							if pr[1] != "" {
								ps = append(ps, [2]string{base, pr[1]})
							}
						}
					default:
						ps = append(ps, [2]string{base, sub})
					}
				}
			}
			ns := names
			if len(gr.ResourceNames) > 0 {
				ns = gr.ResourceNames
			}
			for _, g := range gs {
				for _, pr := range ps {
					for _, n := range ns {
						targets = append(targets, target{g, pr[0], pr[1], n})
					}
				}
			}
		}
	}
	var urls []string
	if !resourceRule {
		urls = v.urls
		if nonResourceRule && !slices.Contains(r.NonResourceURLs, "*") {
			urls = nil
			for _, u := range r.NonResourceURLs {
				if pre, ok := strings.CutSuffix(u, "*"); ok {
					pre = strings.TrimRight(pre, "*")
					urls = append(urls, pre, pre+"Lint-probe")
					for _, x := range v.urls {
						if strings.HasPrefix(x, pre) {
							urls = append(urls, x)
						}
					}
				} else {
					urls = append(urls, u)
				}
			}
		}
	}

	var pr probe
	seen := map[int]bool{}
	n := 0
	// try returns false to stop: j decided the probe, or the budget ran out.
	try := func() bool {
		if *budget--; *budget < 0 {
			shadowed = false
			return false
		}
		if !p.RuleMatches(j, &pr.ev) {
			return true
		}
		n++
		d := p.Decide(&pr.ev)
		if d.Rule == j {
			shadowed = false
			return false
		}
		if !seen[d.Rule] {
			seen[d.Rule] = true
			covering = append(covering, d.Rule)
		}
		return true
	}
	shadowed = true
	for _, u := range users {
		for _, gs := range groupSets {
			for _, verb := range verbs {
				pr.set(u, gs, verb)
				for _, t := range targets {
					for _, ns := range namespaces {
						pr.resource(t.g, t.res, t.sub, ns, t.name)
						if !try() {
							return nil, false
						}
					}
				}
				for _, url := range urls {
					pr.nonResource(url)
					if !try() {
						return nil, false
					}
				}
			}
		}
	}
	if n == 0 {
		// No request built from j's values matches j: nothing to say.
		return nil, false
	}
	slices.Sort(covering)
	return covering, shadowed
}

// ident is who a probe is sent as.
type ident struct {
	user   string
	groups []string
}

// identities are who a class of requests is probed for: every user and
// group the policy names, and typical identities of each kind.
func identities(v *vocab) []ident {
	var out []ident
	for _, u := range v.users {
		out = append(out, ident{u, []string{"system:authenticated"}})
	}
	for _, g := range v.groups {
		out = append(out, ident{freshUser, []string{g, "system:authenticated"}})
	}
	return append(out,
		ident{"jane@example.com", []string{"system:authenticated"}},
		ident{"system:serviceaccount:default:app", []string{"system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"}},
		ident{"system:node:node-1", []string{"system:nodes", "system:authenticated"}},
		ident{"system:anonymous", []string{"system:unauthenticated"}},
	)
}
