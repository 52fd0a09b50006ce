package whatif

import (
	"strings"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/enrich"
)

// Reasons says why an event is security-relevant: a policy must keep it at
// Metadata or above with its ResponseComplete stage. The zero value means
// the event is not security-relevant.
type Reasons uint16

// The reasons an event is security-relevant.
const (
	// RiskTag: the enricher tagged the event (see enrich.Rules).
	RiskTag Reasons = 1 << iota
	// Streaming: exec, attach, port-forward or proxy (pods/exec,
	// pods/attach, pods/portforward, pods/proxy, services/proxy,
	// nodes/proxy).
	Streaming
	// SecretAccess: any request on core Secrets.
	SecretAccess
	// RBACWrite: a create, update, patch, delete or deletecollection of
	// roles, rolebindings, clusterroles or clusterrolebindings.
	RBACWrite
	// TokenRequest: a create of serviceaccounts/token.
	TokenRequest
	// Denied: authorization denied the request (403 or decision forbid).
	Denied
	// AnonymousAllowed: an anonymous or unauthenticated request that was
	// allowed.
	AnonymousAllowed

	numReasons = iota
)

var reasonNames = [numReasons]string{"risk-tag", "exec-attach-portforward-proxy", "secret-access", "rbac-write", "token-request", "denied", "anonymous-allowed"}

// Names returns the names of the reasons set, in a fixed order.
func (r Reasons) Names() []string {
	var out []string
	for i := range numReasons {
		if r&(1<<i) != 0 {
			out = append(out, reasonNames[i])
		}
	}
	return out
}

// String returns the names joined by "+", "" for none.
func (r Reasons) String() string { return strings.Join(r.Names(), "+") }

// ReasonNames lists every reason name, in the order Names reports them.
func ReasonNames() []string { return append([]string(nil), reasonNames[:]...) }

// StreamingSubresources are the resource/subresource pairs (core group)
// that open a stream into a pod or node: exec, attach, port-forward and
// the proxies.
var StreamingSubresources = []string{"pods/exec", "pods/attach", "pods/portforward", "pods/proxy", "services/proxy", "nodes/proxy"}

// RBACResources are the rbac.authorization.k8s.io resources whose writes
// change who may do what.
var RBACResources = []string{"roles", "rolebindings", "clusterroles", "clusterrolebindings"}

// WriteVerbs are the verbs that change objects.
var WriteVerbs = []string{"create", "update", "patch", "delete", "deletecollection"}

// Classify returns why ev is security-relevant; er is the enrichment of
// the event with risk tags on (nil when there is none: only the
// event's own fields are then used).
func Classify(ev *audit.Event, er *enrich.Result) Reasons {
	var r Reasons
	if er != nil && len(er.Tags) > 0 {
		r |= RiskTag
	}
	if ev.HasObjectRef {
		ref := &ev.ObjectRef
		switch ref.APIGroup {
		case "":
			if ref.Subresource != "" && isStreaming(ref.Resource, ref.Subresource) {
				r |= Streaming
			}
			if ref.Resource == "secrets" {
				r |= SecretAccess
			}
			if ref.Resource == "serviceaccounts" && ref.Subresource == "token" && ev.Verb == "create" {
				r |= TokenRequest
			}
		case "rbac.authorization.k8s.io":
			if contains(RBACResources, ref.Resource) && contains(WriteVerbs, ev.Verb) {
				r |= RBACWrite
			}
		}
	}
	decision := ""
	if er != nil {
		decision = er.Decision
	}
	code := ev.ResponseCode
	if code == 403 || decision == "forbid" {
		r |= Denied
	}
	if anonymous(ev) {
		allowed := false
		switch decision {
		case "allow":
			allowed = code != 401 && code != 403
		case "":
			allowed = code > 0 && code < 400
		}
		if allowed {
			r |= AnonymousAllowed
		}
	}
	return r
}

func anonymous(ev *audit.Event) bool {
	if ev.User.Username == "system:anonymous" {
		return true
	}
	for _, g := range ev.User.Groups {
		if g == "system:unauthenticated" {
			return true
		}
	}
	return false
}

func isStreaming(res, sub string) bool {
	for _, s := range StreamingSubresources {
		r, sb, _ := strings.Cut(s, "/")
		if r == res && sb == sub {
			return true
		}
	}
	return false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
