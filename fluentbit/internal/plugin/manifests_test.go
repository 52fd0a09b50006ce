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

// TestKubernetesManifestsFluentBitConfig loads every Fluent Bit
// configuration in the plain manifests rendered from the Helm chart
// (examples/kubernetes/manifests, examples/fluentbit/daemonset.yaml; the
// collector end-to-end tests check that they are what the chart renders)
// with the plugin's configuration loader, as TestExampleConfigsLoad does
// for examples/fluentbit: each auditlane [OUTPUT] loads, names no key the
// plugin does not know, sets Workers and redact_secrets; tail skips long
// lines and takes 16M ones.
func TestKubernetesManifestsFluentBitConfig(t *testing.T) {
	files, _ := filepath.Glob("../../../examples/kubernetes/manifests/*.yaml")
	files = append(files, "../../../examples/fluentbit/daemonset.yaml")
	known := Keys()
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
			for _, in := range sections(conf, "[INPUT]") {
				if strings.EqualFold(in["name"], "tail") && (!strings.EqualFold(in["skip_long_lines"], "on") || in["buffer_max_size"] != "16M") {
					t.Errorf("%s %s: tail Skip_Long_Lines %q, Buffer_Max_Size %q; want on, 16M", filepath.Base(f), o.Metadata.Name, in["skip_long_lines"], in["buffer_max_size"])
				}
			}
			for i, sec := range sections(conf, "[OUTPUT]") {
				if !strings.EqualFold(sec["name"], "auditlane") {
					continue
				}
				outputs++
				if sec["workers"] == "" {
					t.Errorf("%s %s [OUTPUT] #%d: no Workers", filepath.Base(f), o.Metadata.Name, i+1)
				}
				for k := range sec {
					if !fluentBitCoreKeys[k] && !slices.Contains(known, k) {
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

// sections parses Fluent Bit's classic format: the sections named header
// ("[OUTPUT]"), as lower-cased key → value.
func sections(conf, header string) []map[string]string {
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
			if strings.EqualFold(line, header) {
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
