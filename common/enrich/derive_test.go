package enrich

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/audit"
)

// TestEKSSeedEvents checks every derived field on the events of the EKS
// field report (seeds/eks-blog.jsonl), through the flat attribute map.
func TestEKSSeedEvents(t *testing.T) {
	evs := loadEvents(t, "seeds/eks-blog.jsonl")
	want := []map[string]string{
		{ // eks:k8s-metrics lists nodes
			"auditlane.cluster.provider": "eks", "cloud.provider": "aws",
			"user.name": "eks:k8s-metrics", "auditlane.user.kind": "control-plane",
			"k8s.cluster.name": "prod", "k8s.cluster.uid": "c-123",
			"auditlane.resource": "core/nodes//", "auditlane.access": "read",
			"http.response.status_code": "200", "auditlane.response_class": "2xx", "auditlane.latency_ms": "26.491",
			"user_agent.original": "eks-k8s-metrics/v0.0.0 (linux/amd64) kubernetes/$Format",
			"user_agent.name":     "eks-k8s-metrics", "user_agent.version": "v0.0.0", "user_agent.os.name": "linux", "auditlane.user_agent.arch": "amd64",
			"auditlane.authz.decision":    "allow",
			"auditlane.authz.reason":      `RBAC: allowed by ClusterRoleBinding "eks:k8s-metrics" of ClusterRole "eks:k8s-metrics" to User "eks:k8s-metrics"`,
			"auditlane.rbac.binding.kind": "ClusterRoleBinding", "auditlane.rbac.binding.name": "eks:k8s-metrics",
			"auditlane.rbac.role.kind": "ClusterRole", "auditlane.rbac.role.name": "eks:k8s-metrics",
			"source.address": "172.16.42.46", "auditlane.source.ip_class": "private",
		},
		{ // kubernetes-admin through an IAM user
			"auditlane.cluster.provider": "eks", "cloud.provider": "aws",
			"user.name": "kubernetes-admin", "user.id": "aws-iam-authenticator:${AccountId}:${UserId}", "auditlane.user.kind": "human",
			"k8s.cluster.name": "prod", "k8s.cluster.uid": "c-123",
			"cloud.account.id": "${AccountId}", "auditlane.cloud.principal.type": "user",
			"auditlane.cloud.principal.arn": "arn:aws:iam::${AccountId}:user/${UserName}", "auditlane.cloud.principal.name": "${UserName}",
			"auditlane.cloud.access_key_id": "xxx",
			"auditlane.access":              "read", "http.response.status_code": "200", "auditlane.response_class": "2xx", "auditlane.latency_ms": "30.393",
			"user_agent.original": "kubectl/v1.25.4 (darwin/amd64) kubernetes/872a965",
			"user_agent.name":     "kubectl", "user_agent.version": "v1.25.4", "user_agent.os.name": "darwin", "auditlane.user_agent.arch": "amd64",
			"auditlane.authz.decision": "allow",
			"source.address":           "xxx", "auditlane.source.ip_class": "invalid",
		},
		{ // anonymous probe from the internet, forbidden
			"auditlane.cluster.provider": "eks", "cloud.provider": "aws",
			"user.name": "system:anonymous", "auditlane.user.kind": "anonymous",
			"k8s.cluster.name": "prod", "k8s.cluster.uid": "c-123",
			"auditlane.access": "read", "http.response.status_code": "403", "auditlane.response_class": "4xx", "auditlane.latency_ms": "4.585",
			"user_agent.original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0.3112.113 Safari/537.36",
			"user_agent.name":     "Mozilla", "user_agent.version": "5.0",
			"auditlane.authz.decision": "forbid",
			"source.address":           "193.118.53.210", "auditlane.source.ip_class": "public",
		},
		{ // kubelet on an EC2 node through the node role
			"auditlane.cluster.provider": "eks", "cloud.provider": "aws",
			"user.name": "system:node:ip-10-0-1-188.ap-northeast-1.compute.internal", "user.id": "aws-iam-authenticator:${AccountId}:{UserId}",
			"auditlane.user.kind": "node", "k8s.node.name": "ip-10-0-1-188.ap-northeast-1.compute.internal",
			"k8s.cluster.name": "prod", "k8s.cluster.uid": "c-123",
			"cloud.account.id": "${AccountId}", "auditlane.cloud.principal.type": "assumed-role",
			"auditlane.cloud.principal.arn": "arn:aws:iam::${AccountId}:role/EKSNodeRole", "auditlane.cloud.principal.name": "EKSNodeRole",
			"auditlane.cloud.session_name": "i-0f154c84ebe55ea8e", "auditlane.cloud.access_key_id": "xxx",
			"auditlane.resource": "storage.k8s.io/csidrivers//", "auditlane.access": "read",
			"http.response.status_code": "200", "auditlane.response_class": "2xx", "auditlane.latency_ms": "130.494",
			"user_agent.original": "kubelet/v1.24.9 (linux/amd64) kubernetes/53e5004",
			"user_agent.name":     "kubelet", "user_agent.version": "v1.24.9", "user_agent.os.name": "linux", "auditlane.user_agent.arch": "amd64",
			"auditlane.authz.decision": "allow",
			"source.address":           "43.206.153.252", "auditlane.source.ip_class": "public",
		},
		{ // kube-proxy on Fargate
			"auditlane.cluster.provider": "eks", "cloud.provider": "aws",
			"user.name": "system:node:fargate-ip-10-0-3-37.ap-northeast-1.compute.internal", "user.id": "aws-iam-authenticator:${AccountId}:${UserId}",
			"auditlane.user.kind": "node", "k8s.node.name": "fargate-ip-10-0-3-37.ap-northeast-1.compute.internal",
			"k8s.cluster.name": "prod", "k8s.cluster.uid": "c-123",
			"cloud.account.id": "${AccountId}", "auditlane.cloud.principal.type": "assumed-role",
			"auditlane.cloud.principal.arn": "arn:aws:iam::${AccountId}:role/EKSFargateRole", "auditlane.cloud.principal.name": "EKSFargateRole",
			"auditlane.cloud.session_name": "fargate-ip-10-0-3-37.ap-northeast-1.compute.internal", "auditlane.cloud.access_key_id": "xxx",
			"auditlane.resource": "core/nodes//ip-10-0-205-154.ap-northeast-1.compute.internal", "auditlane.access": "read",
			"http.response.status_code": "200", "auditlane.response_class": "2xx", "auditlane.latency_ms": "34.581",
			"user_agent.original": "kube-proxy/v1.24.9 (linux/amd64) kubernetes/83fb24d",
			"user_agent.name":     "kube-proxy", "user_agent.version": "v1.24.9", "user_agent.os.name": "linux", "auditlane.user_agent.arch": "amd64",
			"auditlane.authz.decision": "allow",
			"source.address":           "35.76.81.254", "auditlane.source.ip_class": "public",
		},
	}
	cfg := DefaultConfig()
	cfg.ClusterName, cfg.ClusterID = "prod", "c-123"
	e := mustNew(t, cfg)
	var r Result
	for i, ev := range evs {
		e.Enrich(ev, &r)
		got := attrs(&r)
		if !maps.Equal(got, want[i]) {
			for k, v := range want[i] {
				if got[k] != v {
					t.Errorf("event %d: %s = %q, want %q", i, k, got[k], v)
				}
			}
			for k, v := range got {
				if _, ok := want[i][k]; !ok {
					t.Errorf("event %d: unexpected %s = %q", i, k, v)
				}
			}
		}
		if len(r.Tags) != 0 {
			t.Errorf("event %d: tags %v", i, r.Tags)
		}
	}
}

