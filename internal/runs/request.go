package runs

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/compiled"
	"github.com/pierhq/pier/internal/jqtmpl"
	"github.com/pierhq/pier/internal/node"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/validate"
)

// Request asks for a run.
type Request struct {
	Action string
	// Entity is the identifier of the entity a DAY-2 or DELETE action
	// runs on.
	Entity string
	// Inputs are the user inputs (Port's "properties").
	Inputs    map[string]any
	Requester string
	// Grants are the requester's rights: they must allow executing the
	// action and reading its entity. nil for pier's own requests
	// (automations, schedules), which the catalog declares.
	Grants *access.Grants
	// Unmapped says the requester is an API client acting for no GitHub
	// login. Self-approval on a pull request is checked on logins, so
	// such a request for a run approved on a pull request is refused:
	// whoever is behind the client could approve it.
	Unmapped bool
	// Source says where the request came from: api, pull_request,
	// automation, schedule.
	Source string
	// RequestKey makes the request idempotent: a second request with the
	// same key returns the first run.
	RequestKey string
	// Approval is an approval request that exists already: the pull
	// request a person opened to ask for the run.
	Approval *store.RunApproval
	// Event is what an automation reacts to; templates see it as .event.
	Event map[string]any
}

// Request validates req against the action and stores the run: waiting
// for approval if the action's rule asks for it, approved otherwise. The
// run is moved along in the background (Kick); the stored run is
// returned at once. A refused request is an *Error.
func (e *Engine) Request(ctx context.Context, req Request) (store.Run, error) {
	snap := e.opts.Catalog()
	a, ok := e.action(req.Action)
	if !ok {
		return store.Run{}, refuse(404, "", "action %q does not exist", req.Action)
	}
	run := store.Run{
		ID: newID(), Action: a.Identifier, Blueprint: a.Trigger.BlueprintIdentifier,
		Requester: req.Requester, Source: req.Source, RequestKey: req.RequestKey, Event: req.Event,
		CreatedAt: e.opts.Now().UTC(),
	}
	run.UpdatedAt = run.CreatedAt
	if g := req.Grants; g != nil && !g.Allows(access.Execute, access.Action, access.ActionView(a), nil) {
		return store.Run{}, denied(req, "", access.Execute, access.Action, a.Identifier)
	}
	ent, err := checkEntity(snap, a, req.Entity)
	if err != nil {
		return store.Run{}, err
	}
	if g := req.Grants; g != nil && ent != nil && !g.Allows(access.Read, access.Entity, snap.QueryEntity(ent), snap.Graph()) {
		return store.Run{}, denied(req, "entity", access.Read, access.Entity, ent.Blueprint+"/"+ent.Identifier)
	}
	if ent != nil {
		run.Entity = ent.Identifier
	}
	if run.Inputs, err = checkInputs(snap, a, req.Inputs); err != nil {
		return store.Run{}, err
	}
	rule, needs, err := approval.RuleOf(a)
	if err != nil {
		return store.Run{}, refuse(500, "", "%v", err)
	}
	if needs && a.Approval != nil && len(a.Approval.When) > 0 {
		if needs, err = approvalNeeded(ctx, a, run, ent, e.RunURL(run.ID)); err != nil {
			return store.Run{}, refuse(500, "", "action %s: approval.when: %v", a.Identifier, err)
		}
	}
	ev := store.RunEvent{At: run.CreatedAt, Actor: req.Requester, To: store.RunApproved, Note: "no approval needed"}
	if !needs && req.Approval != nil {
		// Asked for by pull request, but nothing to approve: the pull
		// request is kept only to be closed once the run is dispatched.
		run.Approval = &store.RunApproval{System: req.Approval.System, Ref: req.Approval.Ref, URL: req.Approval.URL, File: req.Approval.File, ContentSHA: req.Approval.ContentSHA}
	}
	if needs && rule.System == approval.GitHub && req.Unmapped {
		return store.Run{}, refuse(422, "", "action %s needs approval on a pull request, and approvals are never the requester's, compared by GitHub login: client %s acts for no login; give the client the login of the person it acts for (clients: [{clientId: %s, login: ...}]), or ask with a personal token", a.Identifier, req.Requester, req.Requester)
	}
	if needs && req.Approval == nil {
		// Refuse now rather than let the run wait a week for a system
		// this pier cannot reach.
		if _, err := e.opts.Systems(rule.System); err != nil {
			return store.Run{}, refuse(503, "", "action %s needs approval through %s: %v", a.Identifier, rule.System, err)
		}
	}
	if needs {
		ap := &store.RunApproval{System: rule.System, Required: rule.Required, ExpiresAt: run.CreatedAt.Add(rule.Expiry)}
		if req.Approval != nil {
			ap.System, ap.Ref, ap.URL = req.Approval.System, req.Approval.Ref, req.Approval.URL
			// The commit the request was read at holds the run; who
			// pushed it is read before an approval counts (SeenSHA is
			// left empty for that).
			ap.File, ap.ContentSHA = req.Approval.File, req.Approval.ContentSHA
		}
		run.Approval = ap
		ev = store.RunEvent{At: run.CreatedAt, Actor: req.Requester, To: store.RunWaitingForApproval,
			Note: fmt.Sprintf("%d approval(s) needed through %s by %s", rule.Required, ap.System, ap.ExpiresAt.Format("2006-01-02 15:04 MST"))}
	}
	run.Status = ev.To
	next := run
	next.Version = 1
	out := e.opts.Notify(next, ev, a)
	stored, created, err := e.store.CreateRun(ctx, run, ev, out)
	if err != nil {
		return store.Run{}, err
	}
	if created {
		e.afterWrite(stored, ev, out)
		e.Kick(stored.ID)
	}
	return stored, nil
}

