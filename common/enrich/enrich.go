package enrich

import (
	"bytes"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/auditlane/auditlane/common/audit"
)

// SourceIP is one entry of sourceIPs with its class (see ClassifyIP).
type SourceIP struct {
	Addr, Class string
}

// Result holds what Enrich derived from one event. Reuse one Result per
// goroutine: Enrich overwrites it and keeps its slices' capacity. Strings
// stay valid forever; Identity.Groups may alias the event's memory and is
// valid until the event is reused.
type Result struct {
	// Cluster.
	ClusterName, ClusterID string
	// Provider is the configured provider, else the one the record's
	// wrapper names (a GKE LogEntry, an AKS resource log, an EKS log
	// group), else the one guessed from the event, else "".
	Provider string
	// ProviderMismatch is set when the configured provider differs from the
	// one the record's wrapper names ("configured eks, record from gke"):
	// written as the annotation auditlane.io/provider-mismatch and counted
	// (Enricher.ProviderMismatches) so a wrong provider setting is not
	// silent.
	ProviderMismatch string

	Identity  Identity
	Principal Principal

	// Latency is stageTimestamp − requestReceivedTimestamp; HasLatency is
	// false when it could not be computed.
	Latency    time.Duration
	HasLatency bool
	// ResponseCode is responseStatus.code (0 when absent); ResponseClass
	// "1xx".."5xx".
	ResponseCode  int
	ResponseClass string
	// Namespace is objectRef.namespace. Resource is the resource path
	// "group/resource/namespace/name[/subresource]" of resource requests.
	Namespace, Resource string
	// Access is read, write or other (see VerbAccess).
	Access string
	// UserAgent is the user agent as recorded; UA its parsed parts.
	UserAgent string
	UA        UserAgent

	// Decision and Reason are the authorization.k8s.io annotations; RBAC
	// the parsed RBAC reason when HasRBAC.
	Decision, Reason string
	RBAC             RBACReason
	HasRBAC          bool

	SourceIPs []SourceIP

	// Tags are the names of the matching risk rules, in table order, then
	// configured rules; Severity is the highest of their severities.
	Tags     []string
	Severity Severity

	parts  parts
	groups []string
	user   userFacts // when not cached
	ann    annFacts  // when not cached
	// Composite values, built on first use by each.
	latencyStr, bindingStr, roleStr, addrsStr, classesStr, tagsStr, codeStr string
	// strs is kept across events (reset leaves it).
	strs  *internCache
	users *rawCache[userFacts]
	anns  *rawCache[annFacts]
	buf   []byte
	ctx   Context
}

type parts struct {
	identity, request, authz, network, risk, annotate bool
}

// WantAnnotations reports whether the configuration asks for the derived
// values to be written into the event as auditlane.io/* annotations
// (enrich_annotations).
func (r *Result) WantAnnotations() bool { return r.parts.annotate }

// Context gives rules access to the event, the derived values and lazily
// decoded request bodies during one Enrich call.
type Context struct {
	Event  *audit.Event
	Result *Result

	pod              PodFacts
	podDone, podOK   bool
	role             RoleFacts
	roleDone, roleOK bool
}

// Enricher derives fields and risk tags. It is safe for concurrent use.
type Enricher struct {
	cfg   Config
	parts parts
	rules []Rule
	// detected is the index+1 into detectable of the provider detected from
	// earlier events, kept so that events without hints (most of them)
	// carry the cluster's provider too.
	detected atomic.Uint32
	// mismatches counts events whose wrapper names another provider than
	// the configured one.
	mismatches atomic.Int64
}

// ProviderMismatches returns how many events came from a provider other
// than the configured one (see Result.ProviderMismatch).
func (e *Enricher) ProviderMismatches() int64 { return e.mismatches.Load() }

var detectable = [...]string{ProviderEKS, ProviderACK, ProviderGKE, ProviderAKS}

// New validates cfg and returns an Enricher.
func New(cfg Config) (*Enricher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Enricher{cfg: cfg, parts: parts{cfg.Identity, cfg.Request, cfg.Authz, cfg.Network, cfg.RiskTags, cfg.Annotations}}
	if cfg.RiskTags {
		disabled := map[string]bool{}
		for _, n := range cfg.RiskRulesDisable {
			disabled[n] = true
		}
		for _, r := range Rules {
			if !disabled[r.Name] {
				e.rules = append(e.rules, r)
			}
		}
		for _, rc := range cfg.RiskRules {
			e.rules = append(e.rules, compileRule(rc))
		}
	}
	return e, nil
}

// Config returns the configuration the Enricher was built with.
func (e *Enricher) Config() Config { return e.cfg }

