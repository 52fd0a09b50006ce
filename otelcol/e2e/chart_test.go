package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func manifestsDir() string {
	return filepath.Join(root(), "examples", "kubernetes", "manifests")
}

// valuesFiles lists the rendered manifests, one per values file
// (examples/kubernetes checks they are what the chart renders).
func valuesFiles(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(manifestsDir(), "*.yaml"))
	if err != nil || len(names) < 4 {
		t.Fatalf("values files: %v %v", names, err)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

// object is one rendered Kubernetes object.
type object map[string]any

func (o object) str(path ...string) string {
	var v any = map[string]any(o)
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func splitObjects(t *testing.T, data []byte) []object {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var objs []object
	for {
		var o map[string]any // (into object, yaml.v3 makes nested maps objects too)
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("rendered YAML: %v", err)
		}
		if len(o) > 0 {
			objs = append(objs, object(o))
		}
	}
}

// TestChartAcceptedByAPIServer creates every object each values file
// renders in the real kube-apiserver with server-side dry-run and strict
// field validation (unknown or duplicate fields fail), after creating the
// CustomResourceDefinitions the chart uses (ServiceMonitor, cert-manager
// Certificate and Issuer) from the minimal definitions in
// testdata/crds: their schemas hold the upstream fields the chart sets and
// no x-kubernetes-preserve-unknown-fields, so a misspelt field fails too.
// Every collector configuration rendered must pass otelcol-auditlane
// validate, and every file a configuration names must be in a volume the
// pod mounts.
func TestChartAcceptedByAPIServer(t *testing.T) {
	c := sharedCluster(t)
	crds, _ := filepath.Abs(filepath.Join("testdata", "crds.yaml"))
	for _, v := range valuesFiles(t) {
		t.Run(v, func(t *testing.T) {
			path, err := filepath.Abs(filepath.Join(manifestsDir(), v))
			if err != nil {
				t.Fatal(err)
			}
			out := c.driver(t, "apply", "-dry-run", "-namespace", "auditlane", crds, path)
			t.Logf("%s", bytes.TrimSpace(out))
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			objs := splitObjects(t, data)
			checkConfigs(t, c, objs)
		})
	}
	t.Run("examples/fluentbit/daemonset.yaml", func(t *testing.T) {
		path, _ := filepath.Abs(filepath.Join(root(), "examples", "fluentbit", "daemonset.yaml"))
		t.Logf("%s", bytes.TrimSpace(c.driver(t, "apply", "-dry-run", "-namespace", "kube-system", path)))
	})
	// The check can fail: a field the schema does not know, in a built-in
	// kind and in a custom resource.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: typo}
data: {a: b}
datta: {c: d}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: typo}
spec:
  selector: {matchLabels: {a: b}}
  endpoints: [{port: metrics, intervall: 30s}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(c.bin.Driver, "apply", "-server", c.api.URL, "-ca", c.api.CAFile, "-token", adminToken, "-dry-run", "-namespace", "auditlane", crds, bad)
	out, err := cmd.CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte(`unknown field "datta"`)) || !bytes.Contains(out, []byte(`unknown field "spec.endpoints[0].intervall"`)) {
		t.Errorf("misspelt fields were not refused: %v\n%s", err, out)
	}
}

