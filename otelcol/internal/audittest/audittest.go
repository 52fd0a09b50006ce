// Package audittest generates Kubernetes audit events with current
// timestamps for the collector components' tests, benchmarks and the
// end-to-end test (the bundled fixtures are years old, and CloudWatch Logs
// refuses events older than 14 days). The events have the shape
// kube-apiserver writes (audit.k8s.io/v1, ResponseComplete) and vary the
// user, verb and resource so that policies keep some and drop others.
package audittest

import (
	"fmt"
	"strings"
	"time"
)

// kinds are the request shapes Event cycles through. "watch endpoints by
// system:kube-proxy" and "get /healthz" are what typical policies drop.
var kinds = []struct {
	user, verb, uri, resource, ns, name string
	code                                int
}{
	{"system:serviceaccount:kube-system:deployment-controller", "update", "/apis/apps/v1/namespaces/default/deployments/web", "deployments", "default", "web", 200},
	{"system:kube-proxy", "watch", "/api/v1/endpoints?watch=true", "endpoints", "", "", 200},
	{"alice@example.com", "get", "/api/v1/namespaces/prod/secrets/db", "secrets", "prod", "db", 403},
	{"system:anonymous", "get", "/healthz", "", "", "", 200},
	{"kubernetes-admin", "create", "/api/v1/namespaces/prod/pods/api-0/exec?command=sh", "pods", "prod", "api-0", 101},
	{"system:node:ip-10-0-1-2", "patch", "/api/v1/nodes/ip-10-0-1-2/status", "nodes", "", "ip-10-0-1-2", 500},
}

// ID returns the auditID of event n.
func ID(n int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
}

// Event returns event n (one JSON object, no newline) stamped at t.
func Event(n int, t time.Time) string {
	k := kinds[n%len(kinds)]
	var b strings.Builder
	ts := t.UTC().Format("2006-01-02T15:04:05.000000Z")
	fmt.Fprintf(&b, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":%q,"stage":"ResponseComplete","requestURI":%q,"verb":%q,"user":{"username":%q,"groups":["system:authenticated"]},"sourceIPs":["10.0.%d.%d"],"userAgent":"kubectl/v1.31.0 (linux/amd64) kubernetes/abc"`,
		ID(n), k.uri, k.verb, k.user, (n/250)%250, n%250+1)
	if k.resource != "" {
		fmt.Fprintf(&b, `,"objectRef":{"resource":%q,"namespace":%q,"name":%q,"apiVersion":"v1"}`, k.resource, k.ns, k.name)
	}
	fmt.Fprintf(&b, `,"responseStatus":{"metadata":{},"code":%d},"requestReceivedTimestamp":%q,"stageTimestamp":%q,"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}`, k.code, ts, ts)
	return b.String()
}

// Lines returns events first..first+n-1 as JSON lines.
func Lines(first, n int, t time.Time) string {
	var b strings.Builder
	for i := first; i < first+n; i++ {
		b.WriteString(Event(i, t))
		b.WriteByte('\n')
	}
	return b.String()
}

// EventList returns events first..first+n-1 as the EventList body
// kube-apiserver's webhook backend POSTs.
func EventList(first, n int, t time.Time) string {
	var b strings.Builder
	b.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
	for i := first; i < first+n; i++ {
		if i > first {
			b.WriteByte(',')
		}
		b.WriteString(Event(i, t))
	}
	b.WriteString("]}")
	return b.String()
}

// Policy is an audit Policy that drops kube-proxy watches and /healthz
// (events 1 and 3 of every 6) and keeps the rest at Metadata.
const Policy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
  - level: None
    nonResourceURLs: ["/healthz*"]
  - level: Metadata
`

// Dropped reports whether Policy drops event n.
func Dropped(n int) bool { m := n % len(kinds); return m == 1 || m == 3 }
