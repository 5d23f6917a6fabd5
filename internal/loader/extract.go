package loader

import (
	"fmt"
	"maps"
	"regexp"
	"slices"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/didyoumean"
	"github.com/pierhq/pier/internal/node"
	"github.com/pierhq/pier/schema"
)

var identifierRE = regexp.MustCompile(schema.IdentifierPattern)

// topLevel lists the keys a catalog file may declare, with the kind of
// object each holds.
var topLevel = map[string]catalog.Kind{
	"blueprints":      catalog.KindBlueprintObj,
	"entities":        catalog.KindEntityObj,
	"actions":         catalog.KindActionObj,
	"scorecards":      catalog.KindScorecardObj,
	"automations":     catalog.KindAutomationObj,
	"webhooks":        catalog.KindWebhookObj,
	"approvalSystems": catalog.KindApprovalSystemObj,
	"roles":           catalog.KindRoleObj,
	"roleBindings":    catalog.KindRoleBindingObj,
	"dashboards":      catalog.KindDashboardObj,
	"settings":        "",
}

// object is one catalog object as declared in one file.
type object struct {
	key  catalog.Key
	file string // the declaring file; orders duplicates
	node *node.Node
	pos  catalog.Pos // the object's key, where an author looks for it
	// hash is the hash of the node's canonical JSON: the cache key of
	// everything derived from this declaration.
	hash string
	// entity and out are set for entities: the decoded entity and its
	// canonical object, computed once per file version.
	entity *catalog.Entity
	out    catalog.Object
	// verdict is the entity's validation against the blueprint version
	// verdictFor (a blueprint identity, see index.bpIdentity).
	verdict    catalog.Diagnostics
	verdictFor string
	validated  bool
}

// extracted is what one file contributes.
type extracted struct {
	file     string
	fileHash string
	objects  []*object
	settings *node.Node
	diags    catalog.Diagnostics
}

// extract splits a file's value into catalog objects. fileHash identifies
// the file's content; an entity's hash derives from it and the entity's
// key, which is as exact as hashing the entity itself and much cheaper.
func extract(file string, root *node.Node, fileHash string) *extracted {
	x := &extracted{file: file, fileHash: fileHash}
	for _, f := range root.Fields {
		kind, ok := topLevel[f.Name]
		if !ok {
			x.diags = append(x.diags, catalog.Diagnostic{
				Pos: f.Pos, Path: catalog.PathElem(f.Name), Kind: catalog.KindUnknownKey,
				Message: fmt.Sprintf("unknown top-level key %q%s; a catalog file declares blueprints, entities, actions, scorecards, automations, webhooks, approvalSystems, roles, roleBindings or settings", f.Name, suggest(f.Name)),
			})
			continue
		}
		switch {
		case f.Name == "settings":
			if f.Value.Kind != node.Struct {
				x.diags = append(x.diags, catalog.Diagnostic{Pos: f.Value.Pos, Path: "settings", Kind: catalog.KindCatalogSetting, Message: "must be an object; got " + f.Value.Describe()})
				continue
			}
			x.settings = f.Value
		case kind == catalog.KindEntityObj:
			if !x.isMap(f, "entities") {
				continue
			}
			for _, bp := range f.Value.Fields {
				if !x.isMap(bp, "entities."+catalog.PathElem(bp.Name)) {
					continue
				}
				for _, e := range bp.Value.Fields {
					x.add(catalog.Key{Kind: kind, Blueprint: bp.Name, ID: e.Name}, e)
				}
			}
		case (kind == catalog.KindRoleObj || kind == catalog.KindDashboardObj) && f.Value.Kind == node.List:
			// Port's RBAC configuration lists its roles, and an export
			// of dashboards lists them; each names itself.
			what := map[catalog.Kind]string{catalog.KindRoleObj: "role", catalog.KindDashboardObj: "dashboard"}[kind]
			for i, el := range f.Value.Elems {
				id := el.Get("identifier")
				if el.Kind != node.Struct || id == nil || id.Kind != node.String {
					x.diags = append(x.diags, catalog.Diagnostic{Pos: el.Pos, Path: fmt.Sprintf("%s[%d]", f.Name, i), Kind: catalog.KindShape, Message: "a " + what + " in the list must be an object with an identifier; got " + el.Describe()})
					continue
				}
				x.add(catalog.Key{Kind: kind, ID: id.Text}, node.Field{Name: id.Text, Pos: el.Pos, Value: el})
			}
		default:
			if !x.isMap(f, f.Name) {
				continue
			}
			for _, o := range f.Value.Fields {
				x.add(catalog.Key{Kind: kind, ID: o.Name}, o)
			}
		}
	}
	return x
}

func (x *extracted) isMap(f node.Field, path string) bool {
	if f.Value.Kind == node.Struct {
		return true
	}
	x.diags = append(x.diags, catalog.Diagnostic{Pos: f.Value.Pos, Path: path, Kind: catalog.KindShape, Message: "must be an object keyed by identifier; got " + f.Value.Describe()})
	return false
}

