package policy

import "github.com/auditlane/auditlane/common/audit"

// Apply records in w the edits that lower ev to decision d, as the
// apiserver would have logged it, and reports whether the event is kept.
// A dropped event (level None or an omitted stage) gets no edits.
//
// The engine can only lower what an event already carries: the effective
// level is the lower of d.Level and the event's own level, and a lowered
// event's "level" is rewritten to match. Metadata removes requestObject and
// responseObject; Request removes responseObject; OmitManagedFields cuts
// metadata.managedFields inside the bodies that remain (objects, list
// items, table rows). Events that carried only legacy timestamps gain
// requestReceivedTimestamp and stageTimestamp.
func Apply(ev *audit.Event, d Decision, w *audit.Rewrite) (kept bool) {
	if d.Dropped(ev.Stage) {
		return false
	}
	level := d.Level
	if own, ok := ParseLevel(ev.Level); ok && own < level {
		level = own
	}
	if level < LevelRequestResponse {
		w.Drop(audit.MemberResponseObject)
	}
	if level < LevelRequest {
		w.Drop(audit.MemberRequestObject)
	}
	if level.String() != ev.Level {
		w.SetString(audit.MemberLevel, level.String())
	}
	if d.OmitManagedFields {
		if !w.Dropped(audit.MemberRequestObject) {
			w.CutManagedFields(ev, audit.MemberRequestObject)
		}
		if !w.Dropped(audit.MemberResponseObject) {
			w.CutManagedFields(ev, audit.MemberResponseObject)
		}
	}
	if ev.Legacy {
		if !ev.Span(audit.MemberRequestReceivedTimestamp).Present() && ev.RequestReceivedTimestamp != "" {
			w.SetString(audit.MemberRequestReceivedTimestamp, ev.RequestReceivedTimestamp)
		}
		if !ev.Span(audit.MemberStageTimestamp).Present() && ev.StageTimestamp != "" {
			w.SetString(audit.MemberStageTimestamp, ev.StageTimestamp)
		}
	}
	return true
}

// RuleLevel returns the level of rule i.
func (p *Policy) RuleLevel(i int) Level { return p.rules[i].level }