func TestProviderDetectionIsSticky(t *testing.T) {
	falco := loadEvents(t, "falco-k8s-audit/exec_pod.json")[0]
	eks := loadEvents(t, "seeds/eks-blog.jsonl")[0]
	e := mustNew(t, DefaultConfig())
	var r Result
	e.Enrich(falco, &r)
	if r.Provider != "" {
		t.Fatalf("provider before any hint: %q", r.Provider)
	}
	e.Enrich(eks, &r)
	e.Enrich(falco, &r)
	if r.Provider != ProviderEKS {
		t.Fatalf("provider after an eks: hint: %q", r.Provider)
	}
	cfg := DefaultConfig()
	cfg.Provider = ProviderSelfManaged
	e = mustNew(t, cfg)
	e.Enrich(eks, &r)
	if r.Provider != ProviderSelfManaged || attrs(&r)["cloud.provider"] != "" {
		t.Fatalf("configured provider overridden: %q", r.Provider)
	}
}

// TestImpersonation uses the audit2rbac demo: system:admin impersonating
// bob, alice and a service account.
func TestImpersonation(t *testing.T) {
	evs := loadEvents(t, "audit2rbac/demo.log")
	e := mustNew(t, DefaultConfig())
	var r Result
	for _, tc := range []struct {
		i                    int
		user, kind, ns, name string
		groups               string
	}{
		{0, "bob", "human", "", "", "system:authenticated"},
		{4, "system:serviceaccount:ns1:sa1", "service-account", "ns1", "sa1", "system:serviceaccounts,system:serviceaccounts:ns1,system:authenticated"},
		{len(evs) - 1, "alice", "human", "", "", "system:authenticated"},
	} {
		e.Enrich(evs[tc.i], &r)
		id := r.Identity
		if id.User != tc.user || id.Kind.String() != tc.kind || id.Impersonator != "system:admin" ||
			id.ServiceAccountNamespace != tc.ns || id.ServiceAccountName != tc.name || strings.Join(id.Groups, ",") != tc.groups {
			t.Errorf("event %d: %+v", tc.i, id)
		}
		a, n := attrs(&r), anns(&r)
		if a["user.name"] != tc.user || a["auditlane.user.impersonator"] != "system:admin" || n[AnnEffectiveUser] != tc.user {
			t.Errorf("event %d: attrs %v anns %v", tc.i, a, n)
		}
		if n[AnnSourceIPClass] != "loopback" {
			t.Errorf("event %d: source class %q", tc.i, n[AnnSourceIPClass])
		}
	}
	// Legacy events without requestReceivedTimestamp: the decoder fills it
	// from the legacy fields; latency is then 0 or absent, never negative.
	e.Enrich(evs[0], &r)
	if r.HasLatency && r.Latency < 0 {
		t.Errorf("negative latency %v", r.Latency)
	}
}