// RuleNames returns the names of the rules the Enricher evaluates.
func (e *Enricher) RuleNames() []string {
	n := make([]string, len(e.rules))
	for i := range e.rules {
		n[i] = e.rules[i].Name
	}
	return n
}

// Enrich derives everything from ev into out, overwriting out. ev must be
// the event as decoded, before bodies are stripped. Enrich never fails:
// values it cannot derive are left empty.
func (e *Enricher) Enrich(ev *audit.Event, out *Result) {
	out.reset()
	out.parts = e.parts
	out.ClusterName, out.ClusterID = e.cfg.ClusterName, e.cfg.ClusterID
	origin, converted := ev.Origin()
	if converted {
		// What the record's wrapper names fills what is not configured.
		if out.ClusterName == "" {
			out.ClusterName = origin.ClusterName
		}
		if out.ClusterID == "" {
			out.ClusterID = origin.ClusterID
		}
	}

	// Identity is always derived: rules and provider detection need it.
	id := &out.Identity
	id.User, id.UID, id.Groups = ev.User.Username, ev.User.UID, ev.User.Groups
	if imp := ev.Value(audit.MemberImpersonatedUser); len(imp) > 0 && imp[0] == '{' {
		if name := strAt(imp, "username"); name != "" {
			id.Impersonator = ev.User.Username
			id.User, id.UID = name, strAt(imp, "uid")
			out.groups = out.groups[:0]
			eachString(field(imp, "groups"), func(v string) { out.groups = append(out.groups, v) })
			id.Groups = out.groups
		}
	}
	id.Kind, id.ServiceAccountNamespace, id.ServiceAccountName, id.NodeName = ClassifyUser(id.User, id.Groups)
	if id.Kind == UserHuman && converted && origin.Provider == ProviderGKE && strings.HasPrefix(id.User, "system:") {
		// GKE's own components authenticate as system:<component>
		// (system:kubestore-collector, system:resource-tracker, ...).
		id.Kind = UserControlPlane
	}

	// What derives from the user agent is taken now: later lookups may
	// reuse its slot.
	ua := out.strs.lookup(rawStr(ev.Value(audit.MemberUserAgent)), false)
	out.UserAgent = ua.val
	var uaAKS, uaACK bool
	if e.cfg.Provider == ProviderAuto {
		uaAKS, uaACK = ua.uaHints()
	}
	if e.parts.request {
		out.UA = ua.userAgent()
	}

	// The cloud principal is that of the authenticated caller (the
	// impersonator, when impersonating): its credentials made the call.
	uf := &out.user
	*uf = userFacts{}
	if u := ev.Value(audit.MemberUser); len(u) > 0 {
		if c, hit := out.users.get(u); c == nil {
			out.readUser(u, uf)
		} else {
			if !hit {
				out.readUser(u, c)
			}
			uf = c
		}
	}
	arn, canonical := uf.arn, uf.canonical
	out.Provider = e.cfg.Provider
	if converted && origin.Provider != "" {
		switch {
		case out.Provider == ProviderAuto:
			// The wrapper is evidence; usernames are guesses.
			out.Provider = origin.Provider
		case out.Provider != origin.Provider:
			out.ProviderMismatch = "configured " + out.Provider + ", record from " + origin.Provider
			e.mismatches.Add(1)
		}
	}
	if out.Provider == ProviderAuto {
		if p := detectProviderHints(ev.User.Username, ev.User.UID, uaAKS, uaACK, arn != "" || canonical != ""); p != "" {
			for i, d := range detectable {
				if d == p {
					e.detected.Store(uint32(i + 1))
				}
			}
			out.Provider = p
		} else if i := e.detected.Load(); i > 0 {
			out.Provider = detectable[i-1]
		}
	}
	if e.parts.identity {
		if arn != "" || canonical != "" {
			if !uf.havePrincipal {
				awsPrincipal(&uf.principal, arn, canonical, uf.sessionName, uf.accessKeyID, uf.principalID)
				uf.havePrincipal = true
			}
			out.Principal = uf.principal
		} else if out.Provider == ProviderACK {
			ramPrincipal(&out.Principal, ev.User.Username)
		}
	}

	out.ResponseCode = ev.ResponseCode
	out.ResponseClass = ResponseClass(ev.ResponseCode)
	out.Namespace = ev.ObjectRef.Namespace
	out.Access = VerbAccess(ev.Verb)
	if e.parts.request {
		out.Latency, out.HasLatency = Latency(ev.RequestReceivedTimestamp, ev.StageTimestamp)
		if ev.HasObjectRef && ev.ObjectRef.Resource != "" {
			r := ev.ObjectRef
			out.buf = AppendResourcePath(out.buf[:0], r.APIGroup, r.Resource, r.Namespace, r.Name, r.Subresource)
			out.Resource = out.strs.plain(out.buf)
		}
	}

	if ann := ev.Value(audit.MemberAnnotations); len(ann) > 0 && ann[0] == '{' {
		af := &out.ann
		*af = annFacts{}
		if c, hit := out.anns.get(ann); c == nil {
			out.readAnnotations(ann, af)
		} else {
			if !hit {
				out.readAnnotations(ann, c)
			}
			af = c
		}
		out.Decision, out.Reason = af.decision, af.reason
		if e.parts.authz {
			if !af.haveRBAC {
				af.rbac, af.rbacOK = ParseRBACReason(af.reason)
				af.haveRBAC = true
			}
			out.RBAC, out.HasRBAC = af.rbac, af.rbacOK
		}
	}

	if ips := ev.Value(audit.MemberSourceIPs); len(ips) > 0 {
		eachElement(ips, func(v []byte) {
			if raw := rawStr(v); raw != nil {
				s := out.strs.lookup(raw, false)
				out.SourceIPs = append(out.SourceIPs, SourceIP{Addr: s.val, Class: s.ipClass()})
			}
		})
	}

	if len(e.rules) > 0 {
		c := &out.ctx
		*c = Context{Event: ev, Result: out}
		for i := range e.rules {
			r := &e.rules[i]
			if r.Match(c) {
				out.Tags = append(out.Tags, r.Name)
				if r.Severity > out.Severity {
					out.Severity = r.Severity
				}
			}
		}
		*c = Context{}
	}
}

