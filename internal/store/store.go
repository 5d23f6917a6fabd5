// Package store defines pier's state store: the applied catalog, the record
// of every attempted revision, and each entity's change history.
//
// The interface is shaped by its one writer, the reconciler: it reads the
// applied state, then applies a whole revision's changes in one
// transaction, or records that the revision failed. Readers (the API) get
// objects by key. Implementations: sqlite (embedded, the default) and
// postgres, held to one contract by package storetest.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/outbox/record"
)

// ErrNotFound is returned when an object or revision does not exist.
var ErrNotFound = errors.New("not found")

// Op is what a change does to an object.
type Op string

const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
)

// Change is one object's change within a revision. Before is nil for a
// create, After is nil for a delete.
type Change struct {
	Key    catalog.Key
	Op     Op
	Before json.RawMessage
	After  json.RawMessage
	Hash   string // hash of After; empty for a delete
	Source catalog.Pos
}

// Counts summarises a revision's changes.
type Counts struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
	Deleted int `json:"deleted"`
	// Entities is the number of entities in the state after the revision.
	Entities int `json:"entities"`
}

// Result of an attempted revision.
const (
	ResultApplied = "applied"
	ResultFailed  = "failed"
	ResultNoop    = "unchanged"
)

// Revision records one reconcile attempt.
type Revision struct {
	Seq       int64               `json:"seq"`
	Revision  string              `json:"revision"`
	Result    string              `json:"result"`
	StartedAt time.Time           `json:"startedAt"`
	Duration  time.Duration       `json:"duration"`
	Counts    Counts              `json:"counts"`
	Errors    catalog.Diagnostics `json:"errors,omitempty"`
	// Settings are the catalog-wide settings of an applied revision
	// (JSON catalog.Settings): not objects, so kept with the revision.
	Settings json.RawMessage `json:"-"`
	// Outbox holds the outbound deliveries of the revision's events,
	// written by Apply in the same transaction as the changes: a revision
	// is never applied without its deliveries, whatever crashes after.
	Outbox []record.Delivery `json:"-"`
}

// HistoryEntry is one change to one entity.
type HistoryEntry struct {
	Revision string          `json:"revision"`
	Op       Op              `json:"op"`
	Before   json.RawMessage `json:"before,omitempty"`
	After    json.RawMessage `json:"after,omitempty"`
	At       time.Time       `json:"at"`
}