// TestACKRAMUser: ACK kubeconfigs name the RAM user (all digits) or the RAM
// role ("<role id>-<timestamp>"). The event is a real Falco fixture with
// the username changed to the ACK forms.
func TestACKRAMUser(t *testing.T) {
	for _, tc := range []struct {
		user, typ, id, provider string
	}{
		{"27682431234567890", "ram-user", "27682431234567890", ProviderACK},
		{"30012345678901234-1700000000", "ram-role", "30012345678901234", ProviderACK},
		{"minikube-user", "", "", ProviderACK},
		{"27682431234567890", "", "", ProviderSelfManaged},
	} {
		cfg := DefaultConfig()
		cfg.Provider = tc.provider
		ev := variant(t, "falco-k8s-audit/delete_secret.json", `"username":"minikube-user"`, `"username":"`+tc.user+`"`)
		var r Result
		mustNew(t, cfg).Enrich(ev, &r)
		a := attrs(&r)
		if a["auditlane.cloud.principal.type"] != tc.typ || a["auditlane.cloud.principal.id"] != tc.id {
			t.Errorf("%s on %s: %v", tc.user, tc.provider, a)
		}
		if tc.provider == ProviderACK && a["cloud.provider"] != "alibaba_cloud" {
			t.Errorf("cloud.provider %q", a["cloud.provider"])
		}
	}
}

func TestPartsSwitchOff(t *testing.T) {
	ev := loadEvents(t, "seeds/eks-blog.jsonl")[3]
	cfg := Config{ClusterName: "c"}
	var r Result
	mustNew(t, cfg).Enrich(ev, &r)
	// Provider detection still runs (it is cluster metadata).
	want := map[string]string{"k8s.cluster.name": "c", "auditlane.cluster.provider": "eks", "cloud.provider": "aws"}
	if got := attrs(&r); !maps.Equal(got, want) {
		t.Errorf("all parts off: %v", got)
	}
	for _, part := range []struct {
		set  func(*Config)
		key  string
		none string
	}{
		{func(c *Config) { c.Identity = true }, "auditlane.user.kind", "auditlane.latency_ms"},
		{func(c *Config) { c.Request = true }, "auditlane.latency_ms", "auditlane.user.kind"},
		{func(c *Config) { c.Authz = true }, "auditlane.authz.decision", "source.address"},
		{func(c *Config) { c.Network = true }, "source.address", "auditlane.authz.decision"},
	} {
		c := Config{}
		part.set(&c)
		mustNew(t, c).Enrich(ev, &r)
		a := attrs(&r)
		if a[part.key] == "" || a[part.none] != "" {
			t.Errorf("%s: %v", part.key, a)
		}
	}
}

