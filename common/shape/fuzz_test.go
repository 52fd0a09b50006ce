package shape

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/enrich"
)

// FuzzEnrichShape feeds arbitrary input through decode, enrich and shape
// (every option on, a small size limit): whatever decodes must enrich and
// shape without panicking into valid JSON of at most the limit, or fail
// with ErrTooLarge.
func FuzzEnrichShape(f *testing.F) {
	files, _ := filepath.Glob("../enrich/testdata/*/*")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "{") {
				f.Add([]byte(line))
			}
		}
	}
	// Odd shapes the decoder may accept.
	f.Add([]byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","verb":"get","objectRef":{"resource":"secrets","name":"x"},"user":{"username":"a","extra":{"arn":"not-an-array","canonicalArn":[1,2]}},"impersonatedUser":{"groups":"x"},"sourceIPs":[1,"::1",null],"userAgent":"x","annotations":{"authorization.k8s.io/decision":1,"auditlane.io/x":{}},"requestObject":"str","responseObject":[{"value":{"a":1}}]}`))
	f.Add([]byte(`{"kind":"Event","verb":"create","objectRef":{"resource":"pods"},"requestObject":{"spec":{"containers":"x","volumes":[{"hostPath":{"path":7}}],"template":{"spec":{"template":{"spec":{"hostPID":true}}}}}}}`))
	f.Add([]byte(`{"kind":"Event","verb":"patch","objectRef":{"resource":"secrets"},"requestObject":[{"op":"add","value":"a"},1,"x"],"requestURI":"/x?token=eyJhbGciOiJIUzI1NiJ9.e30.abc&a=%zz"}`))

	en, err := enrich.New(withRule(enrich.DefaultConfig()))
	if err != nil {
		f.Fatal(err)
	}
	sh, err := New(Config{MaxEventSize: MinMaxEventSize, RedactSecrets: true, RedactQueryTokens: true, Layout: LayoutSLS})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev audit.Event
		if audit.Parse(data, &ev) != nil {
			return
		}
		var (
			r   enrich.Result
			w   audit.Rewrite
			out Output
		)
		en.Enrich(&ev, &r)
		r.AppendFields(nil)
		err := sh.Shape(&ev, &w, &r, &out)
		if errors.Is(err, ErrTooLarge) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Body) > MinMaxEventSize || !json.Valid(out.Body) || !utf8.Valid(out.Body) {
			t.Fatalf("bad output (%d bytes): %s", len(out.Body), out.Body)
		}
	})
}

func withRule(c enrich.Config) enrich.Config {
	c.RiskRules = []enrich.RuleConfig{{Name: "any-write", Match: map[string][]string{"access": {"write"}, "user.groups": {"!system:nodes"}}}}
	return c
}
