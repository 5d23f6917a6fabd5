package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
)

// The methods in this file store action runs (store.Run), their events
// and their logs.

// runActive selects the runs that are not terminal. It is the predicate
// of the partial index runs_active, which the planner uses only for a
// query whose WHERE implies it: written out, not a parameter.
const runActive = `status NOT IN ('SUCCESS', 'FAILURE', 'DECLINED', 'EXPIRED', 'CANCELLED')`

const runColumns = `id, request_key, action, status, blueprint, entity, approval_system, approval_ref, workflow_run_id, created_at, version, closing, json`

const runValues = `$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13`

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
		r.Dispatch.WorkflowRunID, r.CreatedAt, r.Version, r.Closing(), js}, stored, nil
}

func scanRun(row pgx.Row) (store.Run, error) {
	var js []byte
	if err := row.Scan(&js); err != nil {
		return store.Run{}, err
	}
	r, err := store.DecodeRun(js)
	if err != nil {
		return store.Run{}, fmt.Errorf("decode run: %w", err)
	}
	return r, nil
}

// CreateRun stores a new run at Version 1, with its first event and its
// deliveries, in one transaction. The request key's unique index decides
// between concurrent requests with one key: the insert of a second waits
// for the first to commit, then does nothing, and the second reads the
// first's run. A run whose id is stored already is an error.
func (s *Store) CreateRun(ctx context.Context, run store.Run, ev store.RunEvent, out []record.Delivery) (stored store.Run, created bool, err error) {
	if run.ID == "" {
		return store.Run{}, false, errors.New("postgres: create run: empty id")
	}
	run.Version = 1
	args, stored, err := encodeRun(run)
	if err != nil {
		return store.Run{}, false, fmt.Errorf("postgres: create run %s: %w", run.ID, err)
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO runs (`+runColumns+`) VALUES (`+runValues+`)
			ON CONFLICT (request_key) WHERE request_key <> '' DO NOTHING`, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 { // the key's run is stored
			stored, err = scanRun(tx.QueryRow(ctx, `SELECT json FROM runs WHERE request_key = $1`, run.RequestKey))
			return err
		}
		created = true
		return finishRunWrite(ctx, tx, run.Action, run.ID, &ev, out)
	})
	if err != nil {
		return store.Run{}, false, s.fail(fmt.Sprintf("create run %s", run.ID), err)
	}
	return stored, created, nil
}

// UpdateRun replaces the stored run with run if the stored Version is
// run.Version, storing it at Version+1, appends ev unless nil and queues
// out, in one transaction. The version is compared in the UPDATE's
// WHERE: a concurrent writer of the same version waits for the row
// lock, then finds another version and writes nothing (store.ErrConflict).
func (s *Store) UpdateRun(ctx context.Context, run store.Run, ev *store.RunEvent, out []record.Delivery) (store.Run, error) {
	read := run.Version
	run.Version++
	args, stored, err := encodeRun(run)
	if err != nil {
		return store.Run{}, fmt.Errorf("postgres: update run %s: %w", run.ID, err)
	}
	write := s.tx
	if dispatching(run, ev) {
		write = s.leaderTx
	}
	err = write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE runs SET (`+runColumns+`) = (`+runValues+`)
			WHERE id = $14 AND version = $15`, append(args, run.ID, read)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 { // an unknown run, or the CAS failed
			if err := runExists(ctx, tx, run.ID); err != nil {
				return err
			}
			return store.ErrConflict
		}
		return finishRunWrite(ctx, tx, run.Action, run.ID, ev, out)
	})
	if err != nil {
		return store.Run{}, s.fail(fmt.Sprintf("update run %s", run.ID), err)
	}
	return stored, nil
}

// dispatching reports whether a run write is the leader's dispatch
// bookkeeping (the claim before the request, its outcome), which only
// the leader makes, under its fence: everything else about a run (a
// vote, a workflow's report) any replica may write.
func dispatching(run store.Run, ev *store.RunEvent) bool {
	return run.Status == store.RunApproved && !run.Dispatch.StartedAt.IsZero() || ev != nil && ev.To == store.RunDispatched
}