func TestAnnotationsAndAttributesAgree(t *testing.T) {
	ev := variant(t, "falco-k8s-audit/exec_pod.json", `"sourceIPs":["192.168.99.1"]`, `"sourceIPs":["203.0.113.9","10.0.0.1"]`)
	cfg := DefaultConfig()
	cfg.ClusterName = "dev"
	var r Result
	mustNew(t, cfg).Enrich(ev, &r)
	n := anns(&r)
	want := map[string]string{
		AnnClusterName: "dev", AnnUserKind: "human",
		AnnLatencyMS: "35.798", AnnResponseClass: "1xx", AnnAccess: "write",
		AnnResource:      "core/pods/default/nginx-deployment-7998647bdf-phvq7/exec",
		AnnSourceIPClass: "public,private", AnnRiskTags: "exec-into-pod", AnnRiskSeverity: "high",
	}
	if !maps.Equal(n, want) {
		t.Errorf("annotations %v\nwant %v", n, want)
	}
	for k := range n {
		if !strings.HasPrefix(k, AnnotationPrefix) {
			t.Errorf("annotation %s lacks the prefix", k)
		}
	}
	a := attrs(&r)
	if a["auditlane.source.addresses"] != "203.0.113.9,10.0.0.1" || a["auditlane.source.ip_classes"] != "public,private" ||
		a["source.address"] != "203.0.113.9" || a["auditlane.risk.tags"] != "exec-into-pod" || a["k8s.namespace.name"] != "default" {
		t.Errorf("attributes %v", a)
	}
	f := r.AppendFields(nil)
	if len(f) != len(a) {
		t.Fatalf("AppendFields: %d fields, attributes %d", len(f), len(a))
	}
	for _, kv := range f {
		if a[kv.Key] != kv.Value {
			t.Errorf("field %s=%q, attribute %q", kv.Key, kv.Value, a[kv.Key])
		}
	}
}

func TestParseUserAgent(t *testing.T) {
	for _, tc := range []struct {
		ua   string
		want UserAgent
	}{
		{"kubectl/v1.25.4 (darwin/amd64) kubernetes/872a965", UserAgent{"kubectl", "v1.25.4", "darwin", "amd64", "872a965", ""}},
		{"kube-controller-manager/v1.17.3 (linux/amd64) kubernetes/06ad960/tokens-controller", UserAgent{"kube-controller-manager", "v1.17.3", "linux", "amd64", "06ad960", "tokens-controller"}},
		{"kubeadm/v1.16.2 (linux/amd64) kubernetes/c97fe50", UserAgent{"kubeadm", "v1.16.2", "linux", "amd64", "c97fe50", ""}},
		{"Go-http-client/1.1", UserAgent{Client: "Go-http-client", Version: "1.1"}},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", UserAgent{Client: "Mozilla", Version: "5.0"}},
		{"curl", UserAgent{Client: "curl"}},
		{"", UserAgent{}},
		{"kubectl/v1 (broken", UserAgent{Client: "kubectl", Version: "v1"}},
	} {
		if got := ParseUserAgent(tc.ua); got != tc.want {
			t.Errorf("ParseUserAgent(%q) = %+v, want %+v", tc.ua, got, tc.want)
		}
	}
}

func TestParseARN(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want ARN
		ok   bool
	}{
		{"arn:aws:iam::123456789012:user/alice", ARN{"aws", "iam", "123456789012", "user", "alice", ""}, true},
		{"arn:aws:iam::123456789012:user/dev/ops/alice", ARN{"aws", "iam", "123456789012", "user", "alice", ""}, true},
		{"arn:aws:iam::123456789012:role/EKSNodeRole", ARN{"aws", "iam", "123456789012", "role", "EKSNodeRole", ""}, true},
		{"arn:aws:sts::123456789012:assumed-role/EKSNodeRole/i-0f154c84ebe55ea8e", ARN{"aws", "sts", "123456789012", "assumed-role", "EKSNodeRole", "i-0f154c84ebe55ea8e"}, true},
		{"arn:aws-cn:sts::123456789012:federated-user/bob", ARN{"aws-cn", "sts", "123456789012", "federated-user", "bob", ""}, true},
		{"arn:aws:iam::123456789012:root", ARN{"aws", "iam", "123456789012", "root", "", ""}, true},
		{"arn:aws:s3:::bucket", ARN{}, false},
		{"arn:aws:iam::123456789012:group/admins", ARN{}, false},
		{"arn:aws:sts::123456789012:assumed-role/OnlyRole", ARN{}, false},
		{"not-an-arn", ARN{}, false},
		{"", ARN{}, false},
	} {
		got, ok := ParseARN(tc.s)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("ParseARN(%q) = %+v, %v", tc.s, got, ok)
		}
	}
}

