package plugin

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// fluentBitOutputKeys are the [OUTPUT] properties Fluent Bit itself
// handles for every output plugin (flb_output.c), which the plugin never
// sees as its own.
var fluentBitOutputKeys = []string{"name", "match", "match_regex", "alias", "retry_limit", "workers",
	"storage.total_limit_size", "log_level", "log_suppress_interval"}

// TestKubernetesManifestsFluentBitConfig loads every Fluent Bit
// configuration in the plain manifests rendered from the Helm chart
// (examples/kubernetes/manifests, examples/fluentbit/daemonset.yaml; the
// collector end-to-end tests check that they are what the chart renders)
// with the plugin's configuration loader: each auditlane [OUTPUT] must load
// and name no key the plugin does not know.
func TestKubernetesManifestsFluentBitConfig(t *testing.T) {
	files, _ := filepath.Glob("../../../examples/kubernetes/manifests/*.yaml")
	files = append(files, "../../../examples/fluentbit/daemonset.yaml")
	known := append(Keys(), fluentBitOutputKeys...)
	outputs := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var o struct {
				Kind     string `yaml:"kind"`
				Metadata struct{ Name string }
				Data     map[string]string `yaml:"data"`
			}
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			conf, ok := o.Data["fluent-bit.conf"]
			if o.Kind != "ConfigMap" || !ok {
				continue
			}
			for i, sec := range outputSections(conf) {
				if !strings.EqualFold(sec["name"], "auditlane") {
					continue
				}
				outputs++
				for k := range sec {
					if !slices.Contains(known, k) {
						t.Errorf("%s %s [OUTPUT] #%d: unknown key %q", filepath.Base(f), o.Metadata.Name, i+1, k)
					}
				}
				if _, err := Load(func(k string) string { return sec[k] }); err != nil {
					t.Errorf("%s %s [OUTPUT] #%d: %v", filepath.Base(f), o.Metadata.Name, i+1, err)
				}
				if on := sec["redact_secrets"]; on != "true" && on != "on" {
					t.Errorf("%s %s [OUTPUT] #%d: redact_secrets is %q", filepath.Base(f), o.Metadata.Name, i+1, on)
				}
			}
		}
	}
	if outputs < 3 {
		t.Fatalf("%d auditlane outputs found in %v", outputs, files)
	}
}

// outputSections parses Fluent Bit's classic format: [OUTPUT] sections as
// lower-cased key → value.
func outputSections(conf string) []map[string]string {
	var out []map[string]string
	var cur map[string]string
	sc := bufio.NewScanner(strings.NewReader(conf))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			cur = nil
			if strings.EqualFold(line, "[OUTPUT]") {
				cur = map[string]string{}
				out = append(out, cur)
			}
			continue
		}
		if cur == nil {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		cur[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	return out
}
