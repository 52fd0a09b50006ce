// Package provider turns managed-Kubernetes audit records that arrive in a
// cloud provider's log format into audit.k8s.io/v1 Event JSON, so the rest
// of auditlane sees one format. The decoder (common/audit) calls Detect for
// a top-level object that is not an audit Event, Records to split an Azure
// batch, and Unwrap for each record; this package does not import
// common/audit.
//
// Every annotation Unwrap adds starts with Prefix ("auditlane.io/", the
// enricher's prefix); annotations or labels under that prefix already in the
// source are dropped so a record cannot forge them.
//
// # AKS (Azure Monitor resource logs)
//
// AKS control-plane logs leave through a diagnostic setting as Azure Monitor
// resource logs in the top-level common schema (time, resourceId, category,
// operationName, properties), one JSON object per line in storage append
// blobs or wrapped as {"records":[...]} for Event Hubs and storage
// (https://learn.microsoft.com/azure/azure-monitor/platform/resource-logs-schema).
// The audit categories are kube-audit (every audit event) and
// kube-audit-admin (the same without get and list); in both,
// properties.log holds the apiserver's audit Event as a JSON string,
// properties.stream is "stdout" and properties.pod names the apiserver pod
// (https://learn.microsoft.com/azure/aks/monitor-aks-reference, tables
// AKSAudit and AKSAuditAdmin:
// https://learn.microsoft.com/azure/azure-monitor/reference/tables/aksaudit).
//
// Unwrap returns that Event byte for byte except its annotations object,
// which is rewritten with the AKS metadata first:
//
//	record field       Event
//	properties.log     the Event (a JSON string holding it, or the object itself)
//	category           annotations[auditlane.io/aks-category]; other categories
//	                   (kube-apiserver, guard, ...) are rejected
//	resourceId         annotations[auditlane.io/aks-resource-id]
//	properties.pod     annotations[auditlane.io/aks-pod]
//	time               annotations[auditlane.io/aks-time]
//	(always)           annotations[auditlane.io/provider] = "aks"
//
// Nothing of the Event is lost. operationName (always
// Microsoft.ContainerService/managedClusters/diagnosticLogs/Read) and
// properties.stream are not kept. Log Analytics exports (the AKSAudit table
// with columns such as RequestUri and ObjectRef) are a different shape and
// are not handled here.
//
// # GKE (Cloud Audit Logs)
//
// GKE writes Kubernetes API audit events to Cloud Logging as LogEntry
// objects (https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry)
// whose protoPayload is a google.cloud.audit.AuditLog
// (https://cloud.google.com/logging/docs/reference/audit/auditlog/rest/Shared.Types/AuditLog),
// in the logs cloudaudit.googleapis.com%2Factivity (writes) and
// %2Fdata_access (reads), resource type k8s_cluster
// (https://cloud.google.com/kubernetes-engine/docs/how-to/audit-logging).
// Unwrap rebuilds an Event:
//
//	Event field                LogEntry source
//	kind, apiVersion           "Event", "audit.k8s.io/v1"
//	level                      inferred: RequestResponse with protoPayload.response,
//	                           Request with protoPayload.request, else Metadata
//	auditID                    operation.id, else insertId
//	stage                      ResponseStarted when operation.first and not
//	                           operation.last (start of a long-running watch),
//	                           else ResponseComplete
//	requestURI                 rebuilt from resourceName: /api/v1/... for the
//	                           core group, /apis/GROUP/VERSION/... otherwise; a
//	                           create without subresource targets the collection;
//	                           non-resource requests use "/" + resourceName
//	verb                       last segment of methodName
//	                           (io.k8s.core.v1.pods.exec.create → create)
//	user.username              protoPayload.authenticationInfo.principalEmail
//	sourceIPs                  [protoPayload.requestMetadata.callerIp] when it is an
//	                           IP address; otherwise ("gce-internal-ip", "private")
//	                           annotations[auditlane.io/gcp-caller-ip]
//	userAgent                  protoPayload.requestMetadata.callerSuppliedUserAgent
//	objectRef                  from resourceName GROUP/VERSION/[namespaces/NS/]
//	                           RESOURCE[/NAME[/SUBRESOURCE]] ("core" = ""), with the
//	                           apiserver's RequestInfo rules (namespaces/NS is the
//	                           namespace object itself; status and finalize are its
//	                           subresources); without resourceName, group
//	                           (reverse domain: io.k8s.authorization.rbac →
//	                           rbac.authorization.k8s.io), version, resource and
//	                           subresource come from methodName
//	responseStatus.code        google.rpc code → HTTP: 0 → 200 (201 for create, 101
//	                           for exec/attach/portforward), 1 → 499, 2 → 500,
//	                           3 → 400, 4 → 504, 5 → 404, 6 → 409, 7 → 403,
//	                           8 → 429, 9 → 400, 10 → 409, 11 → 400, 12 → 501,
//	                           13 → 500, 14 → 503, 15 → 500, 16 → 401
//	responseStatus.status,     "Failure", protoPayload.status.message and the
//	  .message, .reason        matching metav1 StatusReason, for non-zero codes
//	requestObject              protoPayload.request without its "@type" member,
//	                           other members copied byte for byte
//	responseObject             protoPayload.response, likewise
//	requestReceivedTimestamp,  timestamp (else receiveTimestamp)
//	  stageTimestamp
//	annotations                labels (authorization.k8s.io/decision and /reason,
//	                           ...) copied; authorization.k8s.io/decision derived
//	                           from authorizationInfo[].granted when the labels
//	                           lack it; plus auditlane.io/provider = "gke",
//	                           auditlane.io/reconstructed (the fields rebuilt),
//	                           gcp-project (resource.labels.project_id, else from
//	                           logName), gcp-location, gcp-cluster, gcp-log-name,
//	                           gcp-insert-id, gcp-receive-timestamp, gcp-severity,
//	                           gcp-operation-producer, and gcp-delegation
//	                           (authenticationInfo.serviceAccountDelegationInfo
//	                           as a JSON string)
//
// What cannot be recovered from a LogEntry: user.groups, user.uid and
// user.extra (not exported); impersonatedUser (only partly visible through
// serviceAccountDelegationInfo, kept as an annotation); the exact
// requestURI with its query string (watch=true, dryRun, fieldManager, exec
// command) and a proxy subresource's path; the audit level the policy
// chose (inferred from which bodies are present); latency
// (requestReceivedTimestamp equals stageTimestamp); the exact HTTP code
// where several map to one google.rpc code (422 Invalid arrives as 3 → 400;
// 410 Gone, 405 are not distinguishable); objectRef.uid and
// resourceVersion; responseStatus.details; the RequestReceived stage.
// Records whose methodName is not a Kubernetes API call (GKE's own API,
// google.container.v1.*) or whose serviceName is not k8s.io are rejected.
//
// # Errors
//
// Unwrap validates its input (JSON syntax and UTF-8) before reading it, so
// its output is always valid JSON; every failure is an *Error naming the
// offending field of the provider record and one sentinel (ErrSyntax,
// ErrMissing, ErrType, ErrValue, ErrNotEvent, ErrNotProvider). Error
// messages quote metadata only (categories, method names, kinds), never
// request or response bodies or the text of properties.log.
package provider
