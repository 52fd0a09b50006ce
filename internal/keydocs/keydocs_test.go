package keydocs

import (
	"flag"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the READMEs' key tables")

// Docs are the READMEs and the key tables each must hold.
var Docs = map[string][]string{
	"README.md": {"pipeline"},
	"otelcol/exporter/k8sauditcloudwatchexporter/README.md": {"cloudwatch-collector"},
	"otelcol/exporter/k8sauditslsexporter/README.md":        {"sls-collector"},
	"otelcol/processor/k8sauditprocessor/README.md":         {"pipeline"},
	"otelcol/receiver/k8sauditreceiver/README.md":           {"pipeline"},
}

// TestREADMEKeyTables checks that each README lists exactly the schema's
// keys, with their types, defaults and descriptions.
func TestREADMEKeyTables(t *testing.T) {
	Check(t, filepath.Join("..", ".."), Docs, Tables(), *update)
}
