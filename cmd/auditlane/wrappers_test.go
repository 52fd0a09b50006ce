package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlane/auditlane/common/provider/providertest"
)

// TestProcessWrappers: auditlane process reads every provider export
// wrapper with default settings: one output line per event, the
// provider's metadata kept, records that are not audit events skipped
// (exit status 0).
func TestProcessWrappers(t *testing.T) {
	samples, err := providertest.Samples()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		t.Run(s.Name, func(t *testing.T) {
			in := filepath.Join(t.TempDir(), "in")
			os.WriteFile(in, append(s.Body, '\n'), 0o644)
			var stdout, stderr bytes.Buffer
			if err := run([]string{"process", in}, nil, &stdout, &stderr); err != nil {
				t.Fatalf("exit %v: %s", err, &stderr)
			}
			lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
			if len(lines) != s.Events {
				t.Fatalf("%d lines, want %d events:\n%s\n%s", len(lines), s.Events, &stdout, &stderr)
			}
			for _, l := range lines {
				var ev struct {
					Kind        string            `json:"kind"`
					Annotations map[string]string `json:"annotations"`
				}
				if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Kind != "Event" {
					t.Fatalf("not one Event per line (%v): %s", err, l)
				}
				if ev.Annotations["auditlane.io/format"] == "" {
					t.Errorf("wrapper metadata lost: %v", ev.Annotations)
				}
				if s.Provider != "" && (ev.Annotations["auditlane.io/provider"] != s.Provider || ev.Annotations["auditlane.io/cluster-provider"] != s.Provider) {
					t.Errorf("provider: %v", ev.Annotations)
				}
			}
			if s.NotAudit > 0 && !strings.Contains(stderr.String(), ", "+itoa(s.NotAudit)+" skipped") {
				t.Errorf("summary: %s", &stderr)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestProviderMismatchWarns: --provider eks on GKE entries is not silent.
func TestProviderMismatchWarns(t *testing.T) {
	samples, _ := providertest.Samples()
	for _, s := range samples {
		if s.Name != "pubsub-push" {
			continue
		}
		in := filepath.Join(t.TempDir(), "in")
		os.WriteFile(in, s.Body, 0o644)
		var stdout, stderr bytes.Buffer
		if err := run([]string{"process", "--provider", "eks", in}, nil, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stderr.String(), "warning: 1 events came from another provider than --provider eks") ||
			!strings.Contains(stdout.String(), `"auditlane.io/provider-mismatch":"configured eks, record from gke"`) {
			t.Errorf("no warning:\n%s\n%s", &stderr, &stdout)
		}
		return
	}
	t.Fatal("no pubsub sample")
}
