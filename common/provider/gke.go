package provider

import (
	"net/netip"
	"strconv"
	"strings"
)

// AuditLogType is the protoPayload @type of Cloud Audit Logs.
const AuditLogType = "type.googleapis.com/google.cloud.audit.AuditLog"

// gkeRecord holds the raw values of one LogEntry that Unwrap uses.
type gkeRecord struct {
	insertID, logName, timestamp, receiveTimestamp, severity []byte
	labels, opID, opProducer                                 []byte
	opFirst, opLast                                          bool
	project, location, cluster                               []byte

	typ, methodName, resourceName, serviceName []byte
	principal, delegation                      []byte
	callerIP, userAgent                        []byte
	statusCode, statusMessage                  []byte
	request, response, authzInfo               []byte
}

// field reads the member values of the object v into the named slots;
// each must be a string (or null) unless listed in objs.
type slot struct {
	name string
	dst  *[]byte
	want byte // '"', '{', '[', 'b' (boolean), '0' (number)
}

func readObject(path string, v []byte, slots []slot) error { return readSlots(GKE, path, v, slots) }

// readSlots is readObject for records of kind k.
func readSlots(k Kind, path string, v []byte, slots []slot) error {
	if isNull(v) {
		return nil
	}
	if v[0] != '{' {
		return typeErr(k, path, "object", v)
	}
	it, _ := newObjIter(v, 0)
	for {
		key, _, vs, ve, ok := it.next()
		if !ok {
			return nil
		}
		for _, s := range slots {
			if !keyIs(key, s.name) {
				continue
			}
			val := v[vs:ve]
			if !isNull(val) {
				if err := checkType(k, path, s.name, val, s.want); err != nil {
					return err
				}
				*s.dst = val
			}
			break
		}
	}
}

// checkType checks that v has the JSON type want; the field path is built
// only for the error.
func checkType(k Kind, path, name string, v []byte, want byte) error {
	var typ string
	switch want {
	case 0:
		return nil
	case '"':
		if v[0] == '"' {
			return nil
		}
		typ = "string"
	case '{':
		if v[0] == '{' {
			return nil
		}
		typ = "object"
	case '[':
		if v[0] == '[' {
			return nil
		}
		typ = "array"
	case 'b':
		if v[0] == 't' || v[0] == 'f' {
			return nil
		}
		typ = "boolean"
	case '0':
		if v[0] == '-' || v[0] >= '0' && v[0] <= '9' {
			return nil
		}
		typ = "number"
	}
	f := name
	if path != "" {
		f = path + "." + name
	}
	return typeErr(k, f, typ, v)
}

// str returns the text of a raw JSON string value, unescaped into buf when
// it has escapes.
func str(v []byte, buf []byte) []byte {
	if isNull(v) {
		return nil
	}
	c := v[1 : len(v)-1]
	for _, ch := range c {
		if ch == '\\' {
			return unescape(buf[:0], c)
		}
	}
	return c
}

func (r *gkeRecord) read(obj []byte) error {
	var protoPayload, operation, resource, first, last []byte
	if err := readObject("", obj, []slot{
		{"insertId", &r.insertID, '"'}, {"logName", &r.logName, '"'},
		{"timestamp", &r.timestamp, '"'}, {"receiveTimestamp", &r.receiveTimestamp, '"'},
		{"severity", &r.severity, '"'}, {"labels", &r.labels, '{'},
		{"operation", &operation, '{'}, {"resource", &resource, '{'},
		{"protoPayload", &protoPayload, '{'},
	}); err != nil {
		return err
	}
	if err := readObject("operation", operation, []slot{
		{"id", &r.opID, '"'}, {"producer", &r.opProducer, '"'},
		{"first", &first, 'b'}, {"last", &last, 'b'},
	}); err != nil {
		return err
	}
	r.opFirst, r.opLast = string(first) == "true", string(last) == "true"
	var resLabels []byte
	if err := readObject("resource", resource, []slot{{"labels", &resLabels, '{'}}); err != nil {
		return err
	}
	if err := readObject("resource.labels", resLabels, []slot{
		{"project_id", &r.project, '"'}, {"location", &r.location, '"'}, {"cluster_name", &r.cluster, '"'},
	}); err != nil {
		return err
	}
	if isNull(protoPayload) {
		return fail(GKE, "protoPayload", ErrMissing, "")
	}
	var authn, reqMeta, status []byte
	if err := readObject("protoPayload", protoPayload, []slot{
		{"@type", &r.typ, '"'}, {"methodName", &r.methodName, '"'},
		{"resourceName", &r.resourceName, '"'}, {"serviceName", &r.serviceName, '"'},
		{"authenticationInfo", &authn, '{'}, {"authorizationInfo", &r.authzInfo, '['},
		{"requestMetadata", &reqMeta, '{'}, {"status", &status, '{'},
		{"request", &r.request, '{'}, {"response", &r.response, '{'},
	}); err != nil {
		return err
	}
	if err := readObject("protoPayload.authenticationInfo", authn, []slot{
		{"principalEmail", &r.principal, '"'}, {"serviceAccountDelegationInfo", &r.delegation, '['},
	}); err != nil {
		return err
	}
	if err := readObject("protoPayload.requestMetadata", reqMeta, []slot{
		{"callerIp", &r.callerIP, '"'}, {"callerSuppliedUserAgent", &r.userAgent, '"'},
	}); err != nil {
		return err
	}
	return readObject("protoPayload.status", status, []slot{
		{"code", &r.statusCode, '0'}, {"message", &r.statusMessage, '"'},
	})
}

