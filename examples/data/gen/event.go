package main

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// User is authentication.k8s.io/v1 UserInfo as it appears in an event.
type User struct {
	Username string              `json:"username"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

// ObjectRef is an event's objectRef.
type ObjectRef struct {
	Resource        string `json:"resource,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	APIGroup        string `json:"apiGroup,omitempty"`
	APIVersion      string `json:"apiVersion,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Subresource     string `json:"subresource,omitempty"`
}

// Status is an event's responseStatus (a metav1.Status).
type Status struct {
	Metadata obj    `json:"metadata"`
	Status   string `json:"status,omitempty"`
	Message  string `json:"message,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Details  any    `json:"details,omitempty"`
	Code     int    `json:"code"`
}

// Audit levels and stages.
const (
	levelNone     = "None"
	levelMetadata = "Metadata"
	levelRequest  = "Request"
	levelRR       = "RequestResponse"

	stageReceived = "RequestReceived"
	stageStarted  = "ResponseStarted"
	stageComplete = "ResponseComplete"
	stagePanic    = "Panic"
)

// systemUsers are the control-plane identities that are neither nodes nor
// kube-system service accounts; recorded-policy.yaml lists the same names.
var systemUsers = map[string]bool{
	"system:kube-proxy":                 true,
	"system:kube-controller-manager":    true,
	"system:kube-scheduler":             true,
	"system:apiserver":                  true,
	"eks:k8s-metrics":                   true,
	"eks:certificate-controller":        true,
	"eks:cloud-controller-manager":      true,
	"eks:addon-manager":                 true,
	"eks:nodewatcher":                   true,
	"eks:pod-identity-mutating-webhook": true,
	"eks:vpc-resource-controller":       true,
	"eks:cluster-event-watcher":         true,
	"eks:authenticator":                 true,
}

func hasGroup(u User, gs ...string) bool {
	for _, g := range u.Groups {
		for _, w := range gs {
			if g == w {
				return true
			}
		}
	}
	return false
}

// levelFor mirrors ../recorded-policy.yaml, the permissive policy the sample
// was "recorded" with: it returns the level and whether the RequestReceived
// stage is omitted. The package test checks every generated event against
// the upstream evaluator running that file.
func levelFor(u User, verb string, ref *ObjectRef) (level string, omitReceived bool) {
	if ref == nil {
		return levelMetadata, true
	}
	read := verb == "get" || verb == "list" || verb == "watch"
	core := ref.APIGroup == ""
	switch {
	case core && read && (ref.Resource == "secrets" || ref.Resource == "configmaps") && ref.Subresource == "":
		return levelMetadata, true
	case core && ref.Resource == "serviceaccounts" && ref.Subresource == "token",
		ref.APIGroup == "authentication.k8s.io" && ref.Resource == "tokenreviews":
		return levelMetadata, true
	case core && ref.Resource == "pods" && (ref.Subresource == "exec" || ref.Subresource == "attach" || ref.Subresource == "portforward"):
		return levelRequest, false
	case core && hasGroup(u, "system:nodes") && (verb == "update" || verb == "patch") &&
		(ref.Resource == "nodes" || ref.Resource == "pods") && ref.Subresource == "status":
		return levelRequest, true
	}
	system := hasGroup(u, "system:nodes", "system:serviceaccounts:kube-system") || systemUsers[u.Username]
	switch {
	case system && read:
		return levelRequest, true
	case system:
		return levelRR, true
	}
	return levelRR, false
}

// ts formats a time the way kube-apiserver does (RFC 3339, microseconds, UTC).
func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }

// tsSec formats an ObjectMeta timestamp (RFC 3339, seconds).
func tsSec(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// call is one API request to record.
type call struct {
	c       *cluster
	a       *actor
	verb    string
	uri     string
	ref     *ObjectRef // nil: non-resource request
	code    int
	req     any // request body (create/update/patch)
	resp    any // response body
	latency time.Duration
	// long-running requests (watch, exec): time between ResponseStarted
	// and ResponseComplete; zero for ordinary requests.
	long  time.Duration
	panic bool // a long-running request that ends in stage Panic
	// forbidden: the message of the 403 Status (authorizer refused).
	forbidden string
	// status overrides the responseStatus of a failed request (404, 409, 422).
	status      *Status
	annotations map[string]string
	legacy      int // 0 modern, 1 v1beta1 with timestamp/metadata, 2 no apiVersion
}

// apiPath builds a resource request URI.
func apiPath(group, version, ns, resource, name, sub string) string {
	var b strings.Builder
	if group == "" {
		b.WriteString("/api/" + version)
	} else {
		b.WriteString("/apis/" + group + "/" + version)
	}
	if ns != "" {
		b.WriteString("/namespaces/" + ns)
	}
	b.WriteString("/" + resource)
	if name != "" {
		b.WriteString("/" + name)
	}
	if sub != "" {
		b.WriteString("/" + sub)
	}
	return b.String()
}

// query encodes query parameters in the given order.
func query(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(pairs[i]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(pairs[i+1]))
	}
	if b.Len() == 0 {
		return ""
	}
	return "?" + b.String()
}

