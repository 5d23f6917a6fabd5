package web

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/scorecard"
)

// scorecardsView lists the scorecards with their level distribution.
type scorecardsView struct {
	Cards []cardView
}

// cardView is one scorecard's standing over the entities the visitor
// may read: the distribution over levels (a bar chart), each rule's pass
// rate, and (on its own page) the entities at each level.
type cardView struct {
	ID, Title, Description, URL, Blueprint string
	Summary                                scorecard.Summary
	Chart                                  barChart
	Rules                                  []ruleRate
	Levels                                 []levelEntities
}

type ruleRate struct {
	Title, Level   string
	Passed, Failed int
	Percent        int
	Bar            barChart
}

type levelEntities struct {
	Title, Color string
	Entities     []entityLink
	More         int
}

func (s *Server) scorecardsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	var view scorecardsView
	for _, id := range sortedKeys(v.snap.Scorecards) {
		if c, ok := s.card(v, id, false); ok {
			view.Cards = append(view.Cards, c)
		}
	}
	s.render(w, r, v, http.StatusOK, "scorecards", "Scorecards", "scorecards", view)
}

func (s *Server) scorecardPage(w http.ResponseWriter, r *http.Request, v *visit) {
	id := r.PathValue("id")
	sc := v.snap.Scorecards[id]
	if sc == nil {
		s.fail(w, r, v, http.StatusNotFound, fmt.Sprintf("There is no scorecard %q.", id))
		return
	}
	c, ok := s.card(v, id, true)
	if !ok {
		s.fail(w, r, v, http.StatusForbidden, (&access.Denied{Subject: v.grants.Subject().Who(), Action: access.Read, Resource: access.Scorecard, Object: id}).Error())
		return
	}
	s.render(w, r, v, http.StatusOK, "scorecard", c.Title, "scorecards", c)
}

// maxPerLevel bounds the entities a scorecard page lists per level.
const maxPerLevel = 100

// card builds a scorecard's view, if the visitor may read it; with
// entities, the entities at each level too.
func (s *Server) card(v *visit, id string, entities bool) (cardView, bool) {
	sc := v.snap.Scorecards[id]
	if sc == nil || !v.grants.Allows(access.Read, access.Scorecard, access.ScorecardView(sc), nil) {
		return cardView{}, false
	}
	c := cardView{ID: id, Title: titleOr(sc.Title, id), Description: sc.Description, URL: "/scorecards/" + url.PathEscape(id), Blueprint: sc.BlueprintIdentifier}
	var keep func(catalog.Key) bool
	if v.readable != nil {
		keep = func(k catalog.Key) bool { e := v.snap.Entity(k.Blueprint, k.ID); return e != nil && v.readable(e) }
	}
	sum, ok := v.snap.Scores.SummaryOf(id, keep)
	if !ok {
		return c, true
	}
	c.Summary = sum
	var bars []bar
	for _, l := range sum.Levels {
		bars = append(bars, bar{Label: l.Title, Value: float64(l.Entities), Color: l.Color})
	}
	c.Chart = newBarChart(bars)
	for _, ru := range sum.Rules {
		rate := ruleRate{Title: titleOr(ru.Title, ru.Identifier), Level: ru.Level, Passed: ru.Passed, Failed: ru.Failed}
		if t := ru.Passed + ru.Failed; t > 0 {
			rate.Percent = ru.Passed * 100 / t
		}
		rate.Bar = newBarChart([]bar{{Label: "passed", Value: float64(ru.Passed), Color: "green"}, {Label: "failed", Value: float64(ru.Failed), Color: "red"}})
		c.Rules = append(c.Rules, rate)
	}
	if entities {
		byLevel := map[string]*levelEntities{}
		for _, l := range sum.Levels {
			c.Levels = append(c.Levels, levelEntities{Title: l.Title, Color: l.Color})
		}
		for i := range c.Levels {
			byLevel[c.Levels[i].Title] = &c.Levels[i]
		}
		bp := sc.BlueprintIdentifier
		for _, eid := range v.snap.IDs(bp) {
			e := v.snap.Entities[bp][eid]
			res, ok := v.snap.Scores.Results[catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: eid}].Lookup(id)
			if !ok || !v.canRead(e) {
				continue
			}
			le := byLevel[res.Level]
			if le == nil {
				continue
			}
			if len(le.Entities) < maxPerLevel {
				le.Entities = append(le.Entities, linkTo(v.snap, e))
			} else {
				le.More++
			}
		}
	}
	return c, true
}
