package enrich

import (
	"strconv"
	"strings"
)

// Severity ranks risk rules.
type Severity uint8

// Severities, in increasing order. SeverityNone means no rule matched.
const (
	SeverityNone Severity = iota
	SeverityInfo
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"", "info", "low", "medium", "high", "critical"}

// String returns the severity's name ("info" .. "critical"), "" for none.
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return ""
}

// ParseSeverity parses a severity name.
func ParseSeverity(s string) (Severity, bool) {
	for i, n := range severityNames {
		if i > 0 && n == s {
			return Severity(i), true
		}
	}
	return SeverityNone, false
}

// Rule is one risk rule: an event matching Match gets tag Name.
type Rule struct {
	// Name is the tag: stable and kebab-case.
	Name        string
	Severity    Severity
	Description string
	// Match reports whether the event carries the risk. It may read the
	// event, the derived values and lazily decoded request bodies through c.
	Match func(c *Context) bool
}

// Rules is the built-in rule table, in the order tags are reported.
var Rules = []Rule{
	{Name: "anonymous-allowed", Severity: SeverityHigh,
		Description: "a request by system:anonymous or an unauthenticated user was allowed",
		Match: func(c *Context) bool {
			k := c.Result.Identity.Kind
			return (k == UserAnonymous || k == UserUnauthenticated) && c.allowed()
		}},
	{Name: "forbidden-human", Severity: SeverityLow,
		Description: "a request by a human was forbidden",
		Match: func(c *Context) bool {
			return c.Result.Identity.Kind == UserHuman && c.forbidden()
		}},
	{Name: "exec-into-pod", Severity: SeverityHigh,
		Description: "a command was executed in a pod (pods/exec)",
		Match:       func(c *Context) bool { return c.subresource("pods", "exec") }},
	{Name: "attach-to-pod", Severity: SeverityHigh,
		Description: "a client attached to a running container (pods/attach)",
		Match:       func(c *Context) bool { return c.subresource("pods", "attach") }},
	{Name: "port-forward-to-pod", Severity: SeverityMedium,
		Description: "a port of a pod was forwarded (pods/portforward)",
		Match:       func(c *Context) bool { return c.subresource("pods", "portforward") }},
	{Name: "ephemeral-container-added", Severity: SeverityHigh,
		Description: "an ephemeral (debug) container was added to a pod",
		Match: func(c *Context) bool {
			return c.subresource("pods", "ephemeralcontainers") && (c.verb("update") || c.verb("patch"))
		}},
	{Name: "privileged-pod", Severity: SeverityHigh,
		Description: "a pod or pod template with a privileged container was created or changed",
		Match:       func(c *Context) bool { f, ok := c.Pod(); return ok && f.Privileged }},
	{Name: "host-network-pod", Severity: SeverityMedium,
		Description: "a pod or pod template using the host network was created or changed",
		Match:       func(c *Context) bool { f, ok := c.Pod(); return ok && f.HostNetwork }},
	{Name: "host-pid-pod", Severity: SeverityHigh,
		Description: "a pod or pod template sharing the host PID namespace was created or changed",
		Match:       func(c *Context) bool { f, ok := c.Pod(); return ok && f.HostPID }},
	{Name: "host-ipc-pod", Severity: SeverityMedium,
		Description: "a pod or pod template sharing the host IPC namespace was created or changed",
		Match:       func(c *Context) bool { f, ok := c.Pod(); return ok && f.HostIPC }},
	{Name: "sensitive-host-mount", Severity: SeverityHigh,
		Description: "a pod or pod template mounts a sensitive host path (/, /etc, /proc, /root, kubelet state, runtime sockets)",
		Match:       func(c *Context) bool { f, ok := c.Pod(); return ok && f.SensitiveHostPath != "" }},
	{Name: "pod-created-in-kube-namespace", Severity: SeverityLow,
		Description: "a pod was created in kube-system or kube-public",
		Match: func(c *Context) bool {
			return c.resource("", "pods") && c.Event.ObjectRef.Subresource == "" && c.verb("create") && kubeNamespace(c.Event.ObjectRef.Namespace)
		}},
	{Name: "nodeport-service", Severity: SeverityMedium,
		Description: "a Service of type NodePort was created or changed",
		Match: func(c *Context) bool {
			if !c.resource("", "services") || c.Event.ObjectRef.Subresource != "" || !c.changes() {
				return false
			}
			return strAt(c.RequestObject(), "spec", "type") == "NodePort"
		}},
	{Name: "clusterrole-wildcard-verbs", Severity: SeverityHigh,
		Description: "a ClusterRole granting all verbs (\"*\") was created or changed",
		Match:       func(c *Context) bool { f, ok := c.ClusterRole(); return ok && f.WildcardVerbs }},
	{Name: "clusterrole-wildcard-resources", Severity: SeverityHigh,
		Description: "a ClusterRole granting all resources (\"*\") was created or changed",
		Match:       func(c *Context) bool { f, ok := c.ClusterRole(); return ok && f.WildcardResources }},
	{Name: "clusterrole-pod-exec", Severity: SeverityHigh,
		Description: "a ClusterRole granting pods/exec was created or changed",
		Match:       func(c *Context) bool { f, ok := c.ClusterRole(); return ok && f.PodExec }},
	{Name: "clusterrole-write-privileges", Severity: SeverityLow,
		Description: "a ClusterRole granting create, update, patch or delete was created",
		Match: func(c *Context) bool {
			if !c.verb("create") {
				return false
			}
			f, ok := c.ClusterRole()
			return ok && f.WriteVerbs
		}},
	{Name: "system-clusterrole-changed", Severity: SeverityMedium,
		Description: "a built-in system: ClusterRole was modified or deleted by someone other than the control plane",
		Match: func(c *Context) bool {
			name := c.Event.ObjectRef.Name
			return c.resource("rbac.authorization.k8s.io", "clusterroles") && (c.verb("update") || c.verb("patch") || c.verb("delete")) &&
				strings.HasPrefix(name, "system:") && !strings.HasPrefix(name, "system:aggregate-to-") &&
				c.Result.Identity.Kind != UserControlPlane && !c.forbidden()
		}},
	{Name: "cluster-admin-binding", Severity: SeverityCritical,
		Description: "a RoleBinding or ClusterRoleBinding to the cluster-admin ClusterRole was created or changed",
		Match: func(c *Context) bool {
			if !(c.resource("rbac.authorization.k8s.io", "clusterrolebindings") || c.resource("rbac.authorization.k8s.io", "rolebindings")) ||
				c.Event.ObjectRef.Subresource != "" || !c.changes() {
				return false
			}
			body := c.RequestObject()
			return strAt(body, "roleRef", "kind") == "ClusterRole" && strAt(body, "roleRef", "name") == "cluster-admin"
		}},
	{Name: "secret-read-non-system", Severity: SeverityMedium,
		Description: "a Secret was read (get, list, watch) by an identity outside system: and the provider's components",
		Match: func(c *Context) bool {
			k := c.Result.Identity.Kind
			return c.resource("", "secrets") && VerbAccess(c.Event.Verb) == AccessRead && c.allowed() &&
				(k == UserHuman || k == UserAnonymous || k == UserUnauthenticated)
		}},
	{Name: "secret-access-denied", Severity: SeverityMedium,
		Description: "access to a Secret was denied",
		Match:       func(c *Context) bool { return c.resource("", "secrets") && c.forbidden() }},
	{Name: "kube-namespace-write-by-human", Severity: SeverityMedium,
		Description: "a human created, changed or deleted an object in kube-system or kube-public",
		Match: func(c *Context) bool {
			return c.Result.Identity.Kind == UserHuman && kubeNamespace(c.Event.ObjectRef.Namespace) && VerbAccess(c.Event.Verb) == AccessWrite
		}},
	{Name: "aws-auth-changed", Severity: SeverityHigh,
		Description: "the EKS aws-auth ConfigMap (IAM to Kubernetes identity mapping) was created, changed or deleted",
		Match: func(c *Context) bool {
			if !c.resource("", "configmaps") || c.Event.ObjectRef.Namespace != "kube-system" || VerbAccess(c.Event.Verb) != AccessWrite || c.forbidden() {
				return false
			}
			name := c.Event.ObjectRef.Name
			if name == "" && c.verb("create") {
				name = strAt(c.RequestObject(), "metadata", "name")
			}
			return name == "aws-auth"
		}},
	{Name: "configmap-with-credentials", Severity: SeverityMedium,
		Description: "a ConfigMap holding credential-like entries (access keys, passwords, private keys) was created or changed",
		Match: func(c *Context) bool {
			return c.resource("", "configmaps") && c.changes() && configMapHasCredentials(c.RequestObject())
		}},
	{Name: "serviceaccount-token-request", Severity: SeverityMedium,
		Description: "a service-account token was requested (serviceaccounts/token) by someone other than a kubelet or the control plane",
		Match: func(c *Context) bool {
			k := c.Result.Identity.Kind
			return c.subresource("serviceaccounts", "token") && c.verb("create") && k != UserNode && k != UserControlPlane
		}},
	{Name: "node-csr", Severity: SeverityLow,
		Description: "a certificate signing request for a kubelet (node) certificate was created",
		Match: func(c *Context) bool {
			if !c.resource("certificates.k8s.io", "certificatesigningrequests") || c.Event.ObjectRef.Subresource != "" || !c.verb("create") {
				return false
			}
			if c.Result.Identity.Kind == UserNode || hasGroup(c.Result.Identity.Groups, "system:bootstrappers") {
				return true
			}
			signer := strAt(c.RequestObject(), "spec", "signerName")
			return strings.HasPrefix(signer, "kubernetes.io/kube-apiserver-client-kubelet") ||
				strings.HasPrefix(signer, "kubernetes.io/kubelet-serving")
		}},
}

