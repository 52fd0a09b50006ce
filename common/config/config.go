// Package config is auditlane's one key schema: every configuration key of
// the pipeline and of the destinations is declared once, next to the
// setting it fills (pipeline.Schema, cloudwatch.Schema, sls.Schema), with
// its name, type, default, unit, description and the front ends that take
// it. The Fluent Bit plugin's properties (and the config map it registers
// with Fluent Bit), the collector components' settings and the command
// line's --set / --config are all derived from these sections, so a key is
// spelt, parsed, defaulted and documented the same way everywhere, and an
// unknown key is refused at start-up, naming the key and the closest known
// one.
package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FrontEnd is a set of front ends.
type FrontEnd uint8

// Front ends.
const (
	FluentBit FrontEnd = 1 << iota
	Collector
	CLI
	// All is every front end.
	All = FluentBit | Collector | CLI
)

// String lists the front ends ("fluent-bit, collector, cli").
func (f FrontEnd) String() string {
	var parts []string
	for _, x := range []struct {
		f    FrontEnd
		name string
	}{{FluentBit, "fluent-bit"}, {Collector, "collector"}, {CLI, "cli"}} {
		if f&x.f != 0 {
			parts = append(parts, x.name)
		}
	}
	return strings.Join(parts, ", ")
}

// Type is the kind of value a key takes.
type Type string

// Types.
const (
	TypeString   Type = "string"
	TypeBool     Type = "bool"     // on/off, true/false, yes/no
	TypeInt      Type = "int"      // a whole number
	TypeSize     Type = "size"     // bytes, with k/M/G suffixes
	TypeDuration Type = "duration" // 90s, 1m30s, or whole seconds
	TypeList     Type = "list"     // comma separated (or a YAML list)
	TypeMap      Type = "map"      // k=v pairs, comma separated (or a YAML map)
	TypeEnum     Type = "enum"     // one of Key.Enum
)

// Value is a key's value as a front end read it: a string (a Fluent Bit
// property, a --set value, a YAML scalar) or, from YAML, a list or a map.
type Value struct {
	Str  string
	List []string
	Map  map[string]string
	// Kind tells which field is set.
	Kind ValueKind
}

// ValueKind tells which field of a Value holds it.
type ValueKind uint8

// Value kinds.
const (
	Scalar ValueKind = iota
	List
	Map
)

// StringValue returns a scalar Value.
func StringValue(s string) Value { return Value{Str: s} }

// FromYAML converts a value decoded from YAML (a collector setting, a
// --config file) into a Value.
func FromYAML(v any) (Value, error) {
	switch x := v.(type) {
	case nil:
		return Value{}, nil
	case string:
		return Value{Str: x}, nil
	case bool, int, int64, uint64, float64:
		return Value{Str: fmt.Sprint(x)}, nil
	case []any:
		l := make([]string, len(x))
		for i, e := range x {
			switch e.(type) {
			case string, bool, int, int64, uint64, float64:
				l[i] = fmt.Sprint(e)
			default:
				return Value{}, fmt.Errorf("list item %d: unsupported value of type %T", i, e)
			}
		}
		return Value{List: l, Kind: List}, nil
	case map[string]any:
		m := make(map[string]string, len(x))
		for k, e := range x {
			switch e.(type) {
			case string, bool, int, int64, uint64, float64:
				m[k] = fmt.Sprint(e)
			case nil:
				m[k] = ""
			default:
				return Value{}, fmt.Errorf("%s: unsupported value of type %T", k, e)
			}
		}
		return Value{Map: m, Kind: Map}, nil
	}
	return Value{}, fmt.Errorf("unsupported value of type %T", v)
}

// Key declares one configuration key.
type Key struct {
	Name string
	Type Type
	// Default is the value the key has when it is not set, as a user would
	// write it ("" for none); it is applied by Section.Defaults, so the
	// documented default is the real one.
	Default string
	// Unit names the unit of a number ("bytes", "days"), if any.
	Unit string
	Doc  string
	// Enum lists the accepted values of a TypeEnum key.
	Enum []string
	// FrontEnds take the key.
	FrontEnds FrontEnd
	// Secret keys are never echoed in errors.
	Secret bool
	set    func(target any, v Value) error
}

// Section is the keys of one setting struct (the pipeline, a destination,
// a front end's own keys).
type Section struct {
	Name string
	Keys []Key
}

// Lookup returns the key named name (case-insensitive), or nil.
func (s *Section) Lookup(name string) *Key {
	for i := range s.Keys {
		if strings.EqualFold(s.Keys[i].Name, name) {
			return &s.Keys[i]
		}
	}
	return nil
}

// Names returns the key names, in declaration order.
func (s *Section) Names() []string {
	n := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		n[i] = k.Name
	}
	return n
}

