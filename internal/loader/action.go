package loader

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/query"

	"github.com/robfig/cron/v3"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/jqtmpl"
)

// actionTemplates checks what an action would otherwise only find out
// when someone runs it: every {{ jq }} template of its invocation must
// compile, its trigger condition and approval `when` must be valid
// queries (or jq), and its schedule must be a cron expression.
func (a *assembly) actionTemplates(o *object, act *catalog.Action, path string) {
	check := func(rel []string, v any) {
		if _, err := jqtmpl.Compile(v); err != nil {
			a.actionDiag(o, rel, path, err.Error())
		}
	}
	im := act.InvocationMethod
	for _, name := range slices.Sorted(maps.Keys(im.WorkflowInputs)) {
		check([]string{"invocationMethod", "workflowInputs", name}, im.WorkflowInputs[name])
	}
	for _, name := range slices.Sorted(maps.Keys(im.Headers)) {
		check([]string{"invocationMethod", "headers", name}, im.Headers[name])
	}
	check([]string{"invocationMethod", "url"}, im.URL)
	check([]string{"invocationMethod", "secret"}, im.Secret)
	if im.Body != nil {
		check([]string{"invocationMethod", "body"}, im.Body)
	}
	if len(act.Trigger.Condition) > 0 {
		a.checkQuery(o, []string{"trigger", "condition"}, path, act.Trigger.Condition)
	}
	if ap := act.Approval; ap != nil && len(ap.When) > 0 {
		if _, err := approval.CompileWhen(ap.When); errors.As(err, new(*approval.JQError)) {
			a.actionDiag(o, []string{"approval", "when", "jq"}, path, err.Error())
		} else if err != nil {
			a.checkQuery(o, []string{"approval", "when"}, path, ap.When) // the rule's own position
		}
	}
	if act.Schedule != "" {
		if _, err := cron.ParseStandard(act.Schedule); err != nil {
			a.actionDiag(o, []string{"schedule"}, path, fmt.Sprintf("%q is not a cron schedule: %s", act.Schedule, strings.TrimPrefix(err.Error(), "expected ")))
		}
	}
}

// checkQuery reports a query of an action that the query language
// refuses, at the query's position.
func (a *assembly) checkQuery(o *object, rel []string, path string, raw []byte) {
	var q catalog.Query
	err := catalog.Decode(raw, &q)
	if err == nil {
		_, err = query.Compile(q)
	}
	if err != nil {
		a.actionDiag(o, rel, path, err.Error())
	}
}

func (a *assembly) actionDiag(o *object, rel []string, path, msg string) {
	n := lookup(o.node, rel)
	a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: joinPath(path, rel), Kind: catalog.KindShape, Message: msg})
}
