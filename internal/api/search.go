package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/search"
	"github.com/pierhq/pier/internal/state"
)

// searchBody accepts Port's search body in both its forms: the query
// itself ({"combinator": ..., "rules": [...]}) or wrapped with options
// ({"query": {...}, "limit": N, "from": next, "include": [...], ...}).
type searchBody struct {
	catalog.Query
	Limit int
	From  string
	projection
}

func (b *searchBody) UnmarshalJSON(data []byte) error {
	var wrapper struct {
		Query *catalog.Query `json:"query"`
		Limit int            `json:"limit"`
		From  string         `json:"from"`
		projection
	}
	if err := json.Unmarshal(data, &wrapper); err != nil {
		return err
	}
	if wrapper.Query != nil || wrapper.Limit != 0 || wrapper.From != "" || wrapper.projection.active() {
		if wrapper.Query != nil {
			b.Query = *wrapper.Query
		}
		b.Limit, b.From, b.projection = wrapper.Limit, wrapper.From, wrapper.projection
		return nil
	}
	return json.Unmarshal(data, &b.Query)
}

// search is Port's POST /v1/entities/search, run by the shared search
// (internal/search) with the caller's read filter.
func (s *Server) search(w http.ResponseWriter, r *http.Request, c *caller) int {
	return s.searchIn(w, r, c, "")
}

// searchBlueprint is Port's paged POST /v1/blueprints/{bp}/entities/search:
// the same search within one blueprint.
func (s *Server) searchBlueprint(w http.ResponseWriter, r *http.Request, c *caller) int {
	bp := r.PathValue("bp")
	if s.opts.State.Load().Blueprints[bp] == nil {
		return writeError(w, http.StatusNotFound, "blueprint_not_found", "no blueprint "+quote(bp))
	}
	return s.searchIn(w, r, c, bp)
}

// searchIn searches (within blueprint bp, if set) and answers a page:
// limit entities at most, after the entity from names ("blueprint/id"
// across blueprints, the identifier within one), and the from of the
// following page as next.
func (s *Server) searchIn(w http.ResponseWriter, r *http.Request, c *caller, bp string) int {
	var body searchBody
	if code, ok := decodeBody(w, r, &body); !ok {
		return code
	}
	snap := s.opts.State.Load()
	proj, ok := s.projection(w, r, c, snap)
	if !ok {
		return http.StatusUnprocessableEntity
	}
	proj = proj.merge(body.projection).bind(snap, s.readable(r, c))
	limit := body.Limit
	if limit <= 0 || limit > maxPage {
		limit = maxPage
	}
	q := body.Query
	if q.Combinator == "" && len(q.Rules) == 0 {
		q.Combinator = "and"
	}
	if bp != "" {
		q = search.Restrict(q, catalog.Rule{Property: "$blueprint", Operator: "=", Value: bp})
	}
	out, err := search.Entities(snap, q, s.grants(r, c).Filter(access.Read, access.Entity), s.opts.Now, 0)
	if err != nil {
		return badQuery(w, err)
	}
	key := func(e *state.Entity) string {
		if bp != "" {
			return e.Identifier
		}
		return e.Blueprint + "/" + e.Identifier
	}
	if body.From != "" {
		// The results are in (blueprint, identifier) order: the page
		// starts after where from is or would be.
		fb, fid := bp, body.From
		if bp == "" {
			var ok bool
			if fb, fid, ok = strings.Cut(body.From, "/"); !ok {
				return writeError(w, http.StatusUnprocessableEntity, "invalid_input", fmt.Sprintf("from %q: want the next of the previous page (blueprint/identifier)", body.From), map[string]any{"field": "from"})
			}
		}
		i := sort.Search(len(out), func(i int) bool {
			return out[i].Blueprint > fb || out[i].Blueprint == fb && out[i].Identifier > fid
		})
		out = out[i:]
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = key(out[limit-1])
	}
	return writeEntities(w, out, next, proj)
}

func badQuery(w http.ResponseWriter, err error) int {
	var qe *query.Error
	if errors.As(err, &qe) {
		return writeError(w, http.StatusBadRequest, "invalid_query", qe.Error(), map[string]any{"rule": qe.Path})
	}
	return writeError(w, http.StatusBadRequest, "invalid_query", err.Error())
}
