package harness

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/provider/providertest"
)

// TestProviderWrappersThroughPlugin: each provider export wrapper, as the
// log value of one Fluent Bit record, comes out of auditlane.so (loaded by
// the C harness as Fluent Bit loads it) as one line per event with the
// provider's metadata; records that are not audit events do not fail the
// chunk.
func TestProviderWrappersThroughPlugin(t *testing.T) {
	needBuild(t)
	samples, err := providertest.Samples()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var bodies [][]byte
	want := 0
	for _, s := range samples {
		bodies = append(bodies, s.Body)
		want += s.Events
	}
	f := writeFile(t, dir, "w.msgpack", logChunk(bodies, time.Now()))
	out := filepath.Join(dir, "out.jsonl")
	r := runHarness(t, dir, harnessEnv(""), []string{
		"new a", "set a destination file", "set a file_path " + out, "set a stats_interval 0",
		"init a", "flush a w " + f, "exit a",
	})
	if got := r.results["flush a"]; len(got) != 1 || got[0] != "w 1" && got[0] != "1" {
		t.Logf("flush results %v (stderr %s)", got, r.stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.stderr)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) != want {
		t.Fatalf("%d lines, want %d events\n%s", len(lines), want, r.stderr)
	}
	formats := map[string]int{}
	for _, l := range lines {
		var ev struct {
			Annotations map[string]string `json:"annotations"`
		}
		if err := json.Unmarshal(l, &ev); err != nil {
			t.Fatalf("not one event per line: %v: %s", err, l)
		}
		formats[ev.Annotations["auditlane.io/format"]]++
	}
	if formats[""] > 0 || len(formats) < 8 {
		t.Errorf("formats %v", formats)
	}
}
