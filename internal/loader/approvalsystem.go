package loader

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pierhq/pier/internal/approval/httpcap"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/schema"
)

// approvalSystemID is what an action's `system: "http:NAME"` can name
// (schema/action.cue): stricter than an identifier, so that every
// declared system can be selected.
var approvalSystemID = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// approvalSystems shape-checks and decodes the declared approval
// systems, then reports what httpcap would refuse (templates, JSON
// pointers, matchers, parser requirements, schedule) at the field at
// fault, so that a broken system fails reconcile rather than the first
// run that needs it. A system with any problem is left out of the
// catalog: the daemon never sees one it cannot compile.
func (a *assembly) approvalSystems() {
	for _, o := range a.sorted(catalog.KindApprovalSystemObj) {
		path := objectPath(o.key)
		if !approvalSystemID.MatchString(o.key.ID) {
			a.diags = append(a.diags, catalog.Diagnostic{Pos: o.pos, Path: path, Kind: catalog.KindIdentifier, Message: fmt.Sprintf("%q cannot be selected as http:%s: an approval system's identifier may hold only letters, digits, _ and -", o.key.ID, o.key.ID)})
			continue
		}
		if !a.shape(schema.ApprovalSystem, path, o.node) {
			continue
		}
		as := &catalog.ApprovalSystem{}
		if !a.decode(o, as) {
			continue
		}
		as.Identifier = o.key.ID
		ps := httpcap.Check(as)
		for _, p := range ps {
			a.diags = append(a.diags, catalog.Diagnostic{Pos: lookup(o.node, p.Path).Pos, Path: joinPath(path, p.Path), Kind: catalog.KindShape, Message: p.Message})
		}
		if len(ps) > 0 {
			continue
		}
		a.cat.ApprovalSystems[o.key.ID] = as
		a.addObject(o, as)
	}
}

// approvalSystemRef reports an action whose approval rule selects an
// HTTP approval system that is not declared. A declared but broken one
// counts as declared: it is reported once, where it is.
func (a *assembly) approvalSystemRef(o *object, act *catalog.Action) {
	if act.Approval == nil {
		return
	}
	name, ok := strings.CutPrefix(act.Approval.System, "http:")
	if !ok || len(a.ix.decls[catalog.Key{Kind: catalog.KindApprovalSystemObj, ID: name}]) > 0 {
		return
	}
	n := lookup(o.node, []string{"approval", "system"})
	a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: objectPath(o.key) + ".approval.system", Kind: catalog.KindReference, Message: fmt.Sprintf("approval system %q is not declared under approvalSystems", name)})
}
