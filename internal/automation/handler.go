package automation

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/compiled"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/entityedit"
	"github.com/pierhq/pier/internal/github"
	"github.com/pierhq/pier/internal/jqtmpl"
	"github.com/pierhq/pier/internal/outbox"
	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/runs"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
)

// NotifySubscription delivers automations' notifications.
const NotifySubscription = "automation-notify"

// Runs requests action runs.
type Runs interface {
	Request(ctx context.Context, req runs.Request) (store.Run, error)
}

// Repo is what update-entity needs of GitHub: it proposes the change as a
// pull request on the catalog repository.
type Repo interface {
	BranchHead(ctx context.Context, owner, repo, branch string) (string, error)
	CreateBranch(ctx context.Context, owner, repo, branch, fromSHA string) error
	GetFile(ctx context.Context, owner, repo, ref, path string) ([]byte, error)
	PutFile(ctx context.Context, owner, repo, branch, path, message string, content []byte) (string, error)
	CreatePullRequest(ctx context.Context, owner, repo string, pr github.NewPullRequest) (github.PullRequest, error)
}

// Options configure Automations.
type Options struct {
	Catalog func() *state.Snapshot
	Runs    Runs
	// Repo, Owner, Name, Base and Dir say where update-entity proposes
	// changes; nil Repo turns update-entity into an error.
	Repo        Repo
	Owner, Name string
	Base, Dir   string
	Enqueue     func(ctx context.Context, ds []record.Delivery) error
	Delivered   func()
	Secrets     map[string]string
	HTTPClient  *http.Client
	Logger      *slog.Logger
	Now         func() time.Time
}

// Automations runs the catalog's automations.
type Automations struct {
	opts Options

	rules *compiled.Cache[catalog.Automation, *Rule]
}

// New returns the automations of the catalog opts.Catalog serves.
func New(opts Options) *Automations {
	if opts.Logger == nil {
		opts.Logger = discard()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = outbox.NewClient() // the worker's context bounds each post
	}
	return &Automations{opts: opts, rules: compiled.New(256, Compile)}
}

// rule returns the compiled rule of the automation id in the catalog
// being served.
func (a *Automations) rule(id string) (*Rule, error) {
	snap := a.opts.Catalog()
	if snap == nil {
		return nil, nil
	}
	return a.compiled(snap.Automations[id])
}

// compiled compiles def once per catalog version of it; nil is no
// automation.
func (a *Automations) compiled(def *catalog.Automation) (*Rule, error) {
	if def == nil {
		return nil, nil
	}
	return a.rules.Get(def)
}

