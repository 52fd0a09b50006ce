// Package whatif answers "what would this policy ship, and what would it
// cost?" before a policy is deployed. An Engine builds its pipeline from
// the same pipeline.Settings the front ends take (policy_file,
// enrichment, annotations, layout, max_event_size, redaction) and runs
// recorded events through it, so the bytes it counts as kept are the
// bytes the Fluent Bit plugin, the collector and `auditlane process`
// ship. It accounts for them per rule, user, resource, namespace, verb and
// over time, projects a month from the observed rate, prices the result
// with per-destination models (Prices), and counts the security-relevant
// events (Classify) the policy loses. A second pipeline with every
// enrichment on and no policy sees each event's risk tags whatever the
// policy decides.
//
//	eng, err := whatif.New(whatif.Options{Settings: set})
//	for each decoded event ev {
//		o := eng.Add(ev) // o.Result, o.Reasons, o.Lost, o.Enrich
//	}
//	rep := eng.Report(policyName, inputs, givenSettings)
//
// Report's JSON form is `auditlane policy test --output json`; fields are
// only added. The text table and the HTML page are in common/report; lint
// and suggestions, which read the same observations, in
// common/policy/lint and common/policy/suggest.
package whatif
