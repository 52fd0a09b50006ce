package plugin

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// fluentBitCoreKeys are [OUTPUT] properties Fluent Bit 5.1.1 handles itself
// (flb_output_set_property) before a plugin sees the rest.
var fluentBitCoreKeys = map[string]bool{"name": true, "match": true, "match_regex": true, "alias": true, "log_level": true,
	"log_suppress_interval": true, "host": true, "port": true, "ipv6": true, "retry_limit": true, "storage.total_limit_size": true,
	"workers": true, "tls": true}

var envRef = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\}`)

// TestExampleConfigsLoad reads every auditlane [OUTPUT] of the Fluent Bit
// examples (classic and YAML) and loads it as the plugin does: every key is
// a Fluent Bit core property or one the plugin registers, and the values
// pass the plugin's checks. The shipped examples set Workers (an outage
// must not block the engine), tail with Skip_Long_Lines on and a
// Buffer_Max_Size that fits real events, and redact_secrets on.
func TestExampleConfigsLoad(t *testing.T) {
	known := map[string]bool{}
	for _, k := range Keys() {
		known[k] = true
	}
	files, _ := filepath.Glob("../../../examples/fluentbit/*.conf")
	yamls, _ := filepath.Glob("../../../examples/fluentbit/*.yaml")
	files = append(files, yamls...)
	outputs := 0
	for _, f := range files {
		if strings.HasSuffix(f, "plugins.conf") || strings.Contains(f, "kubeconfig") || strings.Contains(f, "daemonset") {
			continue
		}
		sections := readSections(t, f)
		for _, s := range sections {
			switch {
			case s.kind == "output" && strings.EqualFold(s.props["name"], "auditlane"):
				outputs++
				for k := range s.props {
					if !fluentBitCoreKeys[k] && !strings.HasPrefix(k, "tls.") && !known[k] {
						t.Errorf("%s: unknown key %q", f, k)
					}
				}
				if s.props["workers"] == "" {
					t.Errorf("%s: an auditlane output without Workers", f)
				}
				if v := s.props["redact_secrets"]; v != "on" && v != "true" {
					t.Errorf("%s: redact_secrets is not on", f)
				}
				get := func(k string) string {
					return envRef.ReplaceAllStringFunc(s.props[k], func(ref string) string {
						if ref == "${AWS_REGION}" {
							return "us-east-1"
						}
						return "ex-ample1"
					})
				}
				if _, err := Load(get); err != nil {
					t.Errorf("%s: %v", f, err)
				}
			case s.kind == "input" && strings.EqualFold(s.props["name"], "tail"):
				if v := s.props["skip_long_lines"]; v != "on" && v != "true" {
					t.Errorf("%s: tail without Skip_Long_Lines on", f)
				}
				if v := s.props["buffer_max_size"]; v != "16M" {
					t.Errorf("%s: tail Buffer_Max_Size %q, want 16M", f, v)
				}
			}
		}
	}
	if outputs < 6 {
		t.Fatalf("found %d auditlane outputs in the examples, want at least 6", outputs)
	}
}

type section struct {
	kind  string // input, output, service
	props map[string]string
}

func readSections(t *testing.T, path string) []section {
	t.Helper()
	if strings.HasSuffix(path, ".yaml") {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Pipeline struct {
				Inputs  []map[string]any `yaml:"inputs"`
				Outputs []map[string]any `yaml:"outputs"`
			} `yaml:"pipeline"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var out []section
		for kind, list := range map[string][]map[string]any{"input": doc.Pipeline.Inputs, "output": doc.Pipeline.Outputs} {
			for _, m := range list {
				s := section{kind: kind, props: map[string]string{}}
				for k, v := range m {
					s.props[strings.ToLower(k)] = yamlScalar(v)
				}
				out = append(out, s)
			}
		}
		return out
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []section
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "@"):
		case strings.HasPrefix(line, "["):
			out = append(out, section{kind: strings.ToLower(strings.Trim(line, "[]")), props: map[string]string{}})
		case len(out) > 0:
			k, v, _ := strings.Cut(line, " ")
			out[len(out)-1].props[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func yamlScalar(v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return "on"
		}
		return "off"
	case nil:
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(fmtAny(v), "\n", " "), "\t", " "))
}

func fmtAny(v any) string { return fmt.Sprint(v) }
