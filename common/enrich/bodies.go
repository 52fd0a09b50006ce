package enrich

import (
	"bytes"
	"errors"
	"path"
	"strings"

	"github.com/buger/jsonparser"
)

// Purpose-built views of request bodies, decoded only when a rule asks.

// PodFacts summarises the pod spec in a request body.
type PodFacts struct {
	Privileged, HostNetwork, HostPID, HostIPC bool
	// SensitiveHostPath is the first sensitive hostPath volume, or "".
	SensitiveHostPath string
}

// podFacts reads the pod spec of a Pod (spec), a workload with a pod
// template (spec.template.spec) or a CronJob
// (spec.jobTemplate.spec.template.spec), without decoding the rest. ok is
// false when body is not a JSON object (a JSON patch, say).
func podFacts(body []byte) (f PodFacts, ok bool) {
	if len(body) == 0 || body[0] != '{' {
		return f, false
	}
	if !mayHoldPodRisk(body) {
		return f, true
	}
	if spec := object(body, "spec"); spec != nil {
		scanPodSpec(spec, &f, 0)
	}
	return f, true
}

var (
	podRiskKeys = [...][]byte{[]byte(`"privileged"`), []byte(`"hostNetwork"`), []byte(`"hostPID"`), []byte(`"hostIPC"`), []byte(`"hostPath"`)}
	escapeU     = []byte(`\u`)
)

// mayHoldPodRisk is a fast pre-check: a body none of whose bytes spell a
// risky pod field cannot hold one. Bodies with \u escapes (which could spell
// a key) always get the full scan.
func mayHoldPodRisk(body []byte) bool {
	if bytes.Contains(body, escapeU) {
		return true
	}
	for _, k := range podRiskKeys {
		if bytes.Contains(body, k) {
			return true
		}
	}
	return false
}

// scanPodSpec reads spec in one pass; when it holds a pod template
// (template.spec, or jobTemplate.spec.template.spec) the template's spec is
// what counts.
func scanPodSpec(spec []byte, f *PodFacts, depth int) {
	var pf PodFacts
	var template []byte
	jsonparser.ObjectEach(spec, func(key, v []byte, t jsonparser.ValueType, _ int) error {
		switch string(key) {
		case "hostNetwork":
			pf.HostNetwork = t == jsonparser.Boolean && len(v) == 4
		case "hostPID":
			pf.HostPID = t == jsonparser.Boolean && len(v) == 4
		case "hostIPC":
			pf.HostIPC = t == jsonparser.Boolean && len(v) == 4
		case "containers", "initContainers", "ephemeralContainers":
			if t == jsonparser.Array {
				jsonparser.ArrayEach(v, func(c []byte, t jsonparser.ValueType, _ int, _ error) {
					if t == jsonparser.Object && boolean(c, "securityContext", "privileged") {
						pf.Privileged = true
					}
				})
			}
		case "volumes":
			if t == jsonparser.Array {
				jsonparser.ArrayEach(v, func(vol []byte, t jsonparser.ValueType, _ int, _ error) {
					if t != jsonparser.Object || pf.SensitiveHostPath != "" {
						return
					}
					if p, pt, _, err := jsonparser.Get(vol, "hostPath", "path"); err == nil && pt == jsonparser.String {
						if ps := unquote(p); IsSensitiveHostPath(ps) {
							pf.SensitiveHostPath = ps
						}
					}
				})
			}
		case "template":
			template = object(v, "spec")
		case "jobTemplate":
			template = object(v, "spec", "template", "spec")
		}
		return nil
	})
	if template != nil && depth < 2 {
		scanPodSpec(template, f, depth+1)
		return
	}
	*f = pf
}

// object returns the object at path in data, or nil.
func object(data []byte, path ...string) []byte {
	if data == nil {
		return nil
	}
	v, t, _, err := jsonparser.Get(data, path...)
	if err != nil || t != jsonparser.Object {
		return nil
	}
	return v
}

// boolean reports whether the value at path is true.
func boolean(data []byte, path ...string) bool {
	v, t, _, err := jsonparser.Get(data, path...)
	return err == nil && t == jsonparser.Boolean && len(v) == 4
}

// unquote returns the string content raw (as returned by jsonparser.Get)
// unescaped.
func unquote(raw []byte) string {
	s, err := jsonparser.ParseString(raw)
	if err != nil {
		return string(raw)
	}
	return s
}

// strIs reports whether the JSON string content raw equals s, unescaping
// only when raw holds escapes (so "pods\/exec" cannot slip past).
func strIs(raw []byte, s string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == s
	}
	return unquote(raw) == s
}

