package provider_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/enrich"
	"github.com/auditlane/auditlane/common/provider"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unwrapOK unwraps obj and checks the output is valid JSON that audit.Parse
// accepts; it returns the decoded Event and its annotations.
func unwrapOK(t *testing.T, obj []byte, want provider.Kind) (*audit.Event, map[string]string) {
	t.Helper()
	if got := provider.Detect(obj); got != want {
		t.Fatalf("Detect = %v, want %v", got, want)
	}
	prefix := []byte("prefix")
	out, k, err := provider.Unwrap(prefix, obj)
	if err != nil {
		t.Fatalf("Unwrap: %v", err)
	}
	if k != want {
		t.Fatalf("Unwrap kind = %v, want %v", k, want)
	}
	if string(out[:6]) != "prefix" {
		t.Fatalf("Unwrap did not append to dst: %q", out[:6])
	}
	out = out[6:]
	if !json.Valid(out) {
		t.Fatalf("output is not valid JSON: %s", out)
	}
	var ev audit.Event
	if err := audit.Parse(out, &ev); err != nil {
		t.Fatalf("audit.Parse: %v\n%s", err, out)
	}
	var m struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("annotations: %v\n%s", err, out)
	}
	return &ev, m.Annotations
}

func TestPrefixMatchesEnrich(t *testing.T) {
	if provider.Prefix != enrich.AnnotationPrefix {
		t.Fatalf("Prefix %q != enrich.AnnotationPrefix %q", provider.Prefix, enrich.AnnotationPrefix)
	}
}

type want struct {
	auditID, verb, uri, user, ua, stage, level string
	code                                       int
	ref                                        audit.ObjectRef
	hasRef                                     bool
	ips                                        []string
	ann                                        map[string]string
}

