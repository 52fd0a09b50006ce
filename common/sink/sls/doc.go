// Package sls delivers audit records to an Alibaba Cloud Simple Log Service
// (SLS) logstore with github.com/aliyun/aliyun-log-go-sdk, implementing the
// sink.Writer delivery contract.
//
// # Layout
//
// Each record becomes one SLS log. When Record.Fields is set, its pairs are
// the log contents in order (the ACK-compatible layout built by the
// enricher). Otherwise each top-level key of Record.Body (a JSON object) is
// a log key: string values unquoted, objects, arrays, numbers and booleans
// as their compact JSON text, null as "" (as in the shape package's SLS
// layout). Record.Time gives the log time in
// seconds plus Log.TimeNs nanoseconds; a zero time means "now". Invalid
// UTF-8 in keys or values is replaced with U+FFFD, as encoding/json does. Topic,
// Source and LogTags are set on every LogGroup; HashKey optionally routes
// writes to a shard (fixed, or a ${field} template hashed per record).
//
// # Limits
//
// The writer splits each Write into LogGroups of at most MaxBatchLogs logs
// (≤ MaxLogsPerGroup, 4096) and MaxBatchBytes serialized bytes
// (≤ MaxLogGroupBytes, 5 MiB) and sends them LZ4-compressed. Records that
// can never be stored are rejected before sending with a Permanent result:
// values over MaxValueBytes or logs over MaxBatchBytes ("too_large"), keys
// that are empty, longer than MaxKeyBytes or reserved ("invalid_key"),
// bodies that are not JSON objects ("invalid_body"), records without fields
// ("empty") and times outside 1970..2106 ("invalid_time"). If the service
// still refuses a batch as a whole (PostBodyTooLarge, PostBodyInvalid,
// InvalidKey, ...), the writer halves it until the offending records are
// isolated, so one bad record does not fail its neighbours.
//
// # Retries and outcomes
//
// The SDK's client is used synchronously; its internal retry loop (which
// retries 500/502/503 for up to 90s regardless of the caller's context) is
// bypassed, and the writer retries throttling (WriteQuotaExceed,
// ShardWriteQuotaExceed, 429), 5xx and network errors itself, with jittered
// exponential backoff bounded by RetryMaxElapsed and the Write context.
// Trouble of the destination as a whole — Unauthorized, SignatureNotMatch,
// InvalidAccessKeyId, 401/403, expired or unobtainable credentials, clock
// skew, a missing project or logstore, and any answer this package does not
// know — is not retried inside the budget: the records are Retryable with
// Result.Destination set, for the caller's own retry, and reported (see
// WithLogger) at error level at most every LogInterval per reason; it never
// fails a record for good. Classify maps answers onto these classes by code
// and by HTTP status; the SLS source uses it too. Every record ends with
// exactly one result: Delivered, Retryable (transient failure outlasting
// the budget, destination trouble, or in flight when the context ended),
// Permanent (the record itself refused, with a Reason), or Pending (never
// attempted). The SDK's producer is not used: it drops batches that
// fail during shutdown. Close waits for Write calls in progress and, if
// its context ends first, cancels them so their records are handed back
// as Retryable or Pending rather than lost.
//
// # Credentials
//
// Static AccessKey pairs (optionally with an STS SecurityToken) from the
// configuration, else RRSA — AssumeRoleWithOIDC through
// github.com/aliyun/credentials-go with the role ARN, OIDC provider ARN
// and token file from the configuration or ALIBABA_CLOUD_ROLE_ARN,
// ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE — else
// ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and
// ALIBABA_CLOUD_SECURITY_TOKEN. Secrets never appear in errors or results;
// known secrets are scrubbed from any text the service or the network
// returns.
//
// # Testing
//
// Package slstest is a strict local SLS that verifies what the SDK sends
// (signature, headers, LZ4, protobuf) and injects faults; the testserver
// command runs it standalone.
package sls