// apiRef is the Kubernetes request a methodName and resourceName describe.
type apiRef struct {
	verb                                   string
	group, version, resource, subresource  string
	namespace, name                        string
	resourceRequest, groupFromResourceName bool
	path                                   string // non-resource path
}

// parseMethod reads "io.k8s.core.v1.pods.exec.create": reverse-domain
// group, version, resource, optional subresource, verb.
func parseMethod(m string) (apiRef, bool) {
	var ref apiRef
	if strings.HasPrefix(m, "google.") {
		return ref, false
	}
	segs := strings.Split(m, ".")
	ref.verb = segs[len(segs)-1]
	if !isLowerWord(ref.verb) || len(segs) < 3 {
		return ref, false
	}
	vi := -1
	for i := 1; i < len(segs)-1; i++ {
		if isVersion(segs[i]) {
			vi = i
			break
		}
	}
	if vi < 0 {
		// Non-resource request ("io.k8s.get"): only the verb is known.
		return ref, strings.HasPrefix(m, "io.k8s.")
	}
	rest := segs[vi+1 : len(segs)-1]
	if len(rest) == 0 || len(rest) > 2 {
		return ref, false
	}
	for _, s := range rest {
		if !isLowerWord(s) {
			return ref, false
		}
	}
	ref.resourceRequest = true
	ref.version = segs[vi]
	ref.resource = rest[0]
	if len(rest) == 2 {
		ref.subresource = rest[1]
	}
	ref.group = groupFromMethod(segs[:vi])
	return ref, true
}

// legacyGroups are API groups whose names carry no ".k8s.io" suffix.
var legacyGroups = map[string]bool{"apps": true, "batch": true, "autoscaling": true, "policy": true, "extensions": true}

// groupFromMethod turns reverse-domain segments into an API group:
// io.k8s.core → "", io.k8s.apps → apps, io.k8s.authorization.rbac →
// rbac.authorization.k8s.io, io.cert-manager → cert-manager.io.
func groupFromMethod(segs []string) string {
	if len(segs) >= 2 && segs[0] == "io" && segs[1] == "k8s" {
		rest := segs[2:]
		switch {
		case len(rest) == 1 && rest[0] == "core":
			return ""
		case len(rest) == 1 && legacyGroups[rest[0]]:
			return rest[0]
		}
	}
	var b strings.Builder
	for i := len(segs) - 1; i >= 0; i-- {
		b.WriteString(segs[i])
		if i > 0 {
			b.WriteByte('.')
		}
	}
	return b.String()
}