func check(t *testing.T, ev *audit.Event, ann map[string]string, w want) {
	t.Helper()
	if ev.APIVersion != audit.VersionV1 {
		t.Errorf("apiVersion = %q", ev.APIVersion)
	}
	for _, c := range []struct{ name, got, want string }{
		{"auditID", ev.AuditID, w.auditID}, {"verb", ev.Verb, w.verb}, {"requestURI", ev.RequestURI, w.uri},
		{"user", ev.User.Username, w.user}, {"stage", ev.Stage, w.stage}, {"level", ev.Level, w.level},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if ev.ResponseCode != w.code {
		t.Errorf("code = %d, want %d", ev.ResponseCode, w.code)
	}
	if ev.HasObjectRef != w.hasRef || ev.ObjectRef != w.ref {
		t.Errorf("objectRef = %v %+v, want %v %+v", ev.HasObjectRef, ev.ObjectRef, w.hasRef, w.ref)
	}
	var ips []string
	if v := ev.Value(audit.MemberSourceIPs); v != nil {
		if err := json.Unmarshal(v, &ips); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(ips, ",") != strings.Join(w.ips, ",") {
		t.Errorf("sourceIPs = %v, want %v", ips, w.ips)
	}
	if w.ua != "" {
		var ua string
		if err := json.Unmarshal(ev.Value(audit.MemberUserAgent), &ua); err != nil || ua != w.ua {
			t.Errorf("userAgent = %q (%v), want %q", ua, err, w.ua)
		}
	}
	for k, v := range w.ann {
		if got, ok := ann[k]; !ok || got != v {
			t.Errorf("annotation %s = %q (present %v), want %q", k, got, ok, v)
		}
	}
}

const aksRID = "/SUBSCRIPTIONS/0b1f6471-1bf0-4dda-aec3-cb9272f09590/RESOURCEGROUPS/RG-PROD-WEU/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-PROD-WEU"

func TestAKSFixtures(t *testing.T) {
	aad := "alice@contoso.com"
	kubectl := "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819"
	for _, tc := range []struct {
		file string
		w    want
	}{
		{"aks/pod-exec.json", want{auditID: "f1c2a9e4-5b7d-4c1e-8f3a-2d6b9e0c7a14", verb: "create", user: aad, ua: kubectl, stage: "ResponseComplete", level: "Metadata", code: 101,
			uri:    "/api/v1/namespaces/payments/pods/api-6c9f8d7b5-k2lmn/exec?command=sh&container=api&stdin=true&stdout=true&tty=true",
			hasRef: true, ref: audit.ObjectRef{Resource: "pods", Namespace: "payments", Name: "api-6c9f8d7b5-k2lmn", APIVersion: "v1", Subresource: "exec"},
			ips: []string{"20.61.14.203"},
			ann: map[string]string{"auditlane.io/provider": "aks", "auditlane.io/aks-category": "kube-audit", "auditlane.io/aks-resource-id": aksRID,
				"auditlane.io/aks-pod": "kube-apiserver-7d9c6b8f4-x2h8q", "auditlane.io/aks-time": "2024-05-14T09:21:37.5123456Z", "authorization.k8s.io/decision": "allow"}}},
		{"aks/secret-get.json", want{auditID: "0a7e3c52-9d41-4f6b-b8e2-5c1d7f9a3e60", verb: "get", user: "system:serviceaccount:payments:api", stage: "ResponseComplete", level: "Metadata", code: 200,
			uri: "/api/v1/namespaces/payments/secrets/stripe-api-key", hasRef: true, ref: audit.ObjectRef{Resource: "secrets", Namespace: "payments", Name: "stripe-api-key", APIVersion: "v1"},
			ips: []string{"10.244.3.17"}, ann: map[string]string{"auditlane.io/provider": "aks", "auditlane.io/aks-category": "kube-audit"}}},
		{"aks/deployment-patch-object.json", want{auditID: "6b2d8f1e-3a5c-4e7b-9d0f-8c2a4e6b1d35", verb: "patch", user: aad, ua: kubectl, stage: "ResponseComplete", level: "RequestResponse", code: 200,
			uri: "/apis/apps/v1/namespaces/payments/deployments/api?fieldManager=kubectl-patch", hasRef: true, ref: audit.ObjectRef{Resource: "deployments", Namespace: "payments", Name: "api", APIGroup: "apps", APIVersion: "v1"},
			ips: []string{"20.61.14.203"}, ann: map[string]string{"auditlane.io/provider": "aks", "auditlane.io/aks-category": "kube-audit-admin"}}},
		{"aks/forbidden.json", want{auditID: "9e4b1c7a-2f5d-4a8e-b3c6-7d0e1f2a3b4c", verb: "create", user: "bob@contoso.com", stage: "ResponseComplete", level: "Metadata", code: 403,
			uri: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", hasRef: true, ref: audit.ObjectRef{Resource: "clusterrolebindings", Name: "bob-admin", APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1"},
			ips: []string{"20.61.14.77"}, ann: map[string]string{"auditlane.io/provider": "aks", "authorization.k8s.io/decision": "forbid"}}},
		{"aks/anonymous.json", want{auditID: "3c5e7a9b-1d2f-4e6a-8b0c-2d4f6a8c0e1b", verb: "list", user: "system:anonymous", ua: "python-requests/2.31.0", stage: "ResponseComplete", level: "Metadata", code: 403,
			uri: "/api/v1/namespaces/kube-system/secrets", hasRef: true, ref: audit.ObjectRef{Resource: "secrets", Namespace: "kube-system", APIVersion: "v1"},
			ips: []string{"185.220.101.34"}, ann: map[string]string{"auditlane.io/provider": "aks"}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			obj := read(t, tc.file)
			ev, ann := unwrapOK(t, obj, provider.AKS)
			check(t, ev, ann, tc.w)
			if ok, err := provider.Records(obj, func([]byte) error { t.Fatal("called for a single record"); return nil }); ok || err != nil {
				t.Fatalf("Records on a single record = %v, %v", ok, err)
			}
		})
	}
}

// TestAKSBytesKept checks that the Event inside is copied byte for byte
// except for its annotations.
func TestAKSBytesKept(t *testing.T) {
	obj := read(t, "aks/deployment-patch-object.json")
	var rec struct {
		Properties struct {
			Log json.RawMessage `json:"log"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(obj, &rec); err != nil {
		t.Fatal(err)
	}
	out, _, err := provider.Unwrap(nil, obj)
	if err != nil {
		t.Fatal(err)
	}
	var in audit.Event
	if err := audit.Parse(rec.Properties.Log, &in); err != nil {
		t.Fatal(err)
	}
	var ev audit.Event
	if err := audit.Parse(out, &ev); err != nil {
		t.Fatal(err)
	}
	for _, m := range []audit.Member{audit.MemberRequestObject, audit.MemberResponseObject, audit.MemberUser, audit.MemberObjectRef, audit.MemberResponseStatus} {
		if string(in.Value(m)) != string(ev.Value(m)) {
			t.Errorf("%v changed:\n in  %s\n out %s", m, in.Value(m), ev.Value(m))
		}
	}
}

func TestAKSRecordsBatch(t *testing.T) {
	obj := read(t, "aks/records-batch.json")
	if k := provider.Detect(obj); k != provider.AKS {
		t.Fatalf("Detect = %v", k)
	}
	if _, _, err := provider.Unwrap(nil, obj); !errors.Is(err, provider.ErrValue) || !strings.Contains(err.Error(), "records") {
		t.Fatalf("Unwrap(batch) = %v, want a records error", err)
	}
	var ids []string
	var errs []error
	ok, err := provider.Records(obj, func(rec []byte) error {
		out, k, err := provider.Unwrap(nil, rec)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if k != provider.AKS {
			t.Errorf("kind %v", k)
		}
		var ev audit.Event
		if err := audit.Parse(out, &ev); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.AuditID)
		return nil
	})
	if !ok || err != nil {
		t.Fatalf("Records = %v, %v", ok, err)
	}
	if strings.Join(ids, ",") != "9e4b1c7a-2f5d-4a8e-b3c6-7d0e1f2a3b4c,0a7e3c52-9d41-4f6b-b8e2-5c1d7f9a3e60" {
		t.Errorf("events = %v", ids)
	}
	if len(errs) != 1 || !errors.Is(errs[0], provider.ErrNotAudit) || !strings.Contains(errs[0].Error(), `category: not an audit record: "kube-apiserver"`) {
		t.Errorf("errors = %v, want one category error", errs)
	}
	// fn's error stops the walk.
	stop := errors.New("stop")
	n := 0
	if _, err := provider.Records(obj, func([]byte) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("Records with failing fn = %v after %d calls", err, n)
	}
	if ok, err := provider.Records([]byte(`{"records":{}}`), func([]byte) error { return nil }); !ok || !errors.Is(err, provider.ErrType) {
		t.Errorf("records object: %v, %v", ok, err)
	}
	if ok, err := provider.Records([]byte(`{"records":[1,`), func([]byte) error { return nil }); !ok || !errors.Is(err, provider.ErrSyntax) {
		t.Errorf("truncated batch: %v, %v", ok, err)
	}
}

func TestGKEFixtures(t *testing.T) {
	kubectl := "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819"
	gcp := map[string]string{"auditlane.io/provider": "gke", "auditlane.io/gcp-project": "acme-prod-4411", "auditlane.io/gcp-location": "europe-west1", "auditlane.io/gcp-cluster": "prod-euw1"}
	with := func(m map[string]string) map[string]string {
		r := map[string]string{}
		for k, v := range gcp {
			r[k] = v
		}
		for k, v := range m {
			r[k] = v
		}
		return r
	}
	for _, tc := range []struct {
		file string
		w    want
	}{
		{"gke/pod-exec.json", want{auditID: "7c1e9a3f-2b4d-4f6a-8c0e-1a3b5c7d9e2f", verb: "create", user: "alice@acme.example", ua: kubectl, stage: "ResponseComplete", level: "Metadata", code: 101,
			uri: "/api/v1/namespaces/payments/pods/api-6c9f8d7b5-k2lmn/exec", hasRef: true, ref: audit.ObjectRef{Resource: "pods", Namespace: "payments", Name: "api-6c9f8d7b5-k2lmn", APIVersion: "v1", Subresource: "exec"},
			ips: []string{"203.0.113.24"}, ann: with(map[string]string{"auditlane.io/gcp-log-name": "projects/acme-prod-4411/logs/cloudaudit.googleapis.com%2Factivity",
				"auditlane.io/gcp-insert-id": "7c1e9a3f-2b4d-4f6a-8c0e-1a3b5c7d9e2f", "auditlane.io/gcp-receive-timestamp": "2024-05-14T10:02:14.915522781Z",
				"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "access granted by IAM permissions."})}},
		{"gke/secret-get.json", want{auditID: "2e8b4d6f-0a1c-4e3a-9b5d-7f9a1c3e5b7d", verb: "get", user: "system:serviceaccount:payments:api", stage: "ResponseComplete", level: "Metadata", code: 200,
			uri: "/api/v1/namespaces/payments/secrets/stripe-api-key", hasRef: true, ref: audit.ObjectRef{Resource: "secrets", Namespace: "payments", Name: "stripe-api-key", APIVersion: "v1"},
			ips: []string{"10.8.2.14"}, ann: with(map[string]string{"auditlane.io/gcp-log-name": "projects/acme-prod-4411/logs/cloudaudit.googleapis.com%2Fdata_access"})}},
		{"gke/deployment-patch.json", want{auditID: "5a7c9e1b-3d5f-4a7c-9e1b-3d5f7a9c1e3b", verb: "patch", user: "alice@acme.example", ua: kubectl, stage: "ResponseComplete", level: "RequestResponse", code: 200,
			uri: "/apis/apps/v1/namespaces/payments/deployments/api", hasRef: true, ref: audit.ObjectRef{Resource: "deployments", Namespace: "payments", Name: "api", APIGroup: "apps", APIVersion: "v1"},
			ips: []string{"203.0.113.24"}, ann: gcp}},
		{"gke/forbidden.json", want{auditID: "8f0a2c4e-6b8d-4f0a-2c4e-6b8d0f2a4c6e", verb: "create", user: "bob@acme.example", stage: "ResponseComplete", level: "Request", code: 403,
			uri: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", hasRef: true, ref: audit.ObjectRef{Resource: "clusterrolebindings", Name: "bob-admin", APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1"},
			ips: []string{"198.51.100.7"}, ann: with(map[string]string{"authorization.k8s.io/decision": "forbid"})}},
		{"gke/anonymous.json", want{auditID: "1b3d5f7a-9c1e-4b3d-5f7a-9c1e3b5d7f9a", verb: "list", user: "system:anonymous", ua: "python-requests/2.31.0", stage: "ResponseComplete", level: "Metadata", code: 403,
			uri: "/api/v1/namespaces/kube-system/secrets", hasRef: true, ref: audit.ObjectRef{Resource: "secrets", Namespace: "kube-system", APIVersion: "v1"},
			ips: []string{"185.220.101.34"}, ann: with(map[string]string{"authorization.k8s.io/decision": "forbid"})}},
		{"gke/watch-started.json", want{auditID: "4c6e8a0c-2e4a-4c6e-8a0c-2e4a6c8e0a2c", verb: "watch", user: "system:gke-controller-manager", stage: "ResponseStarted", level: "Metadata", code: 200,
			uri: "/api/v1/namespaces/kube-system/configmaps", hasRef: true, ref: audit.ObjectRef{Resource: "configmaps", Namespace: "kube-system", APIVersion: "v1"},
			ann: with(map[string]string{"auditlane.io/gcp-caller-ip": "gce-internal-ip"})}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ev, ann := unwrapOK(t, read(t, tc.file), provider.GKE)
			check(t, ev, ann, tc.w)
			if ann["auditlane.io/reconstructed"] == "" {
				t.Error("no reconstructed annotation")
			}
			if ev.RequestReceivedTimestamp != "2024-05-14T10:02:11.402318Z" || ev.StageTimestamp != ev.RequestReceivedTimestamp {
				t.Errorf("timestamps %q %q", ev.RequestReceivedTimestamp, ev.StageTimestamp)
			}
		})
	}
}

func TestGKEBodies(t *testing.T) {
	out, _, err := provider.Unwrap(nil, read(t, "gke/deployment-patch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev audit.Event
	if err := audit.Parse(out, &ev); err != nil {
		t.Fatal(err)
	}
	req, resp := string(ev.Value(audit.MemberRequestObject)), string(ev.Value(audit.MemberResponseObject))
	if strings.Contains(req, "@type") || strings.Contains(resp, "@type") {
		t.Errorf("@type kept: %s / %s", req, resp)
	}
	// The remaining members are copied byte for byte (the fixture is
	// indented, so whitespace inside them survives).
	if !strings.HasPrefix(req, "{\"spec\": {\n") || !strings.Contains(resp, "\"generation\": 42") {
		t.Errorf("bodies not copied verbatim:\n%s\n%s", req, resp)
	}
	var r struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct{ Image string }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(req), &r); err != nil || r.Spec.Template.Spec.Containers[0].Image != "europe-west1-docker.pkg.dev/acme-prod-4411/payments/api:2.15.0" {
		t.Errorf("request body: %v %+v", err, r)
	}
}

func TestGKEMappings(t *testing.T) {
	base := func(method, rn, status string) string {
		return `{"insertId":"i1","timestamp":"2024-01-01T00:00:00Z","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"` +
			method + `","resourceName":"` + rn + `"` + status + `}}`
	}
	for _, tc := range []struct {
		name, rec string
		verb, uri string
		ref       audit.ObjectRef
		hasRef    bool
		code      int
	}{
		{"core create", base("io.k8s.core.v1.pods.create", "core/v1/namespaces/default/pods/nginx", ""), "create", "/api/v1/namespaces/default/pods",
			audit.ObjectRef{Resource: "pods", Namespace: "default", Name: "nginx", APIVersion: "v1"}, true, 201},
		{"namespace get", base("io.k8s.core.v1.namespaces.get", "core/v1/namespaces/default", ""), "get", "/api/v1/namespaces/default",
			audit.ObjectRef{Resource: "namespaces", Namespace: "default", Name: "default", APIVersion: "v1"}, true, 200},
		{"namespace finalize", base("io.k8s.core.v1.namespaces.finalize.update", "core/v1/namespaces/gone/finalize", ""), "update", "/api/v1/namespaces/gone/finalize",
			audit.ObjectRef{Resource: "namespaces", Namespace: "gone", Name: "gone", APIVersion: "v1", Subresource: "finalize"}, true, 200},
		{"status update", base("io.k8s.apps.v1.deployments.status.update", "apps/v1/namespaces/a/deployments/d/status", ""), "update", "/apis/apps/v1/namespaces/a/deployments/d/status",
			audit.ObjectRef{Resource: "deployments", Namespace: "a", Name: "d", APIGroup: "apps", APIVersion: "v1", Subresource: "status"}, true, 200},
		{"deletecollection", base("io.k8s.batch.v1.jobs.deletecollection", "batch/v1/namespaces/ci/jobs", ""), "deletecollection", "/apis/batch/v1/namespaces/ci/jobs",
			audit.ObjectRef{Resource: "jobs", Namespace: "ci", APIGroup: "batch", APIVersion: "v1"}, true, 200},
		{"crd beta", base("io.cert-manager.v1beta1.certificates.delete", "cert-manager.io/v1beta1/namespaces/x/certificates/c", `,"status":{"code":5,"message":"not found"}`), "delete", "/apis/cert-manager.io/v1beta1/namespaces/x/certificates/c",
			audit.ObjectRef{Resource: "certificates", Namespace: "x", Name: "c", APIGroup: "cert-manager.io", APIVersion: "v1beta1"}, true, 404},
		{"group from method", `{"insertId":"i1","timestamp":"t","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"io.k8s.authorization.rbac.v1.clusterroles.list"}}`, "list", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
			audit.ObjectRef{Resource: "clusterroles", APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1"}, true, 200},
		{"non-resource", base("io.k8s.get", "version", ""), "get", "/version", audit.ObjectRef{}, false, 200},
		{"conflict", base("io.k8s.core.v1.configmaps.update", "core/v1/namespaces/a/configmaps/c", `,"status":{"code":10}`), "update", "/api/v1/namespaces/a/configmaps/c",
			audit.ObjectRef{Resource: "configmaps", Namespace: "a", Name: "c", APIVersion: "v1"}, true, 409},
		{"unauthenticated", base("io.k8s.core.v1.pods.list", "core/v1/pods", `,"status":{"code":16,"message":"Unauthorized"}`), "list", "/api/v1/pods",
			audit.ObjectRef{Resource: "pods", APIVersion: "v1"}, true, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, ann := unwrapOK(t, []byte(tc.rec), provider.GKE)
			if ev.Verb != tc.verb || ev.RequestURI != tc.uri || ev.HasObjectRef != tc.hasRef || ev.ObjectRef != tc.ref || ev.ResponseCode != tc.code {
				t.Errorf("got verb %q uri %q ref %v %+v code %d", ev.Verb, ev.RequestURI, ev.HasObjectRef, ev.ObjectRef, ev.ResponseCode)
			}
			if ev.AuditID != "i1" || ann["auditlane.io/provider"] != "gke" {
				t.Errorf("auditID %q annotations %v", ev.AuditID, ann)
			}
		})
	}
}

// TestForgedAnnotations: annotations under auditlane.io/ in the source are
// dropped, so a record cannot forge the provider metadata.
func TestForgedAnnotations(t *testing.T) {
	gke := `{"insertId":"i","timestamp":"t","labels":{"auditlane.io/provider":"aks","auditlane.io\u002Fgcp-project":"evil","team":"x"},"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"io.k8s.core.v1.pods.get","resourceName":"core/v1/namespaces/a/pods/b","authorizationInfo":[{"granted":true},{"granted":false}]}}`
	out, _, err := provider.Unwrap(nil, []byte(gke))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(out), "auditlane.io/provider") != 1 || strings.Contains(string(out), "evil") || !strings.Contains(string(out), `"team":"x"`) {
		t.Errorf("labels not filtered: %s", out)
	}
	if !strings.Contains(string(out), `"authorization.k8s.io/decision":"forbid"`) {
		t.Errorf("decision not derived from authorizationInfo: %s", out)
	}
	ev := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","annotations":{"auditlane.io/aks-category":"forged","k":"v"}}`
	aks, _ := json.Marshal(map[string]any{"category": "kube-audit", "properties": map[string]any{"log": ev}})
	out, _, err = provider.Unwrap(nil, aks)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "forged") || !strings.Contains(string(out), `"k":"v"`) {
		t.Errorf("event annotations not filtered: %s", out)
	}
}

func TestAKSAnnotationShapes(t *testing.T) {
	for name, ev := range map[string]string{
		"none":   `{"kind":"Event","auditID":"a","stage":"ResponseComplete"}`,
		"empty":  `{"kind":"Event","auditID":"a","annotations":{} }`,
		"null":   `{"kind":"Event","auditID":"a","annotations":null,"verb":"get"}`,
		"ws":     " \n{ \"kind\" : \"Event\" , \"annotations\" : { \"x\" : \"y\" } } \n",
		"nokind": `{"apiVersion":"audit.k8s.io/v1beta1","auditID":"a"}`,
		"bare":   `{"auditID":"a","stage":"ResponseComplete"}`,
	} {
		t.Run(name, func(t *testing.T) {
			rec, _ := json.Marshal(map[string]any{"category": "kube-audit-admin", "properties": map[string]any{"log": ev}})
			_, ann := unwrapOK(t, rec, provider.AKS)
			if ann["auditlane.io/provider"] != "aks" || ann["auditlane.io/aks-category"] != "kube-audit-admin" {
				t.Errorf("annotations %v", ann)
			}
			if name == "ws" && ann["x"] != "y" {
				t.Errorf("existing annotation lost: %v", ann)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	for in, want := range map[string]provider.Kind{
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1"}`:  provider.None,
		`{"apiVersion":"audit.k8s.io/v1","properties":{}}`: provider.None,
		`{"kind":"EventList","items":[]}`:                  provider.None,
		`{"auditID":"x"}`:                                  provider.None,
		`{"protoPayload":{}}`:                              provider.GKE,
		` {"insertId":"x","protoPayload":{}}`:              provider.GKE,
		`{"records":[]}`:                                   provider.AKS,
		`{"time":"t","category":"kube-audit"}`:             provider.AKS,
		`{"kind":"Pod","properties":{}}`:                   provider.AKS,
		`[]`:                                               provider.None,
		``:                                                 provider.None,
		`{"protoPay`:                                       provider.None,
	} {
		if got := provider.Detect([]byte(in)); got != want {
			t.Errorf("Detect(%s) = %v, want %v", in, got, want)
		}
	}
}

func TestErrors(t *testing.T) {
	aksLog := func(log string) string {
		return `{"category":"kube-audit","properties":{"log":` + log + `}}`
	}
	gke := func(pp string) string {
		return `{"insertId":"i","timestamp":"t","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"io.k8s.core.v1.pods.get"` + pp + `}}`
	}
	for _, tc := range []struct {
		name, in string
		err      error
		msg      string
	}{
		{"not provider", `{"kind":"Event"}`, provider.ErrNotProvider, "none: not a provider record"},
		{"invalid json", `{"properties":{"log":"x"}`, provider.ErrSyntax, "aks: invalid JSON"},
		{"invalid utf8", "{\"properties\":{\"log\":\"\xff\"}}", provider.ErrSyntax, "invalid UTF-8"},
		{"no properties", `{"category":"kube-audit"}`, provider.ErrMissing, "aks: properties: missing"},
		{"properties string", `{"properties":"x"}`, provider.ErrType, "aks: properties: wrong type: expected object, found string"},
		{"no log", `{"properties":{"pod":"p"}}`, provider.ErrMissing, "aks: properties.log: missing"},
		{"log number", aksLog(`5`), provider.ErrType, "aks: properties.log: wrong type: expected string or object, found number"},
		{"log not json", aksLog(`"I0514 controller.go:624] quota admission"`), provider.ErrNotEvent, "aks: properties.log: not an audit Event: the string is not JSON"},
		{"log array", aksLog(`"[1,2]"`), provider.ErrNotEvent, "properties.log: not an audit Event: the string holds a JSON array"},
		{"log empty", aksLog(`"  "`), provider.ErrNotEvent, "properties.log: not an audit Event: empty string"},
		{"log pod", aksLog(`"{\"kind\":\"Pod\",\"apiVersion\":\"v1\"}"`), provider.ErrNotEvent, `properties.log: not an audit Event: kind is "Pod"`},
		{"log other api", aksLog(`{"apiVersion":"v1","auditID":"a","stage":"s"}`), provider.ErrNotEvent, `properties.log: not an audit Event: apiVersion is "v1"`},
		{"log plain object", aksLog(`{"msg":"hello"}`), provider.ErrNotEvent, "properties.log: not an audit Event: no kind"},
		{"annotations type", aksLog(`{"kind":"Event","annotations":[]}`), provider.ErrType, "properties.log.annotations: wrong type: expected object, found array"},
		{"category", `{"category":"guard","properties":{"log":"{}"}}`, provider.ErrNotAudit, `aks: category: not an audit record: "guard" is not an audit category`},
		{"category type", `{"category":1,"properties":{"log":"{}"}}`, provider.ErrType, "aks: category: wrong type: expected string, found number"},
		{"pod type", `{"properties":{"log":"{}","pod":[]}}`, provider.ErrType, "properties.pod: wrong type"},
		{"protoPayload type", `{"protoPayload":"x"}`, provider.ErrType, "gke: protoPayload: wrong type: expected object, found string"},
		{"protoPayload null", `{"protoPayload":null}`, provider.ErrMissing, "gke: protoPayload: missing"},
		{"no @type, no k8s method", `{"insertId":"i","timestamp":"t","protoPayload":{"methodName":"storage.objects.get"}}`, provider.ErrMissing, "gke: protoPayload.@type: missing"},
		{"other @type", `{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.X"}}`, provider.ErrNotAudit, "protoPayload.@type: not an audit record"},
		{"no method", `{"insertId":"i","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog"}}`, provider.ErrMissing, "gke: protoPayload.methodName: missing"},
		{"gcp method", `{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"google.container.v1.ClusterManager.CreateCluster"}}`, provider.ErrNotAudit, `protoPayload.methodName: not an audit record: "google.container.v1.ClusterManager.CreateCluster" is not a Kubernetes API method`},
		{"method type", `{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":7}}`, provider.ErrType, "protoPayload.methodName: wrong type: expected string, found number"},
		{"service", gke(`,"serviceName":"container.googleapis.com"`), provider.ErrNotAudit, "protoPayload.serviceName: not an audit record"},
		{"resourceName", gke(`,"resourceName":"pods"`), provider.ErrValue, "protoPayload.resourceName: unsupported value"},
		{"principal type", gke(`,"authenticationInfo":{"principalEmail":{}}`), provider.ErrType, "protoPayload.authenticationInfo.principalEmail: wrong type"},
		{"callerIp type", gke(`,"requestMetadata":{"callerIp":1}`), provider.ErrType, "protoPayload.requestMetadata.callerIp: wrong type"},
		{"status code", gke(`,"status":{"code":99}`), provider.ErrValue, "protoPayload.status.code: unsupported value"},
		{"status code type", gke(`,"status":{"code":"7"}`), provider.ErrType, "protoPayload.status.code: wrong type: expected number, found string"},
		{"request type", gke(`,"request":"x"`), provider.ErrType, "protoPayload.request: wrong type: expected object"},
		{"no id", `{"timestamp":"t","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"io.k8s.core.v1.pods.get"}}`, provider.ErrMissing, "gke: insertId: missing"},
		{"no timestamp", `{"insertId":"i","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"io.k8s.core.v1.pods.get"}}`, provider.ErrMissing, "gke: timestamp: missing"},
		{"label type", `{"insertId":"i","timestamp":"t","labels":{"a":1},"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"io.k8s.core.v1.pods.get"}}`, provider.ErrType, "gke: labels.a: wrong type"},
		{"operation first type", `{"operation":{"first":"yes"},"protoPayload":{}}`, provider.ErrType, "gke: operation.first: wrong type: expected boolean"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			out, _, err := provider.Unwrap(dst, []byte(tc.in))
			if err == nil {
				t.Fatalf("no error; output %s", out)
			}
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q (%v), want %v containing %q", err, errors.Unwrap(err), tc.err, tc.msg)
			}
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Errorf("not a *provider.Error: %T", err)
			}
			if string(out) != "keep" {
				t.Errorf("dst changed on error: %q", out)
			}
		})
	}
}

// TestErrorsLeakNoBodies: error messages never carry the log's contents.
func TestErrorsLeakNoBodies(t *testing.T) {
	secret := "c3VwZXItc2VjcmV0LXBhc3N3b3Jk"
	for _, in := range []string{
		`{"category":"kube-audit","properties":{"log":"{\"kind\":\"Secret\",\"data\":{\"password\":\"` + secret + `\"}}"}}`,
		`{"category":"kube-audit","properties":{"log":"not json ` + secret + `"}}`,
		`{"insertId":"i","timestamp":"t","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"io.k8s.core.v1.secrets.get","status":{"code":99},"request":{"data":{"password":"` + secret + `"}}}}`,
	} {
		_, _, err := provider.Unwrap(nil, []byte(in))
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("error %v", err)
		}
	}
}