func TestAWSPrincipalFromPrincipalID(t *testing.T) {
	var p Principal
	awsPrincipal(&p, "", "", "", "", "AROAEXAMPLEID:session")
	if p.Type != "assumed-role" || p.PrincipalID != "AROAEXAMPLEID:session" {
		t.Errorf("%+v", p)
	}
	p = Principal{}
	awsPrincipal(&p, "", "", "", "", "AIDAEXAMPLEID")
	if p.Type != "user" {
		t.Errorf("%+v", p)
	}
}

func TestParseRBACReason(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want RBACReason
		ok   bool
	}{
		{`RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "z"`, RBACReason{"ClusterRoleBinding", "x", "ClusterRole", "y", "User", "z"}, true},
		{`RBAC: allowed by ClusterRoleBinding "system:controller:replicaset-controller" of ClusterRole "system:controller:replicaset-controller" to ServiceAccount "replicaset-controller/kube-system"`,
			RBACReason{"ClusterRoleBinding", "system:controller:replicaset-controller", "ClusterRole", "system:controller:replicaset-controller", "ServiceAccount", "replicaset-controller/kube-system"}, true},
		{`RBAC: allowed by RoleBinding "rb/ns" of Role "r" to Group "devs"`, RBACReason{"RoleBinding", "rb/ns", "Role", "r", "Group", "devs"}, true},
		{`RBAC: allowed by RoleBinding "a \"q\"" of Role "r" to User "u"`, RBACReason{"RoleBinding", `a "q"`, "Role", "r", "User", "u"}, true},
		{``, RBACReason{}, false},
		{`RBAC: allowed by ClusterRoleBinding "x" of ClusterRole`, RBACReason{}, false},
		{`RBAC: allowed by ClusterRoleBinding "x`, RBACReason{}, false},
		{`allowed by webhook`, RBACReason{}, false},
	} {
		got, ok := ParseRBACReason(tc.s)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("ParseRBACReason(%q) = %+v, %v", tc.s, got, ok)
		}
	}
}