func ruleIndex(name string) int {
	for i := range Rules {
		if Rules[i].Name == name {
			return i
		}
	}
	return -1
}

func kubeNamespace(ns string) bool { return ns == "kube-system" || ns == "kube-public" }

func hasGroup(groups []string, g string) bool {
	for _, x := range groups {
		if x == g {
			return true
		}
	}
	return false
}

// compileRule turns a RuleConfig into a Rule. rc must be valid.
func compileRule(rc RuleConfig) Rule {
	sev := SeverityMedium
	if rc.Severity != "" {
		sev, _ = ParseSeverity(rc.Severity)
	}
	type fieldMatch struct {
		field    int
		pos, neg []string
	}
	var fms []fieldMatch
	for f, alts := range rc.Match {
		fm := fieldMatch{field: fieldIndex(f)}
		for _, a := range alts {
			if n, ok := strings.CutPrefix(a, "!"); ok {
				fm.neg = append(fm.neg, n)
			} else {
				fm.pos = append(fm.pos, a)
			}
		}
		fms = append(fms, fm)
	}
	return Rule{Name: rc.Name, Severity: sev, Description: rc.Description, Match: func(c *Context) bool {
		for _, fm := range fms {
			ok := len(fm.pos) == 0
			bad := false
			c.fieldValues(fm.field, func(v string) {
				for _, p := range fm.pos {
					if Glob(p, v) {
						ok = true
					}
				}
				for _, p := range fm.neg {
					if Glob(p, v) {
						bad = true
					}
				}
			})
			if !ok || bad {
				return false
			}
		}
		return true
	}}
}

