package policy

import (
	"strconv"
	"strings"
)

// RuleSummary returns a short human description of rule i for reports, e.g.
//
//	#3 None users=[system:kube-proxy] verbs=[watch] resources=[""/endpoints,services]
//
// Resources entries are written group/resources (the core group as ""),
// an entry for all resources of a group as group/*, resourceNames in
// parentheses; the rule's own omitStages and omitManagedFields follow when
// set. For i == -1 it describes the no-match outcome.
func (p *Policy) RuleSummary(i int) string {
	if i == -1 {
		return "no rule matched: None"
	}
	if i < 0 || i >= len(p.specs) {
		return "#" + strconv.Itoa(i) + " (no such rule)"
	}
	s := &p.specs[i]
	var b strings.Builder
	b.WriteByte('#')
	b.WriteString(strconv.Itoa(i))
	b.WriteByte(' ')
	b.WriteString(s.level.String())
	list := func(name string, vs []string) {
		if len(vs) == 0 {
			return
		}
		b.WriteByte(' ')
		b.WriteString(name)
		b.WriteString("=[")
		for j, v := range vs {
			if j > 0 {
				b.WriteByte(',')
			}
			writeMaybeQuoted(&b, v)
		}
		b.WriteByte(']')
	}
	list("users", s.users)
	list("userGroups", s.userGroups)
	list("verbs", s.verbs)
	list("namespaces", s.namespaces)
	if len(s.resources) > 0 {
		b.WriteString(" resources=[")
		for j, gr := range s.resources {
			if j > 0 {
				b.WriteByte(' ')
			}
			writeMaybeQuoted(&b, gr.group)
			b.WriteByte('/')
			if len(gr.resources) == 0 {
				b.WriteByte('*')
			}
			for k, r := range gr.resources {
				if k > 0 {
					b.WriteByte(',')
				}
				writeMaybeQuoted(&b, r)
			}
			if len(gr.resourceNames) > 0 {
				b.WriteString("(names=")
				for k, n := range gr.resourceNames {
					if k > 0 {
						b.WriteByte(',')
					}
					writeMaybeQuoted(&b, n)
				}
				b.WriteByte(')')
			}
		}
		b.WriteByte(']')
	}
	list("nonResourceURLs", s.nonResourceURLs)
	if s.omitStages != 0 {
		b.WriteString(" omitStages=[")
		b.WriteString(s.omitStages.String())
		b.WriteByte(']')
	}
	if s.omitManagedFields != nil {
		b.WriteString(" omitManagedFields=")
		b.WriteString(strconv.FormatBool(*s.omitManagedFields))
	}
	return b.String()
}

// writeMaybeQuoted writes v, quoted when it is empty or could be misread
// (contains separators, spaces, quotes or non-printable characters).
func writeMaybeQuoted(b *strings.Builder, v string) {
	if v == "" || strings.ContainsAny(v, ",[]() \"=") || !isPrintableASCII(v) {
		b.WriteString(strconv.Quote(v))
		return
	}
	b.WriteString(v)
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
