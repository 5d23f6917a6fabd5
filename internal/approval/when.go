package approval

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/itchyny/gojq"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/jqtmpl"
	"github.com/pierhq/pier/internal/query"
)

// When is an approval rule's compiled `when`: a query whose `property`
// rules name the run's inputs, or {jq: ...} over the run's template data,
// which must yield true.
type When struct {
	src string     // the jq, when it is jq
	jq  *gojq.Code // nil for a query
	q   *query.Query
}

// JQError is a `when` whose jq does not compile.
type JQError struct {
	Src string
	Err error
}

func (e *JQError) Error() string { return fmt.Sprintf("jq %q: %v", e.Src, e.Err) }

func (e *JQError) Unwrap() error { return e.Err }

// CompileWhen compiles a `when`. The loader calls it to report a bad one
// at load, and the run pipeline to evaluate it: both read it the same way.
// Bad jq is a *JQError; a bad query an error naming the rule.
func CompileWhen(raw json.RawMessage) (*When, error) {
	var j struct {
		JQ string `json:"jq"`
	}
	if catalog.Decode(raw, &j) == nil && j.JQ != "" {
		p, err := gojq.Parse(j.JQ)
		if err != nil {
			return nil, &JQError{j.JQ, err}
		}
		code, err := gojq.Compile(p)
		if err != nil {
			return nil, &JQError{j.JQ, err}
		}
		return &When{src: j.JQ, jq: code}, nil
	}
	var q catalog.Query
	if err := catalog.Decode(raw, &q); err != nil {
		return nil, err
	}
	cq, err := query.Compile(q)
	if err != nil {
		return nil, err
	}
	return &When{q: cq}, nil
}

// Needed reports whether a run needs approval: data is the run's template
// data (for jq, which runs for at most jqtmpl.DefaultTimeout), run names
// the run and inputs are its inputs (for a query, standing in for an
// entity's properties).
func (w *When) Needed(ctx context.Context, data map[string]any, run, blueprint string, inputs map[string]any) (bool, error) {
	if w.jq == nil {
		return w.q.Match(&query.Entity{Entity: &catalog.Entity{Identifier: run, Blueprint: blueprint, Properties: inputs}}, nil), nil
	}
	ctx, cancel := context.WithTimeout(ctx, jqtmpl.DefaultTimeout)
	defer cancel()
	v, ok := w.jq.RunWithContext(ctx, data).Next()
	if !ok {
		return false, nil
	}
	if err, isErr := v.(error); isErr {
		if ctx.Err() != nil {
			return false, fmt.Errorf("jq %q: stopped after %v", w.src, jqtmpl.DefaultTimeout)
		}
		return false, fmt.Errorf("jq %q: %w", w.src, err)
	}
	return v == true, nil
}