func TestClassifyIP(t *testing.T) {
	for s, want := range map[string]string{
		"193.118.53.210": IPPublic, "43.206.153.252": IPPublic, "2001:db8::1": IPPublic,
		"172.16.42.46": IPPrivate, "10.0.0.1": IPPrivate, "192.168.99.1": IPPrivate, "100.64.1.2": IPPrivate, "fd00::1": IPPrivate,
		"127.0.0.1": IPLoopback, "::1": IPLoopback, "::ffff:127.0.0.1": IPLoopback,
		"169.254.169.254": IPLinkLocal, "fe80::1": IPLinkLocal,
		"0.0.0.0": IPUnspecified, "::": IPUnspecified,
		"xxx": IPInvalid, "": IPInvalid, "1.2.3.4:80": IPInvalid,
	} {
		if got := ClassifyIP(s); got != want {
			t.Errorf("ClassifyIP(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestClassifyUser(t *testing.T) {
	for _, tc := range []struct {
		user   string
		groups []string
		kind   UserKind
		ns, sa string
		node   string
	}{
		{"system:anonymous", []string{"system:unauthenticated"}, UserAnonymous, "", "", ""},
		{"x", []string{"system:unauthenticated"}, UserUnauthenticated, "", "", ""},
		{"system:serviceaccount:kube-system:replicaset-controller", nil, UserServiceAccount, "kube-system", "replicaset-controller", ""},
		{"system:serviceaccount:broken", nil, UserServiceAccount, "", "", ""},
		{"system:node:minikube", nil, UserNode, "", "", "minikube"},
		{"system:kube-controller-manager", nil, UserControlPlane, "", "", ""},
		{"system:apiserver", nil, UserControlPlane, "", "", ""},
		{"eks:node-manager", nil, UserControlPlane, "", "", ""},
		{"kubernetes-admin", []string{"system:masters"}, UserHuman, "", "", ""},
		{"alice@example.com", nil, UserHuman, "", "", ""},
		{"", nil, UserUnknown, "", "", ""},
	} {
		k, ns, sa, node := ClassifyUser(tc.user, tc.groups)
		if k != tc.kind || ns != tc.ns || sa != tc.sa || node != tc.node {
			t.Errorf("ClassifyUser(%q) = %v %q %q %q", tc.user, k, ns, sa, node)
		}
	}
}

func TestRequestHelpers(t *testing.T) {
	d, ok := Latency("2023-02-18T16:07:50.628915Z", "2023-02-18T16:07:50.655406Z")
	if !ok || d != 26491*time.Microsecond || FormatMillis(d) != "26.491" {
		t.Errorf("Latency = %v %v %s", d, ok, FormatMillis(d))
	}
	for _, bad := range [][2]string{{"", "2023-02-18T16:07:50Z"}, {"x", "2023-02-18T16:07:50Z"}, {"2023-02-18T16:07:51Z", "2023-02-18T16:07:50Z"}} {
		if _, ok := Latency(bad[0], bad[1]); ok {
			t.Errorf("Latency(%q, %q) ok", bad[0], bad[1])
		}
	}
	for d, want := range map[time.Duration]string{0: "0", time.Second: "1000", 1500 * time.Microsecond: "1.5", 10 * time.Microsecond: "0.01"} {
		if got := FormatMillis(d); got != want {
			t.Errorf("FormatMillis(%v) = %q, want %q", d, got, want)
		}
	}
	for code, want := range map[int]string{0: "", 99: "", 101: "1xx", 200: "2xx", 301: "3xx", 403: "4xx", 503: "5xx", 600: ""} {
		if got := ResponseClass(code); got != want {
			t.Errorf("ResponseClass(%d) = %q", code, got)
		}
	}
	for verb, want := range map[string]string{"get": "read", "watch": "read", "list": "read", "create": "write", "deletecollection": "write",
		"patch": "write", "post": "write", "impersonate": "other", "escalate": "other", "": ""} {
		if got := VerbAccess(verb); got != want {
			t.Errorf("VerbAccess(%q) = %q", verb, got)
		}
	}
	if got := string(AppendResourcePath(nil, "apps", "deployments", "default", "web", "scale")); got != "apps/deployments/default/web/scale" {
		t.Errorf("resource path %q", got)
	}
	for p, want := range map[string]bool{"/": true, "/etc": true, "/etc/": true, "/etc/kubernetes/pki": true, "/proc/1": true,
		"/var": true, "/var/run": true, "/run/containerd/containerd.sock": true, "/root": true, "/var/lib/kubelet/pods": true,
		"/usr/local": false, "/data": false, "/var/log": false, "/etcd-data": false, "": false, "/home/user": false} {
		if got := IsSensitiveHostPath(p); got != want {
			t.Errorf("IsSensitiveHostPath(%q) = %v", p, got)
		}
	}
}

func TestParseTimeMatchesTimePackage(t *testing.T) {
	for _, s := range []string{
		"2023-02-18T16:07:50.628915Z", "2018-10-25T13:58:49Z", "2020-02-29T23:59:59.999999999Z", "1999-12-31T23:59:59.5Z",
		"2024-03-01T00:00:00.000001Z", "2023-02-18T16:07:50.628915+09:00", "2100-01-01T00:00:00Z",
	} {
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseTime(s)
		if !ok || got != want.UnixNano() {
			t.Errorf("parseTime(%q) = %d %v, want %d", s, got, ok, want.UnixNano())
		}
	}
	for _, s := range []string{"2023-02-18T16:07:50.Z", "2023-13-18T16:07:50Z", "2023-02-18T16:07:5xZ", "2023-02-18 16:07:50Z", "yesterday"} {
		if _, ok := parseTime(s); ok {
			t.Errorf("parseTime(%q) ok", s)
		}
	}
	// Across midnight and a year boundary.
	if d, ok := Latency("2023-12-31T23:59:59.900000Z", "2024-01-01T00:00:00.100000Z"); !ok || d != 200*time.Millisecond {
		t.Errorf("Latency across a year: %v %v", d, ok)
	}
}

func TestEachString(t *testing.T) {
	for in, want := range map[string]string{
		`["a","b"]`: "a|b",
		` [ "a" , 1, {"x":["y"]}, null, "c\"d", "\u00e9" ] `: `a|c"d|é`,
		`[]`:      "",
		`{"a":1}`: "",
		`"x"`:     "",
	} {
		var got []string
		eachString([]byte(in), func(s string) { got = append(got, s) })
		if strings.Join(got, "|") != want {
			t.Errorf("eachString(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestAppendAnnotationsJSONMatchesAnnotations: the direct writer and the
// emit-based listing agree, in order, on every fixture event.
func TestAppendAnnotationsJSONMatchesAnnotations(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ClusterName, cfg.ClusterID = `we"ird\name`, "id"
	e := mustNew(t, cfg)
	var r Result
	evs := benchCorpusT(t)
	evs = append(evs, variant(t, "falco-k8s-audit/exec_pod.json", `"sourceIPs":["192.168.99.1"]`, `"sourceIPs":["203.0.113.9","10.0.0.1"]`))
	for _, ev := range evs {
		e.Enrich(ev, &r)
		var want []byte
		n := 0
		r.Annotations(func(k, v string) {
			if n > 0 {
				want = append(want, ',')
			}
			n++
			want = audit.AppendQuote(want, k)
			want = append(want, ':')
			want = audit.AppendQuote(want, v)
		})
		got, m := r.AppendAnnotationsJSON(nil, false)
		if string(got) != string(want) || m != n {
			t.Fatalf("%s:\n got %s (%d)\nwant %s (%d)", ev.AuditID, got, m, want, n)
		}
		got, _ = r.AppendAnnotationsJSON([]byte("x"), true)
		if n > 0 && string(got) != "x,"+string(want) {
			t.Fatalf("comma: %s", got)
		}
	}
	for _, d := range []time.Duration{0, 1500 * time.Microsecond, 10 * time.Microsecond, 26491 * time.Microsecond, time.Second, 100 * time.Microsecond} {
		if got := string(appendMillis(nil, d)); got != FormatMillis(d) {
			t.Errorf("appendMillis(%v) = %s, FormatMillis %s", d, got, FormatMillis(d))
		}
	}
}

func benchCorpusT(t *testing.T) []*audit.Event {
	var evs []*audit.Event
	for _, pat := range []string{"falco-k8s-audit/*.json", "audit2rbac/*.log", "seeds/*.jsonl"} {
		files, _ := filepath.Glob(filepath.Join("testdata", pat))
		for _, f := range files {
			if filepath.Base(f) == "fal_01_003.json" {
				continue
			}
			rel, _ := filepath.Rel("testdata", f)
			evs = append(evs, loadEvents(t, rel)...)
		}
	}
	return evs
}

// TestLatencySameMinute checks the shared-minute shortcut against
// time.Parse, including stage timestamps that only time.Parse reads or
// that nothing reads.
func TestLatencySameMinute(t *testing.T) {
	const rr = "2024-05-14T09:00:00.218235Z"
	for _, stage := range []string{
		"2024-05-14T09:00:00.232747Z", "2024-05-14T09:00:59Z", "2024-05-14T09:00:00.2Z", "2024-05-14T09:00:00.123456789Z",
		"2024-05-14T09:00:00.218235Z", "2024-05-14T09:00:00.1Z", // negative
		"2024-05-14T09:00:01+00:00", "2024-05-14T09:00:01.5+01:00", // time.Parse only
		"2024-05-14T09:00:61Z", "2024-05-14T09:00:0xZ", "2024-05-14T09:00:01.Z", "2024-05-14T09:00:01.1234567890Z", // unparsable
	} {
		want, wantOK := time.Duration(0), false
		a, errA := time.Parse(time.RFC3339Nano, rr)
		b, errB := time.Parse(time.RFC3339Nano, stage)
		if errA == nil && errB == nil && !b.Before(a) {
			want, wantOK = b.Sub(a), true
		}
		if got, ok := Latency(rr, stage); ok != wantOK || ok && got != want {
			t.Errorf("Latency(%q, %q) = %v %v, want %v %v", rr, stage, got, ok, want, wantOK)
		}
	}
}
