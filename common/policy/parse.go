package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// API versions of audit.k8s.io Policy objects that Parse accepts. They share
// one rule schema.
const (
	APIVersionV1       = "audit.k8s.io/v1"
	APIVersionV1beta1  = "audit.k8s.io/v1beta1"
	APIVersionV1alpha1 = "audit.k8s.io/v1alpha1"
)

// maxNodes bounds how many YAML nodes one policy may expand to, counting
// every use of an alias, so alias "bombs" are rejected instead of exhausting
// memory.
const maxNodes = 1 << 20

// MaxSize is the largest policy Parse accepts, in bytes. Real policies are
// a few kilobytes.
const MaxSize = 4 << 20

// ruleSpec is one rule as written in the policy, kept for RuleSummary.
type ruleSpec struct {
	line              int
	level             Level
	users             []string
	userGroups        []string
	verbs             []string
	resources         []groupResources
	namespaces        []string
	nonResourceURLs   []string
	omitStages        Stages // the rule's own, without the policy's
	omitManagedFields *bool
}

// groupResources is one entry of a rule's resources list.
type groupResources struct {
	group         string
	resources     []string
	resourceNames []string
}

// Load reads, parses, validates and compiles the policy file at path. Errors
// name the path, and where they concern the content, the line, rule and field.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy %s: read: %w", path, err)
	}
	return Parse(path, data)
}

// Parse parses, validates and compiles a Kubernetes audit Policy in YAML or
// JSON (audit.k8s.io/v1, v1beta1 or v1alpha1). name identifies the source in
// errors. It rejects what the apiserver rejects (see the package doc) and,
// unlike the apiserver, also unknown and duplicate fields.
func Parse(name string, data []byte) (*Policy, error) {
	p := &parser{name: name, budget: maxNodes}
	if len(data) > MaxSize {
		p.errorAt(nil, -1, "", "%d bytes is larger than the %d-byte limit for a policy", len(data), MaxSize)
		return nil, joinErrors(p.errs, 0)
	}
	pol := p.parse(data)
	if err := joinErrors(p.errs, p.dropped); err != nil {
		return nil, err
	}
	pol.compile()
	return pol, nil
}

type parser struct {
	name    string
	errs    []*Error
	dropped int
	budget  int
	// exhausted is set once budget runs out; parsing then stops.
	exhausted bool
}

