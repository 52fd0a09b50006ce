package policy

import (
	"errors"
	"fmt"
	"strconv"
)

// maxErrors caps how many problems one Parse call reports.
const maxErrors = 20

// Error is one problem found while loading a policy. Parse and Load return
// either a single *Error or several joined with errors.Join; errors.As finds
// the first.
type Error struct {
	// File is the name given to Parse, or the path given to Load.
	File string
	// Line and Column locate the offending YAML node (1-based; 0 if unknown).
	Line, Column int
	// Rule is the 0-based index of the rule the problem is in (the index the
	// apiserver reports as rules[N]), or -1 when it is outside any rule.
	Rule int
	// Field is the offending field's path, relative to the rule when Rule >= 0
	// ("resources[0].group", "omitStages[1]", "apiVersion").
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as
// "policy FILE: line L: rule R: FIELD: MSG", leaving out unknown parts.
func (e *Error) Error() string {
	b := make([]byte, 0, 64+len(e.File)+len(e.Field)+len(e.Msg))
	b = append(b, "policy "...)
	b = append(b, e.File...)
	if e.Line > 0 {
		b = append(b, ": line "...)
		b = strconv.AppendInt(b, int64(e.Line), 10)
	}
	if e.Rule >= 0 {
		b = append(b, ": rule "...)
		b = strconv.AppendInt(b, int64(e.Rule), 10)
	}
	if e.Field != "" {
		b = append(b, ": "...)
		b = append(b, e.Field...)
	}
	b = append(b, ": "...)
	b = append(b, e.Msg...)
	return string(b)
}

// joinErrors returns nil, the single error, or all errors joined.
func joinErrors(errs []*Error, dropped int) error {
	switch {
	case len(errs) == 0:
		return nil
	case len(errs) == 1 && dropped == 0:
		return errs[0]
	}
	all := make([]error, 0, len(errs)+1)
	for _, e := range errs {
		all = append(all, e)
	}
	if dropped > 0 {
		all = append(all, fmt.Errorf("policy %s: %d more problems not shown", errs[0].File, dropped))
	}
	return errors.Join(all...)
}
