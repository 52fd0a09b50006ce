package enrich

import (
	"strconv"
	"strings"
)

// Annotation keys the apiserver writes for authorization.
const (
	AnnotationDecision = "authorization.k8s.io/decision"
	AnnotationReason   = "authorization.k8s.io/reason"
)

// RBACReason is the parsed reason of the RBAC authorizer,
// `RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "z"`.
// Names of namespaced objects are "name/namespace", as the apiserver writes
// them.
type RBACReason struct {
	BindingKind, BindingName string
	RoleKind, RoleName       string
	SubjectKind, SubjectName string
}

// ParseRBACReason parses an RBAC authorizer reason. ok is false for other
// reasons (empty, webhook, Node authorizer, ...).
func ParseRBACReason(s string) (r RBACReason, ok bool) {
	rest, found := strings.CutPrefix(s, "RBAC: allowed by ")
	if !found {
		return r, false
	}
	var good bool
	if r.BindingKind, r.BindingName, rest, good = kindQuoted(rest); !good {
		return r, false
	}
	if rest, good = strings.CutPrefix(rest, " of "); !good {
		return r, false
	}
	if r.RoleKind, r.RoleName, rest, good = kindQuoted(rest); !good {
		return r, false
	}
	if rest, good = strings.CutPrefix(rest, " to "); !good {
		return r, false
	}
	if r.SubjectKind, r.SubjectName, _, good = kindQuoted(rest); !good {
		return r, false
	}
	return r, true
}

// kindQuoted reads `Kind "quoted name"` at the start of s.
func kindQuoted(s string) (kind, name, rest string, ok bool) {
	sp := strings.IndexByte(s, ' ')
	if sp <= 0 || sp+1 >= len(s) || s[sp+1] != '"' {
		return "", "", s, false
	}
	kind, s = s[:sp], s[sp+1:]
	esc := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			esc = true
			i++
		case '"':
			if !esc {
				return kind, s[1:i], s[i+1:], true // a substring, no allocation
			}
			name, err := strconv.Unquote(s[:i+1])
			if err != nil {
				return "", "", s, false
			}
			return kind, name, s[i+1:], true
		}
	}
	return "", "", s, false
}
