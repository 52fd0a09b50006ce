package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// firstLine runs process on the test log with args and returns its first
// output line, decoded.
func processFirst(t *testing.T, args ...string) map[string]any {
	t.Helper()
	policyPath, logPath := writeFiles(t)
	var stdout, stderr bytes.Buffer
	err := run(append([]string{"process", "--policy", policyPath, "--quiet", logPath}, args...), nil, &stdout, &stderr)
	if err != nil && !strings.Contains(stderr.String(), "wrong type") {
		t.Fatalf("%v: %v\n%s", args, err, &stderr)
	}
	line, _, _ := strings.Cut(stdout.String(), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("%v: %q: %v", args, line, err)
	}
	return m
}

// isSLS tells the SLS key/value layout (every value a string, user as
// JSON text) from an audit Event (user an object).
func isSLS(m map[string]any) bool {
	_, s := m["user"].(string)
	return s
}

// Issue 12 item 7: --set layout=... was overwritten by the --layout flag's
// default after parsing. Flags and --set now apply in command-line order:
// the last one wins.
func TestFlagsAndSetAgree(t *testing.T) {
	for _, c := range []struct {
		args []string
		sls  bool
	}{
		{nil, false},
		{[]string{"--set", "layout=sls"}, true},
		{[]string{"--layout", "sls"}, true},
		{[]string{"--layout", "json", "--set", "layout=sls"}, true},
		{[]string{"--set", "layout=sls", "--layout", "json"}, false},
		{[]string{"--layout=sls", "--set", "layout=json"}, false},
	} {
		if got := isSLS(processFirst(t, c.args...)); got != c.sls {
			t.Errorf("%v: SLS layout %v, want %v", c.args, got, c.sls)
		}
	}
	// The same holds for a --config file and for boolean flags.
	cfg := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(cfg, []byte("layout: sls\nenrich_annotations: false\n"), 0o644)
	if m := processFirst(t, "--config", cfg); !isSLS(m) {
		t.Errorf("--config layout: sls not applied: %v", m)
	}
	if m := processFirst(t, "--config", cfg, "--layout", "json"); isSLS(m) {
		t.Errorf("--layout json after --config did not win")
	}
	hasAnnotations := func(m map[string]any) bool {
		a, _ := m["annotations"].(map[string]any)
		for k := range a {
			if strings.HasPrefix(k, "auditlane.io/") {
				return true
			}
		}
		return false
	}
	if m := processFirst(t, "--set", "enrich_annotations=off", "--enrich-annotations"); !hasAnnotations(m) {
		t.Errorf("--enrich-annotations after --set enrich_annotations=off did not win: %v", m)
	}
	if m := processFirst(t, "--enrich-annotations", "--set", "enrich_annotations=off"); hasAnnotations(m) {
		t.Errorf("--set enrich_annotations=off after the flag did not win: %v", m)
	}
}

// Unknown keys fail start-up naming the key, from --set and from --config.
func TestUnknownKeysNamed(t *testing.T) {
	policyPath, logPath := writeFiles(t)
	cfg := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(cfg, []byte("pipeline:\n  cluster_name: a\n  layuot: sls\n"), 0o644)
	nested := filepath.Join(t.TempDir(), "n.yaml")
	os.WriteFile(nested, []byte("cluster_name: {a: b}\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "layuot=sls"}, "layuot"},
		{[]string{"--config", cfg}, "layuot"},
		{[]string{"--config", nested}, "cluster_name"},
		{[]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, "missing.yaml"},
		{[]string{"--set", "max_event_size=huge"}, "max_event_size"},
	} {
		for _, cmd := range [][]string{{"process"}, {"policy", "test"}} {
			var stdout, stderr bytes.Buffer
			args := append(append(append([]string{}, cmd...), "--policy", policyPath, logPath), c.args...)
			err := run(args, nil, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), c.want) {
				t.Errorf("%v: error %v (stderr %q) should name %s", args, err, &stderr, c.want)
			}
			if stdout.Len() > 0 {
				t.Errorf("%v wrote output before failing", args)
			}
		}
	}
}
