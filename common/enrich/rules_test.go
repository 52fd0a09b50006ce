package enrich

import (
	"slices"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
)

// TestRuleVariants covers every rule the Falco fixtures do not, and the
// edges of those they do, on real fixtures changed in one or two places.
func TestRuleVariants(t *testing.T) {
	rbac := loadEvents(t, "audit2rbac/demo.log")
	tests := []struct {
		name string
		ev   *audit.Event
		want []string
	}{
		{"port-forward", variant(t, "falco-k8s-audit/exec_pod.json", `"subresource":"exec"`, `"subresource":"portforward"`),
			[]string{"port-forward-to-pod"}},
		{"exec over websocket (get)", variant(t, "falco-k8s-audit/exec_pod.json", `"verb":"create"`, `"verb":"get"`),
			[]string{"exec-into-pod"}},
		{"ephemeral container", variant(t, "falco-k8s-audit/exec_pod.json", `"subresource":"exec"`, `"subresource":"ephemeralcontainers"`, `"verb":"create"`, `"verb":"patch"`),
			[]string{"ephemeral-container-added"}},
		{"host PID", variant(t, "falco-k8s-audit/create_nginx_pod_hostnetwork.json", `"hostNetwork":true`, `"hostPID":true`),
			[]string{"host-pid-pod"}},
		{"host PID with an escaped key", variant(t, "falco-k8s-audit/create_nginx_pod_hostnetwork.json", `"hostNetwork":true`, `"host\u0050ID":true`),
			[]string{"host-pid-pod"}},
		{"host IPC", variant(t, "falco-k8s-audit/create_nginx_pod_hostnetwork.json", `"hostNetwork":true`, `"hostIPC":true`),
			[]string{"host-ipc-pod"}},
		{"privileged deployment template", variant(t, "falco-k8s-audit/create_deployment.json", `"name":"nginx1","resources":{}`, `"name":"nginx1","resources":{},"securityContext":{"privileged":true}`),
			[]string{"privileged-pod"}},
		{"privileged cronjob template", variant(t, "falco-k8s-audit/create_deployment.json",
			`"apiGroup":"extensions"`, `"apiGroup":"batch"`, `"resource":"deployments"`, `"resource":"cronjobs"`,
			`"spec":{"replicas":1,"selector":{"matchLabels":{"app":"nginx"}},"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":1},"type":"RollingUpdate"},"template":`,
			`"spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":`,
			`"terminationGracePeriodSeconds":30}}},"status":{}}`, `"terminationGracePeriodSeconds":30,"hostPID":true}}}}},"status":{}}`),
			[]string{"host-pid-pod"}},
		{"docker socket mount", variant(t, "falco-k8s-audit/create_nginx_pod_sensitive_mount.json", `"path":"/etc"`, `"path":"/var/run/docker.sock"`),
			[]string{"sensitive-host-mount"}},
		{"mount above kubelet state", variant(t, "falco-k8s-audit/create_nginx_pod_sensitive_mount.json", `"path":"/etc"`, `"path":"/var/lib/"`),
			[]string{"sensitive-host-mount"}},
		{"harmless mount", variant(t, "falco-k8s-audit/create_nginx_pod_sensitive_mount.json", `"path":"/etc"`, `"path":"/data/cache"`),
			nil},
		{"pod get with privileged response", variant(t, "falco-k8s-audit/create_nginx_pod_unsensitive_mount.json", `"path":"/usr/local"`, `"path":"/"`),
			nil},
		{"pod exec grant with an escaped slash", variant(t, "falco-k8s-audit/create_cluster_role_pod_exec.json", `"resources":["pods/exec"]`, `"resources":["pods\/exec"]`),
			[]string{"clusterrole-pod-exec"}},
		{"privileged init container", variant(t, "falco-k8s-audit/create_nginx_pod_unprivileged.json", `"containers":[`, `"initContainers":[{"name":"i","securityContext":{"privileged":true}}],"containers":[`),
			[]string{"privileged-pod"}},
		{"privileged: false", variant(t, "falco-k8s-audit/create_nginx_pod_unprivileged.json", `"containers":[{`, `"containers":[{"securityContext":{"privileged":false},`),
			nil},
		{"nodeport by update", variant(t, "falco-k8s-audit/create_nginx_service_nodeport.json", `"verb":"create"`, `"verb":"update"`),
			[]string{"nodeport-service"}},
		{"wildcard verbs by patch", variant(t, "falco-k8s-audit/create_cluster_role_wildcard_verbs.json", `"verb":"create"`, `"verb":"patch"`),
			[]string{"clusterrole-wildcard-verbs"}},
		{"cluster-admin RoleBinding", variant(t, "falco-k8s-audit/attach_cluster_admin_role.json", `"resource":"clusterrolebindings"`, `"resource":"rolebindings","namespace":"default"`),
			[]string{"cluster-admin-binding"}},
		{"denied cluster-admin binding", variant(t, "falco-k8s-audit/attach_cluster_admin_role.json", `/decision":"allow"`, `/decision":"forbid"`, `"code":201`, `"code":403`),
			[]string{"forbidden-human"}},
		{"impersonated user forbidden", rbac[0], []string{"forbidden-human"}},
		{"impersonated user allowed", rbac[2], nil},
		{"impersonated service account forbidden", rbac[4], nil},
		{"secret list denied", rbac[len(rbac)-1], []string{"forbidden-human", "secret-access-denied"}},
		{"secret read by human", variant(t, "falco-k8s-audit/delete_secret.json", `"verb":"delete"`, `"verb":"get"`),
			[]string{"secret-read-non-system"}},
		{"secret read by service account", variant(t, "falco-k8s-audit/delete_secret.json", `"verb":"delete"`, `"verb":"watch"`, `"username":"minikube-user"`, `"username":"system:serviceaccount:default:app"`),
			nil},
		{"secret read by anonymous", variant(t, "falco-k8s-audit/delete_secret.json", `"verb":"delete"`, `"verb":"list"`, `"username":"minikube-user"`, `"username":"system:anonymous"`),
			[]string{"anonymous-allowed", "secret-read-non-system"}},
		{"aws-auth edited", variant(t, "falco-k8s-audit/delete_configmap.json", `"namespace":"default"`, `"namespace":"kube-system"`, `"name":"my-config"`, `"name":"aws-auth"`, `"verb":"delete"`, `"verb":"patch"`),
			[]string{"kube-namespace-write-by-human", "aws-auth-changed"}},
		{"aws-auth created by a node role", variant(t, "falco-k8s-audit/create_configmap.json", `"namespace":"default"`, `"namespace":"kube-system"`, `"apiVersion":"v1","name":"my-config",`, `"apiVersion":"v1",`, `"username":"minikube-user"`, `"username":"eks:node-manager"`, `"name":"my-config"`, `"name":"aws-auth"`),
			[]string{"aws-auth-changed"}},
		{"token request by human", variant(t, "falco-k8s-audit/create_serviceaccount.json", `"resource":"serviceaccounts"`, `"resource":"serviceaccounts","subresource":"token"`),
			[]string{"serviceaccount-token-request"}},
		{"token request by kubelet", variant(t, "falco-k8s-audit/create_serviceaccount.json", `"resource":"serviceaccounts"`, `"resource":"serviceaccounts","subresource":"token"`, `"username":"minikube-user"`, `"username":"system:node:minikube"`),
			nil},
		{"node CSR by kubelet", variant(t, "falco-k8s-audit/create_serviceaccount.json", `"resource":"serviceaccounts"`, `"resource":"certificatesigningrequests","apiGroup":"certificates.k8s.io"`, `"username":"minikube-user"`, `"username":"system:node:minikube"`),
			[]string{"node-csr"}},
		{"node CSR by human", variant(t, "falco-k8s-audit/create_serviceaccount.json", `"resource":"serviceaccounts"`, `"resource":"certificatesigningrequests","apiGroup":"certificates.k8s.io"`, `"kind":"ServiceAccount"`, `"kind":"CertificateSigningRequest","spec":{"signerName":"kubernetes.io/kube-apiserver-client-kubelet"}`),
			[]string{"node-csr"}},
		{"client CSR by human", variant(t, "falco-k8s-audit/create_serviceaccount.json", `"resource":"serviceaccounts"`, `"resource":"certificatesigningrequests","apiGroup":"certificates.k8s.io"`, `"kind":"ServiceAccount"`, `"kind":"CertificateSigningRequest","spec":{"signerName":"kubernetes.io/kube-apiserver-client"}`),
			nil},
		{"system clusterrole reconciled by apiserver", variant(t, "falco-k8s-audit/modify_cluster_role_node_problem_detector.json", `"username":"minikube-user"`, `"username":"system:apiserver"`),
			nil},
		{"unauthenticated allowed", variant(t, "falco-k8s-audit/minikube_creates_namespace_foo.json", `"username":"minikube-user","groups":["system:masters","system:authenticated"]`, `"username":"x509-unknown","groups":["system:unauthenticated"]`),
			[]string{"anonymous-allowed"}},
	}
	e := mustNew(t, DefaultConfig())
	var r Result
	for _, tc := range tests {
		e.Enrich(tc.ev, &r)
		if !slices.Equal(r.Tags, tc.want) && len(r.Tags)+len(tc.want) > 0 {
			t.Errorf("%s: tags %v, want %v", tc.name, r.Tags, tc.want)
		}
	}
}

