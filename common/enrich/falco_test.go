package enrich

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
)

// falcoTags maps each Falco fixture to exactly the tags its name says.
// Files recording ordinary creates and deletes (Falco's informational
// "K8s <Kind> Created/Deleted" rules) get none.
var falcoTags = map[string][]string{
	"anonymous_creates_namespace_foo.json":                                   {"anonymous-allowed"},
	"attach_cluster_admin_role.json":                                         {"cluster-admin-binding"},
	"attach_pod.json":                                                        {"attach-to-pod"},
	"create_cluster_role_pod_exec.json":                                      {"clusterrole-pod-exec"},
	"create_cluster_role_wildcard_resources.json":                            {"clusterrole-wildcard-resources"},
	"create_cluster_role_wildcard_verbs.json":                                {"clusterrole-wildcard-verbs"},
	"create_cluster_role_write_privileges.json":                              {"clusterrole-write-privileges"},
	"create_clusterrole.json":                                                nil,
	"create_clusterrolebinding.json":                                         nil,
	"create_configmap.json":                                                  nil,
	"create_configmap_no_sensitive_values.json":                              nil,
	"create_configmap_sensitive_values.json":                                 {"configmap-with-credentials"},
	"create_deployment.json":                                                 nil,
	"create_kube_system_secret.json":                                         {"kube-namespace-write-by-human"},
	"create_nginx_pod_hostnetwork.json":                                      {"host-network-pod"},
	"create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json": {"privileged-pod"},
	"create_nginx_pod_nohostnetwork.json":                                    nil,
	"create_nginx_pod_privileged.json":                                       {"privileged-pod"},
	"create_nginx_pod_privileged_2nd_container.json":                         {"privileged-pod"},
	"create_nginx_pod_sensitive_mount.json":                                  {"sensitive-host-mount"},
	"create_nginx_pod_sensitive_mount_2nd_container.json":                    {"sensitive-host-mount"},
	"create_nginx_pod_unprivileged.json":                                     nil,
	"create_nginx_pod_unsensitive_mount.json":                                nil,
	"create_nginx_service_nodeport.json":                                     {"nodeport-service"},
	"create_nginx_service_nonodeport.json":                                   nil,
	"create_pod_kube_public_namespace.json":                                  {"pod-created-in-kube-namespace"},
	"create_pod_kube_system_namespace.json":                                  {"pod-created-in-kube-namespace"},
	"create_secret.json":                                                     nil,
	"create_service.json":                                                    nil,
	"create_service_account_token_secret.json":                               nil, // the tokens-controller's own work
	"create_serviceaccount.json":                                             nil,
	"create_serviceaccount_kube_public_namespace.json":                       {"kube-namespace-write-by-human"},
	"create_serviceaccount_kube_system_namespace.json":                       {"kube-namespace-write-by-human"},
	"delete_cluster_role_kube_aggregator.json":                               {"system-clusterrole-changed"},
	"delete_clusterrole.json":                                                nil,
	"delete_clusterrolebinding.json":                                         nil,
	"delete_configmap.json":                                                  nil,
	"delete_deployment.json":                                                 nil,
	"delete_namespace_foo.json":                                              nil,
	"delete_secret.json":                                                     nil,
	"delete_service.json":                                                    nil,
	"delete_serviceaccount.json":                                             nil,
	"exec_pod.json":                                                          {"exec-into-pod"},
	"minikube_creates_namespace_foo.json":                                    nil,
	"modify_cluster_role_node_problem_detector.json":                         {"system-clusterrole-changed"},
	"some-user_creates_namespace_foo.json":                                   nil, // see TestExtraRuleDisallowedUser
}

func TestFalcoFixturesGetExactlyTheirTags(t *testing.T) {
	files, err := filepath.Glob("testdata/falco-k8s-audit/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 47 {
		t.Fatalf("found %d fixtures, want 47", len(files))
	}
	e := mustNew(t, DefaultConfig())
	seen := 0
	for _, f := range files {
		name := filepath.Base(f)
		if name == "fal_01_003.json" {
			continue
		}
		want, ok := falcoTags[name]
		if !ok {
			t.Errorf("%s: no expectation in falcoTags", name)
			continue
		}
		seen++
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			var r Result
			for i, ev := range loadEvents(t, "falco-k8s-audit/"+name) {
				e.Enrich(ev, &r)
				if !slices.Equal(r.Tags, want) && !(len(r.Tags) == 0 && len(want) == 0) {
					t.Errorf("event %d: tags %v, want %v", i, r.Tags, want)
				}
				if len(want) == 0 && r.Severity != SeverityNone {
					t.Errorf("event %d: severity %v without tags", i, r.Severity)
				}
				if len(want) > 0 && anns(&r)[AnnRiskTags] != strings.Join(want, ",") {
					t.Errorf("event %d: annotation %q", i, anns(&r)[AnnRiskTags])
				}
			}
		})
	}
	if seen != len(falcoTags) {
		t.Errorf("checked %d fixtures, table has %d", seen, len(falcoTags))
	}
}

func TestFalcoMalformedFixtureIsADecodeError(t *testing.T) {
	data, err := os.ReadFile("testdata/falco-k8s-audit/fal_01_003.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev audit.Event
	err = audit.Parse(data, &ev)
	var de *audit.DecodeError
	if !errors.As(err, &de) || !errors.Is(err, audit.ErrType) {
		t.Fatalf("Parse = %v, want a DecodeError wrapping ErrType", err)
	}
}

func TestExtraRuleDisallowedUser(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RiskRules = []RuleConfig{{
		Name:     "disallowed-k8s-user",
		Severity: "high",
		Match: map[string][]string{
			"user.kind":     {"human"},
			"user.username": {"!minikube*", "!admin", "!kubernetes-admin"},
		},
	}}
	e := mustNew(t, cfg)
	var r Result
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"some-user_creates_namespace_foo.json", []string{"disallowed-k8s-user"}},
		{"minikube_creates_namespace_foo.json", nil},
		{"anonymous_creates_namespace_foo.json", []string{"anonymous-allowed"}},
		{"create_kube_system_secret.json", []string{"kube-namespace-write-by-human"}},
	} {
		e.Enrich(loadEvents(t, "falco-k8s-audit/"+tc.file)[0], &r)
		if !slices.Equal(r.Tags, tc.want) && !(len(r.Tags)+len(tc.want) == 0) {
			t.Errorf("%s: tags %v, want %v", tc.file, r.Tags, tc.want)
		}
		if tc.file == "some-user_creates_namespace_foo.json" && r.Severity != SeverityHigh {
			t.Errorf("severity %v, want high", r.Severity)
		}
	}
}

func TestDisabledRulesAndRiskOff(t *testing.T) {
	ev := loadEvents(t, "falco-k8s-audit/exec_pod.json")[0]
	var r Result

	cfg := DefaultConfig()
	cfg.RiskRulesDisable = []string{"exec-into-pod"}
	mustNew(t, cfg).Enrich(ev, &r)
	if len(r.Tags) != 0 {
		t.Errorf("disabled rule still tagged: %v", r.Tags)
	}

	cfg = DefaultConfig()
	cfg.RiskTags = false
	en := mustNew(t, cfg)
	en.Enrich(ev, &r)
	if len(r.Tags) != 0 || len(en.RuleNames()) != 0 {
		t.Errorf("risk_tags off: tags %v rules %v", r.Tags, en.RuleNames())
	}

	mustNew(t, DefaultConfig()).Enrich(ev, &r)
	if !slices.Equal(r.Tags, []string{"exec-into-pod"}) {
		t.Errorf("default: tags %v", r.Tags)
	}
}
