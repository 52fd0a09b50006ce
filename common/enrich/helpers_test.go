package enrich

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
)

// loadEvents decodes every event in a fixture file; decode errors fail the
// test unless wantErr.
func loadEvents(t testing.TB, name string) []*audit.Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var evs []*audit.Event
	ferr := audit.ForEach(data, func(ev *audit.Event, err error) bool {
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		evs = append(evs, ev.Clone())
		return true
	})
	if ferr != nil {
		t.Fatalf("%s: %v", name, ferr)
	}
	if len(evs) == 0 {
		t.Fatalf("%s: no events", name)
	}
	return evs
}

// variant decodes a fixture's first event after applying old→new textual
// replacements, each of which must apply.
func variant(t testing.TB, name string, repl ...string) *audit.Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0])
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(line, repl[i]) {
			t.Fatalf("%s: %q not found", name, repl[i])
		}
		line = strings.ReplaceAll(line, repl[i], repl[i+1])
	}
	var ev audit.Event
	if err := audit.Parse([]byte(line), &ev); err != nil {
		t.Fatalf("%s variant: %v", name, err)
	}
	return ev.Clone()
}

func mustNew(t testing.TB, cfg Config) *Enricher {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func attrs(r *Result) map[string]string {
	m := map[string]string{}
	r.Attributes(func(k, v string) {
		if _, dup := m[k]; dup {
			panic("duplicate attribute " + k)
		}
		m[k] = v
	})
	return m
}

func anns(r *Result) map[string]string {
	m := map[string]string{}
	r.Annotations(func(k, v string) {
		if _, dup := m[k]; dup {
			panic("duplicate annotation " + k)
		}
		m[k] = v
	})
	return m
}
