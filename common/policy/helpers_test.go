package policy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
)

// validFixtures are the checked-in policies that must load.
var validFixtures = []string{
	"ack-v1beta1.yaml",
	"audit2rbac-demo-policy.yaml",
	"gce-v1.yaml",
	"gce-anchors.yaml",
	"eks-v1beta1.yaml",
	"features-v1.yaml",
	"json-v1alpha1.json",
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustLoad(t testing.TB, name string) *Policy {
	t.Helper()
	p, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return p
}

// fixtureEvent is the subset of an audit event the tests read from the
// fixtures with encoding/json (independently of the audit package's
// decoder).
type fixtureEvent struct {
	Stage      string `json:"stage"`
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	User       struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
}

func (f *fixtureEvent) event() *audit.Event {
	ev := &audit.Event{
		Stage:      f.Stage,
		RequestURI: f.RequestURI,
		Verb:       f.Verb,
		User:       audit.UserInfo{Username: f.User.Username, Groups: f.User.Groups},
		Index:      -1,
	}
	if f.ObjectRef != nil {
		ev.HasObjectRef = true
		ev.ObjectRef = audit.ObjectRef{
			Resource:    f.ObjectRef.Resource,
			Namespace:   f.ObjectRef.Namespace,
			Name:        f.ObjectRef.Name,
			APIGroup:    f.ObjectRef.APIGroup,
			Subresource: f.ObjectRef.Subresource,
		}
	}
	return ev
}

// fixtureLines returns the JSON events of testdata/events, one per
// element: the falco k8s_audit traces and the audit2rbac demo log (see
// testdata/SOURCES.md).
func fixtureLines(t testing.TB) [][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/events/falco-k8s-audit/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no falco fixtures: %v", err)
	}
	files = append(files, "testdata/events/audit2rbac-demo.log")
	var out [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				out = append(out, append([]byte(nil), line...))
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return out
}

// fixtureEvents returns the events of fixtureLines, decoded with
// encoding/json.
func fixtureEvents(t testing.TB) []*audit.Event {
	t.Helper()
	var out []*audit.Event
	for _, line := range fixtureLines(t) {
		var f fixtureEvent
		if err := json.Unmarshal(line, &f); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		out = append(out, f.event())
	}
	return out
}
