package enrich

import (
	"strconv"
	"strings"
	"time"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/sink"
)

// AnnotationPrefix starts every annotation the enricher adds to an event.
const AnnotationPrefix = "auditlane.io/"

// Annotation keys written into the event (values are strings, as
// annotations require). Lists are comma-separated.
const (
	AnnClusterName      = AnnotationPrefix + "cluster-name"
	AnnClusterID        = AnnotationPrefix + "cluster-id"
	AnnProvider         = AnnotationPrefix + "cluster-provider"
	AnnProviderMismatch = AnnotationPrefix + "provider-mismatch"
	AnnUserKind         = AnnotationPrefix + "user-kind"
	AnnEffectiveUser    = AnnotationPrefix + "effective-user"
	AnnSANamespace      = AnnotationPrefix + "serviceaccount-namespace"
	AnnSAName           = AnnotationPrefix + "serviceaccount-name"
	AnnNodeName         = AnnotationPrefix + "node-name"
	AnnAccountID        = AnnotationPrefix + "cloud-account-id"
	AnnPrincipalType    = AnnotationPrefix + "cloud-principal-type"
	AnnPrincipalARN     = AnnotationPrefix + "cloud-principal-arn"
	AnnPrincipalName    = AnnotationPrefix + "cloud-principal-name"
	AnnPrincipalID      = AnnotationPrefix + "cloud-principal-id"
	AnnSessionName      = AnnotationPrefix + "cloud-session-name"
	AnnAccessKeyID      = AnnotationPrefix + "cloud-access-key-id"
	AnnLatencyMS        = AnnotationPrefix + "latency-ms"
	AnnResponseClass    = AnnotationPrefix + "response-class"
	AnnResource         = AnnotationPrefix + "resource"
	AnnAccess           = AnnotationPrefix + "access"
	AnnUAClient         = AnnotationPrefix + "user-agent-client"
	AnnUAVersion        = AnnotationPrefix + "user-agent-version"
	AnnUAOS             = AnnotationPrefix + "user-agent-os"
	AnnUAArch           = AnnotationPrefix + "user-agent-arch"
	AnnRBACBinding      = AnnotationPrefix + "rbac-binding"
	AnnRBACRole         = AnnotationPrefix + "rbac-role"
	AnnSourceIPClass    = AnnotationPrefix + "source-ip-class"
	AnnRiskTags         = AnnotationPrefix + "risk-tags"
	AnnRiskSeverity     = AnnotationPrefix + "risk-severity"
)

// Attribute keys of the flat map. OpenTelemetry semantic conventions are
// used where they define the value; the rest live under "auditlane.".
const (
	AttrClusterName      = "k8s.cluster.name"
	AttrClusterUID       = "k8s.cluster.uid"
	AttrCloudProvider    = "cloud.provider"
	AttrCloudAccountID   = "cloud.account.id"
	AttrClusterProvider  = "auditlane.cluster.provider"
	AttrProviderMismatch = "auditlane.cluster.provider_mismatch"
	AttrUserName         = "user.name"
	AttrUserID           = "user.id"
	AttrUserKind         = "auditlane.user.kind"
	AttrImpersonator     = "auditlane.user.impersonator"
	AttrSANamespace      = "auditlane.user.serviceaccount.namespace"
	AttrSAName           = "auditlane.user.serviceaccount.name"
	AttrNodeName         = "k8s.node.name"
	AttrPrincipalType    = "auditlane.cloud.principal.type"
	AttrPrincipalARN     = "auditlane.cloud.principal.arn"
	AttrPrincipalName    = "auditlane.cloud.principal.name"
	AttrPrincipalID      = "auditlane.cloud.principal.id"
	AttrSessionName      = "auditlane.cloud.session_name"
	AttrAccessKeyID      = "auditlane.cloud.access_key_id"
	AttrNamespace        = "k8s.namespace.name"
	AttrResource         = "auditlane.resource"
	AttrAccess           = "auditlane.access"
	AttrStatusCode       = "http.response.status_code"
	AttrResponseClass    = "auditlane.response_class"
	AttrLatencyMS        = "auditlane.latency_ms"
	AttrUserAgent        = "user_agent.original"
	AttrUAName           = "user_agent.name"
	AttrUAVersion        = "user_agent.version"
	AttrUAOS             = "user_agent.os.name"
	AttrUAArch           = "auditlane.user_agent.arch"
	AttrDecision         = "auditlane.authz.decision"
	AttrReason           = "auditlane.authz.reason"
	AttrBindingKind      = "auditlane.rbac.binding.kind"
	AttrBindingName      = "auditlane.rbac.binding.name"
	AttrRoleKind         = "auditlane.rbac.role.kind"
	AttrRoleName         = "auditlane.rbac.role.name"
	AttrSourceAddress    = "source.address"
	AttrSourceClass      = "auditlane.source.ip_class"
	AttrSourceAddresses  = "auditlane.source.addresses"
	AttrSourceClasses    = "auditlane.source.ip_classes"
	AttrRiskTags         = "auditlane.risk.tags"
	AttrRiskSeverity     = "auditlane.risk.severity"
)

