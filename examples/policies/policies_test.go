package policies_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
	alpolicy "github.com/auditlane/auditlane/common/policy"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	upaudit "k8s.io/apiserver/pkg/apis/audit"
	"k8s.io/apiserver/pkg/apis/audit/validation"
	auditapi "k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

var files = []string{"ack-default.yaml", "eks.yaml", "cost-saving.yaml"}

// loadUpstream decodes a policy file strictly (unknown or duplicate fields
// are errors, unlike kube-apiserver's lenient fallback) with the upstream
// audit scheme and validates it. kube-apiserver dropped the v1beta1 Policy
// type in 1.24; its schema is identical to v1, so v1beta1 files are checked
// as v1.
func loadUpstream(t *testing.T, name string) *upaudit.Policy {
	t.Helper()
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.Replace(raw, []byte("apiVersion: audit.k8s.io/v1beta1"), []byte("apiVersion: audit.k8s.io/v1"), 1)
	dec := serializer.NewCodecFactory(auditapi.Scheme, serializer.EnableStrict).UniversalDecoder()
	p := &upaudit.Policy{}
	if _, _, err := dec.Decode(raw, nil, p); err != nil {
		t.Fatalf("%s: strict decode: %v", name, err)
	}
	if errs := validation.ValidatePolicy(p); len(errs) > 0 {
		t.Fatalf("%s: invalid: %v", name, errs.ToAggregate())
	}
	if len(p.Rules) == 0 {
		t.Fatalf("%s: no rules", name)
	}
	return p
}

func TestPoliciesStrictlyValid(t *testing.T) {
	for _, name := range files {
		t.Run(name, func(t *testing.T) { loadUpstream(t, name) })
	}
	// Every YAML file in the directory is listed above, so none escapes
	// the checks.
	found, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		if !slices.Contains(files, f) {
			t.Errorf("%s is not covered by the tests", f)
		}
	}
}

func TestStrictDecodeCatchesTypos(t *testing.T) {
	// The check above would be worthless if the decoder ignored unknown keys.
	bad := []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  user: [\"x\"]\n")
	dec := serializer.NewCodecFactory(auditapi.Scheme, serializer.EnableStrict).UniversalDecoder()
	if _, _, err := dec.Decode(bad, nil, &upaudit.Policy{}); err == nil {
		t.Fatal("strict decoder accepted unknown field \"user\"")
	}
}

// req describes a request for the upstream rule evaluator.
type req struct {
	user     string
	groups   []string
	verb     string
	group    string // API group; "" = core
	resource string
	sub      string
	ns       string
	name     string
	path     string // non-resource URL when resource == ""
}

func (r req) attrs() authorizer.Attributes {
	a := authorizer.AttributesRecord{
		User:            &user.DefaultInfo{Name: r.user, Groups: r.groups},
		Verb:            r.verb,
		APIGroup:        r.group,
		Resource:        r.resource,
		Subresource:     r.sub,
		Namespace:       r.ns,
		Name:            r.name,
		ResourceRequest: r.resource != "",
		Path:            r.path,
	}
	return a
}

var (
	human     = []string{"system:masters", "system:authenticated"}
	anonymous = []string{"system:unauthenticated"}
	nodes     = []string{"system:nodes", "system:authenticated"}
	ksysSA    = []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}
	ciSA      = []string{"system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"}
	authd     = []string{"system:authenticated"}
)

const (
	none = upaudit.LevelNone
	meta = upaudit.LevelMetadata
	rq   = upaudit.LevelRequest
	rr   = upaudit.LevelRequestResponse
)

