package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"
	"golang.org/x/oauth2"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/api"
	"github.com/pierhq/pier/internal/identity"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/webhook"
)

// people wires who people are: sessions and personal tokens in the
// store, their teams from GitHub (through pier's own client) or the
// development people, and the sign-in routes.
func (d *daemon) people() *api.People {
	cfg := d.cfg
	dev := map[string]identity.Person{}
	var devList []identity.Person
	for _, p := range cfg.People {
		person := identity.Person{Login: p.Login, Name: p.Name, Email: p.Email, GitHubTeams: p.Teams}
		dev[strings.ToLower(p.Login)] = person
		devList = append(devList, person)
	}
	dir := &identity.Directory{Org: d.owner, Dev: dev}
	if d.github != nil {
		dir.GitHub = d.github
	}
	sessions := &identity.Sessions{Store: d.store, TTL: cfg.SessionTTL, Secure: strings.HasPrefix(cfg.PublicURL, "https://")}
	signIn := &identity.SignIn{
		Sessions: sessions, Directory: dir, APIURL: cfg.GitHubAPIURL,
		Dev: devList, DevEnabled: cfg.DevSignIn,
		Remember: func(ctx context.Context, p identity.Person) error {
			js, err := json.Marshal(p)
			if err != nil {
				return err
			}
			return d.store.RecordPerson(ctx, store.Person{Login: p.Login, Person: js, SignedIn: time.Now().UTC()})
		},
		Audit: d.store.Audit, Logger: d.log.With("component", "sign-in"),
	}
	if cfg.OAuthClientID != "" {
		web := strings.TrimSuffix(cfg.GitHubWebURL, "/")
		signIn.OAuth = &oauth2.Config{
			ClientID: cfg.OAuthClientID, ClientSecret: cfg.OAuthClientSecret,
			Endpoint:    oauth2.Endpoint{AuthURL: web + "/login/oauth/authorize", TokenURL: web + "/login/oauth/access_token", AuthStyle: oauth2.AuthStyleInParams},
			RedirectURL: strings.TrimSuffix(d.publicURL(), "/") + "/auth/github/callback",
			Scopes:      []string{"read:user", "user:email", "read:org"},
		}
		// Replicas sharing the configuration verify each other's sign-in
		// state.
		key := sha256.Sum256([]byte("pier sign-in state\x00" + cfg.OAuthClientSecret))
		signIn.Key = key[:]
	} else {
		key := sha256.Sum256([]byte("pier sign-in state\x00" + randomKey()))
		signIn.Key = key[:]
	}
	return &api.People{
		Sessions: sessions, Tokens: d.store, Directory: dir, SignIn: signIn.Handler(),
		Admins: cfg.Admins, TokenTTL: cfg.PersonalTokenMaxTTL,
		Known: func(ctx context.Context) ([]identity.Person, error) {
			stored, err := d.store.People(ctx)
			if err != nil {
				return nil, err
			}
			out := append([]identity.Person(nil), devList...)
			for _, sp := range stored {
				var p identity.Person
				if err := json.Unmarshal(sp.Person, &p); err != nil {
					continue
				}
				if _, isDev := dev[strings.ToLower(p.Login)]; !isDev {
					out = append(out, p)
				}
			}
			return out, nil
		},
	}
}

// onMembership forgets what is known of a person's teams when GitHub
// says one of their memberships changed: the next read asks again.
func (d *daemon) onMembership(dir *identity.Directory) webhook.HandlerFunc {
	return func(_ context.Context, dl webhook.Delivery) error {
		if e, ok := dl.Payload.(*gh.MembershipEvent); ok {
			dir.Forget(e.GetMember().GetLogin())
		}
		return nil
	}
}

// publicURL is pier's URL as people and workflows reach it.
func (d *daemon) publicURL() string {
	if d.cfg.PublicURL != "" {
		return d.cfg.PublicURL
	}
	return "http://" + d.addr
}

// randomKey is a key for this process only.
func randomKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return string(b)
}

// grantsOf returns the rights of a person by login under the served
// catalog's roles, for the doors that are not the API (a run asked for
// by pull request): the same rule (identity.Rights) the API and the web
// portal use.
func (d *daemon) grantsOf(dir *identity.Directory) func(ctx context.Context, login string) (*access.Grants, error) {
	rights := &identity.Rights{Directory: dir, Admins: d.cfg.Admins}
	return func(ctx context.Context, login string) (*access.Grants, error) {
		g, err := rights.Grants(ctx, d.holder.Load(), access.Subject{Login: login})
		if err != nil {
			return nil, err
		}
		return g, nil
	}
}
