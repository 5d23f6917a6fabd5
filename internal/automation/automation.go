// Package automation reacts to catalog and run events with the
// automations declared in the catalog.
//
// Automations ride on the outbox: each automation is an outbox
// subscription whose deliveries are handled in-process (Subscription.
// Handle) instead of posted. An event therefore reaches an automation by
// the same durable path as an outbound webhook — written in the
// transaction that applied the revision, fired the timer or changed the
// run, retried until handled, visible in /v1/webhooks/deliveries — and
// each step an automation takes is keyed by the delivery's id: a run is
// requested with that key (the store refuses a second run with it), a
// pull request uses a branch named after it, a notification is enqueued
// under an id derived from it. An event fires an automation exactly
// once, restarts and retries included.
package automation

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"

	"github.com/itchyny/gojq"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/outbox"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/reconciler"
)

// Events an automation may react to.
const (
	EventRunUpdated      = "RUN_UPDATED"
	eventAnyEntityChange = "ANY_ENTITY_CHANGE"
)

// SubscriptionPrefix starts the outbox subscription ids of automations.
const SubscriptionPrefix = "automation:"

// Rule is an automation compiled: what it reacts to, when, and what it
// does. Port's shape (trigger {type: automation, event, condition} and an
// invocationMethod) and the seed's (trigger {type: entity-created, ...},
// conditions, actions) compile to the same Rule.
type Rule struct {
	ID        string
	Title     string
	Events    []string
	Blueprint string
	// Action limits RUN_UPDATED to runs of one action; Property limits
	// TIMER_PROPERTY_EXPIRED to one timer.
	Action, Property string
	// Conditions is a query the event's entity must match (the seed's
	// conditions list, all of which must hold).
	Conditions *query.Query
	// JQ are Port's trigger.condition expressions over the event.
	JQ  []*gojq.Code
	Any bool // JQ combinator "or"
	// Invocation is Port's invocationMethod: run it as an action of its
	// own, "automation:ID".
	Invocation *catalog.InvocationMethod
	Steps      []Step
}