// For returns the section restricted to the keys front end f takes.
func (s Section) For(f FrontEnd) Section {
	out := Section{Name: s.Name}
	for _, k := range s.Keys {
		if k.FrontEnds&f != 0 {
			out.Keys = append(out.Keys, k)
		}
	}
	return out
}

// Defaults sets every key that has a default on target.
func (s *Section) Defaults(target any) {
	for _, k := range s.Keys {
		if k.Default == "" {
			continue
		}
		if err := k.set(target, StringValue(k.Default)); err != nil {
			panic(fmt.Sprintf("config: %s: default %q: %v", k.Name, k.Default, err))
		}
	}
}

// Set parses v into target's field for key name. The error is a *KeyError
// naming the key; an unknown name gives an *UnknownKeyError.
func (s *Section) Set(target any, name string, v Value) error {
	k := s.Lookup(name)
	if k == nil {
		return &UnknownKeyError{Key: name, Closest: Closest(name, s.Names())}
	}
	return k.Set(target, v)
}

// Set parses v into target (the section's struct).
func (k *Key) Set(target any, v Value) error {
	if v.Kind == Scalar {
		v.Str = strings.TrimSpace(v.Str)
	}
	if err := k.set(target, v); err != nil {
		return &KeyError{Key: k.Name, Err: err}
	}
	return nil
}

// KeyError is an invalid value of a key. Its message starts with the key
// as the user wrote it, once: front ends add their own prefix
// ("pipeline::" in the collector) and nothing else.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// Errorf returns a *KeyError for key.
func Errorf(key, format string, args ...any) error {
	return &KeyError{Key: key, Err: fmt.Errorf(format, args...)}
}

// UnknownKeyError is a key no section declares.
type UnknownKeyError struct {
	Key string
	// Closest is the most similar known key ("" when none is close).
	Closest string
}

func (e *UnknownKeyError) Error() string {
	if e.Closest != "" {
		return fmt.Sprintf("%s: unknown key (did you mean %s?)", e.Key, e.Closest)
	}
	return e.Key + ": unknown key"
}

// ErrUnknownKey matches every *UnknownKeyError with errors.Is.
var ErrUnknownKey = errors.New("unknown key")

// Is reports whether target is ErrUnknownKey.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrUnknownKey }

