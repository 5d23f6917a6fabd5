package loader

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/robfig/cron/v3"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/jqtmpl"
)

// actionTemplates checks what an action would otherwise only find out
// when someone runs it: every {{ jq }} template of its invocation must
// compile, and its schedule must be a cron expression.
func (a *assembly) actionTemplates(o *object, act *catalog.Action, path string) {
	check := func(rel []string, v any) {
		if _, err := jqtmpl.Compile(v); err != nil {
			n := lookup(o.node, rel)
			a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: joinPath(path, rel), Kind: catalog.KindShape, Message: err.Error()})
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
	if act.Schedule != "" {
		if _, err := cron.ParseStandard(act.Schedule); err != nil {
			n := lookup(o.node, []string{"schedule"})
			a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: path + ".schedule", Kind: catalog.KindShape,
				Message: fmt.Sprintf("%q is not a cron schedule: %s", act.Schedule, strings.TrimPrefix(err.Error(), "expected "))})
		}
	}
}
