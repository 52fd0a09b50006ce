package pipeline

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/auditlane/auditlane/internal/secretshapes"
)

// TestSecretShapesRedacted runs every shape a Secret or a token takes
// through the pipeline with redact_secrets on (tokens and query tokens are
// on by default) and checks that no marker value is left in the output.
// With the defaults only (redact_secrets off), the token shapes are still
// redacted and the Secret ones are not (so the test can fail).
func TestSecretShapesRedacted(t *testing.T) {
	shapes := secretshapes.Shapes(time.Now())
	for _, redactSecrets := range []bool{true, false} {
		s := DefaultSettings()
		s.Shape.RedactSecrets = redactSecrets
		for _, layout := range []string{"json", "sls", "attributes"} {
			s.Set("layout", layout)
			p, _, err := s.Build()
			if err != nil {
				t.Fatal(err)
			}
			var sc Scratch
			for _, sh := range shapes {
				var got []string
				p.ProcessRecord([]byte(sh.Event), &sc, func(r *Result) {
					if r.Outcome != Kept {
						t.Fatalf("%s: %v %v", sh.Name, r.Outcome, r.Err)
					}
					out := string(r.Out)
					for _, f := range r.Fields {
						out += "\n" + f.Key + "=" + f.Value
					}
					if !json.Valid(r.Out) {
						t.Fatalf("%s: invalid JSON: %s", sh.Name, r.Out)
					}
					got = append(got, out)
				})
				out := strings.Join(got, "\n")
				token := strings.HasPrefix(sh.Name, "token-") || sh.Name == "query-token"
				for _, m := range sh.Markers {
					leaked := strings.Contains(out, m)
					if (redactSecrets || token) && leaked {
						t.Errorf("redact_secrets=%v layout=%s %s: marker %s leaked:\n%s", redactSecrets, layout, sh.Name, m, out)
					}
					if !redactSecrets && !token && !leaked {
						t.Errorf("redact_secrets off, %s: marker %s is gone: the test no longer shows redaction at work", sh.Name, m)
					}
				}
				if (redactSecrets || token) && !strings.Contains(out, "REDACTED") {
					t.Errorf("%s: nothing REDACTED:\n%s", sh.Name, out)
				}
			}
		}
	}
}