// SensitiveHostPaths are host paths whose mount gives a pod control of the
// node: the root, configuration, process and kubelet state, and container
// runtime sockets. Mounting one of them, a directory below one (except
// below "/"), or a directory above one is sensitive.
var SensitiveHostPaths = []string{
	"/", "/etc", "/proc", "/root", "/var/lib/kubelet", "/etc/kubernetes",
	"/var/run/docker.sock", "/run/docker.sock",
	"/var/run/containerd/containerd.sock", "/run/containerd/containerd.sock",
	"/var/run/crio/crio.sock", "/run/crio/crio.sock",
	"/var/run/cri-dockerd.sock", "/run/cri-dockerd.sock",
}

// IsSensitiveHostPath reports whether mounting host path p is sensitive.
func IsSensitiveHostPath(p string) bool {
	if p == "" {
		return false
	}
	p = path.Clean("/" + p)
	for _, s := range SensitiveHostPaths {
		if p == s || s != "/" && strings.HasPrefix(p, s+"/") || p != "/" && strings.HasPrefix(s, p+"/") {
			return true
		}
	}
	return false
}

// RoleFacts summarises the rules of a ClusterRole (or Role) body.
type RoleFacts struct {
	WildcardVerbs, WildcardResources, PodExec, WriteVerbs bool
}

func roleFacts(body []byte) (f RoleFacts, ok bool) {
	if len(body) == 0 || body[0] != '{' {
		return f, false
	}
	jsonparser.ArrayEach(body, func(rule []byte, t jsonparser.ValueType, _ int, _ error) {
		if t != jsonparser.Object {
			return
		}
		jsonparser.ArrayEach(rule, func(v []byte, t jsonparser.ValueType, _ int, _ error) {
			if t != jsonparser.String {
				return
			}
			switch {
			case strIs(v, "*"):
				f.WildcardVerbs = true
			case strIs(v, "create"), strIs(v, "update"), strIs(v, "patch"), strIs(v, "delete"), strIs(v, "deletecollection"):
				f.WriteVerbs = true
			}
		}, "verbs")
		jsonparser.ArrayEach(rule, func(v []byte, t jsonparser.ValueType, _ int, _ error) {
			if t != jsonparser.String {
				return
			}
			switch {
			case strIs(v, "*"):
				f.WildcardResources = true
			case strIs(v, "pods/exec"), strIs(v, "pods/*"):
				f.PodExec = true
			}
		}, "resources")
	}, "rules")
	return f, true
}

// strAt returns the string at path in the JSON object body, unescaped, or
// "" when absent, not a string, or body is not an object.
func strAt(body []byte, path ...string) string {
	if len(body) == 0 || body[0] != '{' {
		return ""
	}
	v, t, _, err := jsonparser.Get(body, path...)
	if err != nil || t != jsonparser.String {
		return ""
	}
	return unquote(v)
}

// CredentialMarkers are substrings (matched case-insensitively) that mark a
// ConfigMap entry as holding credentials.
var CredentialMarkers = []string{
	"aws_access_key_id", "aws-access-key-id", "aws_s3_access_key_id", "aws-s3-access-key-id",
	"aws_secret_access_key", "password", "passphrase", "-----begin rsa private key", "-----begin private key",
	"-----begin openssh private key", "-----begin ec private key",
}

func configMapHasCredentials(body []byte) bool {
	data := object(body, "data")
	if data == nil {
		return false
	}
	found := false
	jsonparser.ObjectEach(data, func(key, v []byte, t jsonparser.ValueType, _ int) error {
		if hasMarker(key) || t == jsonparser.String && hasMarker(v) {
			found = true
			return errStop
		}
		return nil
	})
	return found
}

var errStop = errors.New("stop")

// hasMarker reports whether the JSON string content raw contains a
// credential marker, ignoring ASCII case.
func hasMarker(raw []byte) bool {
	if bytes.IndexByte(raw, '\\') >= 0 {
		raw = []byte(unquote(raw))
	}
	for _, m := range CredentialMarkers {
		if containsFold(raw, m) {
			return true
		}
	}
	return false
}

// containsFold reports whether b contains the lower-case ASCII string m,
// ignoring ASCII case in b.
func containsFold(b []byte, m string) bool {
	for i := 0; i+len(m) <= len(b); i++ {
		j := 0
		for ; j < len(m); j++ {
			c := b[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != m[j] {
				break
			}
		}
		if j == len(m) {
			return true
		}
	}
	return false
}