// applyResourceName refines ref from "core/v1/namespaces/default/pods/nginx"
// (group "core" is the legacy core group), following the apiserver's
// RequestInfo rules.
func (ref *apiRef) applyResourceName(rn string) bool {
	parts := strings.Split(strings.Trim(rn, "/"), "/")
	if len(parts) < 3 || !isVersion(parts[1]) {
		return false
	}
	group := parts[0]
	if group == "core" {
		group = ""
	}
	p := parts[2:]
	ns := ""
	if p[0] == "namespaces" && len(p) >= 2 {
		ns = p[1]
		if len(p) > 2 && p[2] != "status" && p[2] != "finalize" {
			p = p[2:]
		}
	}
	for _, s := range p {
		if s == "" {
			return false
		}
	}
	ref.group, ref.version, ref.namespace = group, parts[1], ns
	ref.groupFromResourceName = true
	ref.resource = p[0]
	ref.name, ref.subresource = "", ""
	if len(p) >= 2 {
		ref.name = p[1]
	}
	if len(p) >= 3 {
		ref.subresource = p[2] // as RequestInfo: proxy paths keep only "proxy"
	}
	return true
}

// requestURI rebuilds the request path (without query string).
func (ref *apiRef) requestURI(dst []byte) []byte {
	if ref.group == "" {
		dst = append(dst, "/api/"...)
	} else {
		dst = append(dst, "/apis/"...)
		dst = append(dst, ref.group...)
		dst = append(dst, '/')
	}
	dst = append(dst, ref.version...)
	if ref.namespace != "" && !(ref.resource == "namespaces" && ref.name == ref.namespace) {
		dst = append(dst, "/namespaces/"...)
		dst = append(dst, ref.namespace...)
	}
	dst = append(dst, '/')
	dst = append(dst, ref.resource...)
	// A create is a POST to the collection, unless it targets a subresource.
	if ref.name != "" && (ref.verb != "create" || ref.subresource != "") {
		dst = append(dst, '/')
		dst = append(dst, ref.name...)
		if ref.subresource != "" {
			dst = append(dst, '/')
			dst = append(dst, ref.subresource...)
		}
	}
	return dst
}

func isVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' || s[1] < '1' || s[1] > '9' {
		return false
	}
	i := 2
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == len(s) {
		return true
	}
	for _, q := range [...]string{"alpha", "beta"} {
		if strings.HasPrefix(s[i:], q) {
			j := i + len(q)
			if j == len(s) {
				return false
			}
			for ; j < len(s); j++ {
				if s[j] < '0' || s[j] > '9' {
					return false
				}
			}
			return true
		}
	}
	return false
}

func isLowerWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// rpcStatus maps a google.rpc.Code to the HTTP status and Kubernetes
// StatusReason the apiserver would have returned (the google.rpc mapping in
// google/rpc/code.proto; reasons from metav1.StatusReason).
var rpcStatus = [17]struct {
	code   int
	reason string
}{
	0:  {200, ""},
	1:  {499, ""},                // CANCELLED
	2:  {500, ""},                // UNKNOWN
	3:  {400, "BadRequest"},      // INVALID_ARGUMENT
	4:  {504, "Timeout"},         // DEADLINE_EXCEEDED
	5:  {404, "NotFound"},        // NOT_FOUND
	6:  {409, "AlreadyExists"},   // ALREADY_EXISTS
	7:  {403, "Forbidden"},       // PERMISSION_DENIED
	8:  {429, "TooManyRequests"}, // RESOURCE_EXHAUSTED
	9:  {400, "BadRequest"},      // FAILED_PRECONDITION
	10: {409, "Conflict"},        // ABORTED: the apiserver's Conflict
	//                                  (the message tells AlreadyExists apart)
	11: {400, "BadRequest"},         // OUT_OF_RANGE
	12: {501, ""},                   // UNIMPLEMENTED
	13: {500, "InternalError"},      // INTERNAL
	14: {503, "ServiceUnavailable"}, // UNAVAILABLE
	15: {500, "InternalError"},      // DATA_LOSS
	16: {401, "Unauthorized"},       // UNAUTHENTICATED
}