func TestEveryRuleHasATest(t *testing.T) {
	// Each built-in rule must fire on at least one fixture or variant above;
	// collect the tags those produce.
	seen := map[string]bool{}
	for _, tags := range falcoTags {
		for _, tg := range tags {
			seen[tg] = true
		}
	}
	for _, tg := range []string{"port-forward-to-pod", "ephemeral-container-added", "host-pid-pod", "host-ipc-pod",
		"forbidden-human", "secret-access-denied", "secret-read-non-system", "aws-auth-changed",
		"serviceaccount-token-request", "node-csr"} {
		seen[tg] = true
	}
	for _, r := range Rules {
		if !seen[r.Name] {
			t.Errorf("rule %s has no fixture", r.Name)
		}
		if !kebab.MatchString(r.Name) || r.Description == "" || r.Severity == SeverityNone || r.Match == nil {
			t.Errorf("rule %s: bad table entry", r.Name)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"eks:*", "eks:k8s-metrics", true},
		{"eks:*", "system:eks", false},
		{"system:node:*", "system:node:ip-10-0-1-188", true},
		{"*", "", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"*-controller", "system:serviceaccount:kube-system:replicaset-controller", true},
		{"4*", "403", true},
		{"4*", "503", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
	} {
		if got := Glob(tc.p, tc.s); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

func TestExtraRuleFields(t *testing.T) {
	ev := loadEvents(t, "seeds/eks-blog.jsonl")[2] // anonymous probe, 403, public IP
	for _, tc := range []struct {
		match map[string][]string
		want  bool
	}{
		{map[string][]string{"sourceIP.class": {"public"}, "user.kind": {"anonymous"}}, true},
		{map[string][]string{"responseStatus.code": {"4*"}}, true},
		{map[string][]string{"responseStatus.code": {"!4*"}}, false},
		{map[string][]string{"authorization.decision": {"forbid"}, "verb": {"get"}}, true},
		{map[string][]string{"user.groups": {"system:unauthenticated"}}, true},
		{map[string][]string{"user.groups": {"system:masters"}}, false},
		{map[string][]string{"sourceIPs": {"193.118.*"}}, true},
		{map[string][]string{"userAgent": {"Mozilla/*"}, "requestURI": {"/"}}, true},
		{map[string][]string{"objectRef.resource": {"secrets"}}, false},
		{map[string][]string{"objectRef.resource": {""}}, true},
		{map[string][]string{"objectRef.resource": {"!"}}, false},
		{map[string][]string{"access": {"read"}, "stage": {"ResponseComplete"}, "level": {"Metadata"}}, true},
		{map[string][]string{"authenticatedUser.username": {"system:anonymous"}}, true},
	} {
		cfg := DefaultConfig()
		cfg.RiskRules = []RuleConfig{{Name: "probe", Match: tc.match}}
		var r Result
		mustNew(t, cfg).Enrich(ev, &r)
		if got := slices.Contains(r.Tags, "probe"); got != tc.want {
			t.Errorf("%v: matched %v, want %v", tc.match, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Provider = "openshift" }, `provider: unknown provider "openshift"`},
		{func(c *Config) { c.ClusterName = "a\nb" }, "cluster_name: contains control characters"},
		{func(c *Config) { c.RiskRulesDisable = []string{"exec-into-pod", "nope"} }, `risk_rules_disable: item 1: unknown rule "nope"`},
		{func(c *Config) {
			c.RiskRules = []RuleConfig{{Name: "Bad_Name", Match: map[string][]string{"verb": {"get"}}}}
		}, `risk_rules[0].name: "Bad_Name" is not kebab-case`},
		{func(c *Config) {
			c.RiskRules = []RuleConfig{{Name: "exec-into-pod", Match: map[string][]string{"verb": {"get"}}}}
		}, `risk_rules[0].name: duplicate rule name "exec-into-pod"`},
		{func(c *Config) {
			c.RiskRules = []RuleConfig{{Name: "x", Severity: "urgent", Match: map[string][]string{"verb": {"get"}}}}
		}, `risk_rules[0].severity: unknown severity "urgent"`},
		{func(c *Config) { c.RiskRules = []RuleConfig{{Name: "x"}} }, "risk_rules[0].match: empty"},
		{func(c *Config) {
			c.RiskRules = []RuleConfig{{Name: "x", Match: map[string][]string{"user.email": {"a"}}}}
		}, `risk_rules[0].match: unknown field "user.email"`},
		{func(c *Config) { c.RiskRules = []RuleConfig{{Name: "x", Match: map[string][]string{"verb": {}}}} }, "risk_rules[0].match.verb: no values"},
	} {
		cfg := DefaultConfig()
		tc.mod(&cfg)
		_, err := New(cfg)
		if err == nil || len(err.Error()) < len(tc.want) || err.Error()[:len(tc.want)] != tc.want {
			t.Errorf("New: %v, want prefix %q", err, tc.want)
		}
	}
	for _, p := range []string{"", "eks", "ack", "gke", "aks", "self-managed"} {
		cfg := DefaultConfig()
		cfg.Provider = p
		if err := cfg.Validate(); err != nil {
			t.Errorf("provider %q: %v", p, err)
		}
	}
}
