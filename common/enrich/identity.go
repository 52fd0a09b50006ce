package enrich

import (
	"strings"
)

// UserKind classifies the identity behind a request.
type UserKind uint8

// User kinds.
const (
	UserUnknown UserKind = iota
	// UserHuman: any identity that is not one of the kinds below (people,
	// CI systems using their own credentials, cloud IAM users and roles).
	UserHuman
	// UserServiceAccount: system:serviceaccount:<namespace>:<name>.
	UserServiceAccount
	// UserNode: system:node:<name> (kubelets).
	UserNode
	// UserControlPlane: apiserver, controller-manager, scheduler, kube-proxy
	// and the provider's own components (eks:*, ...).
	UserControlPlane
	// UserAnonymous: system:anonymous.
	UserAnonymous
	// UserUnauthenticated: in group system:unauthenticated without being
	// system:anonymous (an authenticator that did not authenticate).
	UserUnauthenticated
)

var userKindNames = [...]string{"", "human", "service-account", "node", "control-plane", "anonymous", "unauthenticated"}

// String returns the kind's name as written into events ("human",
// "service-account", "node", "control-plane", "anonymous",
// "unauthenticated"), or "" for UserUnknown.
func (k UserKind) String() string {
	if int(k) < len(userKindNames) {
		return userKindNames[k]
	}
	return ""
}

// Identity describes who made a request.
type Identity struct {
	// Kind of the effective user.
	Kind UserKind
	// User is the effective username: the impersonated user when the request
	// impersonated someone, else the authenticated user.
	User string
	// UID is the effective user's uid, if recorded.
	UID string
	// Impersonator is the authenticated username when the request
	// impersonated another user; "" otherwise.
	Impersonator string
	// ServiceAccountNamespace and ServiceAccountName are set for
	// UserServiceAccount; NodeName for UserNode.
	ServiceAccountNamespace string
	ServiceAccountName      string
	NodeName                string
	// Groups are the effective user's groups. They alias event memory
	// and are valid until the next Enrich call with the same Result.
	Groups []string
}

// Principal is the cloud identity behind a Kubernetes user, when the
// authenticator recorded one.
type Principal struct {
	// Type: for AWS "user", "role", "assumed-role", "federated-user", "root";
	// for Alibaba Cloud "ram-user" or "ram-role".
	Type string
	// AccountID is the cloud account (AWS account id).
	AccountID string
	// ARN is the canonical ARN when recorded (the role, not the session),
	// else the ARN as recorded.
	ARN string
	// Name is the IAM user or role name; ID a RAM user or role id.
	Name string
	ID   string
	// SessionName is the role session name; AccessKeyID the access key id
	// (an identifier, not a secret); PrincipalID the IAM unique id.
	SessionName string
	AccessKeyID string
	PrincipalID string
}

// Empty reports whether no principal was found.
func (p *Principal) Empty() bool {
	return p.Type == "" && p.ARN == "" && p.ID == "" && p.AccountID == ""
}

// controlPlaneUsers are system: users that are cluster components rather
// than people or workloads.
var controlPlaneUsers = map[string]bool{
	"system:apiserver":                      true,
	"system:kube-controller-manager":        true,
	"system:kube-scheduler":                 true,
	"system:kube-proxy":                     true,
	"system:volume-scheduler":               true,
	"system:kube-aggregator":                true,
	"system:kube-dns":                       true,
	"system:unsecured":                      true,
	"system:aws-cloud-provider":             true,
	"system:gcp-controller-manager":         true,
	"system:cloud-controller-manager":       true,
	"system:konnectivity-server":            true,
	"system:addon-manager":                  true,
	"system:clustermetrics":                 true,
	"system:l7-lb-controller":               true,
	"system:kubestore-collector":            true, // GKE
	"system:resource-tracker":               true, // GKE
	"system:managed-certificate-controller": true,
	"kubelet":                               true, // legacy kubelet identity
	"aksService":                            true,
	"masterclient":                          true,
	"nodeclient":                            true,
}

const (
	saPrefix   = "system:serviceaccount:"
	nodePrefix = "system:node:"
)

// ClassifyUser returns the kind of username with groups, and for service
// accounts and nodes the names parsed from the username.
func ClassifyUser(username string, groups []string) (kind UserKind, saNamespace, saName, node string) {
	switch {
	case username == "system:anonymous":
		return UserAnonymous, "", "", ""
	case strings.HasPrefix(username, saPrefix):
		rest := username[len(saPrefix):]
		if i := strings.IndexByte(rest, ':'); i > 0 && i < len(rest)-1 {
			return UserServiceAccount, rest[:i], rest[i+1:], ""
		}
		return UserServiceAccount, "", "", ""
	case strings.HasPrefix(username, nodePrefix):
		return UserNode, "", "", username[len(nodePrefix):]
	case controlPlaneUsers[username], strings.HasPrefix(username, "eks:"),
		strings.HasPrefix(username, "system:kube-"), strings.HasPrefix(username, "system:gke-"):
		return UserControlPlane, "", "", ""
	}
	for _, g := range groups {
		if g == "system:unauthenticated" {
			return UserUnauthenticated, "", "", ""
		}
	}
	if username == "" {
		return UserUnknown, "", "", ""
	}
	return UserHuman, "", "", ""
}

// ARN is a parsed Amazon Resource Name of an IAM or STS principal.
type ARN struct {
	Partition, Service, Account string
	// Type is "user", "role", "assumed-role", "federated-user" or "root".
	Type string
	// Name is the user or role name (without path); Session the role
	// session name of an assumed-role ARN.
	Name, Session string
}

