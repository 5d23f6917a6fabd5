// Package access decides who may do what. A catalog declares roles (the
// seed's RBAC block: permissions of an action on a kind of resource, on
// the objects a condition selects) and role bindings (who holds each);
// Compile turns one revision's into a Policy, and Policy.For turns the
// policy into the Grants of one subject — its conditions with the
// subject's {{ user.* }} values filled in, compiled once. Every door (the
// API, the web page, the CLI through the API) asks the same Grants, so a
// rule is written once.
//
// A catalog that declares no roles keeps pier's behaviour from before
// roles existed: everyone signed in (and every API client) may do
// everything the API allows — read, write runtime properties, execute
// actions, approve runs (the approval rules still decide whose approval
// counts), report runs. Callers without credentials read everything,
// roles or not, when the daemon allows anonymous reads at all (an
// operator's choice for local development; off by default). pier's configured
// administrators hold the built-in role admin, every right on every
// resource, whatever the catalog says.
package access

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
)

// Actions a permission allows.
const (
	Read    = "read"
	Write   = "write"
	Execute = "execute"
	Approve = "approve"
)

// Resources a permission applies to.
const (
	Entity    = "entity"
	Action    = "action"
	Run       = "run"
	Blueprint = "blueprint"
	Scorecard = "scorecard"
	// Any is "*": every resource, or (as an action) every action. Reading
	// what is about the whole daemon (the audit log, outbound deliveries)
	// needs read on every resource.
	Any = "*"
)

// Admin is the built-in role of pier's configured administrators.
const Admin = "admin"

var (
	actions   = []string{Read, Write, Execute, Approve, Any}
	resources = []string{Entity, Action, Run, Blueprint, Scorecard, Any}
)

// Subject is who asks: a person, a machine acting for one, a machine on
// its own, or nobody in particular.
type Subject struct {
	// Login is the GitHub login; empty for a machine acting for nobody
	// and for anonymous callers.
	Login string
	Email string
	Name  string
	// Teams are the catalog teams (team entity identifiers) the person
	// belongs to.
	Teams []string
	// Roles are roles given outside git: a configured client's.
	Roles []string
	// Admin is set for pier's configured administrators.
	Admin bool
	// Anonymous is a caller without credentials (let in only when the
	// daemon allows anonymous reads).
	Anonymous bool
}

// key identifies the grants a subject gets; two subjects with one key
// get the same grants.
func (s Subject) key() string {
	teams, roles := slices.Sorted(slices.Values(s.Teams)), slices.Sorted(slices.Values(s.Roles))
	return fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%s\x00%v\x00%v", strings.ToLower(s.Login), s.Email, s.Name,
		strings.Join(teams, ","), strings.Join(roles, ","), s.Admin, s.Anonymous)
}

// Problem is one defect of the declared roles: Path leads from the
// catalog key (roles.<id> or roleBindings.<id>) to the field at fault.
type Problem struct {
	Key     catalog.Key
	Path    []string
	Message string
}

// Policy is one revision's roles and bindings, compiled. It is safe for
// concurrent use.
type Policy struct {
	declared bool
	roles    map[string]*role
	bindings []*catalog.RoleBinding

	mu     sync.Mutex
	grants map[string]*Grants // by Subject.key
}

// maxGrants bounds the cache of compiled grants; past it, it starts over.
const maxGrants = 4096

type role struct {
	id    string
	perms []perm
}

// perm is one permission; cond is its condition as written, nil for
// every object.
type perm struct {
	action, resource string
	cond             *catalog.Rule
}

