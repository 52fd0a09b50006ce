package provider_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/provider"
)

// FuzzUnwrap: Unwrap never panics; it returns an error (leaving dst as it
// was) or valid JSON that audit.Parse accepts. Records never panics either.
// The seed corpus is testdata/fuzz/FuzzUnwrap plus every fixture.
func FuzzUnwrap(f *testing.F) {
	for _, dir := range []string{"aks", "gke"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		_ = provider.Detect(obj)
		check := func(rec []byte) {
			dst := []byte("x")
			out, kind, err := provider.Unwrap(dst, rec)
			if err != nil {
				if string(out) != "x" {
					t.Fatalf("dst changed on error %v: %q", err, out)
				}
				return
			}
			out = out[1:]
			if !json.Valid(out) {
				t.Fatalf("invalid JSON output %q from %q", out, rec)
			}
			var ev audit.Event
			perr := audit.Parse(out, &ev)
			if perr == nil {
				return
			}
			if kind == provider.GKE {
				t.Fatalf("audit.Parse: %v\noutput %q\ninput %q", perr, out, rec)
			}
			// AKS: the Event is the record's own; Unwrap must not break one
			// that audit.Parse accepts.
			inner := aksInner(t, rec)
			if err := audit.Parse(inner, &ev); err == nil {
				t.Fatalf("audit.Parse rejects the output (%v) but accepts the inner Event\noutput %q\ninput %q", perr, out, rec)
			}
		}
		check(obj)
		_, _ = provider.Records(obj, func(rec []byte) error { check(rec); return nil })
	})
}

// aksInner returns properties.log of an AKS record, decoded with
// encoding/json.
func aksInner(t *testing.T, rec []byte) []byte {
	var r struct {
		Properties struct {
			Log json.RawMessage `json:"log"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(rec, &r); err != nil {
		t.Fatalf("encoding/json rejects a record Unwrap accepted: %v", err)
	}
	var s string
	if err := json.Unmarshal(r.Properties.Log, &s); err == nil {
		return []byte(s)
	}
	return r.Properties.Log
}