func (p *parser) errorAt(n *yaml.Node, rule int, field, format string, args ...any) {
	if len(p.errs) >= maxErrors {
		p.dropped++
		return
	}
	e := &Error{File: p.name, Rule: rule, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// resolve follows aliases and charges the node budget. It returns nil once
// the budget is exhausted.
func (p *parser) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if p.exhausted {
		return nil
	}
	if p.budget--; p.budget < 0 {
		p.exhausted = true
		p.errorAt(n, -1, "", "policy expands to more than %d YAML nodes (aliases?)", maxNodes)
		return nil
	}
	return n
}

func (p *parser) parse(data []byte) *Policy {
	if trimmed := bytes.TrimLeftFunc(data, unicode.IsSpace); len(trimmed) > 0 && trimmed[0] == '{' {
		// The apiserver reads a document starting with '{' as JSON, so a
		// YAML flow mapping there is an error, not YAML.
		var raw json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			line := 0
			var se *json.SyntaxError
			if errors.As(err, &se) {
				line = 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
			}
			p.errorAt(&yaml.Node{Line: line}, -1, "", "invalid JSON (a policy starting with '{' is read as JSON): %s", strings.TrimPrefix(err.Error(), "json: "))
			return nil
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorAt(nil, -1, "", "empty document: expected a Policy")
		} else {
			p.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorAt(&extra, -1, "", "more than one YAML document: a policy file holds exactly one Policy")
		return nil
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			p.errorAt(root, -1, "", "empty document: expected a Policy")
			return nil
		}
		root = root.Content[0]
	}
	root = p.resolve(root)
	if root == nil {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			p.errorAt(root, -1, "", "empty document: expected a Policy")
		} else {
			p.errorAt(root, -1, "", "expected a Policy object, found %s", describe(root))
		}
		return nil
	}

	pol := &Policy{name: p.name}
	fields := p.fields(root, -1, "")
	var (
		versionSeen bool
		kind        string
		rulesNode   *yaml.Node
	)
	for _, f := range fields {
		switch f.key {
		case "apiVersion":
			pol.apiVersion, versionSeen = p.str(f.val, -1, f.key)
		case "kind":
			kind, _ = p.str(f.val, -1, f.key)
		}
	}
	switch {
	case !versionSeen || pol.apiVersion == "":
		if versionSeen || !p.hasErrorFor("apiVersion") {
			p.errorAt(root, -1, "apiVersion", "required: expected %s, %s or %s", APIVersionV1, APIVersionV1beta1, APIVersionV1alpha1)
		}
	case pol.apiVersion != APIVersionV1 && pol.apiVersion != APIVersionV1beta1 && pol.apiVersion != APIVersionV1alpha1:
		p.errorAt(fieldNode(fields, "apiVersion"), -1, "apiVersion", "unsupported %q: expected %s, %s or %s", pol.apiVersion, APIVersionV1, APIVersionV1beta1, APIVersionV1alpha1)
	}
	switch {
	case kind == "":
		// Missing (or a bad value, already reported): the apiserver's
		// decoder takes the kind from the object it decodes into, Policy.
	case kind == "PolicyList":
		p.errorAt(fieldNode(fields, "kind"), -1, "kind", "PolicyList is not supported: a policy file holds one Policy, as the apiserver requires")
	case kind != "Policy":
		p.errorAt(fieldNode(fields, "kind"), -1, "kind", "unsupported %q: expected Policy", kind)
	}
	if len(p.errs) > 0 {
		// Without a known apiVersion and kind the schema is unknown.
		return nil
	}

	for _, f := range fields {
		switch f.key {
		case "apiVersion", "kind":
		case "metadata":
			p.metadata(f.val)
		case "rules":
			rulesNode = f.val
		case "omitStages":
			pol.omitStages = p.stages(f.val, -1, "omitStages")
		case "omitManagedFields":
			if b := p.boolean(f.val, -1, "omitManagedFields"); b != nil {
				pol.omitManagedFields = *b
			}
		default:
			p.errorAt(f.keyNode, -1, f.key, "unknown field (Policy fields: apiVersion, kind, metadata, rules, omitStages, omitManagedFields)")
		}
	}
	if rulesNode != nil {
		pol.specs = p.rules(rulesNode)
	}
	if len(pol.specs) == 0 && !p.hasErrorFor("rules") && !p.exhausted {
		n := rulesNode
		if n == nil {
			n = root
		}
		p.errorAt(n, -1, "rules", "a policy needs at least one rule (the apiserver refuses a policy with 0 rules)")
	}
	return pol
}

// hasErrorFor reports whether a top-level error for field was recorded.
func (p *parser) hasErrorFor(field string) bool {
	for _, e := range p.errs {
		if e.Rule < 0 && e.Field == field {
			return true
		}
	}
	return false
}

func (p *parser) yamlError(err error) {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	// yaml.v3 reports "line N: ..." for syntax errors.
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				line = n
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	p.errorAt(&yaml.Node{Line: line}, -1, "", "invalid YAML: %s", msg)
}

// field is one key/value pair of a mapping.
type field struct {
	key     string
	keyNode *yaml.Node
	val     *yaml.Node
}

func fieldNode(fs []field, key string) *yaml.Node {
	for _, f := range fs {
		if f.key == key {
			return f.val
		}
	}
	return nil
}