// Step is one of the seed's actions.
type Step struct {
	Type string `json:"type"` // run-action, update-entity, send-notification, webhook
	// run-action
	Action     string         `json:"action,omitempty"`
	Entity     string         `json:"entity,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
	// update-entity: Properties above; Relations and Team too.
	Relations map[string]any `json:"relations,omitempty"`
	Team      any            `json:"team,omitempty"`
	// send-notification and webhook
	Channel string `json:"channel,omitempty"` // slack or webhook
	URL     string `json:"url,omitempty"`
	Message string `json:"message,omitempty"`
	Body    any    `json:"body,omitempty"`
}

var triggerEvents = map[string]string{
	"entity-created": reconciler.EntityCreated,
	"entity-updated": reconciler.EntityUpdated,
	"entity-deleted": reconciler.EntityDeleted,
	"timer-expired":  reconciler.TimerPropertyExpired,
	"run-updated":    EventRunUpdated,
}

// Compile compiles an automation; the error names the field at fault.
func Compile(a *catalog.Automation) (*Rule, error) {
	r := &Rule{ID: a.Identifier, Title: a.Title}
	var t struct {
		Type                string `json:"type"`
		BlueprintIdentifier string `json:"blueprintIdentifier"`
		Event               *struct {
			Type                string `json:"type"`
			BlueprintIdentifier string `json:"blueprintIdentifier"`
			ActionIdentifier    string `json:"actionIdentifier"`
			PropertyIdentifier  string `json:"propertyIdentifier"`
		} `json:"event"`
		Condition *struct {
			Expressions []string `json:"expressions"`
			Combinator  string   `json:"combinator"`
		} `json:"condition"`
	}
	if err := catalog.Decode(a.Trigger, &t); err != nil {
		return nil, fmt.Errorf("automation %s: trigger: %w", a.Identifier, err)
	}
	r.Blueprint = t.BlueprintIdentifier
	switch {
	case t.Event != nil:
		r.Events = []string{t.Event.Type}
		if t.Event.Type == eventAnyEntityChange {
			r.Events = []string{reconciler.EntityCreated, reconciler.EntityUpdated, reconciler.EntityDeleted}
		}
		r.Blueprint = cmp.Or(t.Event.BlueprintIdentifier, r.Blueprint)
		r.Action, r.Property = t.Event.ActionIdentifier, t.Event.PropertyIdentifier
	case triggerEvents[t.Type] != "":
		r.Events = []string{triggerEvents[t.Type]}
	default:
		return nil, fmt.Errorf("automation %s: trigger: type %q names no event", a.Identifier, t.Type)
	}
	if t.Condition != nil {
		r.Any = t.Condition.Combinator == "or"
		for i, src := range t.Condition.Expressions {
			q, err := gojq.Parse(src)
			if err != nil {
				return nil, fmt.Errorf("automation %s: trigger.condition.expressions[%d]: %v", a.Identifier, i, err)
			}
			code, err := gojq.Compile(q)
			if err != nil {
				return nil, fmt.Errorf("automation %s: trigger.condition.expressions[%d]: %v", a.Identifier, i, err)
			}
			r.JQ = append(r.JQ, code)
		}
	}
	if len(a.Conditions) > 0 {
		var rules []catalog.Rule
		if err := catalog.Decode(a.Conditions, &rules); err != nil {
			return nil, fmt.Errorf("automation %s: conditions: %w", a.Identifier, err)
		}
		q, err := query.Compile(catalog.Query{Combinator: "and", Rules: rules})
		if err != nil {
			return nil, fmt.Errorf("automation %s: conditions: %w", a.Identifier, err)
		}
		r.Conditions = q
	}
	if len(a.InvocationMethod) > 0 {
		im := &catalog.InvocationMethod{}
		if err := catalog.Decode(a.InvocationMethod, im); err != nil {
			return nil, fmt.Errorf("automation %s: invocationMethod: %w", a.Identifier, err)
		}
		if im.Type != "GITHUB" && im.Type != "WEBHOOK" {
			return nil, fmt.Errorf("automation %s: invocationMethod: type %q is not supported (GITHUB or WEBHOOK; use actions: [{type: run-action}] to run a catalog action)", a.Identifier, im.Type)
		}
		r.Invocation = im
	}
	if len(a.Actions) > 0 {
		if err := catalog.Decode(a.Actions, &r.Steps); err != nil {
			return nil, fmt.Errorf("automation %s: actions: %w", a.Identifier, err)
		}
		for i, s := range r.Steps {
			switch s.Type {
			case "run-action":
				if s.Action == "" {
					return nil, fmt.Errorf("automation %s: actions[%d]: run-action needs action", a.Identifier, i)
				}
			case "update-entity", "send-notification", "webhook":
			default:
				return nil, fmt.Errorf("automation %s: actions[%d]: type %q", a.Identifier, i, s.Type)
			}
		}
	}
	if r.Invocation == nil && len(r.Steps) == 0 {
		return nil, fmt.Errorf("automation %s: does nothing: give an invocationMethod or actions", a.Identifier)
	}
	return r, nil
}

// Subscription is the outbox subscription that brings the rule its
// events.
func (r *Rule) Subscription(handle func(ctx context.Context, d outbox.Delivery) error) outbox.Subscription {
	s := outbox.Subscription{ID: SubscriptionPrefix + r.ID, Events: r.Events, Handle: handle}
	if r.Blueprint != "" && !(len(r.Events) == 1 && r.Events[0] == EventRunUpdated) {
		s.Blueprints = []string{r.Blueprint}
	}
	return s
}

// Matches decides whether the event (the delivery's payload, decoded)
// fires the rule. g resolves relations for relatedTo conditions.
func (r *Rule) Matches(ctx context.Context, event map[string]any, g query.Graph) (bool, error) {
	typ, _ := event["eventType"].(string)
	switch typ {
	case EventRunUpdated:
		run, _ := event["run"].(map[string]any)
		if r.Action != "" && run["action"] != r.Action {
			return false, nil
		}
		// An automation never reacts to the runs it started itself.
		if run["requester"] == SubscriptionPrefix+r.ID {
			return false, nil
		}
	case reconciler.TimerPropertyExpired:
		if r.Property != "" && event["property"] != r.Property {
			return false, nil
		}
	}
	if r.Conditions != nil {
		e, err := eventEntity(event)
		if err != nil || e == nil {
			return false, err
		}
		if !r.Conditions.Match(&query.Entity{Entity: e}, g) {
			return false, nil
		}
	}
	for _, code := range r.JQ {
		ok, err := truthy(ctx, code, event)
		if err != nil {
			return false, err
		}
		if ok && r.Any {
			return true, nil
		}
		if !ok && !r.Any {
			return false, nil
		}
	}
	return !r.Any || len(r.JQ) == 0, nil
}

// eventEntity is the entity an event is about: after the change, or
// before it for a deletion.
func eventEntity(event map[string]any) (*catalog.Entity, error) {
	v := event["entity"]
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	e := &catalog.Entity{}
	if err := catalog.Decode(b, e); err != nil {
		return nil, fmt.Errorf("event entity: %w", err)
	}
	return e, nil
}

func truthy(ctx context.Context, code *gojq.Code, v any) (bool, error) {
	out, ok := code.RunWithContext(ctx, v).Next()
	if !ok {
		return false, nil
	}
	if err, isErr := out.(error); isErr {
		return false, err
	}
	return out != nil && out != false, nil
}

// portPath turns Port's older template paths ({{ entity.title }}) into
// jq ({{ .entity.title }}), for the seed's notification messages.
var portPath = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}`)

func jqPaths(s string) string { return portPath.ReplaceAllString(s, "{{ .$1 }}") }

var errNoGitHub = errors.New("needs GitHub: set --github-token and --github-repo")

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Check compiles every automation of a loaded catalog and returns what
// would keep one from running (bad jq, a condition the query language
// refuses, a step without its action), at the automation's position,
// for `pier validate`.
func Check(c *catalog.Catalog, objects map[catalog.Key]catalog.Object) catalog.Diagnostics {
	var ds catalog.Diagnostics
	for _, id := range slices.Sorted(maps.Keys(c.Automations)) {
		a := c.Automations[id]
		if _, err := Compile(a); err != nil {
			k := catalog.Key{Kind: catalog.KindAutomationObj, ID: id}
			ds = append(ds, catalog.Diagnostic{Pos: objects[k].Source, Path: catalog.Path("automations", id), Kind: catalog.KindReference, Message: err.Error()})
		}
		for _, step := range stepActions(a) {
			if _, ok := c.Actions[step]; !ok {
				k := catalog.Key{Kind: catalog.KindAutomationObj, ID: id}
				ds = append(ds, catalog.Diagnostic{Pos: objects[k].Source, Path: catalog.Path("automations", id), Kind: catalog.KindReference, Message: fmt.Sprintf("run-action names action %q, which does not exist", step)})
			}
		}
	}
	return ds
}

func stepActions(a *catalog.Automation) []string {
	var steps []Step
	if catalog.Decode(a.Actions, &steps) != nil {
		return nil
	}
	var out []string
	for _, s := range steps {
		if s.Type == "run-action" && s.Action != "" {
			out = append(out, s.Action)
		}
	}
	return out
}
