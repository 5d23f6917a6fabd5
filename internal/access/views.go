package access

import (
	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/store"
)

// A permission's condition is a query, and queries are evaluated on
// entities. The resources that are not entities are seen through an
// entity-shaped view whose properties are what a condition may name.

// ActionView is an action as conditions see it: identifier, title, and
// the properties blueprint, operation and approval_required (whether its
// runs may need approval, the seed's team_lead condition).
func ActionView(a *catalog.Action) *query.Entity {
	_, needs, _ := approval.RuleOf(a)
	return view(a.Identifier, a.Title, map[string]any{
		"blueprint":         a.Trigger.BlueprintIdentifier,
		"operation":         a.Trigger.Operation,
		"approval_required": needs,
	})
}

// RunView is a run as conditions see it: the run id as identifier, and
// the properties action, requester, status, blueprint, entity and
// source.
func RunView(r store.Run) *query.Entity {
	return view(r.ID, "", map[string]any{
		"action": r.Action, "requester": r.Requester, "status": r.Status,
		"blueprint": r.Blueprint, "entity": r.Entity, "source": r.Source,
	})
}

// BlueprintView is a blueprint as conditions see it.
func BlueprintView(b *catalog.Blueprint) *query.Entity {
	return view(b.Identifier, b.Title, map[string]any{})
}

// ScorecardView is a scorecard as conditions see it, with the property
// blueprint.
func ScorecardView(s *catalog.Scorecard) *query.Entity {
	return view(s.Identifier, s.Title, map[string]any{"blueprint": s.BlueprintIdentifier})
}

func view(id, title string, props map[string]any) *query.Entity {
	props["identifier"], props["title"] = id, title
	return &query.Entity{Entity: &catalog.Entity{Identifier: id, Title: title, Properties: props}}
}