func (x *extracted) add(key catalog.Key, f node.Field) {
	path := objectPath(key)
	if !identifierRE.MatchString(key.ID) {
		x.diags = append(x.diags, catalog.Diagnostic{Pos: f.Pos, Path: path, Kind: catalog.KindIdentifier, Message: fmt.Sprintf("%q is not a valid identifier (want %s)", key.ID, schema.IdentifierPattern)})
		return
	}
	if f.Value.Kind != node.Struct {
		x.diags = append(x.diags, catalog.Diagnostic{Pos: f.Value.Pos, Path: path, Kind: catalog.KindShape, Message: "must be an object; got " + f.Value.Describe()})
		return
	}
	if id := f.Value.Get("identifier"); id != nil && (id.Kind != node.String || id.Text != key.ID) {
		x.diags = append(x.diags, catalog.Diagnostic{Pos: id.Pos, Path: path + ".identifier", Kind: catalog.KindIdentifier, Message: fmt.Sprintf("identifier %s does not match its key %q", id.Describe(), key.ID)})
		return
	}
	o := &object{key: key, file: x.file, node: f.Value, pos: f.Pos}
	if key.Kind != catalog.KindEntityObj {
		o.hash = catalog.HashJSON(f.Value.JSON())
	} else {
		o.hash = x.fileHash + "/" + key.Blueprint + "/" + key.ID
		o.entity = entityOf(key, f.Value)
		out, err := catalog.NewObject(key, o.entity, f.Pos)
		if err != nil {
			x.diags = append(x.diags, catalog.Diagnostic{Pos: f.Pos, Path: path, Kind: catalog.KindShape, Message: err.Error()})
			return
		}
		out.Fields = fieldsAt(f.Value, "properties")
		o.out = out
	}
	x.objects = append(x.objects, o)
}

// entityOf decodes an entity leniently; the validator reports whatever
// does not fit, so a malformed field is simply left out here.
func entityOf(key catalog.Key, n *node.Node) *catalog.Entity {
	e := &catalog.Entity{Blueprint: key.Blueprint, Identifier: key.ID, Properties: map[string]any{}, Relations: map[string]any{}}
	if t := n.Get("title"); t != nil && t.Kind == node.String {
		e.Title = t.Text
	}
	if t := n.Get("icon"); t != nil && t.Kind == node.String {
		e.Icon = t.Text
	}
	if t := n.Get("team"); t != nil {
		switch t.Kind {
		case node.String:
			e.Team = []string{t.Text}
		case node.List:
			for _, el := range t.Elems {
				if el.Kind == node.String {
					e.Team = append(e.Team, el.Text)
				}
			}
		}
	}
	if p := n.Get("properties"); p != nil && p.Kind == node.Struct {
		for _, f := range p.Fields {
			e.Properties[f.Name] = f.Value.Any()
		}
	}
	if r := n.Get("relations"); r != nil && r.Kind == node.Struct {
		for _, f := range r.Fields {
			e.Relations[f.Name] = f.Value.Any()
		}
	}
	return e
}

// objectPath is the path an author would write to reach the object.
func objectPath(k catalog.Key) string {
	switch k.Kind {
	case catalog.KindEntityObj:
		return catalog.Path("entities", k.Blueprint, k.ID)
	case catalog.KindBlueprintObj:
		return catalog.Path("blueprints", k.ID)
	case catalog.KindActionObj:
		return catalog.Path("actions", k.ID)
	case catalog.KindScorecardObj:
		return catalog.Path("scorecards", k.ID)
	case catalog.KindWebhookObj:
		return catalog.Path("webhooks", k.ID)
	case catalog.KindApprovalSystemObj:
		return catalog.Path("approvalSystems", k.ID)
	case catalog.KindRoleObj:
		return catalog.Path("roles", k.ID)
	case catalog.KindRoleBindingObj:
		return catalog.Path("roleBindings", k.ID)
	case catalog.KindDashboardObj:
		return catalog.Path("dashboards", k.ID)
	}
	return catalog.Path("automations", k.ID)
}

// suggest offers the closest known key for a misspelt one.
func suggest(name string) string {
	return didyoumean.Hint(name, slices.Sorted(maps.Keys(topLevel)))
}

// fieldsAt lists where the fields of the struct at path under n are
// declared, in the order written (see catalog.Object.Fields); nil when
// there is no such struct.
func fieldsAt(n *node.Node, path ...string) []catalog.FieldPos {
	for _, p := range path {
		if n = n.Get(p); n == nil {
			return nil
		}
	}
	if n.Kind != node.Struct || len(n.Fields) == 0 {
		return nil
	}
	out := make([]catalog.FieldPos, len(n.Fields))
	for i, f := range n.Fields {
		out[i] = catalog.FieldPos{Name: f.Name, Pos: f.Pos}
	}
	return out
}