// unwrapGKE converts the LogEntry obj; extra annotations (from an
// enclosing wrapper) are written after the LogEntry's own.
// rpcHTTP returns the HTTP status and metav1 StatusReason for a
// google.rpc code and the status message. GKE folds several apiserver
// answers into one code (409 AlreadyExists and Conflict into ALREADY_EXISTS
// or ABORTED, 422 Invalid into INVALID_ARGUMENT, ...): the message, which
// the apiserver words per reason (k8s.io/apimachinery/pkg/api/errors),
// tells them apart.
func rpcHTTP(rpc int, msg []byte) (int, string) {
	code, reason := rpcStatus[rpc].code, rpcStatus[rpc].reason
	m := string(msg)
	switch code {
	case 409:
		switch {
		case strings.HasPrefix(m, "Operation cannot be fulfilled on "):
			return 409, "Conflict"
		case strings.Contains(m, " already exists"):
			return 409, "AlreadyExists"
		}
	case 400:
		switch {
		case strings.Contains(m, " is invalid: ") || strings.HasSuffix(m, " is invalid"):
			return 422, "Invalid"
		case strings.Contains(m, "too old resource version"):
			return 410, "Expired"
		case strings.Contains(m, " is not supported on resources of kind "):
			return 405, "MethodNotAllowed"
		case strings.HasPrefix(m, "Request entity too large: "):
			return 413, "RequestEntityTooLarge"
		}
	case 500:
		switch {
		case strings.HasSuffix(m, "could not be completed at this time, please try again."):
			return 500, "ServerTimeout"
		case rpc == 2 && strings.HasPrefix(m, "Internal error occurred: "):
			return 500, "InternalError"
		}
	}
	return code, reason
}