// Annotations calls emit for each auditlane.io/* annotation derived for the
// event, skipping empty values. Values are plain strings; callers JSON-quote
// them.
func (r *Result) Annotations(emit func(key, value string)) {
	r.each(func(ann, _ string, v string) {
		if ann != "" {
			emit(ann, v)
		}
	})
}

// AppendAnnotationsJSON appends the auditlane.io/* annotations to dst as
// JSON object members ("key":"value" pairs separated by commas, without
// braces), starting with a comma when comma is true. It reports how many
// members it wrote. It writes the same entries, in the same order, as
// Annotations, without building intermediate strings.
func (r *Result) AppendAnnotationsJSON(dst []byte, comma bool) ([]byte, int) {
	w := annWriter{dst: dst, comma: comma}
	w.add(qAnnClusterName, r.ClusterName)
	w.add(qAnnClusterID, r.ClusterID)
	w.add(qAnnProvider, r.Provider)
	w.add(qAnnProviderMismatch, r.ProviderMismatch)
	if r.parts.identity {
		id := &r.Identity
		w.addSafe(qAnnUserKind, id.Kind.String())
		if id.Impersonator != "" {
			w.add(qAnnEffectiveUser, id.User)
		}
		w.add(qAnnSANamespace, id.ServiceAccountNamespace)
		w.add(qAnnSAName, id.ServiceAccountName)
		w.add(qAnnNodeName, id.NodeName)
		p := &r.Principal
		w.add(qAnnAccountID, p.AccountID)
		w.add(qAnnPrincipalType, p.Type)
		w.add(qAnnPrincipalARN, p.ARN)
		w.add(qAnnPrincipalName, p.Name)
		w.add(qAnnPrincipalID, firstNonEmpty(p.ID, p.PrincipalID))
		w.add(qAnnSessionName, p.SessionName)
		w.add(qAnnAccessKeyID, p.AccessKeyID)
	}
	if r.parts.request {
		w.add(qAnnResource, r.Resource)
		w.addSafe(qAnnAccess, r.Access)
		w.addSafe(qAnnResponseClass, r.ResponseClass)
		if r.HasLatency {
			w.key(qAnnLatencyMS)
			w.dst = append(appendMillis(w.dst, r.Latency), '"')
		}
		w.add(qAnnUAClient, r.UA.Client)
		w.add(qAnnUAVersion, r.UA.Version)
		w.add(qAnnUAOS, r.UA.OS)
		w.add(qAnnUAArch, r.UA.Arch)
	}
	if r.parts.authz && r.HasRBAC {
		w.add2(qAnnRBACBinding, r.RBAC.BindingKind, r.RBAC.BindingName)
		w.add2(qAnnRBACRole, r.RBAC.RoleKind, r.RBAC.RoleName)
	}
	if r.parts.network && len(r.SourceIPs) > 0 {
		w.key(qAnnSourceIPClass)
		for i := range r.SourceIPs {
			if i > 0 {
				w.dst = append(w.dst, ',')
			}
			w.dst = append(w.dst, r.SourceIPs[i].Class...)
		}
		w.dst = append(w.dst, '"')
	}
	if r.parts.risk && len(r.Tags) > 0 {
		w.key(qAnnRiskTags)
		for i, t := range r.Tags {
			if i > 0 {
				w.dst = append(w.dst, ',')
			}
			w.dst = appendEscaped(w.dst, t)
		}
		w.dst = append(w.dst, '"')
		w.addSafe(qAnnRiskSeverity, r.Severity.String())
	}
	return w.dst, w.n
}

