// Package keydocs keeps the READMEs' configuration key tables equal to the
// key schema (common/config): each README holds generated tables between
// "<!-- keys NAME -->" and "<!-- end keys -->"; the test fails when one
// is out of date, and `go test ./internal/keydocs -update` rewrites them.
package keydocs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/auditlane/auditlane/common/config"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/sink/cloudwatch"
	"github.com/auditlane/auditlane/common/sink/sls"
)

// Tables returns the generated tables by name. The Fluent Bit plugin's own
// keys are checked by the plugin's package (fluentbit/internal/plugin).
func Tables() map[string]string {
	return map[string]string{
		"pipeline":             config.Markdown(pipeline.Schema),
		"cloudwatch":           config.Markdown(cloudwatch.Schema),
		"sls":                  config.Markdown(sls.Schema),
		"cloudwatch-collector": config.Markdown(cloudwatch.Schema.For(config.Collector)),
		"sls-collector":        config.Markdown(sls.Schema.For(config.Collector)),
	}
}

// Check compares (or, with update, rewrites) the key tables of docs under
// root.
func Check(t testing.TB, root string, docs map[string][]string, tables map[string]string, update bool) {
	t.Helper()
	for path, want := range docs {
		p := filepath.Join(root, path)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out, found, err := config.ReplaceTables(string(data), tables)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, name := range want {
			ok := false
			for _, f := range found {
				ok = ok || f == name
			}
			if !ok {
				t.Errorf("%s has no <!-- keys %s --> table", path, name)
			}
		}
		if out == string(data) {
			continue
		}
		if update {
			if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("updated %s", path)
			continue
		}
		t.Errorf("%s: the key tables differ from the schema; run go test ./internal/keydocs -update", path)
	}
}
