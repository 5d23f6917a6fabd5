package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/state"
)

// searchView is the search box's answer: entities whose identifier,
// title or any string property holds the words, among those the visitor
// may read.
type searchView struct {
	Query   string
	Results []searchResult
	More    bool
}

type searchResult struct {
	Link      entityLink
	BPTitle   string
	Matched   string // the property that matched, when not the title
	MatchText string
}

// maxResults bounds one search's answer.
const maxResults = 100

func (s *Server) searchPage(w http.ResponseWriter, r *http.Request, v *visit) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	view := searchView{Query: q}
	if q != "" {
		view.Results, view.More = find(v, q, maxResults)
	}
	s.render(w, r, v, http.StatusOK, "search", "Search", "home", view)
}

// find scans the entities of the blueprints the visitor may read for
// needle, case-insensitively: identifiers and titles first, then string
// properties.
func find(v *visit, needle string, max int) ([]searchResult, bool) {
	needle = strings.ToLower(needle)
	var out []searchResult
	for _, bp := range sortedBlueprints(v.snap, v.grants) {
		b := v.snap.Blueprints[bp]
		for _, id := range v.snap.IDs(bp) {
			e := v.snap.Entities[bp][id]
			prop, text, ok := matches(e, needle)
			if !ok || !v.canRead(e) {
				continue
			}
			if len(out) == max {
				return out, true
			}
			out = append(out, searchResult{Link: linkTo(v.snap, e), BPTitle: titleOr(b.Title, bp), Matched: prop, MatchText: text})
		}
	}
	return out, false
}

func matches(e *state.Entity, needle string) (string, string, bool) {
	if containsFold(e.Identifier, needle) || containsFold(e.Title, needle) {
		return "", "", true
	}
	// The first matching property by name, without sorting every
	// entity's names: most entities match nothing.
	prop, text := "", ""
	for k, v := range e.Properties {
		if s, ok := v.(string); ok && (prop == "" || k < prop) && containsFold(s, needle) {
			prop, text = k, s
		}
	}
	return prop, text, prop != ""
}

// containsFold reports whether s holds needle (lower case already),
// ignoring case, without allocating for ASCII text: the search box scans
// every string of every entity.
func containsFold(s, needle string) bool {
	if len(needle) > len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return strings.Contains(strings.ToLower(s), needle)
		}
	}
	for i := 0; i+len(needle) <= len(s); i++ {
		j := 0
		for ; j < len(needle); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != needle[j] {
				break
			}
		}
		if j == len(needle) {
			return true
		}
	}
	return false
}

// pick answers an entity picker: up to 50 entities of a blueprint the
// visitor may read whose identifier or title holds q, as JSON.
func (s *Server) pick(w http.ResponseWriter, r *http.Request, v *visit) {
	bp := r.URL.Query().Get("blueprint")
	w.Header().Set("Content-Type", "application/json")
	b := v.snap.Blueprints[bp]
	if b == nil || !v.grants.Allows(access.Read, access.Blueprint, access.BlueprintView(b), nil) {
		w.Write([]byte("[]\n"))
		return
	}
	json.NewEncoder(w).Encode(pickable(v, bp, r.URL.Query().Get("q"), 50))
}

type pickItem struct {
	Identifier string `json:"identifier"`
	Title      string `json:"title"`
}

func pickable(v *visit, bp, q string, max int) []pickItem {
	q = strings.ToLower(strings.TrimSpace(q))
	out := []pickItem{}
	for _, id := range v.snap.IDs(bp) {
		e := v.snap.Entities[bp][id]
		if q != "" && !strings.Contains(strings.ToLower(id), q) && !strings.Contains(strings.ToLower(e.Title), q) {
			continue
		}
		if !v.canRead(e) {
			continue
		}
		out = append(out, pickItem{Identifier: id, Title: titleOr(e.Title, id)})
		if len(out) == max {
			break
		}
	}
	slices.SortStableFunc(out, func(a, b pickItem) int {
		// Exact and prefix matches first.
		pa, pb := strings.HasPrefix(strings.ToLower(a.Identifier), q), strings.HasPrefix(strings.ToLower(b.Identifier), q)
		switch {
		case pa && !pb:
			return -1
		case pb && !pa:
			return 1
		}
		return 0
	})
	return out
}
