package loader

import (
	"fmt"
	"strconv"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/schema"
)

// TeamBlueprint is the blueprint whose entities are the catalog's
// teams: role bindings name them, and a person belongs to one when the
// team entity's github_team property names a GitHub team they are in.
const TeamBlueprint = "team"

// roles shape-checks and decodes the roles and role bindings, then
// reports what access.Compile would refuse (a condition that does not
// compile, a template it does not know, a binding of an undeclared role)
// at the field at fault, and bindings of teams the catalog does not
// have. Roles at fault are left out of the catalog; so the daemon never
// serves a policy it could not compile, and a revision with any of these
// errors is refused (the last good roles keep applying).
func (a *assembly) roles() {
	objs := map[catalog.Key]*object{}
	for _, kind := range []catalog.Kind{catalog.KindRoleObj, catalog.KindRoleBindingObj} {
		def := map[catalog.Kind]string{catalog.KindRoleObj: schema.Role, catalog.KindRoleBindingObj: schema.RoleBinding}[kind]
		for _, o := range a.sorted(kind) {
			if !a.shape(def, objectPath(o.key), o.node) {
				continue
			}
			if kind == catalog.KindRoleObj {
				r := &catalog.Role{}
				if !a.decode(o, r) {
					continue
				}
				r.Identifier = o.key.ID
				a.cat.Roles[o.key.ID] = r
			} else {
				b := &catalog.RoleBinding{}
				if !a.decode(o, b) {
					continue
				}
				a.cat.RoleBindings[o.key.ID] = b
				a.bindingTeams(o, b)
			}
			objs[o.key] = o
		}
	}
	_, ps := access.Compile(a.cat)
	bad := map[catalog.Key]bool{}
	for _, p := range ps {
		o := objs[p.Key]
		if o == nil {
			continue
		}
		bad[p.Key] = true
		a.diags = append(a.diags, catalog.Diagnostic{Pos: lookup(o.node, p.Path).Pos, Path: joinPath(objectPath(p.Key), p.Path), Kind: catalog.KindShape, Message: p.Message})
	}
	for k, o := range objs {
		if bad[k] {
			if k.Kind == catalog.KindRoleObj {
				delete(a.cat.Roles, k.ID)
			} else {
				delete(a.cat.RoleBindings, k.ID)
			}
			continue
		}
		if k.Kind == catalog.KindRoleObj {
			a.addObject(o, a.cat.Roles[k.ID])
		} else {
			a.addObject(o, a.cat.RoleBindings[k.ID])
		}
	}
}

// bindingTeams reports teams a binding names that are not team
// entities: a typo would silently bind nobody.
func (a *assembly) bindingTeams(o *object, b *catalog.RoleBinding) {
	for i, t := range b.Teams {
		if len(a.ix.decls[catalog.Key{Kind: catalog.KindEntityObj, Blueprint: TeamBlueprint, ID: t}]) == 0 {
			n := lookup(o.node, []string{"teams", strconv.Itoa(i)})
			a.diags = append(a.diags, catalog.Diagnostic{Pos: n.Pos, Path: fmt.Sprintf("%s.teams[%d]", objectPath(o.key), i), Kind: catalog.KindReference,
				Message: fmt.Sprintf("team %q is not an entity of blueprint %s", t, TeamBlueprint)})
		}
	}
}