// ParseARN parses IAM and STS principal ARNs:
//
//	arn:aws:iam::123456789012:user/path/Name
//	arn:aws:iam::123456789012:role/Name
//	arn:aws:sts::123456789012:assumed-role/Role/session
//	arn:aws:sts::123456789012:federated-user/Name
//	arn:aws:iam::123456789012:root
//
// ok is false for anything else.
func ParseARN(s string) (a ARN, ok bool) {
	if !strings.HasPrefix(s, "arn:") {
		return a, false
	}
	// The fields of strings.SplitN(s, ":", 6), without the slice.
	var parts [6]string
	rest := s
	for i := 0; i < 5; i++ {
		c := strings.IndexByte(rest, ':')
		if c < 0 {
			return a, false
		}
		parts[i], rest = rest[:c], rest[c+1:]
	}
	parts[5] = rest
	if parts[1] == "" || parts[4] == "" {
		return a, false
	}
	a.Partition, a.Service, a.Account = parts[1], parts[2], parts[4]
	if a.Service != "iam" && a.Service != "sts" {
		return a, false
	}
	res := parts[5]
	if res == "root" {
		a.Type = "root"
		return a, true
	}
	slash := strings.IndexByte(res, '/')
	if slash <= 0 || slash == len(res)-1 {
		return a, false
	}
	a.Type, res = res[:slash], res[slash+1:]
	switch a.Type {
	case "assumed-role":
		i := strings.LastIndexByte(res, '/')
		if i <= 0 {
			return a, false
		}
		a.Name, a.Session = res[:i], res[i+1:]
	case "user", "role", "federated-user":
		a.Name = res[strings.LastIndexByte(res, '/')+1:]
	default:
		return a, false
	}
	return a, true
}

// awsPrincipal fills p from an EKS user.extra (arn, canonicalArn,
// sessionName, accessKeyId, principalId).
func awsPrincipal(p *Principal, arn, canonical, session, keyID, principalID string) {
	p.SessionName, p.AccessKeyID, p.PrincipalID = session, keyID, principalID
	p.ARN = canonical
	if p.ARN == "" {
		p.ARN = arn
	}
	if a, ok := ParseARN(arn); ok {
		p.Type, p.AccountID, p.Name = a.Type, a.Account, a.Name
		if a.Session != "" && p.SessionName == "" {
			p.SessionName = a.Session
		}
	}
	if c, ok := ParseARN(canonical); ok {
		if p.AccountID == "" {
			p.AccountID = c.Account
		}
		if p.Name == "" {
			p.Name = c.Name
		}
		if p.Type == "" {
			p.Type = c.Type
		}
	}
	if p.Type == "" && principalID != "" {
		// AWS unique ids: AIDA user, AROA role (with ":session").
		switch {
		case strings.HasPrefix(principalID, "AIDA"):
			p.Type = "user"
		case strings.HasPrefix(principalID, "AROA"):
			p.Type = "assumed-role"
		}
	}
}

// ramPrincipal recognises an ACK username as an Alibaba Cloud RAM id: ACK
// issues kubeconfigs whose user is the RAM user (or account) uid, all
// digits, or "<RAM role id>-<timestamp>" for RAM roles.
func ramPrincipal(p *Principal, username string) bool {
	if isDigits(username, 10, 20) {
		p.Type, p.ID = "ram-user", username
		return true
	}
	if i := strings.IndexByte(username, '-'); i > 0 && isDigits(username[:i], 10, 20) && isDigits(username[i+1:], 1, 20) {
		p.Type, p.ID = "ram-role", username[:i]
		return true
	}
	return false
}

func isDigits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// detectProvider returns the provider a single event hints at, or "".
func detectProvider(username, uid, userAgent string, hasAWSExtra bool) string {
	aks, ack := userAgentHints(userAgent)
	return detectProviderHints(username, uid, aks, ack, hasAWSExtra)
}

// userAgentHints reports whether a user agent hints at AKS or ACK.
func userAgentHints(userAgent string) (aks, ack bool) {
	return strings.HasPrefix(userAgent, "aks-"),
		strings.Contains(userAgent, "alibaba-cloud") || strings.Contains(userAgent, "aliyun")
}

// detectProviderHints is detectProvider with the user agent's hints
// already taken (see userAgentHints).
func detectProviderHints(username, uid string, uaAKS, uaACK, hasAWSExtra bool) string {
	switch {
	case strings.HasPrefix(username, "eks:"), strings.HasPrefix(uid, "aws-iam-authenticator:"), hasAWSExtra:
		return ProviderEKS
	case strings.HasPrefix(username, "system:gke-"), strings.HasSuffix(username, "@container-engine-robot.iam.gserviceaccount.com"),
		username == "system:gcp-controller-manager", username == "system:kubestore-collector":
		return ProviderGKE
	case username == "aksService", username == "masterclient", uaAKS:
		return ProviderAKS
	case strings.HasPrefix(username, "system:serviceaccount:kube-system:ack-"), uaACK:
		return ProviderACK
	}
	return ""
}

// CloudProvider maps a cluster provider to the OpenTelemetry cloud.provider
// value ("aws", "alibaba_cloud", "gcp", "azure"), or "".
func CloudProvider(provider string) string {
	switch provider {
	case ProviderEKS:
		return "aws"
	case ProviderACK:
		return "alibaba_cloud"
	case ProviderGKE:
		return "gcp"
	case ProviderAKS:
		return "azure"
	}
	return ""
}