// emit records cl at the generator's current time and returns the time the
// request completed.
func (g *gen) emit(cl call) time.Time {
	level, omitReceived := levelFor(cl.a.user, cl.verb, cl.ref)
	if level == levelNone {
		return g.now
	}
	t0 := g.now.Add(time.Duration(g.r.IntN(900)) * time.Microsecond)
	id := g.uuid()
	// The same client address appears on every stage of one request.
	ip := cl.a.ip(g)
	base := func(stage string) obj {
		return o(
			"kind", "Event",
			"apiVersion", "audit.k8s.io/v1",
			"level", level,
			"auditID", id,
			"stage", stage,
			"requestURI", cl.uri,
			"verb", cl.verb,
			"user", cl.a.user,
			"impersonatedUser", nil,
			"sourceIPs", []string{ip},
			"userAgent", cl.a.ua,
			"objectRef", refOrNil(cl.ref),
		)
	}
	finish := func(e obj, st *Status, withBodies bool, t1 time.Time) obj {
		if st != nil {
			e = append(e, kv{"responseStatus", *st})
		}
		if withBodies {
			if level != levelMetadata && cl.req != nil {
				e = append(e, kv{"requestObject", cl.req})
			}
			if level == levelRR && cl.resp != nil {
				e = append(e, kv{"responseObject", cl.resp})
			}
		}
		e = append(e, kv{"requestReceivedTimestamp", ts(t0)}, kv{"stageTimestamp", ts(t1)})
		return e
	}
	ann := func(e obj) obj {
		a := map[string]string{}
		if cl.forbidden != "" {
			a["authorization.k8s.io/decision"] = "forbid"
			a["authorization.k8s.io/reason"] = ""
		} else {
			a["authorization.k8s.io/decision"] = "allow"
			a["authorization.k8s.io/reason"] = cl.a.reason
		}
		for k, v := range cl.annotations {
			a[k] = v
		}
		return append(e, kv{"annotations", a})
	}
	if !omitReceived {
		e := base(stageReceived)
		e = finish(e, nil, false, t0.Add(time.Duration(3+g.r.IntN(40))*time.Microsecond))
		g.add(t0, e, cl.legacy)
	}
	code := cl.code
	if code == 0 {
		code = 200
	}
	st := &Status{Metadata: empty, Code: code}
	if cl.forbidden != "" {
		st = &Status{Metadata: empty, Status: "Failure", Message: cl.forbidden, Reason: "Forbidden", Details: forbiddenDetails(cl.ref), Code: 403}
	} else if cl.status != nil {
		st = cl.status
	}
	lat := cl.latency
	if lat <= 0 {
		lat = g.latency(cl.verb)
	}
	if cl.forbidden != "" {
		lat = time.Duration(200+g.r.IntN(2500)) * time.Microsecond
	}
	t1 := t0.Add(lat)
	bodies := cl.forbidden == "" && (cl.status == nil || cl.status.Code < 400)
	if cl.long > 0 && cl.forbidden == "" {
		e := base(stageStarted)
		e = ann(finish(e, st, false, t1))
		g.add(t1, e, cl.legacy)
		t2 := t1.Add(cl.long)
		if cl.panic {
			pst := &Status{Metadata: empty, Status: "Failure", Message: "APIServer panic'd: net/http: abort Handler", Reason: "InternalError", Code: 500}
			e = base(stagePanic)
			e = ann(finish(e, pst, false, t2))
		} else {
			e = base(stageComplete)
			e = ann(finish(e, st, bodies, t2))
		}
		g.add(t2, e, cl.legacy)
		return t1
	}
	e := base(stageComplete)
	e = ann(finish(e, st, bodies, t1))
	g.add(t1, e, cl.legacy)
	return t1
}

func refOrNil(r *ObjectRef) any {
	if r == nil {
		return nil
	}
	return *r
}

func forbiddenDetails(r *ObjectRef) any {
	if r == nil {
		return empty
	}
	kind := r.Resource
	return o("name", r.Name, "group", r.APIGroup, "kind", kind)
}

// forbiddenMsg is the apiserver's RBAC refusal message.
func forbiddenMsg(user, verb string, r *ObjectRef, path string) string {
	if r == nil {
		return fmt.Sprintf("forbidden: User %q cannot %s path %q", user, verb, path)
	}
	lead := r.Resource
	if r.APIGroup != "" {
		lead += "." + r.APIGroup
	}
	if r.Name != "" {
		lead = fmt.Sprintf("%s %q", lead, r.Name)
	}
	msg := fmt.Sprintf("%s is forbidden: User %q cannot %s resource %q in API group %q", lead, user, verb, r.Resource+subOf(r), r.APIGroup)
	if r.Namespace != "" {
		return msg + fmt.Sprintf(" in the namespace %q", r.Namespace)
	}
	return msg + " at the cluster scope"
}

func subOf(r *ObjectRef) string {
	if r.Subresource != "" {
		return "/" + r.Subresource
	}
	return ""
}
