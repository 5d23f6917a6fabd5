package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/store"
)

// The methods in this file keep people's sessions and personal API
// tokens (store.Session, store.APIToken). Logins are compared as GitHub
// does, without case.

// CreateSession stores a new session; expired sessions of anyone are
// removed on the way, so that the table holds only live ones.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: create session: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, formatTime(time.Now())); err != nil {
		return fmt.Errorf("sqlite: create session: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, login, person, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		ss.IDHash, strings.ToLower(ss.Login), string(ss.Person), ss.CSRF, formatTime(ss.CreatedAt), formatTime(ss.ExpiresAt)); err != nil {
		return fmt.Errorf("sqlite: create session: %w", err)
	}
	return tx.Commit()
}

// Session returns the session whose cookie hashes to idHash, or
// store.ErrNotFound (expired sessions included).
func (s *Store) Session(ctx context.Context, idHash string) (store.Session, error) {
	var (
		ss               store.Session
		person, cat, exp string
	)
	err := s.r.QueryRowContext(ctx, `SELECT id_hash, login, person, csrf, created_at, expires_at FROM sessions WHERE id_hash = ? AND expires_at > ?`,
		idHash, formatTime(time.Now())).Scan(&ss.IDHash, &ss.Login, &person, &ss.CSRF, &cat, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("sqlite: session: %w", err)
	}
	ss.Person = []byte(person)
	if ss.CreatedAt, err = parseTime(cat); err == nil {
		ss.ExpiresAt, err = parseTime(exp)
	}
	return ss, err
}

// DeleteSession ends one session (signing out); an unknown one is no
// error.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("sqlite: delete session: %w", err)
	}
	return nil
}

// DeleteSessions ends every session of login and reports how many.
func (s *Store) DeleteSessions(ctx context.Context, login string) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE login = ?`, strings.ToLower(login))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete sessions of %s: %w", login, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// CreateToken stores a personal API token.
func (s *Store) CreateToken(ctx context.Context, t store.APIToken) error {
	exp := ""
	if !t.ExpiresAt.IsZero() {
		exp = formatTime(t.ExpiresAt)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO api_tokens (id, hash, login, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.Hash, strings.ToLower(t.Login), store.Text(t.Name), formatTime(t.CreatedAt), exp); err != nil {
		return fmt.Errorf("sqlite: create token: %w", err)
	}
	return nil
}

const tokenColumns = `id, hash, login, name, created_at, expires_at`

func scanToken(sc scanner) (store.APIToken, error) {
	var (
		t        store.APIToken
		cat, exp string
	)
	if err := sc.Scan(&t.ID, &t.Hash, &t.Login, &t.Name, &cat, &exp); err != nil {
		return store.APIToken{}, err
	}
	var err error
	if t.CreatedAt, err = parseTime(cat); err == nil && exp != "" {
		t.ExpiresAt, err = parseTime(exp)
	}
	return t, err
}

// Token returns the unexpired token whose secret hashes to hash, or
// store.ErrNotFound.
func (s *Store) Token(ctx context.Context, hash string) (store.APIToken, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ? AND (expires_at = '' OR expires_at > ?)`,
		hash, formatTime(time.Now())))
	if errors.Is(err, sql.ErrNoRows) {
		return store.APIToken{}, store.ErrNotFound
	}
	if err != nil {
		return store.APIToken{}, fmt.Errorf("sqlite: token: %w", err)
	}
	return t, nil
}

// Tokens lists login's tokens, newest first, expired ones included (so
// that a person sees what lapsed).
func (s *Store) Tokens(ctx context.Context, login string) ([]store.APIToken, error) {
	ts, err := queryAll(ctx, s.r, `SELECT `+tokenColumns+` FROM api_tokens WHERE login = ? ORDER BY created_at DESC, id DESC`,
		[]any{strings.ToLower(login)}, scanToken)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tokens of %s: %w", login, err)
	}
	return ts, nil
}

// DeleteToken revokes login's token id; store.ErrNotFound when login has
// no such token.
func (s *Store) DeleteToken(ctx context.Context, login, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM api_tokens WHERE login = ? AND id = ?`, strings.ToLower(login), id)
	if err != nil {
		return fmt.Errorf("sqlite: revoke token %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("sqlite: token %s of %s: %w", id, login, store.ErrNotFound)
	}
	return nil
}

// RecordPerson remembers what is known of someone who signed in.
func (s *Store) RecordPerson(ctx context.Context, p store.Person) error {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO people (login, person, signed_in) VALUES (?, ?, ?)
		ON CONFLICT (login) DO UPDATE SET person = excluded.person, signed_in = excluded.signed_in`,
		strings.ToLower(p.Login), string(p.Person), formatTime(p.SignedIn)); err != nil {
		return fmt.Errorf("sqlite: record %s: %w", p.Login, err)
	}
	return nil
}

// People lists everyone who signed in, by login.
func (s *Store) People(ctx context.Context) ([]store.Person, error) {
	ps, err := queryAll(ctx, s.r, `SELECT login, person, signed_in FROM people ORDER BY login`, nil, scanPerson)
	if err != nil {
		return nil, fmt.Errorf("sqlite: people: %w", err)
	}
	return ps, nil
}

func scanPerson(sc scanner) (p store.Person, err error) {
	var js, at string
	if err = sc.Scan(&p.Login, &js, &at); err == nil {
		p.Person = []byte(js)
		p.SignedIn, err = parseTime(at)
	}
	return p, err
}
