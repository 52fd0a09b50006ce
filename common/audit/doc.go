// Package audit decodes Kubernetes apiserver audit events (audit.k8s.io/v1,
// v1beta1, v1alpha1 and events without apiVersion) from JSON lines, EventList
// webhook batches and JSON arrays into a lazy view: the fields the policy and
// the enricher need, plus the byte positions of every recorded member so
// later steps copy untouched bytes instead of re-encoding them. Cloud
// providers' record formats (AKS diagnostic records, GKE Cloud Audit Log
// entries) are unwrapped into the Events they carry (see common/provider).
//
// # Decoding
//
// Parse makes one validating pass over an event: every byte is checked as
// JSON, strings are checked for escapes, control characters and UTF-8,
// and the fields the policy decision needs (stage, verb, user, objectRef,
// requestURI) and a few more (level, auditID, timestamps, response code) are
// extracted. requestObject and responseObject are validated and located but
// never materialised. The extracted strings are built with one allocation
// per event and are ordinary immutable strings; the Event itself, Raw and
// the Groups slice are reused by a Decoder.
//
// Bad input is a *DecodeError naming the cause (ErrSyntax, ErrUTF8,
// ErrNotObject, ErrType, ErrKind, ErrAPIVersion, ErrTooLarge, ErrProvider),
// the field, the line and the byte offset; a Decoder then resumes at the
// next line that starts a value, so a truncated line costs one event.
//
// # Why a scanner of our own
//
// The JSON approach was chosen by benchmark: BenchmarkParse extracts the
// decision fields from every event of the bundled sample
// (examples/data/sample-audit.log, 4,088 events, 1.8 KB mean) with each
// contender. Median of three runs on 2 idle cores
// (go test -run '^$' -bench BenchmarkParse -benchmem -count 3 ./common/audit):
//
//	approach                        CPU/event  MB/s   allocs  validates
//	auditlane (this package)          1.23 µs  1522        1  all of it, UTF-8 in strings
//	valyala/fastjson (Parser reuse)   2.52 µs   733        8  all of it, builds a tree of every value
//	buger/jsonparser (EachKey)        2.78 µs   664        8  only what it reads
//	encoding/json (decision fields)  14.22 µs   130       29  all of it
//
// fastjson is the fastest library but materialises every value of the
// request and response bodies into its tree, and jsonparser skips
// validation; the scanner here validates everything, touches bodies only to
// skip them, and needs no allocation beyond the strings it returns. Its hot
// loops test eight bytes at a time for a quote, a backslash, a control byte
// or a non-ASCII byte (specialMask), keep container kinds in a shift
// register, look for whitespace only where compact JSON has none, and
// compare the top-level key the apiserver writes next as four words
// before falling back to a key scan.
package audit