func unwrapGKE(dst, obj []byte, origin *Origin, extra []annotation) ([]byte, error) {
	var r gkeRecord
	if err := r.read(obj); err != nil {
		return dst, err
	}
	var buf [256]byte
	setGKEOrigin(origin, &r)
	if !isNull(r.typ) {
		if t := str(r.typ, buf[:]); string(t) != AuditLogType {
			return dst, fail(GKE, "protoPayload.@type", ErrNotAudit, quoteShort(t)+" is not "+AuditLogType)
		}
	}
	if !isNull(r.serviceName) {
		if s := str(r.serviceName, buf[:]); string(s) != "k8s.io" {
			return dst, fail(GKE, "protoPayload.serviceName", ErrNotAudit, quoteShort(s)+" is not k8s.io")
		}
	}
	if isNull(r.methodName) {
		return dst, fail(GKE, "protoPayload.methodName", ErrMissing, "")
	}
	method := string(str(r.methodName, buf[:]))
	if isNull(r.typ) && isNull(r.serviceName) && !strings.HasPrefix(method, "io.k8s.") {
		// Without @type and serviceName only a Kubernetes method name says
		// the payload is a Kubernetes AuditLog.
		return dst, fail(GKE, "protoPayload.@type", ErrMissing, "and no serviceName k8s.io or io.k8s. method")
	}
	ref, ok := parseMethod(method)
	if !ok {
		if strings.HasPrefix(method, "google.") {
			return dst, fail(GKE, "protoPayload.methodName", ErrNotAudit, quoteShort([]byte(method))+" is not a Kubernetes API method")
		}
		return dst, fail(GKE, "protoPayload.methodName", ErrValue, quoteShort([]byte(method))+" is not a Kubernetes API method")
	}
	if !isNull(r.resourceName) {
		rn := string(str(r.resourceName, buf[:]))
		if ref.resourceRequest {
			if !ref.applyResourceName(rn) {
				return dst, fail(GKE, "protoPayload.resourceName", ErrValue, quoteShort([]byte(rn))+" is not group/version/[namespaces/NS/]resource[/name[/subresource]]")
			}
		} else {
			ref.path = "/" + strings.TrimPrefix(rn, "/")
		}
	}
	auditID := r.opID
	if isNull(auditID) {
		auditID = r.insertID
	}
	if isNull(auditID) {
		return dst, fail(GKE, "insertId", ErrMissing, "no operation.id either")
	}
	ts := r.timestamp
	if isNull(ts) {
		ts = r.receiveTimestamp
	}
	if isNull(ts) {
		return dst, fail(GKE, "timestamp", ErrMissing, "no receiveTimestamp either")
	}
	rpc := 0
	if !isNull(r.statusCode) {
		n, err := strconv.Atoi(string(r.statusCode))
		if err != nil || n < 0 || n >= len(rpcStatus) {
			return dst, fail(GKE, "protoPayload.status.code", ErrValue, "not a google.rpc code (0-16)")
		}
		rpc = n
	}
	var msgBuf [512]byte
	httpCode, reason := rpcHTTP(rpc, str(r.statusMessage, msgBuf[:]))
	if rpc == 0 {
		switch {
		case ref.subresource == "exec" || ref.subresource == "attach" || ref.subresource == "portforward":
			httpCode = 101
		case ref.verb == "create" && ref.subresource == "":
			httpCode = 201
		}
	}

	level := `"Metadata"`
	switch {
	case !isNull(r.response):
		level = `"RequestResponse"`
	case !isNull(r.request):
		level = `"Request"`
	}
	stage := `"ResponseComplete"`
	if r.opFirst && !r.opLast {
		stage = `"ResponseStarted"`
	}

	dst = append(dst, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":`...)
	dst = append(dst, level...)
	dst = append(dst, `,"auditID":`...)
	dst = append(dst, auditID...)
	dst = append(dst, `,"stage":`...)
	dst = append(dst, stage...)
	dst = append(dst, `,"requestURI":`...)
	switch {
	case ref.resourceRequest:
		uri := ref.requestURI(buf[:0])
		dst = appendQuote(dst, uri)
	case ref.path != "":
		dst = appendQuote(dst, ref.path)
	default:
		dst = append(dst, `"/"`...)
	}
	dst = append(dst, `,"verb":`...)
	dst = appendQuote(dst, ref.verb)
	dst = append(dst, `,"user":{`...)
	if !isNull(r.principal) {
		dst = append(dst, `"username":`...)
		dst = append(dst, r.principal...)
	}
	dst = append(dst, '}')
	var nonIP []byte
	if !isNull(r.callerIP) {
		ip := str(r.callerIP, buf[:])
		if _, err := netip.ParseAddr(string(ip)); err == nil {
			dst = append(dst, `,"sourceIPs":[`...)
			dst = append(dst, r.callerIP...)
			dst = append(dst, ']')
		} else {
			nonIP = r.callerIP
		}
	}
	if !isNull(r.userAgent) {
		dst = append(dst, `,"userAgent":`...)
		dst = append(dst, r.userAgent...)
	}
	if ref.resourceRequest {
		dst = append(dst, `,"objectRef":{"resource":`...)
		dst = appendQuote(dst, ref.resource)
		if ref.namespace != "" {
			dst = append(dst, `,"namespace":`...)
			dst = appendQuote(dst, ref.namespace)
		}
		if ref.name != "" {
			dst = append(dst, `,"name":`...)
			dst = appendQuote(dst, ref.name)
		}
		dst = append(dst, `,"apiGroup":`...)
		dst = appendQuote(dst, ref.group)
		dst = append(dst, `,"apiVersion":`...)
		dst = appendQuote(dst, ref.version)
		if ref.subresource != "" {
			dst = append(dst, `,"subresource":`...)
			dst = appendQuote(dst, ref.subresource)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"responseStatus":{"metadata":{}`...)
	if rpc != 0 {
		dst = append(dst, `,"status":"Failure"`...)
		if !isNull(r.statusMessage) {
			dst = append(dst, `,"message":`...)
			dst = append(dst, r.statusMessage...)
		}
		if reason != "" {
			dst = append(dst, `,"reason":"`...)
			dst = append(dst, reason...)
			dst = append(dst, '"')
		}
	}
	dst = append(dst, `,"code":`...)
	dst = strconv.AppendInt(dst, int64(httpCode), 10)
	dst = append(dst, '}')
	if !isNull(r.request) {
		dst = append(dst, `,"requestObject":`...)
		dst = appendWithoutType(dst, r.request)
	}
	if !isNull(r.response) {
		dst = append(dst, `,"responseObject":`...)
		dst = appendWithoutType(dst, r.response)
	}
	dst = append(dst, `,"requestReceivedTimestamp":`...)
	dst = append(dst, ts...)
	dst = append(dst, `,"stageTimestamp":`...)
	dst = append(dst, ts...)

	dst = append(dst, `,"annotations":{"`+AnnProvider+`":"gke","`+AnnFormat+`":`...)
	dst = appendQuote(dst, origin.Format)
	dst = append(dst, `,"`+AnnReconstructed+`":"requestURI,level,stage,responseStatus"`...)
	if isNull(r.project) && !isNull(r.logName) {
		// logName is "projects/P/logs/...".
		if ln := str(r.logName, buf[:]); len(ln) > 9 && string(ln[:9]) == "projects/" {
			p := ln[9:]
			if i := strings.IndexByte(string(p), '/'); i > 0 {
				dst = append(dst, `,"`+AnnGCPProject+`":`...)
				dst = appendQuote(dst, p[:i])
			}
		}
	}
	for _, a := range [...]annotation{
		{AnnGCPProject, r.project}, {AnnGCPLocation, r.location}, {AnnGCPCluster, r.cluster},
		{AnnGCPLogName, r.logName}, {AnnGCPInsertID, r.insertID}, {AnnGCPReceived, r.receiveTimestamp},
		{AnnGCPSeverity, r.severity}, {AnnGCPOperation, r.opProducer}, {AnnGCPCallerIP, nonIP},
	} {
		if !isNull(a.v) {
			dst = append(dst, ',', '"')
			dst = append(dst, a.key...)
			dst = append(dst, '"', ':')
			dst = append(dst, a.v...)
		}
	}
	if !isNull(r.delegation) {
		dst = append(dst, `,"`+AnnGCPDelegation+`":`...)
		dst = appendQuote(dst, compactJSON(buf[:0], r.delegation))
	}
	for _, a := range extra {
		if !isNull(a.v) {
			dst = append(dst, ',')
			dst = appendQuote(dst, a.key)
			dst = append(dst, ':')
			dst = append(dst, a.v...)
		}
	}
	hasDecision := false
	if !isNull(r.labels) {
		it, _ := newObjIter(r.labels, 0)
		for {
			key, ks, vs, ve, ok := it.next()
			if !ok {
				break
			}
			if keyHasPrefix(key, Prefix) {
				continue
			}
			if r.labels[vs] != '"' {
				return dst, typeErr(GKE, "labels."+string(str(r.labels[ks:ks+len(key)+2], buf[:])), "string", r.labels[vs:ve])
			}
			if keyIs(key, "authorization.k8s.io/decision") {
				hasDecision = true
			}
			dst = append(dst, ',')
			dst = append(dst, r.labels[ks:ve]...)
		}
	}
	if !hasDecision {
		if d := decision(r.authzInfo); d != "" {
			dst = append(dst, `,"authorization.k8s.io/decision":"`...)
			dst = append(dst, d...)
			dst = append(dst, '"')
		}
	}
	return append(dst, '}', '}'), nil
}

// decision derives authorization.k8s.io/decision from authorizationInfo:
// "allow" when every entry is granted, "forbid" when one is not, "" when
// there are none.
func decision(authz []byte) string {
	if isNull(authz) {
		return ""
	}
	it, _ := newArrIter(authz, 0)
	d := ""
	for {
		vs, ve, ok := it.next()
		if !ok {
			return d
		}
		var granted []byte
		if oi, ok := newObjIter(authz[:ve], vs); ok {
			for {
				key, _, s, e, ok := oi.next()
				if !ok {
					break
				}
				if keyIs(key, "granted") {
					granted = authz[s:e]
				}
			}
		}
		switch string(granted) {
		case "true":
			if d == "" {
				d = "allow"
			}
		case "false":
			d = "forbid"
		}
	}
}

// appendWithoutType copies the JSON object v without its "@type" members.
func appendWithoutType(dst, v []byte) []byte {
	it, _ := newObjIter(v, 0)
	dst = append(dst, '{')
	first := true
	for {
		key, ks, _, ve, ok := it.next()
		if !ok {
			break
		}
		if keyIs(key, "@type") {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, v[ks:ve]...)
	}
	return append(dst, '}')
}

// setGKEOrigin names the cluster of a LogEntry: resource.labels (the
// project from logName when the labels lack it).
func setGKEOrigin(o *Origin, r *gkeRecord) {
	var buf [256]byte
	project := string(str(r.project, buf[:]))
	if project == "" {
		if ln := string(str(r.logName, buf[:])); strings.HasPrefix(ln, "projects/") {
			project, _, _ = strings.Cut(ln[len("projects/"):], "/")
		}
	}
	location := string(str(r.location, buf[:]))
	o.ClusterName = string(str(r.cluster, buf[:]))
	o.AccountID = project
	if project != "" && location != "" && o.ClusterName != "" {
		o.ClusterID = "projects/" + project + "/locations/" + location + "/clusters/" + o.ClusterName
	}
}
