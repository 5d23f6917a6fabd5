package github

import (
	"context"
	"fmt"
	"strings"

	gogithub "github.com/google/go-github/v62/github"
)

// User is what pier learns of a person who signs in.
type User struct {
	Login, Name, Email string
	// Teams are the teams they belong to, "org/slug".
	Teams []string
}

// Me reads the token's user with the token of a person who signed in
// (OAuth scopes read:user, user:email and read:org): their login and
// name, their email (the profile's, else the primary verified one), and
// every team they belong to, all pages of them.
//
// GitHub API docs: https://docs.github.com/rest/users/users#get-the-authenticated-user,
// https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user,
// https://docs.github.com/rest/teams/teams#list-teams-for-the-authenticated-user
func (c *Client) Me(ctx context.Context) (User, error) {
	u, _, err := c.gh.Users.Get(ctx, "")
	if err != nil {
		return User{}, fmt.Errorf("get the signed-in user: %w", err)
	}
	out := User{Login: u.GetLogin(), Name: u.GetName(), Email: u.GetEmail()}
	if out.Email == "" {
		emails, _, err := c.gh.Users.ListEmails(ctx, &gogithub.ListOptions{PerPage: 100})
		if err != nil && statusCode(err) != 404 && statusCode(err) != 403 {
			return User{}, fmt.Errorf("list the emails of %s: %w", out.Login, err)
		}
		for _, e := range emails {
			if e.GetPrimary() && e.GetVerified() {
				out.Email = e.GetEmail()
			}
		}
	}
	opts := &gogithub.ListOptions{PerPage: 100}
	for {
		teams, resp, err := c.gh.Teams.ListUserTeams(ctx, opts)
		if err != nil {
			return User{}, fmt.Errorf("list the teams of %s: %w", out.Login, err)
		}
		for _, t := range teams {
			out.Teams = append(out.Teams, strings.ToLower(t.GetOrganization().GetLogin()+"/"+t.GetSlug()))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}
