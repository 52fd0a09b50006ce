// Package policy loads, validates and compiles Kubernetes audit policies
// (kind Policy, audit.k8s.io/v1, v1beta1 or v1alpha1) and decides, per
// audit event, the level, omitted stages and omitManagedFields exactly as
// kube-apiserver does (k8s.io/apiserver/pkg/audit/policy, checker.go).
//
// # Decisions
//
// Rules are tried in order and the first matching rule wins; when none
// matches the level is None, with the policy's omitStages and
// omitManagedFields. A rule matches when every restriction it sets holds
// (an empty list restricts nothing):
//
//   - users: the event's user.username (the authenticated user, not
//     impersonatedUser) is listed;
//   - userGroups: one of user.groups is listed;
//   - verbs: the verb is listed;
//   - a rule with namespaces or resources matches resource requests only
//     (events with an objectRef): namespaces lists objectRef.namespace, ""
//     standing for cluster-scoped objects; each resources entry matches
//     objectRef.apiGroup (or any group for "*"), and with no resources
//     listed any resource of that group; otherwise, when resourceNames are
//     listed objectRef.name must be one of them, and a resource matches as
//     "*" (anything), "res" (no subresource), "res/sub", "*/sub" (that
//     subresource of any resource) or "res/*" (res itself and all its
//     subresources);
//   - a rule with nonResourceURLs matches non-resource requests only: "*"
//     matches any path, "/p*" any path starting with "/p", anything else the
//     exact path. The path is requestURI without its query string.
//
// A decision's omitStages is the union of the policy's and the rule's; a
// rule's omitManagedFields, when set, overrides the policy's. A rule at
// level None drops the event whatever its omitStages; Decision.Dropped
// combines both.
//
// Parse compiles each rule into matchers (small string sets, a map from
// eight entries, prefix lists, pre-split resource patterns), so Decide
// allocates nothing. A Policy is immutable and safe for concurrent use.
//
// # Loading
//
// Parse rejects what the apiserver's loader (LoadPolicyFromBytes and
// validation.ValidatePolicy) rejects: a missing or unknown level, omitStages
// naming an unknown stage, nonResourceURLs not starting with "/" (other
// than "*") or with a "*" before the end, a rule with nonResourceURLs and
// resources or namespaces, an API group that is not a lowercase DNS
// subdomain (other than "" and "*"), resourceNames without resources, a
// policy with no rules, a missing or unknown apiVersion, a kind other than
// Policy (PolicyList included; a missing kind means Policy, as for the
// apiserver), a document that starts with '{' but is not valid JSON (the
// apiserver reads those as JSON), and values of the wrong type. Every problem is reported (up to 20), each as an
// *Error naming the file, line, rule index (0-based, as the apiserver's
// rules[N]) and field.
//
// # Differences from the apiserver
//
// These are deliberate; the differential test (differential_test.go)
// checks that decisions are otherwise identical.
//
//   - audit.k8s.io/v1beta1 and v1alpha1 are accepted with the v1 schema
//     (omitManagedFields included). Current apiservers read only v1, but
//     published policies (ACK, EKS) are still v1beta1.
//   - Unknown fields and duplicate fields are errors; the apiserver only
//     logs a warning and decodes leniently, silently ignoring them.
//   - YAML merge keys ("<<") are supported, explicit keys overriding merged
//     ones, as the YAML spec says; the apiserver's strict decoder calls such
//     an override a duplicate and falls back to lenient decoding.
//   - An unquoted YAML 1.1 boolean (yes, no, on, off, y, n, ...) where a
//     string is expected is an error that says to quote it: the apiserver's
//     YAML 1.1 parser reads it as a boolean and fails with a type error. In
//     boolean fields they are accepted, as the apiserver accepts them.
//   - A file holding more than one YAML document is an error.
//   - metadata is checked to be a mapping of ObjectMeta fields; their
//     values are not inspected.
//
// Decide works on the recorded event rather than on the live request, so
// two inputs can differ from what kube-apiserver saw when it evaluated the
// policy. The path is taken from requestURI, the escaped form of the URL
// path the apiserver matched (they differ only for percent-encoded paths).
// And at Request level and above the apiserver fills an empty
// objectRef.name and objectRef.namespace from the request body's metadata
// after evaluating the policy (k8s.io/apiserver/pkg/audit.LogRequestObject),
// so for a create a resourceNames or namespaces rule can match the recorded
// event where it did not match the live request.
package policy
