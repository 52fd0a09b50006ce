package enrich

import (
	"bytes"
	"path"
	"strings"
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
	if spec := object(body, "spec"); spec != nil {
		scanPodSpec(spec, &f, 0)
	}
	return f, true
}

// scanPodSpec reads spec in one pass; when it holds a pod template
// (template.spec, or jobTemplate.spec.template.spec) the template's spec is
// what counts.
func scanPodSpec(spec []byte, f *PodFacts, depth int) {
	var pf PodFacts
	var template []byte
	eachMember(spec, func(key, v []byte) bool {
		switch {
		case keyIs(key, "hostNetwork"):
			pf.HostNetwork = string(v) == "true"
		case keyIs(key, "hostPID"):
			pf.HostPID = string(v) == "true"
		case keyIs(key, "hostIPC"):
			pf.HostIPC = string(v) == "true"
		case keyIs(key, "containers"), keyIs(key, "initContainers"), keyIs(key, "ephemeralContainers"):
			eachElement(v, func(c []byte) {
				if boolean(c, "securityContext", "privileged") {
					pf.Privileged = true
				}
			})
		case keyIs(key, "volumes"):
			eachElement(v, func(vol []byte) {
				if pf.SensitiveHostPath == "" {
					if p := strAt(vol, "hostPath", "path"); IsSensitiveHostPath(p) {
						pf.SensitiveHostPath = p
					}
				}
			})
		case keyIs(key, "template"):
			template = object(v, "spec")
		case keyIs(key, "jobTemplate"):
			template = object(v, "spec", "template", "spec")
		}
		return true
	})
	if template != nil && depth < 2 {
		scanPodSpec(template, f, depth+1)
		return
	}
	*f = pf
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
	eachElement(field(body, "rules"), func(rule []byte) {
		eachMember(rule, func(key, list []byte) bool {
			switch {
			case keyIs(key, "verbs"):
				eachElement(list, func(v []byte) {
					v = rawStr(v)
					switch {
					case strIs(v, "*"):
						f.WildcardVerbs = true
					case strIs(v, "create"), strIs(v, "update"), strIs(v, "patch"), strIs(v, "delete"), strIs(v, "deletecollection"):
						f.WriteVerbs = true
					}
				})
			case keyIs(key, "resources"):
				eachElement(list, func(v []byte) {
					v = rawStr(v)
					switch {
					case strIs(v, "*"):
						f.WildcardResources = true
					case strIs(v, "pods/exec"), strIs(v, "pods/*"):
						f.PodExec = true
					}
				})
			}
			return true
		})
	})
	return f, true
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
	eachMember(data, func(key, v []byte) bool {
		found = hasMarker(key) || hasMarker(rawStr(v))
		return !found
	})
	return found
}

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
