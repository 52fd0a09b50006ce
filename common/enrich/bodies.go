package enrich

import (
	"encoding/json"
	"path"
	"strings"
)

// Purpose-built views of request bodies, decoded only when a rule asks.

type podSpec struct {
	HostNetwork         bool        `json:"hostNetwork"`
	HostPID             bool        `json:"hostPID"`
	HostIPC             bool        `json:"hostIPC"`
	Containers          []container `json:"containers"`
	InitContainers      []container `json:"initContainers"`
	EphemeralContainers []container `json:"ephemeralContainers"`
	Volumes             []struct {
		HostPath *struct {
			Path string `json:"path"`
		} `json:"hostPath"`
	} `json:"volumes"`
}

type container struct {
	SecurityContext *struct {
		Privileged *bool `json:"privileged"`
	} `json:"securityContext"`
}

// workloadObject covers Pod (spec), Deployment, ReplicaSet, StatefulSet,
// DaemonSet, Job, ReplicationController (spec.template.spec) and CronJob
// (spec.jobTemplate.spec.template.spec).
type workloadObject struct {
	Spec struct {
		podSpec
		Template *struct {
			Spec podSpec `json:"spec"`
		} `json:"template"`
		JobTemplate *struct {
			Spec struct {
				Template struct {
					Spec podSpec `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		} `json:"jobTemplate"`
	} `json:"spec"`
}

// PodFacts summarises the pod spec in a request body.
type PodFacts struct {
	Privileged, HostNetwork, HostPID, HostIPC bool
	// SensitiveHostPath is the first sensitive hostPath volume, or "".
	SensitiveHostPath string
}

func (o *workloadObject) spec() *podSpec {
	switch {
	case o.Spec.JobTemplate != nil:
		return &o.Spec.JobTemplate.Spec.Template.Spec
	case o.Spec.Template != nil:
		return &o.Spec.Template.Spec
	}
	return &o.Spec.podSpec
}

func podFacts(body []byte) (f PodFacts, ok bool) {
	var o workloadObject
	if len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &o) != nil {
		return f, false
	}
	s := o.spec()
	f.HostNetwork, f.HostPID, f.HostIPC = s.HostNetwork, s.HostPID, s.HostIPC
	for _, list := range [][]container{s.Containers, s.InitContainers, s.EphemeralContainers} {
		for _, c := range list {
			if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
				f.Privileged = true
			}
		}
	}
	for _, v := range s.Volumes {
		if v.HostPath != nil && IsSensitiveHostPath(v.HostPath.Path) {
			f.SensitiveHostPath = v.HostPath.Path
			break
		}
	}
	return f, true
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

type policyRule struct {
	APIGroups       []string `json:"apiGroups"`
	Resources       []string `json:"resources"`
	Verbs           []string `json:"verbs"`
	NonResourceURLs []string `json:"nonResourceURLs"`
}

// RoleFacts summarises the rules of a ClusterRole (or Role) body.
type RoleFacts struct {
	WildcardVerbs, WildcardResources, PodExec, WriteVerbs bool
}

func roleFacts(body []byte) (f RoleFacts, ok bool) {
	var o struct {
		Rules []policyRule `json:"rules"`
	}
	if len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &o) != nil {
		return f, false
	}
	for _, r := range o.Rules {
		for _, v := range r.Verbs {
			switch v {
			case "*":
				f.WildcardVerbs = true
			case "create", "update", "patch", "delete", "deletecollection":
				f.WriteVerbs = true
			}
		}
		for _, res := range r.Resources {
			switch res {
			case "*":
				f.WildcardResources = true
			case "pods/exec", "pods/*":
				f.PodExec = true
			}
		}
	}
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