// Compile compiles the catalog's roles and bindings. A catalog without
// roles gets the default policy. Problems are reported for every role or
// binding at fault; those are left out, the rest compiled.
func Compile(cat *catalog.Catalog) (*Policy, []Problem) {
	p := &Policy{roles: map[string]*role{}, grants: map[string]*Grants{}}
	p.roles[Admin] = &role{id: Admin, perms: []perm{{action: Any, resource: Any}}}
	if len(cat.Roles) == 0 {
		p.roles[member] = &role{id: member, perms: []perm{{action: Any, resource: Any}}}
		p.roles[viewer] = &role{id: viewer, perms: []perm{{action: Read, resource: Any}}}
		p.bindings = []*catalog.RoleBinding{{Role: member, Everyone: true}}
		var ps []Problem
		for id := range cat.RoleBindings {
			key := catalog.Key{Kind: catalog.KindRoleBindingObj, ID: id}
			ps = append(ps, Problem{Key: key, Message: fmt.Sprintf("binds role %q, but the catalog declares no roles", id)})
		}
		return p, ps
	}
	p.declared = true
	p.roles[viewer] = &role{id: viewer, perms: []perm{{action: Read, resource: Any}}}
	// What anyone signed in may read whatever the roles say: the
	// definitions (they are in git, readable by anyone with the
	// repository) and the runs they asked for.
	p.roles[signedIn] = &role{id: signedIn, perms: []perm{
		{action: Read, resource: Blueprint}, {action: Read, resource: Action}, {action: Read, resource: Scorecard},
		{action: Read, resource: Run, cond: &catalog.Rule{Property: "requester", Operator: "=", Value: "{{ user.login }}"}},
	}}
	p.bindings = []*catalog.RoleBinding{{Role: signedIn, Everyone: true}}
	var ps []Problem
	for _, id := range slices.Sorted(mapsKeys(cat.Roles)) {
		r := cat.Roles[id]
		key := catalog.Key{Kind: catalog.KindRoleObj, ID: id}
		if _, builtIn := p.roles[id]; builtIn {
			ps = append(ps, Problem{Key: key, Message: fmt.Sprintf("%q is one of pier's built-in roles; name this one otherwise", id)})
			continue
		}
		cr, rps := compileRole(key, r)
		ps = append(ps, rps...)
		if len(rps) == 0 {
			p.roles[id] = cr
		}
	}
	for _, id := range slices.Sorted(mapsKeys(cat.RoleBindings)) {
		b := cat.RoleBindings[id]
		key := catalog.Key{Kind: catalog.KindRoleBindingObj, ID: id}
		if _, ok := cat.Roles[id]; !ok {
			ps = append(ps, Problem{Key: key, Message: fmt.Sprintf("binds role %q, which is not declared under roles%s", id, suggestRole(id, cat.Roles))})
			continue
		}
		if b.Role != "" && b.Role != id {
			ps = append(ps, Problem{Key: key, Path: []string{"role"}, Message: fmt.Sprintf("is %q, but the binding is keyed by role %q", b.Role, id)})
			continue
		}
		bb := *b
		bb.Role = id
		p.bindings = append(p.bindings, &bb)
	}
	return p, ps
}

// Built-in roles: member is everyone's in the default policy, viewer
// anonymous callers' (when they are let in at all), signedIn what everyone
// signed in holds when the catalog declares roles.
const (
	member   = "member"
	viewer   = "viewer"
	signedIn = "signed-in"
)

// Declared reports whether the catalog declares roles (false: the
// default policy).
func (p *Policy) Declared() bool { return p.declared }

func compileRole(key catalog.Key, r *catalog.Role) (*role, []Problem) {
	cr := &role{id: key.ID}
	var ps []Problem
	for i, pm := range r.Permissions {
		at := []string{"permissions", fmt.Sprint(i)}
		if !slices.Contains(actions, pm.Action) {
			ps = append(ps, Problem{Key: key, Path: append(at, "action"), Message: fmt.Sprintf("%q is not an action (want %s)", pm.Action, strings.Join(actions, ", "))})
			continue
		}
		if !slices.Contains(resources, pm.Resource) {
			ps = append(ps, Problem{Key: key, Path: append(at, "resource"), Message: fmt.Sprintf("%q is not a resource (want %s)", pm.Resource, strings.Join(resources, ", "))})
			continue
		}
		out := perm{action: pm.Action, resource: pm.Resource}
		if len(pm.Condition) > 0 && string(pm.Condition) != "null" {
			var rule catalog.Rule
			if err := catalog.Decode(pm.Condition, &rule); err != nil {
				ps = append(ps, Problem{Key: key, Path: append(at, "condition"), Message: err.Error()})
				continue
			}
			// Compiled once with sample values: a condition that cannot
			// compile for someone is refused for everyone, at load.
			if _, err := compileCondition(rule, sample); err != nil {
				ps = append(ps, Problem{Key: key, Path: append(at, "condition"), Message: err.Error()})
				continue
			}
			out.cond = &rule
		}
		cr.perms = append(cr.perms, out)
	}
	return cr, ps
}

// FillRule fills rule's {{ user.* }} templates for s, as a role's
// condition is filled: the same templates mean the same in a dashboard's
// datasets and filters.
func FillRule(rule catalog.Rule, s Subject) (catalog.Rule, error) { return fill(rule, s) }