// The annotation keys as written: quoted, with the colon and the value's
// opening quote, preceded by the separating comma (dropped for the first
// member).
const (
	qAnnClusterName      = `,"` + AnnClusterName + `":"`
	qAnnClusterID        = `,"` + AnnClusterID + `":"`
	qAnnProvider         = `,"` + AnnProvider + `":"`
	qAnnProviderMismatch = `,"` + AnnProviderMismatch + `":"`
	qAnnUserKind         = `,"` + AnnUserKind + `":"`
	qAnnEffectiveUser    = `,"` + AnnEffectiveUser + `":"`
	qAnnSANamespace      = `,"` + AnnSANamespace + `":"`
	qAnnSAName           = `,"` + AnnSAName + `":"`
	qAnnNodeName         = `,"` + AnnNodeName + `":"`
	qAnnAccountID        = `,"` + AnnAccountID + `":"`
	qAnnPrincipalType    = `,"` + AnnPrincipalType + `":"`
	qAnnPrincipalARN     = `,"` + AnnPrincipalARN + `":"`
	qAnnPrincipalName    = `,"` + AnnPrincipalName + `":"`
	qAnnPrincipalID      = `,"` + AnnPrincipalID + `":"`
	qAnnSessionName      = `,"` + AnnSessionName + `":"`
	qAnnAccessKeyID      = `,"` + AnnAccessKeyID + `":"`
	qAnnLatencyMS        = `,"` + AnnLatencyMS + `":"`
	qAnnResponseClass    = `,"` + AnnResponseClass + `":"`
	qAnnResource         = `,"` + AnnResource + `":"`
	qAnnAccess           = `,"` + AnnAccess + `":"`
	qAnnUAClient         = `,"` + AnnUAClient + `":"`
	qAnnUAVersion        = `,"` + AnnUAVersion + `":"`
	qAnnUAOS             = `,"` + AnnUAOS + `":"`
	qAnnUAArch           = `,"` + AnnUAArch + `":"`
	qAnnRBACBinding      = `,"` + AnnRBACBinding + `":"`
	qAnnRBACRole         = `,"` + AnnRBACRole + `":"`
	qAnnSourceIPClass    = `,"` + AnnSourceIPClass + `":"`
	qAnnRiskTags         = `,"` + AnnRiskTags + `":"`
	qAnnRiskSeverity     = `,"` + AnnRiskSeverity + `":"`
)

// annWriter appends "key":"value" members.
type annWriter struct {
	dst   []byte
	n     int
	comma bool
}

// key starts a member; qk is one of the qAnn* constants (keys need no
// escaping).
func (w *annWriter) key(qk string) {
	if !w.comma && w.n == 0 {
		qk = qk[1:]
	}
	w.n++
	w.dst = append(w.dst, qk...)
}

func (w *annWriter) add(qk, v string) {
	if v != "" {
		w.key(qk)
		w.dst = append(appendEscaped(w.dst, v), '"')
	}
}

// addSafe is add for values that need no escaping (names of kinds,
// classes and severities).
func (w *annWriter) addSafe(qk, v string) {
	if v != "" {
		w.key(qk)
		w.dst = append(append(w.dst, v...), '"')
	}
}

// add2 writes a+"/"+b.
func (w *annWriter) add2(qk, a, b string) {
	w.key(qk)
	w.dst = appendEscaped(w.dst, a)
	w.dst = append(w.dst, '/')
	w.dst = appendEscaped(w.dst, b)
	w.dst = append(w.dst, '"')
}

// appendEscaped appends s JSON-escaped, without quotes.
func appendEscaped(dst []byte, s string) []byte {
	if !needsEscape(s) {
		return append(dst, s...)
	}
	n := len(dst)
	dst = audit.AppendQuote(dst, s)
	copy(dst[n:], dst[n+1:len(dst)-1])
	return dst[:len(dst)-2]
}

// needsEscape reports whether s holds a byte that a JSON string must
// escape (a control character, a quote or a backslash), looking at eight
// bytes at a time.
func needsEscape(s string) bool {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		t := s[i : i+8]
		w := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
			uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
		q := w ^ (lsb * '"')
		b := w ^ (lsb * '\\')
		if ((w-lsb*0x20)&^w|(q-lsb)&^q|(b-lsb)&^b)&msb != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return true
		}
	}
	return false
}

