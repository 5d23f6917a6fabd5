package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/store"
)

// TokenStore keeps personal API tokens.
type TokenStore interface {
	CreateToken(ctx context.Context, t store.APIToken) error
	Token(ctx context.Context, hash string) (store.APIToken, error)
	Tokens(ctx context.Context, login string) ([]store.APIToken, error)
	DeleteToken(ctx context.Context, login, id string) error
}

// TokenPrefix starts every personal API token, so that a leaked one is
// recognisable (and secret scanners can match it).
const TokenPrefix = "pier_pat_"

// MaxTokenName bounds a token's name.
const MaxTokenName = 100

// MintToken makes a personal API token acting for login, named name,
// expiring after ttl (0: never). The token itself is returned once and
// stored only as its hash.
func MintToken(ctx context.Context, st TokenStore, login, name string, ttl time.Duration, now time.Time) (string, store.APIToken, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", store.APIToken{}, errors.New("a token needs a name (what it is for)")
	case len(name) > MaxTokenName:
		return "", store.APIToken{}, fmt.Errorf("a token's name is at most %d characters", MaxTokenName)
	case ttl < 0:
		return "", store.APIToken{}, errors.New("a token's lifetime cannot be negative")
	}
	secret := TokenPrefix + random(30)
	t := store.APIToken{ID: "tok_" + random(9), Hash: hashOf(secret), Login: login, Name: name, CreatedAt: now.UTC()}
	if ttl > 0 {
		t.ExpiresAt = t.CreatedAt.Add(ttl)
	}
	if err := st.CreateToken(ctx, t); err != nil {
		return "", store.APIToken{}, err
	}
	return secret, t, nil
}

// LookupToken returns the unexpired token secret is, or store.ErrNotFound.
func LookupToken(ctx context.Context, st TokenStore, secret string) (store.APIToken, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return store.APIToken{}, store.ErrNotFound
	}
	return st.Token(ctx, hashOf(secret))
}
