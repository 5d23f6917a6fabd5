package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/runs"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
)

// entityView is an entity's page.
type entityView struct {
	Link       entityLink
	Blueprint  *catalog.Blueprint
	Team       []string
	Source     fileLink
	Props      []propRow
	Relations  []relationRow
	Referrers  []relationRow
	Scorecards []scoreView
	History    []historyRow
	HistoryErr string
	Runs       []runRow
	Actions    []actionRow
	HasRuns    bool
}

type propRow struct {
	Key, Title, Value, Color string
	// Source says where the value comes from: "git" (File), "runtime"
	// (By, At) or "computed" (How).
	Source string
	File   fileLink
	By     string
	At     time.Time
	How    string
}

type relationRow struct {
	Title string
	Links []entityLink
}

type scoreView struct {
	Badge levelBadge
	Rules []ruleRow
	// Next is the next level and what it needs (rules failing at it).
	Next      string
	NextNeeds []string
}

type ruleRow struct {
	Title, Level string
	Passed       bool
}

type historyRow struct {
	Revision, CommitURL, Op string
	At                      time.Time
	Changed                 []string
}

// actionRow is an action that may apply to the entity: available, or
// not with why.
type actionRow struct {
	ID, Title, Description, URL string
	Why                         string
}

func (s *Server) entityPage(w http.ResponseWriter, r *http.Request, v *visit) {
	bp, id := r.PathValue("bp"), r.PathValue("id")
	b := v.snap.Blueprints[bp]
	e := v.snap.Entity(bp, id)
	if b == nil || e == nil {
		s.fail(w, r, v, http.StatusNotFound, fmt.Sprintf("There is no %s entity %q.", bp, id))
		return
	}
	if !v.canRead(e) {
		s.fail(w, r, v, http.StatusForbidden, (&access.Denied{Subject: v.grants.Subject().Who(), Action: access.Read, Resource: access.Entity, Object: bp + "/" + id}).Error())
		return
	}
	key := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: id}
	view := entityView{Link: linkTo(v.snap, e), Blueprint: b, Team: e.Team, Source: s.fileLink(v.snap.Revision, v.snap.Source(key)), HasRuns: s.opts.Runs != nil}
	view.Props = s.propRows(v, b, e)
	for _, c := range columns(v.snap, b) {
		if c.Kind != "relation" {
			continue
		}
		row := relationRow{Title: c.Title + " → " + titleOr(v.snap.Blueprints[c.Target].Title, c.Target)}
		for _, t := range catalog.Identifiers(e.Relations[c.Key]) {
			l := entityLink{URL: entityURL(c.Target, t), Title: t, Identifier: t, Blueprint: c.Target}
			if te := v.snap.Entity(c.Target, t); te != nil && v.canRead(te) {
				l.Title = titleOr(te.Title, t)
			}
			row.Links = append(row.Links, l)
		}
		view.Relations = append(view.Relations, row)
	}
	byBP := map[string]*relationRow{}
	var order []string
	for _, k := range v.snap.Referrers(bp, id) {
		te := v.snap.Entity(k.Blueprint, k.ID)
		if te == nil || !v.canRead(te) {
			continue
		}
		row := byBP[k.Blueprint]
		if row == nil {
			tb := v.snap.Blueprints[k.Blueprint]
			row = &relationRow{Title: titleOr(tb.Title, k.Blueprint)}
			byBP[k.Blueprint] = row
			order = append(order, k.Blueprint)
		}
		row.Links = append(row.Links, linkTo(v.snap, te))
	}
	for _, k := range order {
		view.Referrers = append(view.Referrers, *byBP[k])
	}
	view.Scorecards = scoresOf(v, e)
	if h, err := s.opts.Store.History(r.Context(), bp, id); err != nil {
		view.HistoryErr = "The history cannot be read right now: " + err.Error()
	} else {
		for i := len(h) - 1; i >= 0; i-- {
			row := historyRow{Revision: h[i].Revision, CommitURL: s.commitURL(h[i].Revision), Op: string(h[i].Op), At: h[i].At}
			if h[i].Op == store.OpUpdate {
				row.Changed = changedFields(h[i].Before, h[i].After)
			}
			view.History = append(view.History, row)
		}
	}
	if s.opts.Runs != nil {
		list, err := s.opts.Runs.List(r.Context(), store.RunFilter{Blueprint: bp, Entity: id, Limit: 20})
		if err == nil {
			for _, run := range list {
				if v.grants.Allows(access.Read, access.Run, access.RunView(run), nil) {
					view.Runs = append(view.Runs, s.runRow(v, run))
				}
			}
		}
		view.Actions = s.actionsFor(v, b, e)
	}
	s.render(w, r, v, http.StatusOK, "entity", titleOr(e.Title, id), "catalog", view)
}