// checkEntity enforces the trigger: DAY-2 and DELETE run on an existing
// entity of the action's blueprint that satisfies its condition; CREATE
// takes none.
func checkEntity(snap *state.Snapshot, a *catalog.Action, id string) (*state.Entity, error) {
	t := a.Trigger
	if t.Operation == "CREATE" || t.Operation == "" {
		if id != "" {
			return nil, refuse(422, "entity", "action %s creates an entity and runs on none; leave out entity", a.Identifier)
		}
		return nil, nil
	}
	if id == "" {
		return nil, refuse(422, "entity", "action %s is a %s action on %s entities: name the entity", a.Identifier, t.Operation, t.BlueprintIdentifier)
	}
	ent := snap.Entity(t.BlueprintIdentifier, id)
	if ent == nil {
		return nil, refuse(422, "entity", "entity %s/%s does not exist", t.BlueprintIdentifier, id)
	}
	if len(t.Condition) > 0 {
		var q catalog.Query
		if err := catalog.Decode(t.Condition, &q); err != nil {
			return nil, refuse(500, "", "action %s: trigger.condition: %v", a.Identifier, err)
		}
		cq, err := query.Compile(q)
		if err != nil {
			return nil, refuse(500, "", "action %s: trigger.condition: %v", a.Identifier, err)
		}
		if !cq.Match(snap.QueryEntity(ent), snap.Graph()) {
			return nil, refuse(422, "entity", "entity %s/%s does not meet the condition of action %s", t.BlueprintIdentifier, id, a.Identifier)
		}
	}
	return ent, nil
}

// checkInputs validates inputs against the action's userInputs (see
// CheckInputs) and refuses the request with the first problem.
func checkInputs(snap *state.Snapshot, a *catalog.Action, in map[string]any) (map[string]any, error) {
	out, problems := CheckInputs(snap, a, in)
	if len(problems) > 0 {
		return nil, problems[0]
	}
	return out, nil
}

// CheckInputs validates inputs against the action's userInputs with the
// same rules and messages as entity properties, fills in defaults, and
// checks that entity inputs name existing entities. It returns the
// inputs as the run keeps them and every problem, each naming its input
// (Field), in input order: the API refuses a request with the first, the
// web portal's form shows each next to its field. One validator for both.
func CheckInputs(snap *state.Snapshot, a *catalog.Action, in map[string]any) (map[string]any, []*Error) {
	var props map[string]catalog.Property
	var required []string
	if ui := a.Trigger.UserInputs; ui != nil {
		props = ui.Properties
		if len(ui.Required) > 0 {
			_ = json.Unmarshal(ui.Required, &required) // a jq string is not enforced
		}
	}
	out := make(map[string]any, len(props))
	var problems []*Error
	names := slices.Sorted(maps.Keys(in))
	for _, name := range names {
		if _, ok := props[name]; !ok {
			known := slices.Sorted(maps.Keys(props))
			problems = append(problems, refuse(422, name, "action %s has no input %q (inputs: %s)", a.Identifier, name, strings.Join(known, ", ")))
		}
	}
	v, err := inputValidators.Get(a)
	if err != nil {
		return nil, []*Error{refuse(500, "", "action %s: userInputs: %v", a.Identifier, err)}
	}
	for _, name := range slices.Sorted(maps.Keys(props)) {
		p := props[name]
		val, ok := in[name]
		if !ok || val == nil {
			if p.Default == nil {
				if slices.Contains(required, name) {
					problems = append(problems, refuse(422, name, "input %q is required", name))
				}
				continue
			}
			val = p.Default
		}
		n, err := node.FromAny(val, catalog.Pos{File: "request"})
		if err != nil {
			problems = append(problems, refuse(422, name, "input %q: %v", name, err))
			continue
		}
		if ds := v.CheckProperty(name, n, ""); len(ds) > 0 {
			problems = append(problems, refuse(422, name, "input %q %s", name, strings.TrimPrefix(ds[0].Message, "properties."+name+" ")))
			continue
		}
		if p.Format == "entity" || (p.Items != nil && p.Items.Format == "entity") {
			bp := p.Blueprint
			if p.Items != nil && bp == "" {
				bp = p.Items.Blueprint
			}
			bad := false
			for _, id := range entityRefs(n.Any()) {
				if snap.Entity(bp, id) == nil {
					problems = append(problems, refuse(422, name, "input %q: entity %s/%s does not exist", name, bp, id))
					bad = true
					break
				}
			}
			if bad {
				continue
			}
		}
		out[name] = n.Any()
	}
	return out, problems
}