// sample is whom conditions are compiled for at load.
var sample = Subject{Login: "someone", Email: "someone@example.com", Name: "Someone", Teams: []string{"team"}}

// For returns the subject's grants: every permission of every role it
// holds, conditions filled in for it.
func (p *Policy) For(s Subject) *Grants {
	k := s.key()
	p.mu.Lock()
	g := p.grants[k]
	p.mu.Unlock()
	if g != nil {
		return g
	}
	g = p.grantsFor(s)
	p.mu.Lock()
	if len(p.grants) >= maxGrants {
		p.grants = map[string]*Grants{}
	}
	p.grants[k] = g
	p.mu.Unlock()
	return g
}

// Roles returns the roles the subject holds, sorted.
func (p *Policy) Roles(s Subject) []string {
	var out []string
	add := func(id string) {
		if _, ok := p.roles[id]; ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if s.Admin {
		add(Admin)
	}
	if s.Anonymous {
		add(viewer)
	}
	for _, r := range s.Roles {
		add(r)
	}
	for _, b := range p.bindings {
		if b.Everyone && !s.Anonymous ||
			s.Login != "" && slices.ContainsFunc(b.Users, func(u string) bool { return strings.EqualFold(u, s.Login) }) ||
			slices.ContainsFunc(b.Teams, func(t string) bool { return slices.Contains(s.Teams, t) }) {
			add(b.Role)
		}
	}
	sort.Strings(out)
	return out
}

func (p *Policy) grantsFor(s Subject) *Grants {
	g := &Grants{subject: s, roles: p.Roles(s), rules: map[string][]grant{}}
	for _, id := range g.roles {
		for _, pm := range p.roles[id].perms {
			gr := grant{role: id}
			if pm.cond != nil {
				rule, err := fill(*pm.cond, s)
				if err == nil {
					gr.q, err = compileCondition(rule, s)
				}
				if err != nil {
					continue // compiled at load with sample values; cannot happen
				}
				gr.rule = rule
			}
			k := pm.action + "\x00" + pm.resource
			g.rules[k] = append(g.rules[k], gr)
		}
	}
	return g
}

func compileCondition(rule catalog.Rule, s Subject) (*query.Query, error) {
	filled, err := fill(rule, s)
	if err != nil {
		return nil, err
	}
	q := catalog.Query{Combinator: "and", Rules: []catalog.Rule{filled}}
	return query.Compile(q)
}

// userRef is a {{ user.X }} template in a condition's value.
var userRef = regexp.MustCompile(`\{\{\s*user\.([A-Za-z_]+)\s*\}\}`)

// fill replaces the {{ user.* }} templates of rule's values with the
// subject's: login, email and name anywhere in a string; team, as a whole
// value, stands for each of the subject's teams (the rule becomes an or
// of one rule per team, which matches nothing for someone in no team);
// teams, as a whole value, is the list of them.
func fill(rule catalog.Rule, s Subject) (catalog.Rule, error) {
	if len(rule.Rules) > 0 {
		out := rule
		out.Rules = make([]catalog.Rule, len(rule.Rules))
		for i, r := range rule.Rules {
			f, err := fill(r, s)
			if err != nil {
				return catalog.Rule{}, fmt.Errorf("rules[%d]: %w", i, err)
			}
			out.Rules[i] = f
		}
		return out, nil
	}
	if str, ok := rule.Value.(string); ok {
		if m := userRef.FindStringSubmatch(str); m != nil && m[0] == strings.TrimSpace(str) && (m[1] == "team" || m[1] == "teams") {
			if m[1] == "teams" {
				rule.Value = anyList(s.Teams)
				return rule, nil
			}
			alts := make([]catalog.Rule, len(s.Teams))
			for i, t := range s.Teams {
				alts[i] = rule
				alts[i].Value = t
			}
			return catalog.Rule{Combinator: "or", Rules: alts}, nil
		}
	}
	v, err := fillValue(rule.Value, s)
	rule.Value = v
	return rule, err
}

func fillValue(v any, s Subject) (any, error) {
	switch x := v.(type) {
	case string:
		var bad error
		out := userRef.ReplaceAllStringFunc(x, func(m string) string {
			switch name := userRef.FindStringSubmatch(m)[1]; name {
			case "login":
				return s.Login
			case "email":
				return s.Email
			case "name":
				return s.Name
			case "team", "teams":
				bad = fmt.Errorf("{{ user.%s }} must be a rule's whole value", name)
			default:
				bad = fmt.Errorf("{{ user.%s }}: a condition knows user.login, user.email, user.name, user.team and user.teams", name)
			}
			return ""
		})
		if bad == nil && strings.Contains(out, "{{") {
			bad = fmt.Errorf("%q: a condition's templates are {{ user.login }}, {{ user.email }}, {{ user.name }}, {{ user.team }} and {{ user.teams }}", x)
		}
		return out, bad
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			f, err := fillValue(el, s)
			if err != nil {
				return nil, err
			}
			out[i] = f
		}
		return out, nil
	}
	return v, nil
}

func anyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func suggestRole(id string, roles map[string]*catalog.Role) string {
	ids := slices.Sorted(mapsKeys(roles))
	if len(ids) == 0 {
		return ""
	}
	return " (roles: " + strings.Join(ids, ", ") + ")"
}

// Grants are what one subject may do. They are immutable and safe for
// concurrent use.
type Grants struct {
	subject Subject
	roles   []string
	rules   map[string][]grant // by action\x00resource
}

// grant is one permission of one role, for one subject: q nil allows
// every object.
type grant struct {
	role string
	rule catalog.Rule
	q    *query.Query
}

// Subject is whom the grants are for.
func (g *Grants) Subject() Subject { return g.subject }

// Roles are the roles the subject holds.
func (g *Grants) Roles() []string { return g.roles }

// matching returns the grants of action on resource, "*" included.
func (g *Grants) matching(action, resource string) []grant {
	var out []grant
	for _, a := range []string{action, Any} {
		for _, r := range []string{resource, Any} {
			out = append(out, g.rules[a+"\x00"+r]...)
		}
	}
	return out
}

// Can reports whether the subject may do action on some resource of the
// kind (on all of them, or on those a condition selects).
func (g *Grants) Can(action, resource string) bool { return len(g.matching(action, resource)) > 0 }

// All reports whether the subject may do action on every resource of the
// kind, whatever it is.
func (g *Grants) All(action, resource string) bool {
	return slices.ContainsFunc(g.matching(action, resource), func(gr grant) bool { return gr.q == nil })
}

// Allows reports whether the subject may do action on the object, seen
// through the query engine (an entity, or the view of an action, run,
// blueprint or scorecard: see the View functions).
func (g *Grants) Allows(action, resource string, obj *query.Entity, graph query.Graph) bool {
	for _, gr := range g.matching(action, resource) {
		if gr.q == nil || gr.q.Match(obj, graph) {
			return true
		}
	}
	return false
}

// Filter is what a listing of resources must keep for the subject: all
// of them, none, or those matching any of Rules (the subject's
// conditions, filled in), which a search adds to its own rules so that
// its indexes narrow on them too.
type Filter struct {
	All   bool
	Rules []catalog.Rule
}

// None reports whether the filter keeps nothing.
func (f Filter) None() bool { return !f.All && len(f.Rules) == 0 }

// Rule is the filter as one rule: the condition itself, or an or of
// them. It is meaningful only when neither All nor None.
func (f Filter) Rule() catalog.Rule {
	if len(f.Rules) == 1 {
		return f.Rules[0]
	}
	return catalog.Rule{Combinator: "or", Rules: f.Rules}
}

// Filter returns what of resource the subject may do action on.
func (g *Grants) Filter(action, resource string) Filter {
	var f Filter
	for _, gr := range g.matching(action, resource) {
		if gr.q == nil {
			return Filter{All: true}
		}
		f.Rules = append(f.Rules, gr.rule)
	}
	return f
}

// Denied is the answer to a refused request: the permission that is
// missing.
type Denied struct {
	Subject          string
	Action, Resource string
	Object           string
}

func (d *Denied) Error() string {
	msg := fmt.Sprintf("%s may not %s %s", d.Subject, d.Action, d.Resource)
	if d.Object != "" {
		msg += " " + d.Object
	}
	return msg + fmt.Sprintf(": no role grants %s on %s", d.Action, cmp.Or(d.Resource, Any))
}

// Who is how refusals name the subject.
func (s Subject) Who() string {
	switch {
	case s.Login != "":
		return s.Login
	case s.Anonymous:
		return "an anonymous caller"
	}
	return "this client"
}