// propRows are the entity's properties in column order, each with where
// its value comes from.
func (s *Server) propRows(v *visit, b *catalog.Blueprint, e *state.Entity) []propRow {
	origin := v.snap.Origins(b, e)
	var out []propRow
	for _, c := range columns(v.snap, b) {
		if c.Kind == "relation" {
			continue
		}
		val := e.Properties[c.Key]
		row := propRow{Key: c.Key, Title: c.Title, Value: showValue(val)}
		if sv, isStr := val.(string); isStr && c.Colors != nil {
			row.Color = colorClass(c.Colors[sv])
		}
		o := origin(c.Key)
		row.Source, row.By, row.At, row.How = o.Kind, o.By, o.At, o.How
		if o.Kind == "git" {
			row.File = s.fileLink(v.snap.Revision, o.Pos)
		}
		out = append(out, row)
	}
	return out
}

// scoresOf are e's results in the scorecards the visitor may read.
func scoresOf(v *visit, e *state.Entity) []scoreView {
	sc := v.snap.Scores
	if sc == nil {
		return nil
	}
	var out []scoreView
	for _, res := range sc.Results[catalog.Key{Kind: catalog.KindEntityObj, Blueprint: e.Blueprint, ID: e.Identifier}] {
		card := v.snap.Scorecards[res.Scorecard()]
		if card == nil || !v.grants.Allows(access.Read, access.Scorecard, access.ScorecardView(card), nil) {
			continue
		}
		view := scoreView{Badge: levelBadge{Scorecard: card.Identifier, Title: titleOr(card.Title, card.Identifier), Level: res.Level, Color: res.Color,
			URL: "/scorecards/" + url.PathEscape(card.Identifier)}}
		titles := map[string]string{}
		for _, ru := range card.Rules {
			titles[ru.Identifier] = titleOr(ru.Title, ru.Identifier)
		}
		levels := levelsOfCard(v.snap, card)
		next := ""
		if res.LevelIndex+1 < len(levels) {
			next = levels[res.LevelIndex+1].Title
		}
		for _, rr := range res.Rules() {
			view.Rules = append(view.Rules, ruleRow{Title: titles[rr.Identifier], Level: rr.Level, Passed: rr.Passed()})
			if next != "" && rr.Level == next && !rr.Passed() {
				view.NextNeeds = append(view.NextNeeds, titles[rr.Identifier])
			}
		}
		view.Next = next
		out = append(out, view)
	}
	slices.SortFunc(out, func(a, b scoreView) int { return strings.Compare(a.Badge.Title, b.Badge.Title) })
	return out
}

// levelsOfCard are a scorecard's levels, lowest first, as it is scored.
func levelsOfCard(snap *state.Snapshot, card *catalog.Scorecard) []catalog.Level {
	if snap.Scores != nil && snap.Scores.Set != nil {
		if c := snap.Scores.Set.Scorecard(card.Identifier); c != nil {
			return c.Levels()
		}
	}
	if len(card.Levels) > 0 {
		return card.Levels
	}
	if len(snap.Settings.Levels) > 0 {
		return snap.Settings.Levels
	}
	return catalog.DefaultLevels
}

// changedFields names what one history entry changed.
func changedFields(before, after json.RawMessage) []string {
	var b, a catalog.Entity
	_ = json.Unmarshal(before, &b)
	_ = json.Unmarshal(after, &a)
	var out []string
	if b.Title != a.Title {
		out = append(out, "title")
	}
	seen := map[string]bool{}
	for _, k := range append(sortedKeys(a.Properties), sortedKeys(b.Properties)...) {
		if seen[k] {
			continue
		}
		seen[k] = true
		x, _ := json.Marshal(a.Properties[k])
		y, _ := json.Marshal(b.Properties[k])
		if string(x) != string(y) {
			out = append(out, "properties."+k)
		}
	}
	for _, k := range append(sortedKeys(a.Relations), sortedKeys(b.Relations)...) {
		if seen["r."+k] {
			continue
		}
		seen["r."+k] = true
		x, _ := json.Marshal(a.Relations[k])
		y, _ := json.Marshal(b.Relations[k])
		if string(x) != string(y) {
			out = append(out, "relations."+k)
		}
	}
	return out
}

// actionsFor are the DAY-2 and DELETE actions of e's blueprint: those the
// visitor may run on it, and the others with why not (the roles, or the
// trigger's condition, checked as a request is).
func (s *Server) actionsFor(v *visit, b *catalog.Blueprint, e *state.Entity) []actionRow {
	var out []actionRow
	for _, id := range sortedKeys(v.snap.Actions) {
		a := v.snap.Actions[id]
		op := a.Trigger.Operation
		if a.Trigger.BlueprintIdentifier != b.Identifier || op == "CREATE" || op == "" {
			continue
		}
		if !v.grants.Allows(access.Read, access.Action, access.ActionView(a), nil) {
			continue
		}
		row := actionRow{ID: id, Title: titleOr(a.Title, id), Description: a.Description}
		switch {
		case v.signed == nil:
			row.Why = "sign in to run actions"
		case !v.grants.Allows(access.Execute, access.Action, access.ActionView(a), nil):
			row.Why = (&access.Denied{Subject: v.grants.Subject().Who(), Action: access.Execute, Resource: access.Action, Object: id}).Error()
		default:
			if err := runs.CheckEntity(v.snap, a, e.Identifier); err != nil {
				row.Why = err.Error()
			} else {
				row.URL = "/actions/" + url.PathEscape(id) + "?entity=" + url.QueryEscape(e.Identifier)
			}
		}
		out = append(out, row)
	}
	return out
}
