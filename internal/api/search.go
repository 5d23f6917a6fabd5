package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/query"
	"github.com/pierhq/pier/internal/search"
)

// searchBody accepts Port's search body in both its forms: the query
// itself ({"combinator": ..., "rules": [...]}) or wrapped with options
// ({"query": {...}, "limit": N}).
type searchBody struct {
	catalog.Query
	Wrapped *catalog.Query `json:"query"`
	Limit   int            `json:"limit"`
}

func (b *searchBody) UnmarshalJSON(data []byte) error {
	var wrapper struct {
		Query *catalog.Query `json:"query"`
		Limit int            `json:"limit"`
	}
	if err := json.Unmarshal(data, &wrapper); err != nil {
		return err
	}
	if wrapper.Query != nil {
		b.Query, b.Limit = *wrapper.Query, wrapper.Limit
		return nil
	}
	return json.Unmarshal(data, &b.Query)
}

// search is Port's POST /v1/entities/search, run by the shared search
// (internal/search) with the caller's read filter.
func (s *Server) search(w http.ResponseWriter, r *http.Request, c *caller) int {
	var body searchBody
	if code, ok := decodeBody(w, r, &body); !ok {
		return code
	}
	limit := body.Limit
	if limit <= 0 || limit > maxPage {
		limit = maxPage
	}
	out, err := search.Entities(s.opts.State.Load(), body.Query, s.grants(r, c).Filter(access.Read, access.Entity), s.opts.Now, limit)
	if err != nil {
		return badQuery(w, err)
	}
	return writeEntities(w, out, "")
}

func badQuery(w http.ResponseWriter, err error) int {
	var qe *query.Error
	if errors.As(err, &qe) {
		return writeError(w, http.StatusBadRequest, "invalid_query", qe.Error(), map[string]any{"rule": qe.Path})
	}
	return writeError(w, http.StatusBadRequest, "invalid_query", err.Error())
}