// Subscriptions returns an outbox subscription per automation of autos
// (the catalog being served, or the revision being applied), and the one
// that sends their notifications.
func (a *Automations) Subscriptions(autos map[string]*catalog.Automation) []outbox.Subscription {
	ids := make([]string, 0, len(autos))
	for id, def := range autos {
		if def.Publish == nil || *def.Publish {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	// The notification subscription takes only what automations enqueue
	// for it.
	subs := []outbox.Subscription{{ID: NotifySubscription, Addressed: true, Handle: a.notify}}
	for _, id := range ids {
		r, err := a.compiled(autos[id])
		if err != nil {
			a.opts.Logger.Warn("automation left out", "automation", id, "err", err)
			continue
		}
		if r != nil {
			subs = append(subs, r.Subscription(a.handler(id)))
		}
	}
	return subs
}

// Action resolves "automation:ID" to the action an automation's
// invocationMethod declares, so its runs go through the run pipeline
// like any other.
func (a *Automations) Action(name string) (*catalog.Action, bool) {
	id, ok := strings.CutPrefix(name, SubscriptionPrefix)
	if !ok {
		return nil, false
	}
	r, err := a.rule(id)
	if err != nil || r == nil || r.Invocation == nil {
		return nil, false
	}
	return &catalog.Action{
		Identifier: name, Title: cmp.Or(r.Title, r.ID),
		Trigger:          catalog.Trigger{Type: "automation"},
		InvocationMethod: *r.Invocation,
	}, true
}

// handler takes one delivery of an event to automation id.
func (a *Automations) handler(id string) func(ctx context.Context, d outbox.Delivery) error {
	return func(ctx context.Context, d outbox.Delivery) error {
		var event map[string]any
		if err := catalog.Decode(d.Body, &event); err != nil {
			return fmt.Errorf("automation %s: event: %w", id, err)
		}
		snap := a.opts.Catalog()
		r, err := a.rule(id)
		if err != nil || r == nil {
			// The revision that added the automation may be applied and
			// not yet served: wait for it. Otherwise it was removed (or
			// broken) since the event, and the catalog served decides.
			if rev, _ := event["revision"].(string); rev != "" && snap != nil && rev != snap.Revision {
				return fmt.Errorf("automation %s: not in the served catalog (%s) yet; the event is from %s", id, snap.Revision, rev)
			}
			a.opts.Logger.Info("automation: event dropped", "automation", id, "delivery", d.ID, "err", err)
			return nil
		}
		ok, err := r.Matches(ctx, event, snap.Graph())
		if err != nil {
			return fmt.Errorf("automation %s: conditions: %w", id, err)
		}
		if !ok {
			return nil
		}
		a.opts.Logger.Info("automation fired", "automation", id, "event", d.Event, "delivery", d.ID)
		return a.fire(ctx, r, d, event)
	}
}

// fire takes the rule's steps. Each is keyed by the delivery and the
// step's index, so that a retry after a failure halfway redoes nothing.
func (a *Automations) fire(ctx context.Context, r *Rule, d outbox.Delivery, event map[string]any) error {
	requester := SubscriptionPrefix + r.ID
	if r.Invocation != nil {
		_, err := a.opts.Runs.Request(ctx, runs.Request{
			Action: requester, Requester: requester, Source: "automation", RequestKey: d.ID, Event: event,
		})
		if err := a.stepError(r, -1, err); err != nil {
			return err
		}
	}
	data := map[string]any{"event": event, "entity": event["entity"], "automation": map[string]any{"identifier": r.ID, "title": r.Title}, "secrets": a.secrets()}
	for i, s := range r.Steps {
		key := fmt.Sprintf("%s:%d", d.ID, i)
		var err error
		switch s.Type {
		case "run-action":
			err = a.runAction(ctx, r, s, key, event, data)
		case "update-entity":
			err = a.updateEntity(ctx, r, s, key, event)
		default:
			err = a.enqueueNotification(ctx, r, s, key, event, data)
		}
		if err := a.stepError(r, i, err); err != nil {
			return err
		}
	}
	return nil
}

// stepError keeps errors worth a retry; a refused request (bad input, an
// entity that does not meet the action's condition) will not change by
// retrying and is logged instead.
func (a *Automations) stepError(r *Rule, i int, err error) error {
	var re *runs.Error
	if err == nil || errors.As(err, &re) && re.Code < 500 {
		if err != nil {
			a.opts.Logger.Warn("automation: step refused", "automation", r.ID, "step", i, "err", err)
		}
		return nil
	}
	return fmt.Errorf("automation %s: step %d: %w", r.ID, i, err)
}

func (a *Automations) secrets() map[string]any {
	out := make(map[string]any, len(a.opts.Secrets))
	for k, v := range a.opts.Secrets {
		out[k] = v
	}
	return out
}

func (a *Automations) runAction(ctx context.Context, r *Rule, s Step, key string, event, data map[string]any) error {
	entity, err := jqtmpl.String(ctx, s.Entity, data)
	if err != nil {
		return fmt.Errorf("entity: %w", err)
	}
	if s.Entity == "" {
		// A DAY-2 action runs on the event's entity unless told otherwise.
		if e, ok := event["entity"].(map[string]any); ok {
			entity, _ = e["identifier"].(string)
		}
		if act := a.opts.Catalog().Actions[s.Action]; act != nil && (act.Trigger.Operation == "CREATE" || act.Trigger.Operation == "") {
			entity = ""
		}
	}
	props, err := renderMap(ctx, s.Properties, data)
	if err != nil {
		return fmt.Errorf("properties: %w", err)
	}
	_, err = a.opts.Runs.Request(ctx, runs.Request{
		Action: s.Action, Entity: entity, Inputs: props, Requester: SubscriptionPrefix + r.ID,
		Source: "automation", RequestKey: key, Event: event,
	})
	return err
}

func renderMap(ctx context.Context, m map[string]any, data map[string]any) (map[string]any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	t, err := jqtmpl.Compile(m)
	if err != nil {
		return nil, err
	}
	out, err := t.Render(ctx, data)
	if err != nil {
		return nil, err
	}
	return out.(map[string]any), nil
}

// updateEntity proposes the change the GitOps way: a pull request on the
// catalog repository editing the file that declares the entity, on a
// branch named after the event, so a retry finds its own work.
func (a *Automations) updateEntity(ctx context.Context, r *Rule, s Step, key string, event map[string]any) error {
	if a.opts.Repo == nil {
		return errNoGitHub
	}
	e, err := eventEntity(event)
	if err != nil || e == nil {
		return err
	}
	snap := a.opts.Catalog()
	pos := snap.Source(catalog.Key{Kind: catalog.KindEntityObj, Blueprint: e.Blueprint, ID: e.Identifier})
	if pos.File == "" {
		return fmt.Errorf("entity %s/%s is not in the catalog being served", e.Blueprint, e.Identifier)
	}
	changes := changesOf(s, snap.Blueprints[e.Blueprint])
	file := path.Join(a.opts.Dir, pos.File)
	c, owner, repo := a.opts.Repo, a.opts.Owner, a.opts.Name
	src, err := c.GetFile(ctx, owner, repo, a.opts.Base, file)
	if err != nil {
		return err
	}
	out, changed, err := entityedit.Set(file, src, e.Blueprint, e.Identifier, changes)
	if err != nil || !changed {
		return err // nothing to change is done
	}
	sum := sha256.Sum256([]byte(key))
	branch := "pier/automation/" + r.ID + "/" + e.Identifier + "-" + hex.EncodeToString(sum[:4])
	head, err := c.BranchHead(ctx, owner, repo, a.opts.Base)
	if err != nil {
		return err
	}
	if err := c.CreateBranch(ctx, owner, repo, branch, head); err != nil && !errors.Is(err, github.ErrExists) {
		return err
	}
	title := fmt.Sprintf("%s: update %s/%s", cmp.Or(r.Title, r.ID), e.Blueprint, e.Identifier)
	if cur, err := c.GetFile(ctx, owner, repo, branch, file); err != nil || !bytes.Equal(cur, out) {
		if _, err := c.PutFile(ctx, owner, repo, branch, file, title, out); err != nil {
			return err
		}
	}
	var names []string
	for _, ch := range changes {
		v, _ := json.Marshal(ch.Value)
		names = append(names, fmt.Sprintf("- `%s` → `%s`", strings.TrimPrefix(ch.Section+"."+ch.Name, "."), v))
	}
	body := fmt.Sprintf("The automation **%s** (`%s`) proposes this change to `%s/%s`, after %s:\n\n%s\n\nMerge it to apply it; close it to leave the entity as it is.\n",
		cmp.Or(r.Title, r.ID), r.ID, e.Blueprint, e.Identifier, event["eventType"], strings.Join(names, "\n"))
	_, err = c.CreatePullRequest(ctx, owner, repo, github.NewPullRequest{Title: title, Body: body, Head: branch, Base: a.opts.Base})
	if errors.Is(err, github.ErrExists) {
		return nil
	}
	return err
}

// changesOf maps update-entity's fields onto the entity: a name the
// blueprint has as a property is a property, as a relation a relation;
// the seed's `team` is the entity's team otherwise.
func changesOf(s Step, bp *catalog.Blueprint) []entityedit.Change {
	var out []entityedit.Change
	for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
		v := s.Properties[name]
		switch {
		case bp != nil && hasProperty(bp, name):
			out = append(out, entityedit.Change{Section: "properties", Name: name, Value: v})
		case bp != nil && hasRelation(bp, name):
			out = append(out, entityedit.Change{Section: "relations", Name: name, Value: v})
		case name == "team" || name == "title":
			out = append(out, entityedit.Change{Name: name, Value: v})
		default:
			out = append(out, entityedit.Change{Section: "properties", Name: name, Value: v})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Relations)) {
		out = append(out, entityedit.Change{Section: "relations", Name: name, Value: s.Relations[name]})
	}
	if s.Team != nil {
		out = append(out, entityedit.Change{Name: "team", Value: s.Team})
	}
	return out
}

func hasProperty(bp *catalog.Blueprint, name string) bool {
	_, ok := bp.Schema.Properties[name]
	return ok
}
func hasRelation(bp *catalog.Blueprint, name string) bool { _, ok := bp.Relations[name]; return ok }

// enqueueNotification queues a send-notification or webhook step as an
// outbox delivery whose id derives from the event, so it is sent once.
// The URL is kept as written (it may name a secret) and rendered when
// sent.
func (a *Automations) enqueueNotification(ctx context.Context, r *Rule, s Step, key string, event, data map[string]any) error {
	url := s.URL
	if url == "" && (s.Channel == "slack" || s.Channel == "") {
		url = "{{ .secrets.SLACK_WEBHOOK_URL }}"
	}
	var body any
	switch {
	case s.Body != nil:
		t, err := jqtmpl.Compile(s.Body)
		if err != nil {
			return fmt.Errorf("body: %w", err)
		}
		if body, err = t.Render(ctx, data); err != nil {
			return fmt.Errorf("body: %w", err)
		}
	default:
		msg, err := jqtmpl.String(ctx, jqPaths(s.Message), data)
		if err != nil {
			return fmt.Errorf("message: %w", err)
		}
		if s.Channel == "webhook" {
			body = map[string]any{"message": msg, "automation": r.ID, "event": event}
		} else {
			body = map[string]any{"text": msg}
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(key))
	now := a.opts.Now().UTC()
	d := record.Delivery{
		ID: "auto_" + hex.EncodeToString(sum[:12]), Subscription: NotifySubscription, URL: url,
		Event: r.ID, Body: b, State: record.Pending, NextAt: now, CreatedAt: now,
	}
	if err := a.opts.Enqueue(ctx, []record.Delivery{d}); err != nil {
		return err
	}
	if a.opts.Delivered != nil {
		a.opts.Delivered()
	}
	return nil
}

// notify sends a queued notification, rendering its URL only now.
func (a *Automations) notify(ctx context.Context, d outbox.Delivery) error {
	url, err := jqtmpl.String(ctx, d.URL, map[string]any{"secrets": a.secrets()})
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if url == "" {
		return fmt.Errorf("no URL to send the notification to (%s is empty)", d.URL)
	}
	_, err = outbox.Post(ctx, a.opts.HTTPClient, url, "", a.opts.Now(), d)
	return err
}