// Closest returns the name in names nearest to key by edit distance, or ""
// when none is within a third of its length (and at most 4 edits).
func Closest(key string, names []string) string {
	key = strings.ToLower(key)
	best, bestD := "", 1<<30
	for _, n := range names {
		if d := distance(key, strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	if bestD > 4 || bestD*3 > len(key)+2 {
		return ""
	}
	return best
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Descriptions of the retry keys both destinations declare, so that they
// say the same thing.
const (
	DocRetryMaxElapsed      = "Time one batch may spend in retries of throttling and 5xx answers before it goes back to the front end's own retry (Fluent Bit's scheduler, the collector's retry_on_failure)"
	DocRetryInitialInterval = "First backoff; it doubles with ±50% jitter"
	DocRetryMaxInterval     = "Largest backoff"
)

// Constructors. Each binds a key to a setter on the section's struct T.

func scalar(v Value) (string, error) {
	if v.Kind != Scalar {
		return "", errors.New("want a single value")
	}
	return v.Str, nil
}

// String declares a string key.
func String[T any](name, def string, fe FrontEnd, doc string, set func(t *T, v string)) Key {
	return Key{Name: name, Type: TypeString, Default: def, Doc: doc, FrontEnds: fe, set: func(t any, v Value) error {
		s, err := scalar(v)
		if err == nil {
			set(t.(*T), s)
		}
		return err
	}}
}

// Enum declares a key taking one of values (case-insensitive; set gets the
// value as listed).
func Enum[T any](name, def string, values []string, fe FrontEnd, doc string, set func(t *T, v string)) Key {
	return Key{Name: name, Type: TypeEnum, Default: def, Doc: doc, Enum: values, FrontEnds: fe, set: func(t any, v Value) error {
		s, err := scalar(v)
		if err != nil {
			return err
		}
		for _, e := range values {
			if strings.EqualFold(s, e) {
				set(t.(*T), e)
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", s, strings.Join(values, ", "))
	}}
}

// Bool declares a boolean key.
func Bool[T any](name, def string, fe FrontEnd, doc string, set func(t *T, v bool)) Key {
	return Key{Name: name, Type: TypeBool, Default: def, Doc: doc, FrontEnds: fe, set: func(t any, v Value) error {
		s, err := scalar(v)
		if err != nil {
			return err
		}
		b, err := ParseBool(s)
		if err == nil {
			set(t.(*T), b)
		}
		return err
	}}
}

// Int declares an integer key within [lo, hi].
func Int[T any](name, def, unit string, lo, hi int, fe FrontEnd, doc string, set func(t *T, v int)) Key {
	return Key{Name: name, Type: TypeInt, Default: def, Unit: unit, Doc: doc, FrontEnds: fe, set: func(t any, v Value) error {
		s, err := scalar(v)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		if n < lo || n > hi {
			return fmt.Errorf("%d is out of range [%d, %d]", n, lo, hi)
		}
		set(t.(*T), n)
		return nil
	}}
}

// Size declares a byte-size key (at most hi bytes; 0 for no bound).
func Size[T any](name, def string, hi int, fe FrontEnd, doc string, set func(t *T, v int)) Key {
	return Key{Name: name, Type: TypeSize, Default: def, Unit: "bytes", Doc: doc, FrontEnds: fe, set: func(t any, v Value) error {
		s, err := scalar(v)
		if err != nil {
			return err
		}
		n, err := ParseSize(s)
		if err != nil {
			return err
		}
		if hi > 0 && n > hi {
			return fmt.Errorf("%d bytes is more than the maximum %d", n, hi)
		}
		set(t.(*T), n)
		return nil
	}}
}

// Duration declares a duration key.
func Duration[T any](name, def string, fe FrontEnd, doc string, set func(t *T, v time.Duration)) Key {
	return Key{Name: name, Type: TypeDuration, Default: def, Doc: doc, FrontEnds: fe, set: func(t any, v Value) error {
		s, err := scalar(v)
		if err != nil {
			return err
		}
		d, err := ParseDuration(s)
		if err == nil {
			set(t.(*T), d)
		}
		return err
	}}
}

// ListOf declares a list key ("a, b" or a YAML list).
func ListOf[T any](name, def string, fe FrontEnd, doc string, set func(t *T, v []string)) Key {
	return Key{Name: name, Type: TypeList, Default: def, Doc: doc, FrontEnds: fe, set: func(t any, v Value) error {
		switch v.Kind {
		case List:
			set(t.(*T), v.List)
		case Scalar:
			set(t.(*T), ParseList(v.Str))
		default:
			return errors.New("want a list")
		}
		return nil
	}}
}

// MapOf declares a map key ("k1=v1, k2=v2" or a YAML map).
func MapOf[T any](name string, fe FrontEnd, doc string, set func(t *T, v map[string]string)) Key {
	return Key{Name: name, Type: TypeMap, Doc: doc, FrontEnds: fe, set: func(t any, v Value) error {
		switch v.Kind {
		case Map:
			if len(v.Map) == 0 {
				set(t.(*T), nil)
			} else {
				set(t.(*T), v.Map)
			}
			return nil
		case Scalar:
			m, err := ParseMap(v.Str)
			if err == nil {
				set(t.(*T), m)
			}
			return err
		}
		return errors.New("want key=value pairs")
	}}
}

// ParseBool parses Fluent Bit style booleans.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (on/off, true/false, yes/no)", v)
}

// ParseSize parses a byte size: a number with an optional k, M or G
// suffix (powers of 1024; "KB", "MiB" and the like are accepted too).
func ParseSize(v string) (int, error) {
	s := strings.TrimSpace(v)
	mult := 1
	low := strings.ToLower(s)
	for _, suf := range []struct {
		s string
		m int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if strings.HasSuffix(low, suf.s) {
			s, mult = strings.TrimSpace(s[:len(s)-len(suf.s)]), suf.m
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (for example 262144, 256k, 1M)", v)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is too large", v)
	}
	return n * mult, nil
}

// ParseDuration parses a Go duration ("1m30s") or whole seconds ("90").
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 1<<31 {
			return 0, fmt.Errorf("%q out of range", v)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (90s, 1m30s, or whole seconds)", v)
	}
	return d, nil
}

// ParseList splits a comma or space separated list, dropping empties.
func ParseList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// ParseMap parses "k1=v1, k2=v2" (comma or space separated); nil when
// empty.
func ParseMap(v string) (map[string]string, error) {
	var m map[string]string
	for _, item := range ParseList(v) {
		k, val, ok := strings.Cut(item, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%q is not key=value", item)
		}
		if m == nil {
			m = map[string]string{}
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	return m, nil
}

// Merge returns the union of sections (a key declared in several, such as
// endpoint, once), for front ends that take them all in one place.
func Merge(name string, sections ...Section) Section {
	out := Section{Name: name}
	seen := map[string]bool{}
	for _, s := range sections {
		for _, k := range s.Keys {
			if !seen[k.Name] {
				seen[k.Name] = true
				out.Keys = append(out.Keys, k)
			}
		}
	}
	return out
}

// SortedNames returns the names of the sections' keys, sorted and unique.
func SortedNames(sections ...Section) []string {
	m := Merge("", sections...)
	n := m.Names()
	sort.Strings(n)
	return n
}
