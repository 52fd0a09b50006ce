package plugin

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/auditlane/auditlane/common/config"
	"github.com/auditlane/auditlane/internal/keydocs"
)

var updateDocs = flag.Bool("update", false, "rewrite the README's key table")

// TestREADMEKeyTable checks that fluentbit/README.md lists exactly the
// plugin's own keys (go test ./fluentbit/internal/plugin -update rewrites
// it).
func TestREADMEKeyTable(t *testing.T) {
	keydocs.Check(t, filepath.Join("..", ".."), map[string][]string{"README.md": {"fluent-bit"}},
		map[string]string{"fluent-bit": config.Markdown(Schema)}, *updateDocs)
}
