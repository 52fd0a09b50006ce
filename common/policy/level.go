package policy

import "strconv"

// Level is an audit level. The zero value is LevelNone. Levels are ordered:
// LevelNone < LevelMetadata < LevelRequest < LevelRequestResponse.
type Level uint8

// The audit levels, in increasing order of detail.
const (
	// LevelNone: the event is not logged.
	LevelNone Level = iota
	// LevelMetadata: log request metadata (user, timestamp, resource, verb)
	// but not the request or response bodies.
	LevelMetadata
	// LevelRequest: log metadata and the request body, not the response body.
	LevelRequest
	// LevelRequestResponse: log metadata, request and response bodies.
	LevelRequestResponse
)

var levelNames = [...]string{"None", "Metadata", "Request", "RequestResponse"}

// String returns the level's name as written in policies and events
// ("None", "Metadata", "Request", "RequestResponse").
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

// ParseLevel returns the level named s. Names are case-sensitive, exactly as
// the apiserver accepts them; ok is false for anything else, including "".
func ParseLevel(s string) (Level, bool) {
	for i, n := range levelNames {
		if s == n {
			return Level(i), true
		}
	}
	return LevelNone, false
}

// Stages is a set of audit stages, one bit per stage.
type Stages uint8

// The audit stages, in the order a request passes through them.
const (
	// StageRequestReceived: the handler received the request, before it is
	// delegated down the handler chain.
	StageRequestReceived Stages = 1 << iota
	// StageResponseStarted: response headers sent, body not yet (long-running
	// requests such as watch only).
	StageResponseStarted
	// StageResponseComplete: the response body has been completed.
	StageResponseComplete
	// StagePanic: the request handler panicked.
	StagePanic

	allStages = StageRequestReceived | StageResponseStarted | StageResponseComplete | StagePanic
)

// stageNames lists the stages by bit position.
var stageNames = [...]string{"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"}

// sortedStageBits lists the stage bits in alphabetical order of their names.
var sortedStageBits = [...]Stages{StagePanic, StageRequestReceived, StageResponseComplete, StageResponseStarted}

// ParseStage returns the single-stage set named s (case-sensitive, as the
// apiserver accepts it); ok is false for an unknown name.
func ParseStage(s string) (Stages, bool) {
	switch s {
	case "RequestReceived":
		return StageRequestReceived, true
	case "ResponseStarted":
		return StageResponseStarted, true
	case "ResponseComplete":
		return StageResponseComplete, true
	case "Panic":
		return StagePanic, true
	}
	return 0, false
}

// Has reports whether the set contains the stage named stage, as written in
// an event's "stage" field. An unknown name is never in the set.
func (s Stages) Has(stage string) bool {
	b, ok := ParseStage(stage)
	return ok && s&b != 0
}

// Names returns the names of the stages in the set, sorted alphabetically
// (Panic, RequestReceived, ResponseComplete, ResponseStarted), or nil for the
// empty set.
func (s Stages) Names() []string {
	var out []string
	for _, b := range sortedStageBits {
		if s&b != 0 {
			out = append(out, stageName(b))
		}
	}
	return out
}

// String returns the stage names joined by commas, or "" for the empty set.
func (s Stages) String() string {
	out := ""
	for i, n := range s.Names() {
		if i > 0 {
			out += ","
		}
		out += n
	}
	return out
}

func stageName(b Stages) string {
	for i, n := range stageNames {
		if b == 1<<i {
			return n
		}
	}
	return ""
}

// Decision is the policy outcome for one event.
type Decision struct {
	// Level is the level of the matching rule, LevelNone when none matched.
	Level Level
	// OmitStages is the union of the policy's and the matching rule's
	// omitStages (the policy's alone when no rule matched).
	OmitStages Stages
	// OmitManagedFields is the matching rule's omitManagedFields when the
	// rule sets it, the policy's otherwise.
	OmitManagedFields bool
	// Rule is the 0-based index of the matching rule, -1 when none matched.
	Rule int
}

// Dropped reports whether an event at the given stage is not logged at all:
// its level is None or its stage is omitted.
func (d Decision) Dropped(stage string) bool {
	return d.Level == LevelNone || d.OmitStages.Has(stage)
}
