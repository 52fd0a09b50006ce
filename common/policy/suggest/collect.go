package suggest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/enrich"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/policy"
	"github.com/auditlane/auditlane/common/whatif"
)

// cellKey is what a policy rule can tell apart about a request: who
// (user and groups), the verb, and the resource and namespace or the
// non-resource path. resourceNames are never used in suggestions.
type cellKey struct {
	user, groups string // groups joined with "\x00"
	verb         string
	hasRef       bool
	group, res   string
	sub, ns      string
	path         string
}

// cell aggregates the observed events of one cellKey.
type cell struct {
	key    cellKey
	events int64
	// size is what the cell's events ship at each level under the
	// suggested policy's settings (RequestReceived omitted,
	// omitManagedFields), with the configured pipeline.
	size [4]int64
	// count is the number of events shipped at each level (RequestReceived
	// records are never shipped).
	count [4]int64
	// must: the cell holds a security-relevant completion record.
	must    bool
	reasons whatif.Reasons
	// human: a person made some of the requests (see enrich.UserHuman).
	human bool
}

// Collector gathers what Suggest needs from observed events. It measures
// each event at every level with the pipeline the front ends build from
// the same settings. It is not safe for concurrent use.
type Collector struct {
	lv      [4]*pipeline.Pipeline // by level; [0] unused
	scratch pipeline.Scratch
	index   map[cellKey]int
	cells   []cell
	strs    map[string]string
	events  int64
	inputs  []string
}

// levelPolicy is the policy the size of an event at one level is measured
// with: the suggested policy's policy-wide settings and one rule.
func levelPolicy(l policy.Level) string {
	return fmt.Sprintf("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [\"RequestReceived\"]\nomitManagedFields: true\nrules:\n- level: %s\n", l)
}

// NewCollector builds the measuring pipelines from set (its policy_file
// and dead_letter_file are replaced).
func NewCollector(set pipeline.Settings) (*Collector, error) {
	dir, err := os.MkdirTemp("", "auditlane-suggest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	c := &Collector{index: map[cellKey]int{}, strs: map[string]string{}}
	for l := policy.LevelMetadata; l <= policy.LevelRequestResponse; l++ {
		path := filepath.Join(dir, l.String()+".yaml")
		if err := os.WriteFile(path, []byte(levelPolicy(l)), 0o600); err != nil {
			return nil, err
		}
		s := set
		if err := s.Set("policy_file", path); err != nil {
			return nil, err
		}
		if err := s.Set("dead_letter_file", ""); err != nil {
			return nil, err
		}
		p, dead, err := s.Build()
		if err != nil {
			return nil, fmt.Errorf("suggest: %w", err)
		}
		if dead != nil {
			dead.Close()
		}
		c.lv[l] = p
	}
	return c, nil
}

func (c *Collector) intern(s string) string {
	if v, ok := c.strs[s]; ok {
		return v
	}
	c.strs[s] = s
	return s
}

// Add measures one event; o is its what-if observation (for its
// security reasons).
func (c *Collector) Add(ev *audit.Event, o *whatif.Observation) {
	k := cellKey{user: c.intern(ev.User.Username), groups: c.intern(strings.Join(ev.User.Groups, "\x00")), verb: c.intern(ev.Verb), hasRef: ev.HasObjectRef}
	if ev.HasObjectRef {
		r := &ev.ObjectRef
		k.group, k.res, k.sub, k.ns = c.intern(r.APIGroup), c.intern(r.Resource), c.intern(r.Subresource), c.intern(r.Namespace)
	} else {
		k.path = c.intern(ev.Path())
	}
	i, ok := c.index[k]
	if !ok {
		i = len(c.cells)
		c.cells = append(c.cells, cell{key: k})
		c.index[k] = i
	}
	cl := &c.cells[i]
	cl.events++
	c.events++
	for l := policy.LevelMetadata; l <= policy.LevelRequestResponse; l++ {
		if r := c.lv[l].Eval(ev, &c.scratch); r.Outcome == pipeline.Kept {
			cl.size[l] += int64(len(r.Out))
			cl.count[l]++
		}
	}
	if o != nil && o.Completion && o.Reasons != 0 {
		cl.must = true
		cl.reasons |= o.Reasons
	}
	if o != nil && o.Enrich != nil && o.Enrich.Identity.Kind == enrich.UserHuman {
		cl.human = true
	}
}

// Events returns the number of events added.
func (c *Collector) Events() int64 { return c.events }

// probe returns an event with the fields a policy decides on.
func (k *cellKey) probe() *audit.Event {
	ev := &audit.Event{Verb: k.verb, Stage: audit.StageResponseComplete, HasObjectRef: k.hasRef}
	ev.User.Username = k.user
	if k.groups != "" {
		ev.User.Groups = strings.Split(k.groups, "\x00")
	}
	if k.hasRef {
		ev.ObjectRef = audit.ObjectRef{APIGroup: k.group, Resource: k.res, Subresource: k.sub, Namespace: k.ns}
	} else {
		ev.RequestURI = k.path
	}
	return ev
}

func (k *cellKey) hasGroup(g string) bool {
	for _, x := range strings.Split(k.groups, "\x00") {
		if x == g {
			return true
		}
	}
	return false
}