func (r *Result) reset() {
	tags, ips, groups, buf, strs, users, anns := r.Tags[:0], r.SourceIPs[:0], r.groups[:0], r.buf[:0], r.strs, r.users, r.anns
	*r = Result{}
	r.Tags, r.SourceIPs, r.groups, r.buf, r.strs, r.users, r.anns = tags, ips, groups, buf, strs, users, anns
	if r.strs == nil {
		r.strs = new(internCache)
		r.users = new(rawCache[userFacts])
		r.anns = new(rawCache[annFacts])
	}
}

// eachString calls fn with each string element of the JSON array arr,
// unescaped, skipping elements of other types. arr must be valid JSON (the
// decoder validated the event).
func eachString(arr []byte, fn func(string)) {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return
	}
	for i++; i < len(arr); {
		i = skipSpace(arr, i)
		if i >= len(arr) || arr[i] == ']' {
			return
		}
		if arr[i] == '"' {
			j, esc := i+1, false
			for j < len(arr) && arr[j] != '"' {
				if arr[j] == '\\' {
					esc = true
					j++
				}
				j++
			}
			if j >= len(arr) {
				return
			}
			if esc {
				fn(unquote(arr[i+1 : j]))
			} else {
				fn(string(arr[i+1 : j]))
			}
			i = j + 1
		} else if next := skipValue(arr, i); next > i {
			i = next // another type
		} else {
			return // not valid JSON
		}
		i = skipSpace(arr, i)
		if i < len(arr) && arr[i] == ',' {
			i++
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// decisionString returns the decision without allocating for the values
// the apiserver writes.
func decisionString(v []byte) string {
	switch string(v) {
	case "allow":
		return "allow"
	case "forbid":
		return "forbid"
	}
	return unquote(v)
}

// firstString returns the first element of the raw string array arr
// (user.extra values are arrays of strings), or "".
func (r *Result) firstString(arr []byte) string {
	return r.strs.get(rawStr(firstElement(arr)))
}

// userFacts is what Enrich derives from the raw user object: the cloud
// principal's user.extra values and, once needed, the AWS principal.
type userFacts struct {
	arn, canonical, principalID, sessionName, accessKeyID string
	principal                                             Principal
	havePrincipal                                         bool
}

// readUser fills f from the raw user object u.
func (r *Result) readUser(u []byte, f *userFacts) {
	var x extraValues
	for it := iterMembers(u); it.next(); {
		if keyIs(it.key, "extra") {
			if len(it.val) > 0 && it.val[0] == '{' {
				x.read(it.val)
			}
			break
		}
	}
	f.arn, f.canonical = r.firstString(x.arn), r.firstString(x.canonical)
	if f.principalID = r.firstString(x.principalID); f.principalID == "" {
		f.principalID = r.firstString(x.principalIDAlt)
	}
	f.sessionName, f.accessKeyID = r.firstString(x.sessionName), r.firstString(x.accessKeyID)
}

// annFacts is what Enrich derives from the raw annotations object.
type annFacts struct {
	decision, reason string
	rbac             RBACReason
	rbacOK, haveRBAC bool
}

// readAnnotations fills f from the raw annotations object ann. Of repeated
// keys the last counts.
func (r *Result) readAnnotations(ann []byte, f *annFacts) {
	for it := iterMembers(ann); it.next(); {
		switch {
		case keyIs(it.key, AnnotationDecision):
			f.decision = decisionString(rawStr(it.val))
		case keyIs(it.key, AnnotationReason):
			rs := r.strs.lookup(rawStr(it.val), false)
			f.reason = rs.val
			f.rbac, f.rbacOK = rs.rbac()
			f.haveRBAC = true
		}
	}
}

// extraValues are the raw values of the user.extra members the cloud
// principal comes from: the first member with each key, nil when absent.
type extraValues struct {
	arn, canonical, principalID, principalIDAlt, sessionName, accessKeyID []byte
}

func (x *extraValues) read(extra []byte) {
	for it := iterMembers(extra); it.next(); {
		k := it.key
		if bytes.IndexByte(k, '\\') >= 0 {
			k = []byte(unquote(k))
		}
		var dst *[]byte
		switch string(k) {
		case "arn":
			dst = &x.arn
		case "canonicalArn":
			dst = &x.canonical
		case "principalId":
			dst = &x.principalID
		case "sigs.k8s.io/aws-iam-authenticator/principalId":
			dst = &x.principalIDAlt
		case "sessionName":
			dst = &x.sessionName
		case "accessKeyId":
			dst = &x.accessKeyID
		default:
			continue
		}
		if *dst == nil {
			*dst = it.val
		}
	}
}

// Pod returns the facts of the pod spec in the request body of a create,
// update or patch of a pod or workload; ok is false for other events or
// when the body is absent or not an object.
func (c *Context) Pod() (PodFacts, bool) {
	if !c.podDone {
		c.podDone = true
		r := c.Event.ObjectRef
		if c.changes() && r.Subresource == "" && isWorkload(r.APIGroup, r.Resource) {
			c.pod, c.podOK = podFacts(c.RequestObject())
		}
	}
	return c.pod, c.podOK
}

// ClusterRole returns the facts of the rules in the request body of a
// ClusterRole create, update or patch that was not denied.
func (c *Context) ClusterRole() (RoleFacts, bool) {
	if !c.roleDone {
		c.roleDone = true
		if c.resource("rbac.authorization.k8s.io", "clusterroles") && c.Event.ObjectRef.Subresource == "" && c.changes() {
			c.role, c.roleOK = roleFacts(c.RequestObject())
		}
	}
	return c.role, c.roleOK
}

// RequestObject returns the raw requestObject, or nil.
func (c *Context) RequestObject() []byte { return c.Event.Value(audit.MemberRequestObject) }

func isWorkload(group, resource string) bool {
	switch group {
	case "":
		return resource == "pods" || resource == "replicationcontrollers"
	case "apps", "extensions":
		return resource == "deployments" || resource == "daemonsets" || resource == "statefulsets" || resource == "replicasets"
	case "batch":
		return resource == "jobs" || resource == "cronjobs"
	}
	return false
}

func (c *Context) verb(v string) bool { return c.Event.Verb == v }

// changes reports a create, update or patch that was not denied.
func (c *Context) changes() bool {
	v := c.Event.Verb
	return (v == "create" || v == "update" || v == "patch") && !c.forbidden()
}

func (c *Context) resource(group, resource string) bool {
	r := &c.Event.ObjectRef
	return c.Event.HasObjectRef && r.Resource == resource && (r.APIGroup == group || group == "" && r.APIGroup == "core")
}

func (c *Context) subresource(resource, sub string) bool {
	r := &c.Event.ObjectRef
	return c.Event.HasObjectRef && r.Resource == resource && r.Subresource == sub && r.APIGroup == ""
}

// allowed reports that authorization allowed the request: the decision
// annotation says allow, or, without one, the response code is below 400.
func (c *Context) allowed() bool {
	switch c.Result.Decision {
	case "allow":
		return c.Event.ResponseCode != 401 && c.Event.ResponseCode != 403
	case "":
		return c.Event.ResponseCode > 0 && c.Event.ResponseCode < 400
	}
	return false
}

// forbidden reports that authorization denied the request (decision
// forbid, or response code 403).
func (c *Context) forbidden() bool {
	return c.Result.Decision == "forbid" || c.Event.ResponseCode == 403
}

// String summarises r for debugging; it holds no secrets.
func (r *Result) String() string {
	return fmt.Sprintf("user=%s kind=%s resource=%s tags=%v", r.Identity.User, r.Identity.Kind, r.Resource, r.Tags)
}