// decisionCases pins representative decisions of each policy.
var decisionCases = []struct {
	file string
	desc string
	r    req
	want upaudit.Level
}{
	// ACK default.
	{"ack-default.yaml", "kube-proxy watch", req{user: "system:kube-proxy", groups: authd, verb: "watch", resource: "endpoints"}, none},
	{"ack-default.yaml", "node get node", req{user: "system:node:cn-hangzhou.192.168.0.12", groups: nodes, verb: "get", resource: "nodes", name: "cn-hangzhou.192.168.0.12"}, none},
	{"ack-default.yaml", "healthz", req{user: "system:anonymous", groups: anonymous, verb: "get", path: "/healthz/etcd"}, none},
	{"ack-default.yaml", "events", req{user: "system:kube-scheduler", groups: authd, verb: "create", resource: "events", ns: "default"}, none},
	{"ack-default.yaml", "secret read", req{user: "27634412345678901", groups: authd, verb: "get", resource: "secrets", ns: "default", name: "db"}, meta},
	{"ack-default.yaml", "pod list", req{user: "27634412345678901", groups: authd, verb: "list", resource: "pods", ns: "default"}, rq},
	{"ack-default.yaml", "deployment create", req{user: "27634412345678901", groups: authd, verb: "create", group: "apps", resource: "deployments", ns: "default"}, rr},
	{"ack-default.yaml", "CRD object", req{user: "27634412345678901", groups: authd, verb: "create", group: "monitoring.coreos.com", resource: "servicemonitors", ns: "default"}, meta},
	{"ack-default.yaml", "TokenRequest", req{user: "system:node:cn-hangzhou.192.168.0.12", groups: nodes, verb: "create", resource: "serviceaccounts", sub: "token", ns: "default", name: "default"}, rr},
	{"ack-default.yaml", "node lease", req{user: "system:node:cn-hangzhou.192.168.0.12", groups: nodes, verb: "update", group: "coordination.k8s.io", resource: "leases", ns: "kube-node-lease"}, meta},
	{"ack-default.yaml", "exec", req{user: "27634412345678901", groups: authd, verb: "create", resource: "pods", sub: "exec", ns: "default", name: "web"}, rr},
	{"ack-default.yaml", "aws-auth-like configmap write", req{user: "27634412345678901", groups: authd, verb: "update", resource: "configmaps", ns: "kube-system", name: "aws-auth"}, meta},
	{"ack-default.yaml", "anonymous probe of /", req{user: "system:anonymous", groups: anonymous, verb: "get", path: "/"}, meta},

	// EKS.
	{"eks.yaml", "aws-auth patch", req{user: "kubernetes-admin", groups: human, verb: "patch", resource: "configmaps", ns: "kube-system", name: "aws-auth"}, rr},
	{"eks.yaml", "aws-auth get", req{user: "kubernetes-admin", groups: human, verb: "get", resource: "configmaps", ns: "kube-system", name: "aws-auth"}, meta},
	{"eks.yaml", "other configmap update", req{user: "kubernetes-admin", groups: human, verb: "update", resource: "configmaps", ns: "kube-system", name: "coredns"}, meta},
	{"eks.yaml", "node status patch", req{user: "system:node:ip-10-0-1-188.ap-northeast-1.compute.internal", groups: nodes, verb: "patch", resource: "nodes", sub: "status"}, rq},
	{"eks.yaml", "TokenRequest", req{user: "system:node:ip-10-0-1-188.ap-northeast-1.compute.internal", groups: nodes, verb: "create", resource: "serviceaccounts", sub: "token", ns: "default"}, meta},
	{"eks.yaml", "eks metrics list nodes", req{user: "eks:k8s-metrics", groups: authd, verb: "list", resource: "nodes"}, rq},
	{"eks.yaml", "clusterrolebinding create", req{user: "kubernetes-admin", groups: human, verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterrolebindings"}, rr},
	{"eks.yaml", "kcm lease", req{user: "system:kube-controller-manager", groups: authd, verb: "update", group: "coordination.k8s.io", resource: "leases", ns: "kube-system", name: "kube-controller-manager"}, meta},
	{"eks.yaml", "exec (websocket get)", req{user: "kubernetes-admin", groups: human, verb: "get", resource: "pods", sub: "exec", ns: "default", name: "web"}, rq},
	{"eks.yaml", "/version", req{user: "system:anonymous", groups: anonymous, verb: "get", path: "/version"}, none},

	// Cost-saving.
	{"cost-saving.yaml", "readyz", req{user: "system:anonymous", groups: anonymous, verb: "get", path: "/readyz"}, none},
	{"cost-saving.yaml", "anonymous /", req{user: "system:anonymous", groups: anonymous, verb: "get", path: "/"}, meta},
	{"cost-saving.yaml", "anonymous /metrics", req{user: "system:anonymous", groups: anonymous, verb: "get", path: "/metrics"}, meta},
	{"cost-saving.yaml", "anonymous namespace create", req{user: "system:anonymous", groups: anonymous, verb: "create", resource: "namespaces", name: "foo"}, meta},
	{"cost-saving.yaml", "prometheus /metrics", req{user: "system:serviceaccount:monitoring:prometheus", groups: authd, verb: "get", path: "/metrics"}, none},
	{"cost-saving.yaml", "openapi", req{user: "kubernetes-admin", groups: human, verb: "get", path: "/openapi/v3"}, none},
	{"cost-saving.yaml", "SA discovery", req{user: "system:serviceaccount:kube-system:coredns", groups: ksysSA, verb: "get", path: "/apis/apps/v1"}, none},
	{"cost-saving.yaml", "human discovery", req{user: "kubernetes-admin", groups: human, verb: "get", path: "/api"}, meta},
	{"cost-saving.yaml", "exec (create)", req{user: "kubernetes-admin", groups: human, verb: "create", resource: "pods", sub: "exec", ns: "default", name: "web"}, rq},
	{"cost-saving.yaml", "exec (websocket get)", req{user: "system:serviceaccount:kube-system:debug", groups: ksysSA, verb: "get", resource: "pods", sub: "exec", ns: "kube-system", name: "coredns"}, rq},
	{"cost-saving.yaml", "port-forward", req{user: "kubernetes-admin", groups: human, verb: "create", resource: "pods", sub: "portforward", ns: "default", name: "db"}, rq},
	{"cost-saving.yaml", "aws-auth update", req{user: "kubernetes-admin", groups: human, verb: "update", resource: "configmaps", ns: "kube-system", name: "aws-auth"}, rr},
	{"cost-saving.yaml", "event create", req{user: "system:serviceaccount:kube-system:replicaset-controller", groups: ksysSA, verb: "create", group: "events.k8s.io", resource: "events", ns: "default"}, none},
	{"cost-saving.yaml", "kube-proxy watch slices", req{user: "system:kube-proxy", groups: authd, verb: "watch", group: "discovery.k8s.io", resource: "endpointslices"}, none},
	{"cost-saving.yaml", "kubelet get node", req{user: "system:node:ip-10-0-1-188.ap-northeast-1.compute.internal", groups: nodes, verb: "get", resource: "nodes", name: "ip-10-0-1-188.ap-northeast-1.compute.internal"}, none},
	{"cost-saving.yaml", "node lease", req{user: "system:node:ip-10-0-1-188.ap-northeast-1.compute.internal", groups: nodes, verb: "update", group: "coordination.k8s.io", resource: "leases", ns: "kube-node-lease"}, none},
	{"cost-saving.yaml", "node status patch", req{user: "system:node:ip-10-0-1-188.ap-northeast-1.compute.internal", groups: nodes, verb: "patch", resource: "nodes", sub: "status"}, meta},
	{"cost-saving.yaml", "kcm lease", req{user: "system:kube-controller-manager", groups: authd, verb: "update", group: "coordination.k8s.io", resource: "leases", ns: "kube-system", name: "kube-controller-manager"}, none},
	{"cost-saving.yaml", "SA lease", req{user: "system:serviceaccount:kube-system:aws-load-balancer-controller", groups: ksysSA, verb: "update", group: "coordination.k8s.io", resource: "leases", ns: "kube-system"}, none},
	{"cost-saving.yaml", "scheduler list pods", req{user: "system:kube-scheduler", groups: authd, verb: "list", resource: "pods"}, none},
	{"cost-saving.yaml", "eks agent list", req{user: "eks:k8s-metrics", groups: authd, verb: "list", resource: "nodes"}, none},
	{"cost-saving.yaml", "coredns watch", req{user: "system:serviceaccount:kube-system:coredns", groups: ksysSA, verb: "watch", group: "discovery.k8s.io", resource: "endpointslices"}, meta},
	{"cost-saving.yaml", "human secret read", req{user: "alice", groups: authd, verb: "get", resource: "secrets", ns: "prod", name: "db-password"}, meta},
	{"cost-saving.yaml", "human secret create", req{user: "alice", groups: authd, verb: "create", resource: "secrets", ns: "prod"}, meta},
	{"cost-saving.yaml", "TokenRequest", req{user: "system:node:ip-10-0-1-188.ap-northeast-1.compute.internal", groups: nodes, verb: "create", resource: "serviceaccounts", sub: "token", ns: "default", name: "default"}, meta},
	{"cost-saving.yaml", "tokenreview", req{user: "system:serviceaccount:kube-system:metrics-server", groups: ksysSA, verb: "create", group: "authentication.k8s.io", resource: "tokenreviews"}, meta},
	{"cost-saving.yaml", "controller creates pod", req{user: "system:serviceaccount:kube-system:replicaset-controller", groups: ksysSA, verb: "create", resource: "pods", ns: "default"}, rq},
	{"cost-saving.yaml", "CI deploys", req{user: "system:serviceaccount:ci:deployer", groups: ciSA, verb: "patch", group: "apps", resource: "deployments", ns: "shop", name: "cart"}, rr},
	{"cost-saving.yaml", "human binds cluster-admin", req{user: "kubernetes-admin", groups: human, verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterrolebindings"}, rr},
	{"cost-saving.yaml", "CSR create", req{user: "system:node:ip-10-0-1-188.ap-northeast-1.compute.internal", groups: []string{"system:bootstrappers", "system:nodes", "system:authenticated"}, verb: "create", group: "certificates.k8s.io", resource: "certificatesigningrequests"}, rq},
	{"cost-saving.yaml", "human list pods", req{user: "27634412345678901", groups: authd, verb: "list", resource: "pods", ns: "default"}, meta},
	{"cost-saving.yaml", "CRD write", req{user: "alice", groups: authd, verb: "update", group: "argoproj.io", resource: "applications", ns: "argocd"}, rr},
}

func TestDecisions(t *testing.T) {
	evals := map[string]auditapi.PolicyRuleEvaluator{}
	for _, name := range files {
		evals[name] = policy.NewPolicyRuleEvaluator(loadUpstream(t, name))
	}
	for _, c := range decisionCases {
		got := evals[c.file].EvaluatePolicyRule(c.r.attrs())
		if got.Level != c.want {
			t.Errorf("%s: %s: level %s, want %s", c.file, c.desc, got.Level, c.want)
		}
	}
}

func TestStagesAndManagedFields(t *testing.T) {
	for _, name := range files {
		p := loadUpstream(t, name)
		ev := policy.NewPolicyRuleEvaluator(p)
		got := ev.EvaluatePolicyRule(req{user: "alice", groups: authd, verb: "create", group: "apps", resource: "deployments", ns: "default"}.attrs())
		if !slices.Contains(got.OmitStages, upaudit.StageRequestReceived) {
			t.Errorf("%s: RequestReceived not omitted: %v", name, got.OmitStages)
		}
		if want := name == "cost-saving.yaml"; got.OmitManagedFields != want {
			t.Errorf("%s: omitManagedFields %v, want %v", name, got.OmitManagedFields, want)
		}
	}
}

// TestProjectEngineAgrees loads every file with auditlane's own policy
// package and requires it to make the same decisions as the upstream
// evaluator on the table above.
func TestProjectEngineAgrees(t *testing.T) {
	for _, name := range files {
		p, err := alpolicy.Load(name)
		if err != nil {
			t.Fatalf("policy.Load(%s): %v", name, err)
		}
		up := policy.NewPolicyRuleEvaluator(loadUpstream(t, name))
		if p.Rules() != len(loadUpstream(t, name).Rules) {
			t.Errorf("%s: %d rules, upstream %d", name, p.Rules(), len(loadUpstream(t, name).Rules))
		}
		for _, c := range decisionCases {
			raw := eventJSON(t, c.r)
			var ev audit.Event
			if err := audit.Parse(raw, &ev); err != nil {
				t.Fatalf("%s: audit.Parse: %v", c.desc, err)
			}
			got := p.Decide(&ev)
			want := up.EvaluatePolicyRule(c.r.attrs())
			if got.Level.String() != string(want.Level) {
				t.Errorf("%s: %s: auditlane %s, upstream %s", name, c.desc, got.Level, want.Level)
			}
			if got.OmitManagedFields != want.OmitManagedFields {
				t.Errorf("%s: %s: omitManagedFields %v, upstream %v", name, c.desc, got.OmitManagedFields, want.OmitManagedFields)
			}
		}
	}
}

// eventJSON renders r as a ResponseComplete audit event.
func eventJSON(t *testing.T, r req) []byte {
	t.Helper()
	ev := map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
		"auditID": "00000000-0000-4000-8000-000000000000", "stage": "ResponseComplete",
		"verb": "get", "user": map[string]any{"username": r.user, "groups": r.groups},
		"requestReceivedTimestamp": "2024-05-14T09:00:00.000000Z", "stageTimestamp": "2024-05-14T09:00:00.001000Z",
	}
	ev["verb"] = r.verb
	if r.resource != "" {
		ref := map[string]any{"resource": r.resource, "apiVersion": "v1"}
		uri := "/api/v1"
		if r.group != "" {
			ref["apiGroup"] = r.group
			uri = "/apis/" + r.group + "/v1"
		}
		if r.ns != "" {
			ref["namespace"] = r.ns
			uri += "/namespaces/" + r.ns
		}
		uri += "/" + r.resource
		if r.name != "" {
			ref["name"] = r.name
			uri += "/" + r.name
		}
		if r.sub != "" {
			ref["subresource"] = r.sub
			uri += "/" + r.sub
		}
		ev["objectRef"] = ref
		ev["requestURI"] = uri
	} else {
		ev["requestURI"] = r.path
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
