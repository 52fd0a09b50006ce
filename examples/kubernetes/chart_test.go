package kubernetes

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// root is the repository root, where helm runs (as make manifests does).
const root = "../.."

// helm runs the Helm CLI from the module proxy at a pinned version (Go
// caches the built command), with a private home for its cache and
// configuration.
func helm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"run", "helm.sh/helm/v4/cmd/helm@v4.3.2"}, args...)...)
	cmd.Dir = root
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

const chart = "examples/kubernetes/helm/auditlane"

// daemonSetHeader heads examples/fluentbit/daemonset.yaml (see make manifests).
const daemonSetHeader = `# Fluent Bit with auditlane.so on control-plane nodes, rendered from the
# chart (examples/kubernetes/helm/auditlane) with
# examples/kubernetes/values/self-managed.yaml into kube-system:
#   make manifests
# Replace the image registry, cluster name, destinations and the
# auditlane-cloud-keys Secret with yours, or install the chart instead.
`

// TestChartRendersCommittedManifests lints the chart with every values
// file (helm lint --strict), renders it (helm template) and checks that the
// plain manifests in manifests/ are exactly that output, so people without
// Helm get what the chart gives; examples/fluentbit/daemonset.yaml is the
// Fluent Bit part of values/self-managed.yaml. Values missing what a mode
// needs fail with a message naming the key. (otelcol/e2e creates every
// object of manifests/ in a real kube-apiserver.)
func TestChartRendersCommittedManifests(t *testing.T) {
	values, _ := filepath.Glob("values/*.yaml")
	manifests, _ := filepath.Glob("manifests/*.yaml")
	if len(values) < 5 || len(values) != len(manifests) {
		t.Fatalf("values %v, manifests %v: run make manifests", values, manifests)
	}
	for _, v := range values {
		v := filepath.Base(v)
		t.Run(v, func(t *testing.T) {
			vf := filepath.Join("examples", "kubernetes", "values", v)
			if out, err := helm(t, "lint", "--strict", chart, "--namespace", "auditlane", "-f", vf); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			got, err := helm(t, "template", "audit", chart, "--namespace", "auditlane", "-f", vf)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("manifests", v))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("manifests/%s is not what the chart renders: run make manifests", v)
			}
		})
	}
	got, err := helm(t, "template", "audit", chart, "--namespace", "kube-system", "-f", "examples/kubernetes/values/self-managed.yaml",
		"--show-only", "templates/fluent-bit.yaml", "--show-only", "templates/common.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(root, "examples", "fluentbit", "daemonset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append([]byte(daemonSetHeader), got...), want) {
		t.Errorf("examples/fluentbit/daemonset.yaml is not what the chart renders: run make manifests")
	}

	for _, bad := range []struct{ set, want string }{
		{"fluentBit.enabled=true,destinations.sls.enabled=true,destinations.sls.endpoint=x,destinations.sls.project=p,destinations.sls.logstore=l", "image.registry"},
		{"image.registry=r,fluentBit.enabled=true", "destinations: enable cloudwatch, sls or both"},
		{"image.registry=r,fluentBit.enabled=true,destinations.cloudwatch.enabled=true", "destinations.cloudwatch.region"},
		{"image.registry=r,webhook.enabled=true,destinations.cloudwatch.enabled=true,destinations.cloudwatch.region=us-east-1", "webhook.tls"},
		{"image.registry=r,slsConsumer.enabled=true,slsConsumer.project=p,destinations.cloudwatch.enabled=true,destinations.cloudwatch.region=us-east-1,destinations.sls.endpoint=e", "cluster.id"},
		{"image.registry=r,cloudWatchSource.enabled=true,destinations.cloudwatch.enabled=true,destinations.cloudwatch.region=us-east-1", "cluster.name"},
		{"image.registry=r,policy.builtin=eks,policy.inline=x", "policy: set at most one"},
		{"image.registry=r,policy.builtin=gke", "policy.builtin"},
	} {
		if _, err := helm(t, "template", "audit", chart, "--set", bad.set); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("--set %s: want an error naming %q, got %v", bad.set, bad.want, err)
		}
	}
}
