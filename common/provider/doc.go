// Package provider turns managed-Kubernetes audit records that arrive in a
// cloud provider's log format into audit.k8s.io/v1 Event JSON, so the rest
// of auditlane sees one format. The decoder (common/audit) calls Detect for
// a top-level object that is not an audit Event, Records to split an Azure
// batch, and Unwrap for each record; this package does not import
// common/audit. The decoder's splitter hands every top-level object that
// is not an audit Event to Convert, which recognises each format below by
// its content (no flag) and returns one Unit per record: the Event, or why
// the record is not one (ErrNotAudit: another log category or service,
// counted as skipped; ErrTruncated: cut by the transport). Export-task
// lines go through ExportLine; YAML, gzip and concatenated JSON are turned
// into JSON values by the splitter first.
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
//	                           13 → 500, 14 → 503, 15 → 500, 16 → 401; refined
//	                           by the message (see Status codes and reasons)
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
// where several map to one google.rpc code and the message does not tell
// them apart; objectRef.uid and
// resourceVersion; responseStatus.details; the RequestReceived stage.
// Records whose methodName is not a Kubernetes API call (GKE's own API,
// google.container.v1.*) or whose serviceName is not k8s.io are rejected.
//
// # Export wrappers
//
// Every converted Event gets annotations[auditlane.io/format] naming its
// wrapper and, where the wrapper names it, auditlane.io/provider; the
// decoder also reports the cluster (Origin), which enrichment uses as
// cluster name and id when they are not configured. Wrapper metadata
// replaces any auditlane.io/* annotation the Event carried.
//
//	format                   recognised by                    recovered / lost
//	cloudwatch-subscription  messageType, logEvents           each logEvents[].message (the Event, byte for
//	                         (Kinesis, Firehose records)      byte but its annotations); owner → aws-account-id,
//	                                                          logGroup, logStream, id → aws-event-id, timestamp
//	                                                          (ms) → aws-timestamp; /aws/eks/NAME/cluster →
//	                                                          provider eks, cluster NAME. subscriptionFilters
//	                                                          is not kept. A CONTROL_MESSAGE and messages that
//	                                                          are not JSON audit Events (klog text of the other
//	                                                          EKS streams) are not_audit.
//	  (Lambda)               awslogs.data                     base64 of gzip of the above
//	  (Firehose → S3)        {...}{...}, gzip members         split into values, each as above
//	cloudwatch-events        events: [...]                    aws logs filter-log-events / get-log-events:
//	                                                          logStreamName, eventId, timestamp, ingestionTime;
//	                                                          no log group or account in the output (provider
//	                                                          eks from a kube-apiserver-audit-* stream name)
//	cloudwatch-insights      @message                         @log "ACCOUNT:GROUP", @logStream, @timestamp;
//	                                                          rows without @message are rejected
//	cloudwatch-export        "<RFC 3339 time> {...}" lines    the time → aws-timestamp; group and stream are
//	                                                          only in the S3 key, not in the line
//	  (any of them)          message ending [Truncated...]    rejected with reason truncated, the auditID read
//	                                                          from the cut text in the error (as pull does)
//	gke-log-entry            protoPayload                     see GKE above; also without protoPayload.@type
//	                                                          when serviceName is k8s.io or methodName io.k8s.*;
//	                                                          serviceName other than k8s.io (container.googleapis
//	                                                          .com) and google.* methods are not_audit
//	  (gcloud YAML)          "key:" / "---" / "#" at column 0 YAML documents → JSON (key order kept); gcloud's
//	                                                          --format=json is a JSON array, split as one
//	gke-pubsub               message.data + subscription,     base64 data holding a LogEntry: messageId →
//	                         ackId + message, receivedMessages gcp-pubsub-message-id, push subscription →
//	                                                          gcp-pubsub-subscription; attributes and
//	                                                          publishTime are not kept; a LogEntry without an
//	                                                          AuditLog payload is not_audit
//	gke-bigquery             protopayload_auditlog            rebuilt as a LogEntry: requestJson/responseJson
//	                                                          parsed back into request/response, timestamps
//	                                                          ("2024-05-14 10:02:11.402318 UTC", epoch seconds)
//	                                                          → RFC 3339, "6"/"true" strings → numbers/booleans.
//	                                                          Label keys were sanitised by BigQuery: those the
//	                                                          apiserver writes (authorization.k8s.io/decision
//	                                                          and /reason, pod-security.kubernetes.io/*, ...)
//	                                                          are restored, others keep the sanitised key
//	aks-resource-log         properties / category / records  see AKS above; an Event Hub or storage batch may
//	                                                          mix categories: kube-apiserver, guard,
//	                                                          cluster-autoscaler, ... records are not_audit;
//	                                                          properties.log may be the Event object itself
//	azure-diagnostics        log_s or Type AzureDiagnostics   Log Analytics AzureDiagnostics rows: log_s is the
//	                                                          Event; Category, ResourceId, TimeGenerated, pod_s
//	                                                          as for a resource log; aks-table AzureDiagnostics
//	aks-audit-table          AuditId / RequestUri or Type     Log Analytics AKSAudit / AKSAuditAdmin rows,
//	                         AKSAudit, AKSAuditAdmin          rebuilt: Level, AuditId, Stage, RequestUri, Verb,
//	                                                          User, SourceIps, UserAgent, ObjectRef,
//	                                                          ResponseStatus, RequestObject, ResponseObject,
//	                                                          RequestReceivedTime, StageReceivedTime,
//	                                                          Annotations (dynamic columns as objects or JSON
//	                                                          text). Lost: apiVersion (written as
//	                                                          audit.k8s.io/v1), impersonatedUser (no column),
//	                                                          member order; bodies Log Analytics replaced by
//	                                                          "skipped-too-big-size-object" are left out and
//	                                                          named in aks-skipped-objects
//
// # Status codes and reasons
//
// GKE's google.rpc codes are mapped to HTTP as in google/rpc/code.proto and
// the reason is the one k8s.io/apimachinery/pkg/api/errors gives that HTTP
// status. Where GKE folds several apiserver answers into one code, the
// apiserver's own message tells them apart (TestRPCReasonsMatchAPIMachinery
// checks each against the apiserver's constructors): "... already exists"
// → 409 AlreadyExists, "Operation cannot be fulfilled on ..." → 409
// Conflict, "... is invalid: ..." → 422 Invalid, "too old resource
// version" → 410 Expired, "... is not supported on resources of kind ..."
// → 405 MethodNotAllowed, "Request entity too large: ..." → 413, "... could
// not be completed at this time, please try again." → 500 ServerTimeout.
//
// # Errors
//
// Unwrap validates its input (JSON syntax and UTF-8) before reading it, so
// its output is always valid JSON; every failure is an *Error naming the
// offending field of the provider record and one sentinel (ErrSyntax,
// ErrMissing, ErrType, ErrValue, ErrNotEvent, ErrNotProvider, ErrNotAudit,
// ErrTruncated). Error
// messages quote metadata only (categories, method names, kinds), never
// request or response bodies or the text of properties.log.
package provider