// fieldValues calls fn with each value of MatchFields[field]. Multi-valued
// fields (user.groups, sourceIPs, sourceIP.class) call fn once per value;
// every field calls fn at least once ("" when absent).
func (c *Context) fieldValues(field int, fn func(string)) {
	ev, r := c.Event, c.Result
	switch MatchFields[field] {
	case "verb":
		fn(ev.Verb)
	case "stage":
		fn(ev.Stage)
	case "level":
		fn(ev.Level)
	case "requestURI":
		fn(ev.RequestURI)
	case "user.username":
		fn(r.Identity.User)
	case "user.groups":
		if len(r.Identity.Groups) == 0 {
			fn("")
		}
		for _, g := range r.Identity.Groups {
			fn(g)
		}
	case "user.kind":
		fn(r.Identity.Kind.String())
	case "authenticatedUser.username":
		fn(ev.User.Username)
	case "objectRef.resource":
		fn(ev.ObjectRef.Resource)
	case "objectRef.subresource":
		fn(ev.ObjectRef.Subresource)
	case "objectRef.namespace":
		fn(ev.ObjectRef.Namespace)
	case "objectRef.name":
		fn(ev.ObjectRef.Name)
	case "objectRef.apiGroup":
		fn(ev.ObjectRef.APIGroup)
	case "responseStatus.code":
		if ev.ResponseCode == 0 {
			fn("")
		} else {
			fn(strconv.Itoa(ev.ResponseCode))
		}
	case "userAgent":
		fn(r.UserAgent)
	case "sourceIPs":
		if len(r.SourceIPs) == 0 {
			fn("")
		}
		for _, s := range r.SourceIPs {
			fn(s.Addr)
		}
	case "sourceIP.class":
		if len(r.SourceIPs) == 0 {
			fn("")
		}
		for _, s := range r.SourceIPs {
			fn(s.Class)
		}
	case "authorization.decision":
		fn(r.Decision)
	case "access":
		fn(r.Access)
	}
}

// Glob reports whether s matches pattern, where "*" matches any run of
// characters (including none) and every other character matches itself.
func Glob(pattern, s string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == s
	}
	if !strings.HasPrefix(s, pattern[:star]) {
		return false
	}
	s, pattern = s[star:], pattern[star+1:]
	for {
		star = strings.IndexByte(pattern, '*')
		if star < 0 {
			return strings.HasSuffix(s, pattern)
		}
		seg := pattern[:star]
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s, pattern = s[i+len(seg):], pattern[star+1:]
	}
}