// fields returns the pairs of mapping n in order, with YAML merge keys ("<<")
// expanded: explicit keys win over merged ones, earlier merged maps over
// later ones. Duplicate explicit keys are errors, as in the apiserver's
// strict decoding.
func (p *parser) fields(n *yaml.Node, rule int, path string) []field {
	var out []field
	var merged []field
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := p.resolve(n.Content[i])
		v := n.Content[i+1]
		if k == nil {
			return out
		}
		if k.Kind != yaml.ScalarNode {
			p.errorAt(k, rule, path, "mapping key must be a string, found %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merged = append(merged, p.mergeSources(v, rule, path)...)
			continue
		}
		dup := false
		for _, f := range out {
			if f.key == k.Value {
				p.errorAt(k, rule, join(path, k.Value), "duplicate field (first at line %d)", f.keyNode.Line)
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, field{key: k.Value, keyNode: k, val: v})
		}
	}
	for _, m := range merged {
		seen := false
		for _, f := range out {
			if f.key == m.key {
				seen = true
				break
			}
		}
		if !seen {
			out = append(out, m)
		}
	}
	return out
}

// mergeSources returns the pairs a merge key's value contributes: one
// mapping, or a sequence of mappings.
func (p *parser) mergeSources(v *yaml.Node, rule int, path string) []field {
	v = p.resolve(v)
	if v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return p.fields(v, rule, path)
	case yaml.SequenceNode:
		var out []field
		for _, item := range v.Content {
			item = p.resolve(item)
			if item == nil {
				return out
			}
			if item.Kind != yaml.MappingNode {
				p.errorAt(item, rule, path, "merge key (<<) needs a mapping or a list of mappings, found %s", describe(item))
				continue
			}
			for _, f := range p.fields(item, rule, path) {
				dup := false
				for _, g := range out {
					if g.key == f.key {
						dup = true
						break
					}
				}
				if !dup {
					out = append(out, f)
				}
			}
		}
		return out
	}
	p.errorAt(v, rule, path, "merge key (<<) needs a mapping or a list of mappings, found %s", describe(v))
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// describe names a node's type for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "boolean " + n.Value
		case "!!int":
			return "integer " + n.Value
		case "!!float":
			return "number " + n.Value
		case "!!str":
			return "string " + strconv.Quote(n.Value)
		}
		return n.ShortTag() + " " + strconv.Quote(n.Value)
	}
	return "an unexpected YAML node"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func isPlain(n *yaml.Node) bool {
	return n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
}

// yaml11Bool returns the value of a YAML 1.1 boolean literal. The apiserver
// reads policies with a YAML 1.1 parser, where these plain scalars are
// booleans; yaml.v3 (YAML 1.2) reads most of them as strings.
func yaml11Bool(s string) (value, ok bool) {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
		return true, true
	case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}

// str reads a string scalar; null reads as "" (as JSON null does). ok is
// false when the node is not a string; the error is recorded.
func (p *parser) str(n *yaml.Node, rule int, path string) (string, bool) {
	n = p.resolve(n)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		p.errorAt(n, rule, path, "expected a string, found %s", describe(n))
		return "", false
	}
	switch n.ShortTag() {
	case "!!null":
		return "", true
	case "!!str", "!!timestamp":
		if isPlain(n) {
			if _, isBool := yaml11Bool(n.Value); isBool {
				p.errorAt(n, rule, path, "expected a string, found boolean %s (the apiserver's YAML 1.1 parser reads it as a boolean; quote it)", n.Value)
				return "", false
			}
		}
		return n.Value, true
	}
	p.errorAt(n, rule, path, "expected a string, found %s (quote it)", describe(n))
	return "", false
}

// boolean reads a boolean scalar; null reads as unset (nil).
func (p *parser) boolean(n *yaml.Node, rule int, path string) *bool {
	n = p.resolve(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!bool":
			if v, ok := yaml11Bool(n.Value); ok {
				return &v
			}
		case "!!str":
			if isPlain(n) {
				if v, ok := yaml11Bool(n.Value); ok {
					return &v
				}
			}
		}
	}
	p.errorAt(n, rule, path, "expected true or false, found %s", describe(n))
	return nil
}

