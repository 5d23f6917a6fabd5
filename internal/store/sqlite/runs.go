package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
)

// The methods in this file store action runs (store.Run), their events
// and their logs.

// runActive selects the runs that are not terminal (store.RunTerminal).
// It is the WHERE clause of the partial index runs_active, word for word:
// SQLite uses a partial index only for a query that repeats its clause.
const runActive = `status NOT IN ('SUCCESS', 'FAILURE', 'DECLINED', 'EXPIRED', 'CANCELLED')`

const runColumns = `id, request_key, action, status, blueprint, entity, approval_system, approval_ref, workflow_run_id, created_at, version, closing, json`

// CreateRun stores a new run, at Version 1, with its first event and the
// outbound deliveries announcing it, in one transaction. When
// run.RequestKey is set and a run with that key is stored, nothing is
// written and that run is returned with created false. A run whose id is
// stored already is an error.
func (s *Store) CreateRun(ctx context.Context, run store.Run, ev store.RunEvent, out []record.Delivery) (stored store.Run, created bool, err error) {
	if run.ID == "" {
		return store.Run{}, false, errors.New("sqlite: create run: empty id")
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Run{}, false, fmt.Errorf("sqlite: create run %s: %w", run.ID, err)
	}
	defer tx.Rollback()
	if run.RequestKey != "" {
		stored, err := scanRun(tx.QueryRowContext(ctx, `SELECT json FROM runs WHERE request_key = ?`, run.RequestKey))
		if err == nil {
			return stored, false, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return store.Run{}, false, fmt.Errorf("sqlite: create run %s: %w", run.ID, err)
		}
	}
	run.Version = 1
	args, stored, err := encodeRun(run)
	if err != nil {
		return store.Run{}, false, fmt.Errorf("sqlite: create run %s: %w", run.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO runs (`+runColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		return store.Run{}, false, fmt.Errorf("sqlite: create run %s: %w", run.ID, err)
	}
	if err := finishRunWrite(ctx, tx, run.Action, run.ID, &ev, out); err != nil {
		return store.Run{}, false, err
	}
	return stored, true, nil
}

// UpdateRun replaces the stored run with run if the stored Version is
// run.Version (compare-and-swap), storing it at Version+1; appends ev
// unless it is nil, numbered after the run's last event; and queues out;
// all in one transaction. If the stored Version is another, nothing is
// written and the error is store.ErrConflict; an unknown run is
// store.ErrNotFound. It returns the run as stored.
func (s *Store) UpdateRun(ctx context.Context, run store.Run, ev *store.RunEvent, out []record.Delivery) (store.Run, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Run{}, fmt.Errorf("sqlite: update run %s: %w", run.ID, err)
	}
	defer tx.Rollback()
	read := run.Version
	run.Version++
	args, stored, err := encodeRun(run)
	if err != nil {
		return store.Run{}, fmt.Errorf("sqlite: update run %s: %w", run.ID, err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE runs SET (`+runColumns+`) = (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		WHERE id = ? AND version = ?`, append(args, run.ID, read)...)
	if err != nil {
		return store.Run{}, fmt.Errorf("sqlite: update run %s: %w", run.ID, err)
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 { // an unknown run, or the CAS failed
		if err = runExists(ctx, tx, run.ID); err == nil {
			err = store.ErrConflict
		}
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("sqlite: update run %s: %w", run.ID, err)
	}
	if err := finishRunWrite(ctx, tx, run.Action, run.ID, ev, out); err != nil {
		return store.Run{}, err
	}
	return stored, nil
}

// finishRunWrite appends ev (unless nil) to the run's events, with its
// audit entry when it changes the status (store.RunAudit), queues out and
// commits tx.
func finishRunWrite(ctx context.Context, tx *sql.Tx, action, id string, ev *store.RunEvent, out []record.Delivery) error {
	if ev != nil {
		// An aggregate without GROUP BY yields a row even for no events.
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_events (run_id, seq, at, actor, from_status, to_status, note)
			SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ? FROM run_events WHERE run_id = ?`,
			id, formatTime(ev.At), store.Text(ev.Actor), store.Text(ev.From), store.Text(ev.To), store.Text(ev.Note), id); err != nil {
			return fmt.Errorf("sqlite: event of run %s: %w", id, err)
		}
	}
	if a, ok := store.RunAudit(action, id, ev); ok {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, resource, status, details) VALUES (?, ?, ?, ?, ?, ?)`,
			formatTime(a.At), store.Text(a.Actor), store.Text(a.Action), store.Text(a.Resource), a.Status, nullJSON(a.Details)); err != nil {
			return fmt.Errorf("sqlite: audit of run %s: %w", id, err)
		}
	}
	if err := enqueue(ctx, tx, out); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: write run %s: %w", id, err)
	}
	return nil
}

// encodeRun returns the column values of r, in runColumns order, and r as
// it reads back (store.EncodeRun).
func encodeRun(r store.Run) ([]any, store.Run, error) {
	js, stored, err := store.EncodeRun(r)
	if err != nil {
		return nil, store.Run{}, err
	}
	var system, ref string
	if r.Approval != nil {
		system, ref = r.Approval.System, r.Approval.Ref
	}
	return []any{r.ID, r.RequestKey, r.Action, r.Status, r.Blueprint, r.Entity, system, ref,
		r.Dispatch.WorkflowRunID, formatTime(r.CreatedAt), r.Version, r.Closing(), string(js)}, stored, nil
}

func scanRun(sc scanner) (store.Run, error) {
	var js []byte
	if err := sc.Scan(&js); err != nil {
		return store.Run{}, err
	}
	r, err := store.DecodeRun(js)
	if err != nil {
		return store.Run{}, fmt.Errorf("decode run: %w", err)
	}
	return r, nil
}

// rowQuerier is a *sql.DB or *sql.Tx.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// runExists returns nil for a stored run and store.ErrNotFound for an
// unknown one.
func runExists(ctx context.Context, q rowQuerier, id string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// Run returns one run, or store.ErrNotFound.
func (s *Store) Run(ctx context.Context, id string) (store.Run, error) {
	r, err := scanRun(s.r.QueryRowContext(ctx, `SELECT json FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("sqlite: run %s: %w", id, err)
	}
	return r, nil
}

// Runs lists the runs f selects, newest first (by CreatedAt, then by id).
// A Limit of 0 means 100, and at most 1000 are returned. An unknown
// f.Before yields none.
func (s *Store) Runs(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	q, args := runsQuery(f)
	runs, err := queryAll(ctx, s.r, q, args, scanRun)
	if err == nil && len(runs) == 0 && f.Before != "" { // the oldest page, or no such run?
		err = runExists(ctx, s.r, f.Before)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list runs: %w", err)
	}
	return runs, nil
}

func runsQuery(f store.RunFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	eq := func(column string, v any, set bool) {
		if set {
			where = append(where, column+" = ?")
			args = append(args, v)
		}
	}
	eq("action", f.Action, f.Action != "")
	eq("status", f.Status, f.Status != "")
	eq("blueprint", f.Blueprint, f.Blueprint != "")
	eq("entity", f.Entity, f.Entity != "")
	eq("approval_system", f.ApprovalSystem, f.ApprovalSystem != "")
	eq("approval_ref", f.ApprovalRef, f.ApprovalRef != "")
	eq("workflow_run_id", f.WorkflowRunID, f.WorkflowRunID != 0)
	eq("json_extract(json, '$.externalRunId')", f.ExternalRunID, f.ExternalRunID != "")
	in := func(column string, vs []string) {
		if len(vs) > 0 {
			where = append(where, column+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(vs)), ", ")+")")
			for _, v := range vs {
				args = append(args, v)
			}
		}
	}
	in("json_extract(json, '$.requester')", f.Requesters)
	in("json_extract(json, '$.source')", f.Sources)
	if f.Active {
		where = append(where, runActive)
	}
	if f.Closing {
		where = append(where, `closing = 1`)
	}
	if f.Before != "" {
		where = append(where, `(created_at, id) < (SELECT created_at, id FROM runs WHERE id = ?)`)
		args = append(args, f.Before)
	}
	q := `SELECT json FROM runs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return q + ` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, pageLimit(f.Limit))
}

// pageLimit is the size of a page of a listing (store.PageLimit).
var pageLimit = store.PageLimit

// RunEvents returns a run's events, oldest first, or store.ErrNotFound.
func (s *Store) RunEvents(ctx context.Context, id string) ([]store.RunEvent, error) {
	evs, err := queryAll(ctx, s.r, `SELECT seq, at, actor, from_status, to_status, note FROM run_events
		WHERE run_id = ? ORDER BY seq`, []any{id}, func(sc scanner) (e store.RunEvent, err error) {
		var at string
		if err = sc.Scan(&e.Seq, &at, &e.Actor, &e.From, &e.To, &e.Note); err == nil {
			e.At, err = parseTime(at)
		}
		return e, err
	})
	if err == nil && len(evs) == 0 { // every run has an event: is there a run?
		err = runExists(ctx, s.r, id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: events of run %s: %w", id, err)
	}
	return evs, nil
}

// AddRunLog appends a line to a run's logs; an unknown run is
// store.ErrNotFound.
func (s *Store) AddRunLog(ctx context.Context, id string, l store.RunLog) error {
	res, err := s.w.ExecContext(ctx, `INSERT INTO run_logs (run_id, at, message, termination_status, actor)
		SELECT id, ?, ?, ?, ? FROM runs WHERE id = ?`, formatTime(l.At), store.Text(l.Message), store.Text(l.TerminationStatus), store.Text(l.Actor), id)
	if err != nil {
		return fmt.Errorf("sqlite: log of run %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: log of run %s: %w", id, err)
	}
	return nil
}

// RunLogs returns a run's logs, oldest first, or store.ErrNotFound.
func (s *Store) RunLogs(ctx context.Context, id string) ([]store.RunLog, error) {
	logs, err := queryAll(ctx, s.r, `SELECT at, message, termination_status, actor FROM run_logs
		WHERE run_id = ? ORDER BY id`, []any{id}, func(sc scanner) (l store.RunLog, err error) {
		var at string
		if err = sc.Scan(&at, &l.Message, &l.TerminationStatus, &l.Actor); err == nil {
			l.At, err = parseTime(at)
		}
		return l, err
	})
	if err == nil && len(logs) == 0 {
		err = runExists(ctx, s.r, id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: logs of run %s: %w", id, err)
	}
	return logs, nil
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryAll runs q on db and scans every row with scan.
func queryAll[T any](ctx context.Context, db querier, q string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