// checkConfigs runs otelcol-auditlane validate on every collector
// configuration and checks that the files configurations name are in the
// pod's volumes.
func checkConfigs(t *testing.T, c *cluster, objs []object) {
	t.Helper()
	configMaps := map[string]map[string]any{}
	for _, o := range objs {
		if o["kind"] == "ConfigMap" {
			data, _ := o["data"].(map[string]any)
			configMaps[o.str("metadata", "name")] = data
		}
	}
	validated := 0
	for _, o := range objs {
		kind := o["kind"]
		if kind != "Deployment" && kind != "StatefulSet" && kind != "DaemonSet" {
			continue
		}
		name := o.str("metadata", "name")
		spec, _ := o["spec"].(map[string]any)
		tmpl, _ := spec["template"].(map[string]any)
		pod, _ := tmpl["spec"].(map[string]any)
		volumes := map[string]map[string]any{}
		for _, v := range asList(pod["volumes"]) {
			vm, _ := v.(map[string]any)
			volumes[fmt.Sprint(vm["name"])] = vm
		}
		for _, vct := range asList(spec["volumeClaimTemplates"]) {
			vm, _ := vct.(map[string]any)
			md, _ := vm["metadata"].(map[string]any)
			volumes[fmt.Sprint(md["name"])] = map[string]any{"persistentVolumeClaim": true}
		}
		for _, ctr := range asList(pod["containers"]) {
			cm, _ := ctr.(map[string]any)
			mounts := map[string]map[string]any{} // mountPath → volume
			for _, m := range asList(cm["volumeMounts"]) {
				mm, _ := m.(map[string]any)
				vol, ok := volumes[fmt.Sprint(mm["name"])]
				if !ok {
					t.Errorf("%s %s: mount %v names no volume", kind, name, mm["name"])
					continue
				}
				mounts[fmt.Sprint(mm["mountPath"])] = vol
			}
			// resolve returns the ConfigMap data and key behind a path, or
			// ok=false for non-ConfigMap volumes.
			resolve := func(path string) (data map[string]any, key string, isCM, found bool) {
				for mp, vol := range mounts {
					if !strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/") {
						continue
					}
					rest := strings.TrimPrefix(path, strings.TrimSuffix(mp, "/")+"/")
					if cmv, ok := vol["configMap"].(map[string]any); ok {
						d, rendered := configMaps[fmt.Sprint(cmv["name"])]
						if !rendered {
							return nil, rest, false, true // a ConfigMap the user provides
						}
						return d, rest, true, true
					}
					return nil, rest, false, true
				}
				return nil, "", false, false
			}
			// The configuration file the container runs with.
			args := asList(cm["args"])
			var cfgPath string
			for i, a := range args {
				if (a == "--config" || a == "-c") && i+1 < len(args) {
					cfgPath = fmt.Sprint(args[i+1])
				}
			}
			data, key, isCM, found := resolve(cfgPath)
			if !found || !isCM {
				t.Errorf("%s %s: configuration %s is not in a rendered ConfigMap volume", kind, name, cfgPath)
				continue
			}
			cfg, _ := data[key].(string)
			if cfg == "" {
				t.Errorf("%s %s: ConfigMap has no key %s", kind, name, key)
				continue
			}
			for _, p := range filePaths(cfg) {
				d, k, isCM, found := resolve(p)
				switch {
				case !found:
					t.Errorf("%s %s: %s names %s, which no volume provides", kind, name, cfgPath, p)
				case isCM && d[k] == nil:
					t.Errorf("%s %s: %s names %s, but the ConfigMap mounted there has no key %s", kind, name, cfgPath, p, k)
				}
			}
			if cm["name"] == "otelcol" {
				// The pod's filesystem, as far as the configuration reads it:
				// each mount under a temporary root, the configuration's paths
				// moved there.
				fsRoot := t.TempDir()
				var mps []string
				for mp := range mounts {
					mps = append(mps, mp)
				}
				slices.SortFunc(mps, func(a, b string) int { return len(b) - len(a) })
				local := cfg
				for _, mp := range mps {
					dir := filepath.Join(fsRoot, mp)
					if err := os.MkdirAll(dir, 0o700); err != nil {
						t.Fatal(err)
					}
					vol := mounts[mp]
					switch {
					case vol["configMap"] != nil:
						cmv, _ := vol["configMap"].(map[string]any)
						data, rendered := configMaps[fmt.Sprint(cmv["name"])]
						if !rendered {
							// A ConfigMap the user provides: the policy the values name.
							data = map[string]any{"policy.yaml": "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Metadata\n"}
						}
						for k, v := range data {
							if err := os.WriteFile(filepath.Join(dir, k), []byte(fmt.Sprint(v)), 0o600); err != nil {
								t.Fatal(err)
							}
						}
					case vol["secret"] != nil:
						writePKI(t, dir) // tls.crt, tls.key, ca.crt
					}
					local = strings.ReplaceAll(local, mp+"/", dir+"/")
					local = strings.ReplaceAll(local, mp+"\n", dir+"\n")
				}
				f := filepath.Join(t.TempDir(), "config.yaml")
				if err := os.WriteFile(f, []byte(local), 0o600); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(collector(t), "validate", "--config", f)
				cmd.Env = append(os.Environ(), "POD_NAME="+name+"-0")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("%s %s: otelcol-auditlane validate: %v\n%s\n%s", kind, name, err, out, cfg)
				}
				validated++
			}
		}
	}
	t.Logf("%d collector configurations validated", validated)
}

// filePaths returns the absolute file paths a configuration names in
// keys ending in _file (policy_file, cert_file, ...) or Fluent Bit's Path
// keys of files the plugin reads.
func filePaths(cfg string) []string {
	var paths []string
	for _, line := range strings.Split(cfg, "\n") {
		f := strings.Fields(strings.TrimSpace(line))
		if len(f) < 2 {
			continue
		}
		k := strings.TrimSuffix(f[0], ":")
		v := strings.Trim(f[1], `"`)
		if !strings.HasPrefix(v, "/") {
			continue
		}
		switch {
		case k == "dead_letter_file":
			// written, not read: the directory must be a volume
			v = filepath.Dir(v) + "/x"
		case strings.HasSuffix(k, "_file") || k == "Plugins_File":
		case k == "Path" || k == "DB" || k == "storage.path" || k == "directory":
			v = strings.TrimSuffix(v, "/") + "/x" // a directory or a file in one
		default:
			continue
		}
		paths = append(paths, v)
	}
	return paths
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
