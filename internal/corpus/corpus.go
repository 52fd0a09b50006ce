// Package corpus loads the benchmark corpus: the bundled sample audit log,
// or the JSON-lines file named by AUDITLANE_BENCH_CORPUS.
package corpus

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Env names the variable that overrides the corpus file.
const Env = "AUDITLANE_BENCH_CORPUS"

// Path returns the corpus file: $AUDITLANE_BENCH_CORPUS, else the bundled
// examples/data/sample-audit.log.
func Path() string {
	if p := os.Getenv(Env); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "data", "sample-audit.log")
}

// Lines returns the corpus's non-blank lines and their mean length, for
// benchmarks that process one event per op (b.SetBytes(mean)).
func Lines(tb testing.TB) (lines [][]byte, mean int64) {
	tb.Helper()
	data, err := os.ReadFile(Path())
	if err != nil {
		tb.Fatalf("benchmark corpus: %v", err)
	}
	var total int64
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
			total += int64(len(l))
		}
	}
	if len(lines) == 0 {
		tb.Fatalf("benchmark corpus %s is empty", Path())
	}
	return lines, total / int64(len(lines))
}
