package enrich

import (
	"bytes"
	"encoding/json"
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
	spec := object(body, "spec")
	if ps := object(spec, "jobTemplate", "spec", "template", "spec"); ps != nil {
		spec = ps
	} else if ps := object(spec, "template", "spec"); ps != nil {
		spec = ps
	}
	if spec == nil {
		return f, true
	}
	f.HostNetwork = boolean(spec, "hostNetwork")
	f.HostPID = boolean(spec, "hostPID")
	f.HostIPC = boolean(spec, "hostIPC")
	for _, key := range [3]string{"containers", "initContainers", "ephemeralContainers"} {
		jsonparser.ArrayEach(spec, func(c []byte, t jsonparser.ValueType, _ int, _ error) {
			if t == jsonparser.Object && boolean(c, "securityContext", "privileged") {
				f.Privileged = true
			}
		}, key)
	}
	jsonparser.ArrayEach(spec, func(v []byte, t jsonparser.ValueType, _ int, _ error) {
		if t != jsonparser.Object || f.SensitiveHostPath != "" {
			return
		}
		if p, pt, _, err := jsonparser.Get(v, "hostPath", "path"); err == nil && pt == jsonparser.String {
			if ps := unquote(p); IsSensitiveHostPath(ps) {
				f.SensitiveHostPath = ps
			}
		}
	}, "volumes")
	return f, true
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

type objectMeta struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

type bindingObject struct {
	RoleRef struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"roleRef"`
}

type serviceObject struct {
	Spec struct {
		Type string `json:"type"`
	} `json:"spec"`
}

type csrObject struct {
	Spec struct {
		SignerName string `json:"signerName"`
	} `json:"spec"`
}

type configMapObject struct {
	Data map[string]string `json:"data"`
}

// CredentialMarkers are substrings (matched case-insensitively) that mark a
// ConfigMap entry as holding credentials.
var CredentialMarkers = []string{
	"aws_access_key_id", "aws-access-key-id", "aws_s3_access_key_id", "aws-s3-access-key-id",
	"aws_secret_access_key", "password", "passphrase", "-----begin rsa private key", "-----begin private key",
	"-----begin openssh private key", "-----begin ec private key",
}

func configMapHasCredentials(body []byte) bool {
	var o configMapObject
	if len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &o) != nil {
		return false
	}
	for k, v := range o.Data {
		if hasMarker(k) || hasMarker(v) {
			return true
		}
	}
	return false
}

func hasMarker(s string) bool {
	l := strings.ToLower(s)
	for _, m := range CredentialMarkers {
		if strings.Contains(l, m) {
			return true
		}
	}
	return false
}

func decodeInto(body []byte, v any) bool {
	return len(body) > 0 && body[0] == '{' && json.Unmarshal(body, v) == nil
}
