package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are applied in order; migrations[i] takes the schema to
// version i+1. They are append-only: a released migration is never edited,
// because databases already past it would not see the edit. Add a table or
// column by appending a new entry.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE objects (
	kind        TEXT    NOT NULL,
	blueprint   TEXT    NOT NULL DEFAULT '', -- '' for everything but entities
	identifier  TEXT    NOT NULL,
	json        TEXT    NOT NULL,
	hash        TEXT    NOT NULL,
	source_file TEXT    NOT NULL DEFAULT '',
	source_line INTEGER NOT NULL DEFAULT 0,
	source_col  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (kind, blueprint, identifier)
);

CREATE TABLE revisions (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	revision    TEXT    NOT NULL,
	result      TEXT    NOT NULL,
	started_at  TEXT    NOT NULL,
	duration_ns INTEGER NOT NULL,
	created     INTEGER NOT NULL,
	updated     INTEGER NOT NULL,
	deleted     INTEGER NOT NULL,
	entities    INTEGER NOT NULL,
	errors      TEXT -- JSON catalog.Diagnostics, NULL when there are none
);

-- The applied revision is read on every reconcile and by the API; the
-- partial index finds it directly however many failures came after it.
CREATE INDEX revisions_applied ON revisions (seq) WHERE result IN ('applied', 'unchanged');

CREATE TABLE entity_history (
	id         INTEGER PRIMARY KEY,
	seq        INTEGER NOT NULL REFERENCES revisions (seq),
	blueprint  TEXT    NOT NULL,
	identifier TEXT    NOT NULL,
	revision   TEXT    NOT NULL,
	op         TEXT    NOT NULL,
	before     TEXT,
	after      TEXT,
	at         TEXT    NOT NULL
);

-- Index entries end in the rowid, so an entity's rows come out in
-- insertion order without a sort.
CREATE INDEX entity_history_entity ON entity_history (blueprint, identifier);
`,
	// 2: object timestamps, runtime properties, the audit log, webhook
	// deliveries seen.
	`
ALTER TABLE objects ADD COLUMN created_at TEXT NOT NULL DEFAULT '';
ALTER TABLE objects ADD COLUMN updated_at TEXT NOT NULL DEFAULT '';

CREATE TABLE runtime_properties (
	blueprint  TEXT NOT NULL,
	identifier TEXT NOT NULL,
	json       TEXT NOT NULL, -- a JSON object of property values
	updated_at TEXT NOT NULL,
	updated_by TEXT NOT NULL,
	PRIMARY KEY (blueprint, identifier)
);

CREATE TABLE audit_log (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	at       TEXT    NOT NULL,
	actor    TEXT    NOT NULL,
	action   TEXT    NOT NULL,
	resource TEXT    NOT NULL,
	status   INTEGER NOT NULL,
	details  TEXT
);

CREATE TABLE webhook_deliveries (
	id TEXT PRIMARY KEY,
	at TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);
`,
	// 3: the outbox of outbound webhook deliveries (package outbox).
	`
CREATE TABLE outbox (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT, -- listing order
	id           TEXT    NOT NULL UNIQUE,           -- the delivery id receivers see
	subscription TEXT    NOT NULL,
	url          TEXT    NOT NULL,
	event        TEXT    NOT NULL,
	body         TEXT    NOT NULL,
	state        TEXT    NOT NULL,                  -- pending, delivered, dead
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_at      TEXT    NOT NULL,
	created_at   TEXT    NOT NULL,
	delivered_at TEXT    NOT NULL DEFAULT '',
	last_status  INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT    NOT NULL DEFAULT ''
);

-- The worker polls for pending deliveries whose time has come.
CREATE INDEX outbox_due ON outbox (state, next_at);
`,
	// 4: timer properties that have fired, so that each expiry is
	// announced once, across restarts.
	`
CREATE TABLE timer_expiries (
	blueprint  TEXT NOT NULL,
	identifier TEXT NOT NULL,
	property   TEXT NOT NULL,
	expires_at TEXT NOT NULL, -- the timer's value as written
	fired_at   TEXT NOT NULL,
	PRIMARY KEY (blueprint, identifier, property, expires_at)
);
`,
	// 5: action runs, their events and their logs (see store.Run). The
	// whole run is kept as JSON; the other columns copy the fields the
	// filters of Runs need. Index entries end in the rowid, not in id,
	// so the listing indexes end in (created_at, id), Runs' order.
	`
CREATE TABLE runs (
	id              TEXT    PRIMARY KEY,
	request_key     TEXT    NOT NULL DEFAULT '',
	action          TEXT    NOT NULL,
	status          TEXT    NOT NULL,
	blueprint       TEXT    NOT NULL DEFAULT '',
	entity          TEXT    NOT NULL DEFAULT '',
	approval_system TEXT    NOT NULL DEFAULT '',
	approval_ref    TEXT    NOT NULL DEFAULT '',
	workflow_run_id INTEGER NOT NULL DEFAULT 0,
	created_at      TEXT    NOT NULL,
	version         INTEGER NOT NULL,
	json            TEXT    NOT NULL -- the store.Run
);