// Object is a stored catalog object.
type Object struct {
	Key    catalog.Key
	JSON   json.RawMessage
	Hash   string
	Source catalog.Pos
	// CreatedAt and UpdatedAt are when a revision created and last
	// changed the object (Port's $createdAt and $updatedAt).
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Runtime is the runtime-owned property values of one entity: written
// through the API, never by git, kept across reconciles (and dropped when
// git deletes the entity).
type Runtime struct {
	Blueprint  string         `json:"blueprint"`
	Identifier string         `json:"identifier"`
	Properties map[string]any `json:"properties"`
	UpdatedAt  time.Time      `json:"updatedAt"`
	UpdatedBy  string         `json:"updatedBy"`
	// Seq numbers the write in a store that replicas follow
	// (Replication.RuntimesSince); 0 elsewhere.
	Seq int64 `json:"-"`
}

// Timer is one expiry of a timer property: the entity, the property and
// the value (an RFC 3339 time) that has passed.
type Timer struct {
	Blueprint  string `json:"blueprint"`
	Identifier string `json:"identifier"`
	Property   string `json:"property"`
	ExpiresAt  string `json:"expiresAt"`
}

// AuditEntry records one write through the API.
type AuditEntry struct {
	ID       int64           `json:"id"`
	At       time.Time       `json:"at"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`   // e.g. entity.upsert, reconcile.trigger
	Resource string          `json:"resource"` // e.g. service/user-service
	Status   int             `json:"status"`   // the HTTP status answered
	Details  json.RawMessage `json:"details,omitempty"`
}

// State is the applied state: every object by key, and the revision it
// came from ("" before the first apply).
type State struct {
	Revision string
	// Seq is the revision's sequence number, where replicas follow on
	// from (Replication.ChangesSince).
	Seq     int64
	Objects map[catalog.Key]Object
	// Settings are the applied revision's catalog-wide settings (JSON
	// catalog.Settings; nil before the first apply, or for a revision
	// applied before pier kept them).
	Settings json.RawMessage
}

// Store is pier's state store.
type Store interface {
	// State returns the applied state.
	State(ctx context.Context) (*State, error)
	// Apply writes a revision's changes, its record and the entity
	// history in one transaction: all of it lands or none of it.
	Apply(ctx context.Context, rev Revision, changes []Change) error
	// RecordFailure records a revision that was not applied; the state
	// is untouched.
	RecordFailure(ctx context.Context, rev Revision) error
	// Revisions lists attempted revisions, newest first, at most limit.
	Revisions(ctx context.Context, limit int) ([]Revision, error)
	// LastApplied returns the newest applied revision, or ErrNotFound.
	LastApplied(ctx context.Context) (Revision, error)
	// Get returns one object, or ErrNotFound.
	Get(ctx context.Context, key catalog.Key) (Object, error)
	// List returns the objects of a kind (and, for entities, of one
	// blueprint when blueprint is not empty), ordered by identifier.
	List(ctx context.Context, kind catalog.Kind, blueprint string) ([]Object, error)
	// History returns an entity's changes, oldest first.
	History(ctx context.Context, blueprint, id string) ([]HistoryEntry, error)
	Close() error
}

// LevelChange is one entity reaching another level of one scorecard.
type LevelChange struct {
	ID         int64     `json:"id"`
	Scorecard  string    `json:"scorecard"`
	Blueprint  string    `json:"blueprint"`
	Identifier string    `json:"identifier"`
	From       string    `json:"from"` // "" when the entity entered the scorecard
	To         string    `json:"to"`   // "" when it left it
	Revision   string    `json:"revision"`
	At         time.Time `json:"at"`
}

// LevelFilter selects level changes. Zero fields do not filter.
type LevelFilter struct {
	Scorecard, Blueprint, Identifier string
	// Limit bounds the answer, newest first (0: 100); Before pages: only
	// changes with a smaller id.
	Limit  int
	Before int64
}

// CheckChange rejects a malformed change before a store writes anything,
// so that a caller bug is reported as such rather than as a constraint
// failure.
func CheckChange(c *Change) error {
	k := c.Key
	switch {
	case k.Kind == "" || k.ID == "":
		return fmt.Errorf("%s: key needs a kind and an identifier", k)
	case k.Kind == catalog.KindEntityObj && k.Blueprint == "":
		return fmt.Errorf("%s: entity key without a blueprint", k)
	case k.Kind != catalog.KindEntityObj && k.Blueprint != "":
		return fmt.Errorf("%s: blueprint %q set on a %s key", k, k.Blueprint, k.Kind)
	}
	switch c.Op {
	case OpCreate, OpUpdate:
		if c.After == nil {
			return fmt.Errorf("%s %s: no After", c.Op, k)
		}
	case OpDelete:
	default:
		return fmt.Errorf("%s: unknown op %q", k, c.Op)
	}
	return nil
}

// RunAudit is the audit entry of a run's status change (ev.To set), or
// false for an event that changes no status. The stores write it in the
// run's own transaction: a status change is never stored without its
// entry (a crash between two writes lost entries, seen when the leader
// was killed around dispatches).
func RunAudit(action, id string, ev *RunEvent) (AuditEntry, bool) {
	if ev == nil || ev.To == "" {
		return AuditEntry{}, false
	}
	details, _ := json.Marshal(map[string]string{"from": ev.From, "to": ev.To, "note": ev.Note})
	actor := ev.Actor
	if actor == "" {
		actor = "pier"
	}
	return AuditEntry{
		At: ev.At, Actor: actor, Action: "run." + strings.ToLower(ev.To),
		Resource: "actions/" + action + "/runs/" + id, Status: 200, Details: details,
	}, true
}
