package state

import (
	"errors"
	"fmt"
	"maps"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// Follow publishes what another replica applied: the objects the
// revisions after the served one wrote and deleted, read from the store
// (store.Replication.ChangesSince). It builds the next snapshot as
// Publish does — untouched entities keep their view, runtime values and
// scorecard results — so a follower's cost is the change's, not the
// catalog's. Level moves are not reported (OnMoves): the leader records
// the scorecard history; a follower only serves.
func (h *Holder) Follow(ch *store.Changes) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	prev := h.p.Load()
	if ch.Revision.Seq <= prev.Seq {
		return nil
	}
	if prev.Seq != ch.Since {
		// The state moved on since the changes were read (another
		// follow, or this replica's own reconcile): they do not apply.
		return ErrMovedOn
	}
	c := prev.catalog()
	// prev.catalog shares prev's maps, which readers of prev still use.
	c.Blueprints, c.Actions, c.Scorecards = maps.Clone(c.Blueprints), maps.Clone(c.Actions), maps.Clone(c.Scorecards)
	c.Automations, c.Webhooks, c.ApprovalSystems = maps.Clone(c.Automations), maps.Clone(c.Webhooks), maps.Clone(c.ApprovalSystems)
	c.Roles, c.RoleBindings = maps.Clone(c.Roles), maps.Clone(c.RoleBindings)
	if len(ch.Settings) > 0 {
		c.Settings = catalog.Settings{}
		if err := catalog.Decode(ch.Settings, &c.Settings); err != nil {
			return fmt.Errorf("follow %s: settings: %w", ch.Revision.Revision, err)
		}
	}
	sources := make(map[catalog.Key]catalog.Pos, len(prev.sources)+len(prev.objects))
	maps.Copy(sources, prev.sources)
	for k, o := range prev.objects {
		sources[k] = o.Source
	}
	a := Applied{
		Revision: ch.Revision.Revision, At: ch.Revision.StartedAt.Add(ch.Revision.Duration), Catalog: c,
		Created: map[catalog.Key]bool{}, Updated: map[catalog.Key]bool{}, Deleted: map[catalog.Key]bool{},
	}
	for _, k := range ch.Deleted {
		if !has(c, k) {
			continue
		}
		a.Deleted[k] = true
		delete(sources, k)
		switch k.Kind {
		case catalog.KindBlueprintObj:
			delete(c.Blueprints, k.ID)
		case catalog.KindActionObj:
			delete(c.Actions, k.ID)
		case catalog.KindScorecardObj:
			delete(c.Scorecards, k.ID)
		case catalog.KindAutomationObj:
			delete(c.Automations, k.ID)
		case catalog.KindWebhookObj:
			delete(c.Webhooks, k.ID)
		case catalog.KindApprovalSystemObj:
			delete(c.ApprovalSystems, k.ID)
		case catalog.KindRoleObj:
			delete(c.Roles, k.ID)
		case catalog.KindRoleBindingObj:
			delete(c.RoleBindings, k.ID)
		case catalog.KindEntityObj:
			delete(c.Entities[k.Blueprint], k.ID)
		}
	}
	stamps := map[catalog.Key]store.Object{}
	for _, o := range ch.Objects {
		k := o.Key
		if has(c, k) {
			a.Updated[k] = true
		} else {
			a.Created[k] = true
		}
		sources[k] = o.Source
		var err error
		switch k.Kind {
		case catalog.KindBlueprintObj:
			err = decodeInto(c.Blueprints, k.ID, o.JSON)
		case catalog.KindActionObj:
			err = decodeInto(c.Actions, k.ID, o.JSON)
		case catalog.KindScorecardObj:
			err = decodeInto(c.Scorecards, k.ID, o.JSON)
		case catalog.KindAutomationObj:
			err = decodeInto(c.Automations, k.ID, o.JSON)
		case catalog.KindWebhookObj:
			err = decodeInto(c.Webhooks, k.ID, o.JSON)
		case catalog.KindApprovalSystemObj:
			err = decodeInto(c.ApprovalSystems, k.ID, o.JSON)
		case catalog.KindRoleObj:
			err = decodeInto(c.Roles, k.ID, o.JSON)
		case catalog.KindRoleBindingObj:
			err = decodeInto(c.RoleBindings, k.ID, o.JSON)
		case catalog.KindEntityObj:
			es := c.Entities[k.Blueprint]
			if es == nil {
				es = map[string]*catalog.Entity{}
				c.Entities[k.Blueprint] = es
			}
			err = decodeInto(es, k.ID, o.JSON)
			stamps[k] = o
		}
		if err != nil {
			return fmt.Errorf("follow %s: %s: %w", ch.Revision.Revision, k, err)
		}
	}
	for bp, es := range c.Entities {
		if len(es) == 0 && c.Blueprints[bp] == nil {
			delete(c.Entities, bp)
		}
	}
	s := build(prev, a)
	s.Seq = ch.Revision.Seq
	s.sources, s.objects = sources, nil
	// The leader's timestamps, as stored, rather than this replica's
	// clock: every replica serves the same $updatedAt.
	for k, o := range stamps {
		if e := s.Entities[k.Blueprint][k.ID]; e != nil {
			s.Entities[k.Blueprint][k.ID] = newEntity(e.Git, o.CreatedAt, o.UpdatedAt, e.Runtime, e.RuntimeAt, e.RuntimeBy)
		}
	}
	h.p.Store(s)
	return nil
}

// ErrMovedOn is Follow's answer to changes read for a state that is no
// longer the one served: read them again from the served sequence.
var ErrMovedOn = errors.New("state: the served state moved on since the changes were read")

// has reports whether c holds the object k names.
func has(c *catalog.Catalog, k catalog.Key) bool {
	var ok bool
	switch k.Kind {
	case catalog.KindBlueprintObj:
		_, ok = c.Blueprints[k.ID]
	case catalog.KindActionObj:
		_, ok = c.Actions[k.ID]
	case catalog.KindScorecardObj:
		_, ok = c.Scorecards[k.ID]
	case catalog.KindAutomationObj:
		_, ok = c.Automations[k.ID]
	case catalog.KindWebhookObj:
		_, ok = c.Webhooks[k.ID]
	case catalog.KindApprovalSystemObj:
		_, ok = c.ApprovalSystems[k.ID]
	case catalog.KindRoleObj:
		_, ok = c.Roles[k.ID]
	case catalog.KindRoleBindingObj:
		_, ok = c.RoleBindings[k.ID]
	case catalog.KindEntityObj:
		_, ok = c.Entities[k.Blueprint][k.ID]
	}
	return ok
}

// FollowRuntime publishes runtime values another replica wrote: rt
// without Properties clears them. It returns whether the entity is
// served (a write for an entity this replica has not followed yet is
// caught up with its revision).
func (h *Holder) FollowRuntime(rt store.Runtime) bool {
	return h.setRuntime(rt.Blueprint, rt.Identifier, rt.Properties, rt.UpdatedAt, rt.UpdatedBy, false) != nil
}

// Seq is the sequence number of the served revision, where a follower
// reads changes from.
func (h *Holder) Seq() int64 { return h.p.Load().Seq }