-- A request key names at most one run.
CREATE UNIQUE INDEX runs_request_key ON runs (request_key) WHERE request_key != '';
-- The daemon lists the active runs at start and on every sweep; finished
-- runs, nearly all of them, stay out of this index. Its WHERE clause must
-- be the one Runs writes (runActive), word for word, or it is not used.
CREATE INDEX runs_active ON runs (created_at, id)
	WHERE status NOT IN ('SUCCESS', 'FAILURE', 'DECLINED', 'EXPIRED', 'CANCELLED');
-- A pull_request webhook finds its run; a workflow_run webhook finds its run.
CREATE INDEX runs_approval ON runs (approval_system, approval_ref);
CREATE INDEX runs_workflow_run ON runs (workflow_run_id);
-- An action's runs, an entity's runs, all runs: newest first, paged.
CREATE INDEX runs_action ON runs (action, created_at, id);
CREATE INDEX runs_entity ON runs (entity, created_at, id);
CREATE INDEX runs_created ON runs (created_at, id);

CREATE TABLE run_events (
	run_id      TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq         INTEGER NOT NULL, -- 1, 2, ... per run
	at          TEXT    NOT NULL,
	actor       TEXT    NOT NULL,
	from_status TEXT    NOT NULL,
	to_status   TEXT    NOT NULL,
	note        TEXT    NOT NULL,
	PRIMARY KEY (run_id, seq)
);

CREATE TABLE run_logs (
	id                 INTEGER PRIMARY KEY AUTOINCREMENT,
	run_id             TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	at                 TEXT    NOT NULL,
	message            TEXT    NOT NULL,
	termination_status TEXT    NOT NULL
);
CREATE INDEX run_logs_run ON run_logs (run_id); -- ends in id: a run's logs in order
`,
	// 6: scorecard level history: one row each time an entity reaches
	// another level of a scorecard.
	`
CREATE TABLE scorecard_history (
	id         INTEGER PRIMARY KEY,
	scorecard  TEXT NOT NULL,
	blueprint  TEXT NOT NULL,
	identifier TEXT NOT NULL,
	from_level TEXT NOT NULL, -- '' when the entity entered the scorecard
	to_level   TEXT NOT NULL, -- '' when it left it
	revision   TEXT NOT NULL,
	at         TEXT NOT NULL
);
CREATE INDEX scorecard_history_entity ON scorecard_history (blueprint, identifier);
CREATE INDEX scorecard_history_card ON scorecard_history (scorecard);
`,
	// 7: the catalog-wide settings of applied revisions (scorecard levels
	// among them), which are not objects: a restart restores them.
	`
ALTER TABLE revisions ADD COLUMN settings TEXT; -- JSON catalog.Settings, NULL for failed revisions
`,
	// 8: runs whose approval request waits to be closed in its system
	// (store.Run.Closing), which the sweep retries until they are closed
	// or given up; runs already finished stay out of the partial index.
	// Runs approved in pier itself never had their request closed, and
	// have nothing to close.
	`
ALTER TABLE runs ADD COLUMN closing INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET closing = 1
	WHERE status NOT IN ('WAITING_FOR_APPROVAL', 'APPROVED') AND approval_ref != '' AND approval_system != 'pier'
	AND json_extract(json, '$.approval.finishedAt') IS NULL;
CREATE INDEX runs_closing ON runs (created_at, id) WHERE closing = 1;
`,
	// 9: people: browser sessions and personal API tokens, each kept as a
	// hash of its secret.
	`
CREATE TABLE sessions (
	id_hash    TEXT PRIMARY KEY,
	login      TEXT NOT NULL,
	person     TEXT NOT NULL,
	csrf       TEXT NOT NULL,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
);
CREATE INDEX sessions_login ON sessions (login);
CREATE TABLE api_tokens (
	id         TEXT PRIMARY KEY,
	hash       TEXT NOT NULL UNIQUE,
	login      TEXT NOT NULL,
	name       TEXT NOT NULL,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL -- '' for a token that does not expire
);
CREATE INDEX api_tokens_login ON api_tokens (login);
`,
	// 10: the people who signed in, for Port's GET /v1/users.
	`
CREATE TABLE people (
	login     TEXT PRIMARY KEY, -- lower case
	person    TEXT NOT NULL,
	signed_in TEXT NOT NULL
);
`,
	// 11: who wrote each run log line (Port's createdBy).
	`
ALTER TABLE run_logs ADD COLUMN actor TEXT NOT NULL DEFAULT '';
`,
}

// migrate brings the schema up to date in one transaction, so a failed
// upgrade leaves the database at its old version rather than half-way. The
// transaction begins IMMEDIATE (see the writer DSN), so two processes
// opening the same new file cannot both apply the same migration.
func migrate(ctx context.Context, db *sql.DB) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
	version    INTEGER PRIMARY KEY,
	applied_at TEXT NOT NULL
)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var version int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&version); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	// An older pier must not write to a schema it does not understand.
	if version > len(migrations) {
		return fmt.Errorf("migrate: database schema version %d is newer than this pier supports (%d)", version, len(migrations))
	}
	now := formatTime(time.Now())
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrate: to version %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`, i+1, now); err != nil {
			return fmt.Errorf("migrate: to version %d: %w", i+1, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
