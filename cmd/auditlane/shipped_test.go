package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

const (
	samplePath = "../../examples/data/sample-audit.log"
	policyDir  = "../../examples/policies"
)

var examplePolicies = []string{"ack-default.yaml", "eks.yaml", "cost-saving.yaml"}

// pluginBuild holds the Fluent Bit plugin, the C harness that loads it as
// Fluent Bit does, and the demo driver that feeds it a log in tail-input
// chunks (see `make demo`).
var pluginBuild struct {
	once                   sync.Once
	dir, so, harness, demo string
	err                    error
}

func buildPlugin(t *testing.T) (so, harness, demo string) {
	t.Helper()
	b := &pluginBuild
	b.once.Do(func() {
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(gobin); err != nil {
			gobin = "go"
		}
		root, _ := filepath.Abs("../..")
		if b.dir, b.err = os.MkdirTemp("", "auditlane-shipped-"); b.err != nil {
			return
		}
		b.so, b.harness, b.demo = filepath.Join(b.dir, "auditlane.so"), filepath.Join(b.dir, "flbharness"), filepath.Join(b.dir, "demo")
		for _, c := range [][]string{
			{gobin, "build", "-buildmode=c-shared", "-o", b.so, "./fluentbit"},
			{gobin, "build", "-o", b.demo, "./fluentbit/harness/demo"},
			{"gcc", "-O1", "-Wall", "-o", b.harness, "fluentbit/harness/c/flbharness.c", "-ldl"},
		} {
			cmd := exec.Command(c[0], c[1:]...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.err = fmt.Errorf("%v: %v\n%s", c, err, out)
				return
			}
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.so, b.harness, b.demo
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pluginBuild.dir != "" {
		os.RemoveAll(pluginBuild.dir)
	}
	os.Exit(code)
}

// written returns the events and bytes of a JSON-lines output file,
// without the line separators (what the report counts).
func written(t *testing.T, path string) (events, bytesOut int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(bytes.Count(b, []byte("\n")))
	return n, int64(len(b)) - n
}

func policyTestJSON(t *testing.T, args ...string) *report {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(append([]string{"policy", "test", "--output", "json"}, args...), nil, &stdout, &stderr); err != nil {
		t.Fatalf("policy test %v: %v\n%s", args, err, &stderr)
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

func within(a, b int64, frac float64) bool {
	return math.Abs(float64(a-b)) <= frac*math.Max(1, float64(b))
}

// TestWhatIfMatchesShipped: for the bundled sample and each example
// policy, the bytes `policy test` reports as kept equal what `auditlane
// process` and the Fluent Bit plugin (auditlane.so driven by the C
// harness, as `make demo` does) write, within 1% — they are in fact
// equal. The plugin runs with cluster_name demo, so the what-if and
// process are given the same setting, once as a flag and once with --set.
func TestWhatIfMatchesShipped(t *testing.T) {
	so, harness, demo := buildPlugin(t)
	dir := t.TempDir()
	for _, name := range examplePolicies {
		t.Run(name, func(t *testing.T) {
			pol := filepath.Join(policyDir, name)
			rep := policyTestJSON(t, "--policy", pol, "--cluster-name", "demo", samplePath)

			procOut := filepath.Join(dir, name+".process.jsonl")
			var stdout, stderr bytes.Buffer
			if err := run([]string{"process", "--policy", pol, "--set", "cluster_name=demo", "--quiet", "--out", procOut, samplePath}, nil, &stdout, &stderr); err != nil {
				t.Fatalf("process: %v\n%s", err, &stderr)
			}
			procEvents, procBytes := written(t, procOut)

			plugOut := filepath.Join(dir, name+".plugin.jsonl")
			cmd := exec.Command(demo, "-plugin", so, "-harness", harness, "-policy", pol, "-in", samplePath,
				"-out", plugOut, "-dead-letter", filepath.Join(dir, name+".dead.jsonl"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("plugin: %v\n%s", err, out)
			}
			plugEvents, plugBytes := written(t, plugOut)

			t.Logf("%s: policy test %d events %d bytes (%.1f%% saved); process %d events %d bytes; plugin %d events %d bytes",
				name, rep.Total.Kept, rep.Total.BytesOut, rep.SavedPercent, procEvents, procBytes, plugEvents, plugBytes)
			if rep.Total.Kept != procEvents || rep.Total.Kept != plugEvents {
				t.Errorf("kept events: policy test %d, process %d, plugin %d", rep.Total.Kept, procEvents, plugEvents)
			}
			if !within(rep.Total.BytesOut, procBytes, 0.01) || !within(rep.Total.BytesOut, plugBytes, 0.01) {
				t.Errorf("bytes out: policy test %d, process %d, plugin %d: more than 1%% apart", rep.Total.BytesOut, procBytes, plugBytes)
			}
			// Without enrichment (what policy test measured before) the
			// what-if is far off what ships: this test would catch it.
			bare := policyTestJSON(t, "--policy", pol, "--cluster-name", "demo", "--enrich=false", samplePath)
			if within(bare.Total.BytesOut, plugBytes, 0.01) {
				t.Errorf("without enrichment the what-if (%d) is within 1%% of what the plugin ships (%d): the check cannot fail", bare.Total.BytesOut, plugBytes)
			}
		})
	}
}

// Settings that change the shipped bytes (size limit, redaction,
// annotations, a --config file) change the what-if exactly as they change
// what process writes; each case is checked against a contrasting one, so
// the setting did take effect.
func TestWhatIfFollowsSettings(t *testing.T) {
	// Everything at RequestResponse, so redaction has bodies to work on.
	pol := filepath.Join(t.TempDir(), "rr.yaml")
	cfg := filepath.Join(t.TempDir(), "pipeline.yaml")
	if err := os.WriteFile(pol, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("pipeline:\n  max_event_size: 4k\n  redact_secrets: true\n  cluster_name: prod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ args, contrast []string }{
		{[]string{"--max-event-size", "4k"}, []string{"--max-event-size", "0"}},
		{[]string{"--set", "redact_secrets=on", "--set", "redact_query_tokens=on"}, []string{"--set", "redact_secrets=off", "--set", "redact_query_tokens=off"}},
		{[]string{"--enrich-annotations=false"}, []string{"--enrich-annotations"}},
		{[]string{"--config", cfg}, []string{"--config", cfg, "--set", "max_event_size=0"}},
	} {
		t.Run(fmt.Sprint(c.args), func(t *testing.T) {
			rep := policyTestJSON(t, append([]string{"--policy", pol, samplePath}, c.args...)...)
			out := filepath.Join(t.TempDir(), "out.jsonl")
			var stdout, stderr bytes.Buffer
			if err := run(append([]string{"process", "--policy", pol, "--quiet", "--out", out, samplePath}, c.args...), nil, &stdout, &stderr); err != nil {
				t.Fatalf("process: %v\n%s", err, &stderr)
			}
			events, n := written(t, out)
			if rep.Total.Kept != events || rep.Total.BytesOut != n {
				t.Errorf("policy test %d events %d bytes, process %d events %d bytes", rep.Total.Kept, rep.Total.BytesOut, events, n)
			}
			other := policyTestJSON(t, append([]string{"--policy", pol, samplePath}, c.contrast...)...)
			if other.Total.BytesOut == rep.Total.BytesOut {
				t.Errorf("%v and %v ship the same bytes (%d): the setting had no effect", c.args, c.contrast, rep.Total.BytesOut)
			}
		})
	}
}
