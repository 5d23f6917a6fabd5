package store

import (
	"encoding/json"
	"time"
)

// Session is a person signed in through the browser. Only a hash of the
// session's cookie is stored: the database never holds what would let
// someone who reads it sign in.
type Session struct {
	// IDHash is the hex SHA-256 of the cookie's value.
	IDHash string `json:"-"`
	Login  string `json:"login"`
	// Person is what GitHub said of the person at sign-in (name, email,
	// teams), as JSON: the identity package's to read.
	Person json.RawMessage `json:"person"`
	// CSRF is the token every state-changing browser request must echo.
	CSRF      string    `json:"-"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// APIToken is a personal API token a person minted: it acts as them.
// Only a hash is stored; the token is shown once, when minted.
type APIToken struct {
	// ID names the token in listings and revocations; it is not a
	// secret.
	ID   string `json:"id"`
	Hash string `json:"-"`
	// Login is the person the token acts for.
	Login     string    `json:"login"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// Person is someone who signed in: what GitHub said of them (the
// identity package's JSON) when they last did.
type Person struct {
	Login    string          `json:"login"`
	Person   json.RawMessage `json:"person"`
	SignedIn time.Time       `json:"signedIn"`
}