// finishRunWrite appends ev (unless nil) to the run's events and queues
// out, with the audit entry of a status change (store.RunAudit). The
// run's row is locked by the write before it, so events of one run are
// numbered one writer at a time.
func finishRunWrite(ctx context.Context, tx pgx.Tx, action, id string, ev *store.RunEvent, out []record.Delivery) error {
	if ev != nil {
		if _, err := tx.Exec(ctx, `INSERT INTO run_events (run_id, seq, at, actor, from_status, to_status, note)
			SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6 FROM run_events WHERE run_id = $1`,
			id, ev.At, store.Text(ev.Actor), store.Text(ev.From), store.Text(ev.To), store.Text(ev.Note)); err != nil {
			return fmt.Errorf("event: %w", err)
		}
	}
	if a, ok := store.RunAudit(action, id, ev); ok {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_log (at, actor, action, resource, status, details) VALUES ($1, $2, $3, $4, $5, $6)`,
			a.At, store.Text(a.Actor), store.Text(a.Action), store.Text(a.Resource), a.Status, nullJSON(a.Details)); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
	}
	return enqueue(ctx, tx, out)
}

// runExists returns nil for a stored run and store.ErrNotFound for an
// unknown one.
func runExists(ctx context.Context, q querier, id string) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM runs WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// Run returns one run, or store.ErrNotFound.
func (s *Store) Run(ctx context.Context, id string) (store.Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT json FROM runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Run{}, fmt.Errorf("postgres: run %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Run{}, s.fail(fmt.Sprintf("run %s", id), err)
	}
	return r, nil
}

// Runs lists the runs f selects, newest first (by CreatedAt, then id),
// a page of store.PageLimit(f.Limit). An f.Before that is no run's id is
// store.ErrNotFound: it has no place to page from.
func (s *Store) Runs(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	q, args := runsQuery(f)
	runs, err := queryAll(ctx, s.pool, q, args, func(r pgx.Rows) (store.Run, error) { return scanRun(r) })
	if err == nil && len(runs) == 0 && f.Before != "" { // the oldest page, or no such run?
		err = runExists(ctx, s.pool, f.Before)
	}
	if err != nil {
		return nil, s.fail("list runs", err)
	}
	return runs, nil
}

func runsQuery(f store.RunFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	param := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	eq := func(column string, v any, set bool) {
		if set {
			where = append(where, column+" = "+param(v))
		}
	}
	eq("action", f.Action, f.Action != "")
	eq("status", f.Status, f.Status != "")
	eq("blueprint", f.Blueprint, f.Blueprint != "")
	eq("entity", f.Entity, f.Entity != "")
	eq("approval_system", f.ApprovalSystem, f.ApprovalSystem != "")
	eq("approval_ref", f.ApprovalRef, f.ApprovalRef != "")
	eq("workflow_run_id", f.WorkflowRunID, f.WorkflowRunID != 0)
	eq("json->>'externalRunId'", f.ExternalRunID, f.ExternalRunID != "")
	if len(f.Requesters) > 0 {
		where = append(where, "json->>'requester' = ANY("+param(f.Requesters)+")")
	}
	if len(f.Sources) > 0 {
		where = append(where, "json->>'source' = ANY("+param(f.Sources)+")")
	}
	if f.Active {
		where = append(where, runActive)
	}
	if f.Closing {
		where = append(where, `closing`)
	}
	if f.Before != "" {
		where = append(where, `(created_at, id) < (SELECT created_at, id FROM runs WHERE id = `+param(f.Before)+`)`)
	}
	q := `SELECT json FROM runs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return q + ` ORDER BY created_at DESC, id DESC LIMIT ` + param(store.PageLimit(f.Limit)), args
}

// RunEvents returns a run's events, oldest first, or store.ErrNotFound.
func (s *Store) RunEvents(ctx context.Context, id string) ([]store.RunEvent, error) {
	evs, err := queryAll(ctx, s.pool, `SELECT seq, at, actor, from_status, to_status, note FROM run_events
		WHERE run_id = $1 ORDER BY seq`, []any{id}, func(r pgx.Rows) (e store.RunEvent, err error) {
		err = r.Scan(&e.Seq, &e.At, &e.Actor, &e.From, &e.To, &e.Note)
		return e, err
	})
	if err == nil && len(evs) == 0 { // every run has an event: is there a run?
		err = runExists(ctx, s.pool, id)
	}
	if err != nil {
		return nil, s.fail(fmt.Sprintf("events of run %s", id), err)
	}
	return evs, nil
}

// AddRunLog appends a line to a run's logs; an unknown run is
// store.ErrNotFound.
func (s *Store) AddRunLog(ctx context.Context, id string, l store.RunLog) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO run_logs (run_id, at, message, termination_status, actor)
		SELECT id, $1, $2, $3, $4 FROM runs WHERE id = $5`, l.At, store.Text(l.Message), store.Text(l.TerminationStatus), store.Text(l.Actor), id)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return s.fail(fmt.Sprintf("log of run %s", id), err)
	}
	return nil
}

// RunLogs returns a run's logs, oldest first, or store.ErrNotFound.
func (s *Store) RunLogs(ctx context.Context, id string) ([]store.RunLog, error) {
	logs, err := queryAll(ctx, s.pool, `SELECT at, message, termination_status, actor FROM run_logs
		WHERE run_id = $1 ORDER BY id`, []any{id}, func(r pgx.Rows) (l store.RunLog, err error) {
		err = r.Scan(&l.At, &l.Message, &l.TerminationStatus, &l.Actor)
		return l, err
	})
	if err == nil && len(logs) == 0 {
		err = runExists(ctx, s.pool, id)
	}
	if err != nil {
		return nil, s.fail(fmt.Sprintf("logs of run %s", id), err)
	}
	return logs, nil
}
