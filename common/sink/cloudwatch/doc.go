// Package cloudwatch is the Amazon CloudWatch Logs sink: a sink.Writer that
// ships shaped audit records with PutLogEvents through the AWS SDK for Go v2.
//
// # Names
//
// Config.LogGroupName and Config.LogStreamName are templates. A placeholder
// {name} (letters, digits, '_', '-', '.') is replaced by Config.Vars[name]
// when set (static values such as cluster, provider, hostname), else by the
// record's value for name (by default the sink.Record Field with that key;
// see WithLookup). Static values win so that event content cannot re-route
// records. Templates made only of static values are resolved and validated
// once, by Config.Validate; others per record, and a record whose names
// cannot be resolved or are invalid (group: 1-512 of [.-_/#A-Za-z0-9];
// stream: 1-512 characters without ':' or '*') is reported Permanent
// "bad_name". Records of one Write may go to many streams: they are grouped
// per (group, stream).
//
// # Batching
//
// Each (group, stream) group of records is sorted by timestamp (stable) and
// cut into PutLogEvents batches of at most MaxBatchEvents events and
// MaxBatchBytes bytes (message UTF-8 bytes + 26 per event), spanning less
// than 24 hours. Sequence tokens are not used (the service ignores them).
//
// # Time window
//
// The service rejects, individually, events more than 2 h in the future and
// events older than 14 days or than the group's retention. The writer checks
// this locally against its clock before sending (reasons "too_new",
// "too_old", "expired" — the latter only when Config.RetentionDays is set)
// and also honours the service's rejectedLogEventsInfo: the events before
// tooOldLogEventEndIndex are "too_old", those before expiredLogEventEndIndex
// "expired" (both indexes exclusive) and those from tooNewLogEventStartIndex
// on "too_new"; every other event of the batch is Delivered.
//
// # Outcomes and retries
//
// Every record ends Delivered, Retryable, Permanent (with a Reason) or
// Pending (never attempted because ctx ended). A PutLogEvents call is all or
// nothing apart from rejectedLogEventsInfo, so a batch's records share one
// outcome and a caller resending only the non-Delivered records never
// duplicates a delivered one. The exception is inherent to the API, which
// has no idempotency key: when a call times out or its connection drops
// after the service stored the batch, the outcome is unknown, the records
// are reported Retryable and a resend stores them twice (at-least-once).
// Throttling, 5xx answers and transport errors
// are retried with jittered exponential backoff (Config.RetryInitialInterval
// doubling to Config.RetryMaxInterval) for at most Config.MaxRetryElapsed per
// batch; the SDK's own retryer is disabled so that Stats count every retry
// and throttle once. Trouble of the destination as a whole — AccessDenied,
// authentication and signature failures, expired tokens, ResourceNotFound
// without auto-create — is not retried inside the budget (a second later it
// fails the same way): the records are Retryable with Result.Destination
// set, for the caller's own, slower retry (IAM propagation, key rotation and
// clock skew end), and with WithLogger the failure is logged at error level
// at most every LogInterval per reason and log group. Only an
// InvalidParameter answer fails the records of a call for good. Classify
// maps errors onto these classes by code and by HTTP status; the CloudWatch
// source uses it too.
//
// # Memory
//
// Write is synchronous. At most Config.Concurrency API calls are in flight
// across all Write calls, each carrying at most Config.MaxBatchBytes of
// messages, which bounds request memory; the per-Write planning state is
// proportional to the records passed in.
package cloudwatch
