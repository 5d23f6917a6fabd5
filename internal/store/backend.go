package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/outbox/record"
)

// Backend is everything pier serve keeps in its store: the applied state
// (Store) and what lives beside it. Each consumer declares the part it
// uses (reconciler.Store, runs.Store, outbox.Store, api.Store,
// webhook.DeliveryStore); cmd/pier checks at compile time that a Backend
// is each of them, and picks the implementation by the --db value
// (sqlite or postgres, proven alike by package storetest).
//
// The parts are declared here rather than composed from the consumers'
// interfaces because those packages import this one.
type Backend interface {
	Store
	RunStore
	OutboxStore
	RuntimeStore
	AuditStore
	DeliveryIDs
	LevelStore
	TimerStore
	PeopleStore
	Exporter
	Importer
}

// ErrUnavailable is wrapped by the errors of a store that cannot be
// reached (a database server restarting, a broken connection): the same
// request may succeed later, so the API answers 503 rather than 500.
var ErrUnavailable = errors.New("store unavailable")

// RunStore keeps action runs, their events and their logs.
type RunStore interface {
	// CreateRun stores a new run at Version 1 with its first event and
	// the deliveries announcing it, in one transaction. A run whose
	// RequestKey is stored already is returned instead, created false,
	// with nothing written.
	CreateRun(ctx context.Context, run Run, ev RunEvent, out []record.Delivery) (stored Run, created bool, err error)
	// UpdateRun replaces the run if its stored Version is run.Version
	// (else ErrConflict; an unknown run is ErrNotFound), appends ev
	// unless nil and queues out, in one transaction.
	UpdateRun(ctx context.Context, run Run, ev *RunEvent, out []record.Delivery) (Run, error)
	Run(ctx context.Context, id string) (Run, error)
	Runs(ctx context.Context, f RunFilter) ([]Run, error)
	AddRunLog(ctx context.Context, id string, l RunLog) error
	RunEvents(ctx context.Context, id string) ([]RunEvent, error)
	RunLogs(ctx context.Context, id string) ([]RunLog, error)
}

// OutboxStore is the durable outbox of outbound deliveries (see package
// outbox for the contract).
type OutboxStore interface {
	Enqueue(ctx context.Context, ds []record.Delivery) error
	Due(ctx context.Context, now time.Time, limit int) ([]record.Delivery, error)
	MarkDelivered(ctx context.Context, id string, at time.Time, status int) error
	MarkFailed(ctx context.Context, id string, at time.Time, status int, errMsg string, next time.Time) error
	MarkDead(ctx context.Context, id string, at time.Time, status int, errMsg string) error
	Deliveries(ctx context.Context, limit int, before string) ([]record.Delivery, error)
	PruneOutbox(ctx context.Context, cutoff time.Time) (int64, error)
}

// RuntimeStore keeps the runtime-owned property values of entities.
type RuntimeStore interface {
	Runtimes(ctx context.Context) ([]Runtime, error)
	// SetRuntime replaces an entity's runtime values; ErrNotFound when
	// the entity is not in the applied state, checked so that a
	// concurrent reconcile deleting it cannot leave an orphan.
	SetRuntime(ctx context.Context, rt Runtime) error
}

// AuditStore is the audit log of writes through the API.
type AuditStore interface {
	Audit(ctx context.Context, e AuditEntry) error
	AuditLog(ctx context.Context, limit int, before int64) ([]AuditEntry, error)
	// PruneAudit deletes the entries older than before and says how
	// many.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
}

// DeliveryIDs remembers GitHub webhook delivery ids (webhook.DeliveryStore
// and webhook.Forgetter).
type DeliveryIDs interface {
	Seen(ctx context.Context, id string, at time.Time) (bool, error)
	Forget(ctx context.Context, id string) error
}

// LevelStore is the scorecard level history.
type LevelStore interface {
	RecordLevels(ctx context.Context, changes []LevelChange) error
	LevelHistory(ctx context.Context, f LevelFilter) ([]LevelChange, error)
}

// TimerStore records the timer expiries announced, each once.
type TimerStore interface {
	// FireTimers records the expiries of due not recorded before, with
	// the deliveries that announce them, in one transaction, and returns
	// them.
	FireTimers(ctx context.Context, due []Timer, at time.Time, deliveries func(fired []Timer) ([]record.Delivery, error)) ([]Timer, error)
}

// PeopleStore keeps people's sessions and personal API tokens, each as a
// hash of its secret, and who signed in (identity.SessionStore,
// identity.TokenStore). Logins compare without case, as GitHub's do.
type PeopleStore interface {
	CreateSession(ctx context.Context, s Session) error
	// Session is ErrNotFound for an unknown or expired session.
	Session(ctx context.Context, idHash string) (Session, error)
	DeleteSession(ctx context.Context, idHash string) error
	DeleteSessions(ctx context.Context, login string) (int, error)
	CreateToken(ctx context.Context, t APIToken) error
	// Token is ErrNotFound for an unknown or expired token.
	Token(ctx context.Context, hash string) (APIToken, error)
	Tokens(ctx context.Context, login string) ([]APIToken, error)
	DeleteToken(ctx context.Context, login, id string) error
	RecordPerson(ctx context.Context, p Person) error
	People(ctx context.Context) ([]Person, error)
}

// Driver names of the --db values.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// DriverOf tells which store a --db value selects: a postgres:// or
// postgresql:// URL is PostgreSQL, a path is a SQLite file. Any other
// URL is refused rather than taken as a file name (pier once created a
// directory named "postgres:" from a URL it did not understand).
func DriverOf(db string) (string, error) {
	if db == "" {
		return "", errors.New("empty: a SQLite file path or a postgres:// URL")
	}
	scheme, _, isURL := strings.Cut(db, "://")
	if !isURL {
		return DriverSQLite, nil
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return DriverPostgres, nil
	}
	return "", fmt.Errorf("%q is neither a SQLite file path nor a postgres:// URL (scheme %q is not supported)", Redact(db), scheme)
}

// Redact masks the password of a postgres:// URL (in its user
// information or its password parameter), for logs and errors.
func Redact(db string) string {
	scheme, rest, ok := strings.Cut(db, "://")
	if !ok {
		return db
	}
	rest, query, hasQuery := strings.Cut(rest, "?")
	// The user information ends at the last @ before the path.
	auth, _, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(auth, "@"); at >= 0 {
		if user, _, hasPassword := strings.Cut(auth[:at], ":"); hasPassword {
			rest = user + ":REDACTED" + rest[at:]
		}
	}
	if hasQuery {
		if q, err := url.ParseQuery(query); err != nil {
			query = "REDACTED" // unreadable: it may hide a password
		} else if q.Has("password") {
			q.Set("password", "REDACTED")
			query = q.Encode()
		}
		rest += "?" + query
	}
	return scheme + "://" + rest
}