// strs reads a list of strings; null reads as an empty list.
func (p *parser) strs(n *yaml.Node, rule int, path string) []string {
	n = p.resolve(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorAt(n, rule, path, "expected a list of strings, found %s", describe(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		if s, ok := p.str(item, rule, index(path, i)); ok {
			out = append(out, s)
		}
	}
	return out
}

// items returns the resolved elements of a list; null reads as empty.
func (p *parser) items(n *yaml.Node, rule int, path string) []*yaml.Node {
	n = p.resolve(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorAt(n, rule, path, "expected a list, found %s", describe(n))
		return nil
	}
	return n.Content
}

var stageList = "RequestReceived,ResponseStarted,ResponseComplete,Panic"

func (p *parser) stages(n *yaml.Node, rule int, path string) Stages {
	var out Stages
	for i, item := range p.items(n, rule, path) {
		s, ok := p.str(item, rule, index(path, i))
		if !ok {
			continue
		}
		b, ok := ParseStage(s)
		if !ok {
			p.errorAt(item, rule, index(path, i), "invalid stage %q: allowed stages are %s", s, stageList)
			continue
		}
		out |= b
	}
	return out
}

// objectMetaFields are the JSON names of metav1.ObjectMeta's fields.
var objectMetaFields = map[string]bool{
	"name": true, "generateName": true, "namespace": true, "selfLink": true,
	"uid": true, "resourceVersion": true, "generation": true,
	"creationTimestamp": true, "deletionTimestamp": true,
	"deletionGracePeriodSeconds": true, "labels": true, "annotations": true,
	"ownerReferences": true, "finalizers": true, "managedFields": true,
}

// metadata checks that metadata is a mapping of ObjectMeta fields. Their
// values play no part in auditing and are not inspected further.
func (p *parser) metadata(n *yaml.Node) {
	n = p.resolve(n)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errorAt(n, -1, "metadata", "expected a mapping, found %s", describe(n))
		return
	}
	for _, f := range p.fields(n, -1, "metadata") {
		if !objectMetaFields[f.key] {
			p.errorAt(f.keyNode, -1, "metadata."+f.key, "unknown field (not in ObjectMeta)")
		}
	}
}

func (p *parser) rules(n *yaml.Node) []ruleSpec {
	items := p.items(n, -1, "rules")
	specs := make([]ruleSpec, 0, len(items))
	for i, item := range items {
		specs = append(specs, p.rule(item, i))
		if p.exhausted {
			break
		}
	}
	return specs
}

func (p *parser) rule(n *yaml.Node, ri int) ruleSpec {
	n = p.resolve(n)
	if n == nil {
		return ruleSpec{}
	}
	r := ruleSpec{line: n.Line}
	if isNull(n) {
		p.errorAt(n, ri, "level", "required (the rule is null)")
		return r
	}
	if n.Kind != yaml.MappingNode {
		p.errorAt(n, ri, "", "expected a rule mapping, found %s", describe(n))
		return r
	}
	levelSeen := false
	var urlsNode *yaml.Node
	for _, f := range p.fields(n, ri, "") {
		switch f.key {
		case "level":
			s, ok := p.str(f.val, ri, "level")
			if !ok {
				levelSeen = true
				continue
			}
			if s == "" {
				continue
			}
			levelSeen = true
			lv, ok := ParseLevel(s)
			if !ok {
				p.errorAt(p.resolve(f.val), ri, "level", "unsupported value %q: supported values are None, Metadata, Request, RequestResponse", s)
				continue
			}
			r.level = lv
		case "users":
			r.users = p.strs(f.val, ri, "users")
		case "userGroups":
			r.userGroups = p.strs(f.val, ri, "userGroups")
		case "verbs":
			r.verbs = p.strs(f.val, ri, "verbs")
		case "namespaces":
			r.namespaces = p.strs(f.val, ri, "namespaces")
		case "nonResourceURLs":
			r.nonResourceURLs = p.nonResourceURLs(f.val, ri)
			urlsNode = f.val
		case "resources":
			r.resources = p.groupResources(f.val, ri)
		case "omitStages":
			r.omitStages = p.stages(f.val, ri, "omitStages")
		case "omitManagedFields":
			r.omitManagedFields = p.boolean(f.val, ri, "omitManagedFields")
		default:
			p.errorAt(f.keyNode, ri, f.key, "unknown field (rule fields: level, users, userGroups, verbs, resources, namespaces, nonResourceURLs, omitStages, omitManagedFields)")
		}
	}
	if !levelSeen {
		p.errorAt(n, ri, "level", "required: one of None, Metadata, Request, RequestResponse")
	}
	if len(r.nonResourceURLs) > 0 && (len(r.resources) > 0 || len(r.namespaces) > 0) {
		other := "resources"
		if len(r.resources) == 0 {
			other = "namespaces"
		}
		p.errorAt(p.resolveQuiet(urlsNode), ri, "nonResourceURLs", "rules cannot apply to both regular resources and non-resource URLs (this rule also has %s)", other)
	}
	return r
}

// resolveQuiet follows aliases without charging the budget (for locating
// errors on nodes already visited).
func (p *parser) resolveQuiet(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func (p *parser) nonResourceURLs(n *yaml.Node, ri int) []string {
	items := p.items(n, ri, "nonResourceURLs")
	out := make([]string, 0, len(items))
	for i, item := range items {
		path := index("nonResourceURLs", i)
		u, ok := p.str(item, ri, path)
		if !ok {
			continue
		}
		out = append(out, u)
		if u == "*" {
			continue
		}
		if !strings.HasPrefix(u, "/") {
			p.errorAt(p.resolveQuiet(item), ri, path, "invalid value %q: non-resource URL rules must begin with a '/' character", u)
		}
		if u != "" && strings.Contains(u[:len(u)-1], "*") {
			p.errorAt(p.resolveQuiet(item), ri, path, "invalid value %q: non-resource URL wildcards '*' must be the final character of the rule", u)
		}
	}
	return out
}

func (p *parser) groupResources(n *yaml.Node, ri int) []groupResources {
	items := p.items(n, ri, "resources")
	out := make([]groupResources, 0, len(items))
	for i, item := range items {
		path := index("resources", i)
		item = p.resolve(item)
		if item == nil {
			return out
		}
		var gr groupResources
		if isNull(item) {
			// JSON null decodes to an empty GroupResources: the core group,
			// all resources.
			out = append(out, gr)
			continue
		}
		if item.Kind != yaml.MappingNode {
			p.errorAt(item, ri, path, "expected a mapping with group, resources, resourceNames; found %s", describe(item))
			continue
		}
		var groupNode, namesNode *yaml.Node
		for _, f := range p.fields(item, ri, path) {
			switch f.key {
			case "group":
				gr.group, _ = p.str(f.val, ri, path+".group")
				groupNode = f.val
			case "resources":
				gr.resources = p.strs(f.val, ri, path+".resources")
			case "resourceNames":
				gr.resourceNames = p.strs(f.val, ri, path+".resourceNames")
				namesNode = f.val
			default:
				p.errorAt(f.keyNode, ri, path+"."+f.key, "unknown field (resources entries have group, resources, resourceNames)")
			}
		}
		if gr.group != "" && gr.group != "*" {
			if msg := checkDNSSubdomain(gr.group); msg != "" {
				p.errorAt(p.resolveQuiet(groupNode), ri, path+".group", "invalid value %q: %s", gr.group, msg)
			}
		}
		if len(gr.resourceNames) > 0 && len(gr.resources) == 0 {
			p.errorAt(p.resolveQuiet(namesNode), ri, path+".resourceNames", "using resourceNames requires at least one resource")
		}
		out = append(out, gr)
	}
	return out
}

// checkDNSSubdomain returns "" when s is a lowercase RFC 1123 subdomain, as
// k8s.io/apimachinery's IsDNS1123Subdomain requires of API group names, or
// what is wrong otherwise.
func checkDNSSubdomain(s string) string {
	const msg = "an API group must be a lowercase RFC 1123 subdomain: lower case alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character (e.g. 'apps', 'rbac.authorization.k8s.io'; no version)"
	if len(s) > 253 {
		return "must be no more than 253 characters"
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || !alnum(label[0]) || !alnum(label[len(label)-1]) {
			return msg
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !alnum(c) && c != '-' {
				return msg
			}
		}
	}
	return ""
}
