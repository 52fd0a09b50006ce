// Package enrich turns a decoded Kubernetes audit event into what platform
// and security teams search for: cluster identity, the kind of user and the
// cloud principal behind it, request latency and outcome, the RBAC binding
// that allowed the request, the class of each source address, and risk tags
// from a readable rule table (Rules).
//
// Everything is computed from the event and the configuration alone; no API
// calls are made. An Enricher is safe for concurrent use; a Result is reused
// by one goroutine across events:
//
//	en, err := enrich.New(cfg)
//	var res enrich.Result
//	for each event ev {
//		en.Enrich(ev, &res)
//		res.Annotations(func(k, v string) { ... })   // auditlane.io/* entries
//		fields = res.AppendFields(fields[:0])         // flat key/value map
//	}
//
// Enrich reads the original event, before a policy strips request or
// response bodies, so rules that need requestObject (privileged pods,
// ClusterRole rules) work even when the event is logged at Metadata.
package enrich
