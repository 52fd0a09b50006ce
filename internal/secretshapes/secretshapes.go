// Package secretshapes is the test corpus of every shape a Secret or a
// token takes in an audit event, each carrying marker values that must
// never reach a sink, a dead letter or a log once redaction is on
// (redact_secrets on; redact_tokens and redact_query_tokens on, their
// defaults). Tests of every front end run these events through their
// real binaries and search everything they wrote for the markers.
package secretshapes

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Shape is one event.
type Shape struct {
	Name string
	// Event is one audit.k8s.io/v1 Event at level RequestResponse, as one
	// JSON line.
	Event string
	// Markers are the secret values in Event.
	Markers []string
}

// MarkerPrefix starts every marker, so that a test can also search for
// any marker at all.
const MarkerPrefix = "SECRETMARK"

func marker(shape, where string) string { return MarkerPrefix + "-" + shape + "-" + where }

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// event builds an Event line around the given members (JSON values).
func event(id int, verb, uri string, ref map[string]any, members map[string]any, at time.Time) string {
	ev := map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
		"auditID": fmt.Sprintf("5ec2e75e-0000-4000-8000-%012d", id), "stage": "ResponseComplete",
		"requestURI": uri, "verb": verb,
		"user":      map[string]any{"username": "kubernetes-admin", "groups": []string{"system:masters", "system:authenticated"}},
		"sourceIPs": []string{"10.0.0.7"}, "userAgent": "kubectl/v1.31.0",
		"objectRef":                ref,
		"responseStatus":           map[string]any{"metadata": map[string]any{}, "code": 200},
		"requestReceivedTimestamp": at.Add(-time.Millisecond).UTC().Format("2006-01-02T15:04:05.000000Z"),
		"stageTimestamp":           at.UTC().Format("2006-01-02T15:04:05.000000Z"),
		"annotations":              map[string]any{"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""},
	}
	for k, v := range members {
		ev[k] = v
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func secretObject(name string, data map[string]string, stringData map[string]string, lastApplied string) map[string]any {
	o := map[string]any{"kind": "Secret", "apiVersion": "v1", "type": "Opaque",
		"metadata": map[string]any{"name": name, "namespace": "shop", "uid": "0b7c6f7e-1111-4a2b-9c3d-5e6f7a8b9c0d",
			"managedFields": []any{map[string]any{"manager": "kubectl", "operation": "Update", "fieldsV1": map[string]any{"f:data": map[string]any{}}}}}}
	if data != nil {
		o["data"] = data
	}
	if stringData != nil {
		o["stringData"] = stringData
	}
	if lastApplied != "" {
		o["metadata"].(map[string]any)["annotations"] = map[string]any{"kubectl.kubernetes.io/last-applied-configuration": lastApplied, "team": "payments"}
	}
	return o
}

// Shapes returns every shape, with event times ending at end (one
// millisecond apart).
func Shapes(end time.Time) []Shape {
	var out []Shape
	n := 0
	add := func(name, verb, uri string, ref map[string]any, members map[string]any, markers ...string) {
		n++
		out = append(out, Shape{Name: name, Event: event(n, verb, uri, ref, members, end.Add(time.Duration(n-40)*time.Millisecond)), Markers: markers})
	}
	secrets := func(name string) map[string]any {
		return map[string]any{"resource": "secrets", "namespace": "shop", "name": name, "apiVersion": "v1"}
	}

	// A Secret created with kubectl apply: data, stringData and the
	// last-applied copy, in the request and the response.
	{
		d, sd, la := marker("create", "data"), marker("create", "stringdata"), marker("create", "lastapplied")
		obj := secretObject("db", map[string]string{"password": b64(d), "raw": d}, map[string]string{"token": sd},
			`{"apiVersion":"v1","data":{"password":"`+b64(la)+`","plain":"`+la+`"},"kind":"Secret"}`+"\n")
		add("secret-create", "create", "/api/v1/namespaces/shop/secrets?fieldManager=kubectl-client-side-apply", secrets(""),
			map[string]any{"requestObject": obj, "responseObject": obj}, d, b64(d), sd, la, b64(la))
	}
	// get: the response is the Secret.
	{
		d := marker("get", "data")
		add("secret-get", "get", "/api/v1/namespaces/shop/secrets/db", secrets("db"),
			map[string]any{"responseObject": secretObject("db", map[string]string{"password": b64(d), "x": d}, nil, "")}, d, b64(d))
	}
	// list: a SecretList.
	{
		d1, d2 := marker("list", "item0"), marker("list", "item1")
		add("secret-list", "list", "/api/v1/namespaces/shop/secrets", secrets(""),
			map[string]any{"responseObject": map[string]any{"kind": "SecretList", "apiVersion": "v1", "metadata": map[string]any{"resourceVersion": "9"},
				"items": []any{secretObject("a", map[string]string{"k": d1}, nil, ""), secretObject("b", nil, map[string]string{"k": d2}, "")}}}, d1, d2)
	}
	// A list of everything (kind List) from another resource's request.
	{
		d := marker("list-any", "data")
		add("secret-in-list-any", "create", "/api/v1/namespaces/shop/configmaps", map[string]any{"resource": "configmaps", "namespace": "shop", "apiVersion": "v1"},
			map[string]any{"requestObject": map[string]any{"kind": "List", "apiVersion": "v1", "items": []any{
				map[string]any{"kind": "ConfigMap", "apiVersion": "v1", "data": map[string]string{"harmless": "value"}},
				secretObject("c", map[string]string{"k": d}, nil, "")}}}, d)
	}
	// A Table with includeObject=Object (kubectl get secrets -o wide
	// --server-print, dashboards).
	{
		d1, d2 := marker("table", "row0"), marker("table", "row1")
		add("secret-table", "list", "/api/v1/namespaces/shop/secrets?includeObject=Object", secrets(""),
			map[string]any{"responseObject": map[string]any{"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": map[string]any{},
				"columnDefinitions": []any{map[string]any{"name": "Name", "type": "string"}, map[string]any{"name": "Data", "type": "string"}},
				"rows": []any{
					map[string]any{"cells": []any{"a", 1}, "object": secretObject("a", map[string]string{"k": d1}, nil, "")},
					map[string]any{"cells": []any{"b", 1}, "object": map[string]any{"metadata": map[string]any{"name": "b"}, "data": map[string]string{"k": d2}}},
				}}}, d1, d2)
	}
	// A watch event holding a Secret.
	{
		d := marker("watch", "data")
		add("secret-watch-event", "watch", "/api/v1/namespaces/shop/secrets?watch=true", secrets(""),
			map[string]any{"responseObject": map[string]any{"type": "MODIFIED", "object": secretObject("w", map[string]string{"k": d}, nil, "")}}, d)
	}
	// update (PUT) of a Secret.
	{
		d := marker("update", "data")
		obj := secretObject("db", map[string]string{"password": d}, nil, "")
		add("secret-update", "update", "/api/v1/namespaces/shop/secrets/db", secrets("db"),
			map[string]any{"requestObject": obj, "responseObject": obj}, d)
	}
	// A merge patch (kind-less).
	{
		d, la := marker("merge-patch", "data"), marker("merge-patch", "lastapplied")
		add("secret-merge-patch", "patch", "/api/v1/namespaces/shop/secrets/db", secrets("db"),
			map[string]any{"requestObject": map[string]any{"data": map[string]string{"password": d},
				"metadata": map[string]any{"annotations": map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"password":"` + la + `"}}`}}}}, d, la)
	}
	// A strategic merge patch with directives.
	{
		d := marker("strategic-patch", "stringdata")
		add("secret-strategic-patch", "patch", "/api/v1/namespaces/shop/secrets/db", secrets("db"),
			map[string]any{"requestObject": map[string]any{"$setElementOrder/data": []any{map[string]string{"name": "x"}},
				"stringData": map[string]string{"api-key": d}, "type": "Opaque"}}, d)
	}
	// A JSON patch: values under /data, /stringData and the annotation.
	{
		d1, d2, la := marker("json-patch", "add"), marker("json-patch", "replace"), marker("json-patch", "lastapplied")
		add("secret-json-patch", "patch", "/api/v1/namespaces/shop/secrets/db", secrets("db"),
			map[string]any{"requestObject": []any{
				map[string]any{"op": "add", "path": "/data/x", "value": b64(d1)},
				map[string]any{"op": "replace", "path": "/stringData", "value": map[string]string{"k": d2}},
				map[string]any{"op": "add", "path": "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration", "value": `{"data":{"p":"` + la + `"}}`},
				map[string]any{"op": "test", "path": "/data/y", "value": b64(d1)},
				map[string]any{"op": "remove", "path": "/data/old"},
			}}, b64(d1), d2, la)
	}
	// Server-side apply (application/apply-patch+yaml), recorded as the
	// object the apiserver decoded.
	{
		d := marker("apply", "stringdata")
		add("secret-apply", "patch", "/api/v1/namespaces/shop/secrets/db?fieldManager=kubectl&force=true", secrets("db"),
			map[string]any{"requestObject": map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "db"},
				"stringData": map[string]string{"password": d}}}, d)
	}
	// An apply body recorded verbatim as a string.
	{
		d := marker("apply-string", "yaml")
		add("secret-apply-string", "patch", "/api/v1/namespaces/shop/secrets/db?fieldManager=kubectl", secrets("db"),
			map[string]any{"requestObject": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: " + d + "\n"}, d)
	}
	// TokenRequest: the response carries a service account token.
	{
		tok := marker("tokenrequest", "token")
		add("token-request", "create", "/api/v1/namespaces/shop/serviceaccounts/builder/token",
			map[string]any{"resource": "serviceaccounts", "subresource": "token", "namespace": "shop", "name": "builder", "apiVersion": "v1"},
			map[string]any{"requestObject": map[string]any{"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "spec": map[string]any{"audiences": []string{"https://kubernetes.default.svc"}, "expirationSeconds": 3600}},
				"responseObject": map[string]any{"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "spec": map[string]any{"audiences": []string{"https://kubernetes.default.svc"}},
					"status": map[string]any{"token": "eyJhbGciOiJSUzI1NiJ9." + tok, "expirationTimestamp": "2030-01-01T00:00:00Z"}}}, tok)
	}
	// TokenReview: the request (and the echoed response) carry a token.
	{
		tok := marker("tokenreview", "token")
		tr := map[string]any{"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1", "spec": map[string]any{"token": "eyJhbGciOiJSUzI1NiJ9." + tok}}
		add("token-review", "create", "/apis/authentication.k8s.io/v1/tokenreviews",
			map[string]any{"resource": "tokenreviews", "apiGroup": "authentication.k8s.io", "apiVersion": "v1"},
			map[string]any{"requestObject": tr, "responseObject": tr}, tok)
	}
	// A token in the query string (websocket clients, some proxies).
	{
		tok := marker("query", "token")
		add("query-token", "get", "/api/v1/namespaces/shop/pods/web/exec?command=sh&access_token="+tok,
			map[string]any{"resource": "pods", "subresource": "exec", "namespace": "shop", "name": "web", "apiVersion": "v1"}, nil, tok)
	}
	out = append(out, handWritten(end, &n)...)
	return out
}

// handWritten are shapes encoding/json cannot produce: duplicate keys and
// escaped key names.
func handWritten(end time.Time, n *int) []Shape {
	mk := func(name string, body string, markers ...string) Shape {
		*n++
		base := event(*n, "patch", "/api/v1/namespaces/shop/secrets/db", map[string]any{"resource": "secrets", "namespace": "shop", "name": "db", "apiVersion": "v1"},
			nil, end.Add(time.Duration(*n-40)*time.Millisecond))
		return Shape{Name: name, Event: strings.TrimSuffix(base, "}") + `,"requestObject":` + body + `}`, Markers: markers}
	}
	d1, d2 := marker("duplicate", "first"), marker("duplicate", "second")
	e := marker("escaped", "data")
	s1 := marker("duplicate-kind", "data")
	return []Shape{
		mk("secret-duplicate-keys", `{"data":{"a":"`+d1+`"},"data":{"b":"`+d2+`"}}`, d1, d2),
		mk("secret-escaped-keys", `{"d\u0061ta":{"k":"`+e+`"},"metadata":{"name":"db"}}`, e),
		mk("secret-nested-duplicate", `{"kind":"List","items":[{"kind":"Secret","apiVersion":"v1","data":{"k":"x"},"data":{"k":"`+s1+`"}}]}`, s1),
	}
}