// appendMillis appends d in milliseconds as FormatMillis writes it.
func appendMillis(dst []byte, d time.Duration) []byte {
	us := d.Microseconds()
	dst = strconv.AppendInt(dst, us/1000, 10)
	if frac := us % 1000; frac != 0 {
		dst = append(dst, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
		for dst[len(dst)-1] == '0' {
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

// Attributes calls emit for each key of the flat attribute map, skipping
// empty values.
func (r *Result) Attributes(emit func(key, value string)) {
	r.each(func(_, attr string, v string) {
		if attr != "" {
			emit(attr, v)
		}
	})
}

// AppendFields appends the flat attribute map to dst as sink fields.
func (r *Result) AppendFields(dst []sink.Field) []sink.Field {
	r.each(func(_, attr string, v string) {
		if attr != "" {
			dst = append(dst, sink.Field{Key: attr, Value: v})
		}
	})
	return dst
}

// each calls fn(annotationKey, attributeKey, value) for every derived value
// that is set; either key may be "" when the value only goes to one place.
func (r *Result) each(fn func(ann, attr, v string)) {
	put := func(ann, attr, v string) {
		if v != "" {
			fn(ann, attr, v)
		}
	}
	put(AnnClusterName, AttrClusterName, r.ClusterName)
	put(AnnClusterID, AttrClusterUID, r.ClusterID)
	put(AnnProvider, AttrClusterProvider, r.Provider)
	put(AnnProviderMismatch, AttrProviderMismatch, r.ProviderMismatch)
	put("", AttrCloudProvider, CloudProvider(r.Provider))
	if r.ResponseCode != 0 && r.codeStr == "" {
		r.codeStr = strconv.Itoa(r.ResponseCode)
	}

	id := &r.Identity
	if r.parts.identity {
		put(AnnUserKind, AttrUserKind, id.Kind.String())
		put("", AttrUserName, id.User)
		put("", AttrUserID, id.UID)
		if id.Impersonator != "" {
			put(AnnEffectiveUser, "", id.User)
			put("", AttrImpersonator, id.Impersonator)
		}
		put(AnnSANamespace, AttrSANamespace, id.ServiceAccountNamespace)
		put(AnnSAName, AttrSAName, id.ServiceAccountName)
		put(AnnNodeName, AttrNodeName, id.NodeName)
		p := &r.Principal
		put(AnnAccountID, AttrCloudAccountID, p.AccountID)
		put(AnnPrincipalType, AttrPrincipalType, p.Type)
		put(AnnPrincipalARN, AttrPrincipalARN, p.ARN)
		put(AnnPrincipalName, AttrPrincipalName, p.Name)
		put(AnnPrincipalID, AttrPrincipalID, firstNonEmpty(p.ID, p.PrincipalID))
		put(AnnSessionName, AttrSessionName, p.SessionName)
		put(AnnAccessKeyID, AttrAccessKeyID, p.AccessKeyID)
	}

	if r.parts.request {
		put("", AttrNamespace, r.Namespace)
		put(AnnResource, AttrResource, r.Resource)
		put(AnnAccess, AttrAccess, r.Access)
		if r.ResponseCode != 0 {
			put("", AttrStatusCode, r.codeStr)
		}
		put(AnnResponseClass, AttrResponseClass, r.ResponseClass)
		if r.HasLatency {
			if r.latencyStr == "" {
				r.latencyStr = FormatMillis(r.Latency)
			}
			put(AnnLatencyMS, AttrLatencyMS, r.latencyStr)
		}
		put("", AttrUserAgent, r.UserAgent)
		put(AnnUAClient, AttrUAName, r.UA.Client)
		put(AnnUAVersion, AttrUAVersion, r.UA.Version)
		put(AnnUAOS, AttrUAOS, r.UA.OS)
		put(AnnUAArch, AttrUAArch, r.UA.Arch)
	}

	if r.parts.authz {
		put("", AttrDecision, r.Decision)
		put("", AttrReason, r.Reason)
		if r.HasRBAC {
			if r.bindingStr == "" {
				r.bindingStr = r.RBAC.BindingKind + "/" + r.RBAC.BindingName
				r.roleStr = r.RBAC.RoleKind + "/" + r.RBAC.RoleName
			}
			put(AnnRBACBinding, "", r.bindingStr)
			put(AnnRBACRole, "", r.roleStr)
			put("", AttrBindingKind, r.RBAC.BindingKind)
			put("", AttrBindingName, r.RBAC.BindingName)
			put("", AttrRoleKind, r.RBAC.RoleKind)
			put("", AttrRoleName, r.RBAC.RoleName)
		}
	}

	if r.parts.network && len(r.SourceIPs) > 0 {
		put("", AttrSourceAddress, r.SourceIPs[0].Addr)
		put("", AttrSourceClass, r.SourceIPs[0].Class)
		classes := r.SourceIPs[0].Class
		if len(r.SourceIPs) > 1 {
			if r.classesStr == "" {
				var a, c strings.Builder
				for i, s := range r.SourceIPs {
					if i > 0 {
						a.WriteByte(',')
						c.WriteByte(',')
					}
					a.WriteString(s.Addr)
					c.WriteString(s.Class)
				}
				r.addrsStr, r.classesStr = a.String(), c.String()
			}
			classes = r.classesStr
			put("", AttrSourceAddresses, r.addrsStr)
			put("", AttrSourceClasses, classes)
		}
		put(AnnSourceIPClass, "", classes)
	}

	if r.parts.risk && len(r.Tags) > 0 {
		if r.tagsStr == "" {
			r.tagsStr = strings.Join(r.Tags, ",")
		}
		put(AnnRiskTags, AttrRiskTags, r.tagsStr)
		put(AnnRiskSeverity, AttrRiskSeverity, r.Severity.String())
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