// inputValidators and whens compile an action's userInputs and its
// approval rule's when once per action: a run request, a form shown or
// submitted, reuses them. A revision's actions are new pointers, so an
// entry is never stale (package compiled).
var (
	inputValidators = compiled.New(1024, func(a *catalog.Action) (*validate.Validator, error) {
		var props map[string]catalog.Property
		if ui := a.Trigger.UserInputs; ui != nil {
			props = ui.Properties
		}
		return validate.Compile(&catalog.Blueprint{Identifier: "action " + a.Identifier, Schema: catalog.BlueprintSchema{Properties: props}})
	})
	whens = compiled.New(1024, func(a *catalog.Action) (*approval.When, error) {
		return approval.CompileWhen(a.Approval.When)
	})
)

// entityRefs returns the identifiers an entity input names: a string, a
// list of strings, or Port's {identifier: ...} objects.
func entityRefs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case map[string]any:
		if id, ok := x["identifier"].(string); ok {
			return []string{id}
		}
	case []any:
		var ids []string
		for _, el := range x {
			ids = append(ids, entityRefs(el)...)
		}
		return ids
	}
	return nil
}

// approvalNeeded evaluates the rule's `when`: a query whose `property`
// rules name inputs, or {jq: ...} over the template data (without
// secrets), which must yield true. link is the run's URL.
func approvalNeeded(ctx context.Context, a *catalog.Action, run store.Run, ent *state.Entity, link string) (bool, error) {
	w, err := whens.Get(a)
	if err != nil {
		return false, err
	}
	return w.Needed(ctx, templateData(run, a, ent, nil, link), run.ID, run.Blueprint, run.Inputs)
}

// templateData is what `{{ }}` templates and jq conditions see: Port's
// .inputs, .entity, .trigger, .run (link is its URL), plus .action and
// .secrets.
func templateData(run store.Run, a *catalog.Action, ent *state.Entity, secrets map[string]string, link string) map[string]any {
	inputs := map[string]any{}
	maps.Copy(inputs, run.Inputs)
	entity := map[string]any{}
	if ent != nil {
		entity = map[string]any{
			"identifier": ent.Identifier, "title": ent.Title, "icon": ent.Icon, "blueprint": ent.Blueprint,
			"team": anySlice(ent.Team), "properties": ent.Properties, "relations": ent.Relations,
		}
	}
	user := map[string]any{"id": run.Requester, "login": run.Requester}
	if strings.Contains(run.Requester, "@") {
		user["email"] = run.Requester
	}
	data := map[string]any{}
	if run.Approval != nil {
		data["approval"] = map[string]any{"id": run.Approval.Ref, "url": run.Approval.URL, "expiresAt": run.Approval.ExpiresAt.Format(time.RFC3339)}
	}
	sec := make(map[string]any, len(secrets))
	for k, v := range secrets {
		sec[k] = v
	}
	maps.Copy(data, map[string]any{
		"inputs": inputs,
		"entity": entity,
		"action": map[string]any{"identifier": a.Identifier, "title": a.Title},
		"trigger": map[string]any{
			"by":        map[string]any{"user": user},
			"operation": a.Trigger.Operation,
			"at":        run.CreatedAt.Format("2006-01-02T15:04:05Z07:00"),
		},
		"run":     map[string]any{"id": run.ID, "source": run.Source, "link": link, "requester": run.Requester},
		"secrets": sec,
		"event":   run.Event,
	})
	return data
}

// TemplateData is what a run's templates see: its dispatch (workflow
// inputs, webhook URL, headers and body) and the approval systems
// declared in the catalog.
func (e *Engine) TemplateData(run store.Run, a *catalog.Action) map[string]any {
	return templateData(run, a, e.entity(run), e.opts.Secrets, e.RunURL(run.ID))
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// render renders a template value over a run's data.
func render(ctx context.Context, v any, data map[string]any) (any, error) {
	t, err := jqtmpl.Compile(v)
	if err != nil {
		return nil, err
	}
	return t.Render(ctx, data)
}

// denied refuses a request the requester's roles do not allow.
func denied(req Request, field, action, resource, object string) *Error {
	d := &access.Denied{Subject: cmp.Or(req.Requester, "this client"), Action: action, Resource: resource, Object: object}
	return &Error{Code: 403, Field: field, Message: d.Error(), Denied: d}
}

// CheckEntity says whether action a may run on the entity id (""
// for a CREATE action): the trigger's operation, blueprint and
// condition, as a request is checked. The web portal asks it to show
// which actions apply to an entity, and why the others do not.
func CheckEntity(snap *state.Snapshot, a *catalog.Action, id string) error {
	_, err := checkEntity(snap, a, id)
	return err
}
