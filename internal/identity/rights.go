package identity

import (
	"context"
	"slices"
	"strings"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/state"
)

// Rights works out what someone may do under the served catalog's roles:
// the one rule every door (the API, the web portal, pull-request intake)
// uses to turn a login into access.Grants — their catalog teams from the
// Directory, pier's administrators holding the built-in admin role.
type Rights struct {
	Directory *Directory
	// Admins are the logins of pier's administrators.
	Admins []string
}

// Admin reports whether login is one of pier's administrators.
func (r *Rights) Admin(login string) bool {
	return r != nil && login != "" && slices.ContainsFunc(r.Admins, func(a string) bool { return strings.EqualFold(a, login) })
}

// Grants returns sub's grants in snap, with sub's Teams and Admin filled
// in from the directory and the administrators. A subject without a
// login (anonymous, a client acting for nobody) gets no teams. When the
// teams cannot be learnt the grants are those without any team — team
// conditions grant nothing rather than guess — and the error says why.
func (r *Rights) Grants(ctx context.Context, snap *state.Snapshot, sub access.Subject) (*access.Grants, error) {
	if sub.Anonymous {
		return snap.Access.For(access.Subject{Anonymous: true}), nil
	}
	sub.Admin = r.Admin(sub.Login)
	var err error
	if r != nil && r.Directory != nil && sub.Login != "" {
		sub.Teams, err = r.Directory.CatalogTeams(ctx, sub.Login, snap)
	}
	return snap.Access.For(sub), err
}
