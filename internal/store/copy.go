package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
)

// Table names one kind of record a store holds. Copy moves a store's
// records table by table, in the order of Tables.
type Table string

// Tables, and the type of their records in Export and Import. The
// order is that of the references between them: a revision before the
// history that names it, an object before its runtime values, a run
// before its events and logs.
const (
	TableRevisions    Table = "revisions"          // Revision, Seq kept
	TableObjects      Table = "objects"            // Object
	TableHistory      Table = "entity_history"     // HistoryRecord
	TableRuntime      Table = "runtime_properties" // Runtime
	TableAudit        Table = "audit_log"          // AuditEntry, ID kept
	TableDeliveryIDs  Table = "webhook_deliveries" // DeliveryID
	TableOutbox       Table = "outbox"             // record.Delivery, in enqueue order
	TableTimers       Table = "timer_expiries"     // FiredTimer
	TableRuns         Table = "runs"               // Run, Version kept
	TableRunEvents    Table = "run_events"         // RunEventRecord
	TableRunLogs      Table = "run_logs"           // RunLogRecord, in order
	TableLevelHistory Table = "scorecard_history"  // LevelChange, ID kept
	TableSessions     Table = "sessions"           // Session
	TableTokens       Table = "api_tokens"         // APIToken
	TablePeople       Table = "people"             // Person
)

// Tables lists every table, in the order Export emits them.
var Tables = []Table{
	TableRevisions, TableObjects, TableHistory, TableRuntime, TableAudit, TableDeliveryIDs,
	TableOutbox, TableTimers, TableRuns, TableRunEvents, TableRunLogs, TableLevelHistory,
	TableSessions, TableTokens, TablePeople,
}

// HistoryRecord is one row of an entity's history as stored: the
// revision it belongs to by sequence number, and its own id, which
// orders an entity's changes.
type HistoryRecord struct {
	ID         int64
	Seq        int64
	Blueprint  string
	Identifier string
	HistoryEntry
}

// DeliveryID is a webhook delivery id seen, and when.
type DeliveryID struct {
	ID string
	At time.Time
}

// FiredTimer is a timer expiry announced, and when.
type FiredTimer struct {
	Timer
	FiredAt time.Time
}

// RunEventRecord is one event of the run RunID.
type RunEventRecord struct {
	RunID string
	RunEvent
}

// RunLogRecord is one log line of the run RunID.
type RunLogRecord struct {
	RunID string
	RunLog
}

// ExportFunc emits every record of a store (see Exporter.Export).
type ExportFunc func(ctx context.Context, emit func(Table, any) error) error

// Exporter reads a store whole, for Copy.
type Exporter interface {
	// Export calls emit with every record the store holds, table by
	// table in the order of Tables, from one consistent snapshot. An
	// error from emit stops it and is returned.
	Export(ctx context.Context, emit func(t Table, rec any) error) error
	// Counts returns the number of records in each table.
	Counts(ctx context.Context) (map[Table]int64, error)
}

// Importer fills an empty store, for Copy.
type Importer interface {
	// Import writes what export emits in one transaction: all of it or
	// none. It refuses a store that holds anything (ErrNotEmpty), checked
	// in that transaction. Records keep their ids, sequence numbers and
	// times; what the store numbers afterwards comes after them.
	Import(ctx context.Context, export ExportFunc) error
	Counts(ctx context.Context) (map[Table]int64, error)
}

// ErrNotEmpty is returned by Import and Copy for a target that holds
// records already: copying into it would mix two stores.
var ErrNotEmpty = errors.New("target store is not empty")

// CheckEmpty returns ErrNotEmpty, naming what the store holds, unless
// every count is zero.
func CheckEmpty(counts map[Table]int64) error {
	var held []string
	for _, t := range Tables {
		if n := counts[t]; n > 0 {
			held = append(held, fmt.Sprintf("%d %s", n, t))
		}
	}
	if len(held) > 0 {
		return fmt.Errorf("%w: it holds %s", ErrNotEmpty, strings.Join(held, ", "))
	}
	return nil
}

// Copy copies every record of from into to, which must be empty, and
// verifies that to holds as many records of each table as were read
// and that from still holds as many (a store written during the copy
// would not be copied whole: stop pier first). It returns the counts.
func Copy(ctx context.Context, from Exporter, to Importer) (map[Table]int64, error) {
	before, err := to.Counts(ctx)
	if err != nil {
		return nil, fmt.Errorf("count the target's records: %w", err)
	}
	if err := CheckEmpty(before); err != nil {
		return nil, err
	}
	read := map[Table]int64{}
	err = to.Import(ctx, func(ctx context.Context, emit func(Table, any) error) error {
		return from.Export(ctx, func(t Table, rec any) error {
			read[t]++
			return emit(t, rec)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	copied, err := to.Counts(ctx)
	if err != nil {
		return nil, fmt.Errorf("count the copied records: %w", err)
	}
	source, err := from.Counts(ctx)
	if err != nil {
		return nil, fmt.Errorf("count the source's records: %w", err)
	}
	var errs []error
	for _, t := range Tables {
		if copied[t] != read[t] {
			errs = append(errs, fmt.Errorf("%s: %d read, %d in the target", t, read[t], copied[t]))
		}
		if source[t] != read[t] {
			errs = append(errs, fmt.Errorf("%s: %d read, %d in the source now (was it written during the copy?)", t, read[t], source[t]))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("verify the copy: %w", err)
	}
	return maps.Clone(read), nil
}

// Insert is how a store's Import writes one table's records: its
// statement, and the statement's values for a record.
type Insert struct {
	Stmt string
	Args func(rec any) ([]any, error)
}

// InsertOf is the Insert of a table whose records are Ts: a record of
// another type (an exporter's bug) is an error naming both types.
func InsertOf[T any](stmt string, args func(T) ([]any, error)) Insert {
	return Insert{stmt, func(rec any) ([]any, error) {
		r, ok := rec.(T)
		if !ok {
			var want T
			return nil, fmt.Errorf("record of type %T, want %T", rec, want)
		}
		return args(r)
	}}
}

// CountTables counts the records of every table with count.
func CountTables(count func(t Table) (int64, error)) (map[Table]int64, error) {
	out := map[Table]int64{}
	for _, t := range Tables {
		n, err := count(t)
		if err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}
