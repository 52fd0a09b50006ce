package cloudwatch

import (
	"errors"
	"fmt"
	"strings"

	"github.com/auditlane/auditlane/common/sink"
)

// template is a parsed name template: literal text and {name} placeholders.
type template struct {
	src   string
	parts []part
}

type part struct {
	lit string // literal text when name == ""
	key string // placeholder name
}

func validVarName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// parseTemplate parses s. Placeholders are {name} with name made of
// letters, digits, '_', '-' and '.'; braces do not nest and cannot be
// escaped (neither is valid in a log group name; a stream name needing a
// literal brace can take it from a variable).
func parseTemplate(s string) (template, error) {
	if s == "" {
		return template{}, errors.New("must not be empty")
	}
	t := template{src: s}
	rest := s
	for rest != "" {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			t.parts = append(t.parts, part{lit: rest})
			break
		}
		if rest[open] == '}' {
			return template{}, fmt.Errorf("template %q has '}' without '{'", s)
		}
		if open > 0 {
			t.parts = append(t.parts, part{lit: rest[:open]})
		}
		end := strings.IndexAny(rest[open+1:], "{}")
		if end < 0 || rest[open+1+end] != '}' {
			return template{}, fmt.Errorf("template %q has an unclosed '{'", s)
		}
		key := rest[open+1 : open+1+end]
		if !validVarName(key) {
			return template{}, fmt.Errorf("template %q has an invalid placeholder {%s}", s, key)
		}
		t.parts = append(t.parts, part{key: key})
		rest = rest[open+1+end+1:]
	}
	return t, nil
}

// static reports whether every placeholder is one of vars.
func (t template) static(vars map[string]string) bool {
	for _, p := range t.parts {
		if p.key != "" {
			if _, ok := vars[p.key]; !ok {
				return false
			}
		}
	}
	return true
}

// resolve expands t: a placeholder takes its value from vars, else from
// lookup. A placeholder found in neither makes resolve fail.
func (t template) resolve(vars map[string]string, lookup func(string) (string, bool)) string {
	s, _ := t.expand(vars, lookup)
	return s
}

func (t template) expand(vars map[string]string, lookup func(string) (string, bool)) (string, error) {
	if len(t.parts) == 1 && t.parts[0].key == "" {
		return t.parts[0].lit, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.key == "" {
			b.WriteString(p.lit)
			continue
		}
		if v, ok := vars[p.key]; ok {
			b.WriteString(v)
			continue
		}
		if lookup != nil {
			if v, ok := lookup(p.key); ok {
				b.WriteString(v)
				continue
			}
		}
		return "", fmt.Errorf("template %q: placeholder {%s} has no value", t.src, p.key)
	}
	return b.String(), nil
}

// Lookup resolves a template placeholder for one record. It returns false
// when the record has no value for key.
type Lookup func(rec *sink.Record, key string) (string, bool)

// FieldLookup is the default Lookup: the value of the record's Field with
// that key.
func FieldLookup(rec *sink.Record, key string) (string, bool) {
	for i := range rec.Fields {
		if rec.Fields[i].Key == key {
			return rec.Fields[i].Value, true
		}
	}
	return "", false
}
