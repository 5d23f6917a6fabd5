package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/store/storeopen"
)

const migrateUsage = `usage: pier migrate --from STORE --to STORE

Copies every record of a state store into another, empty one, and checks
that each table of the target holds as many records as were read:

  pier migrate --from ./data/pier.db --to 'postgres://pier@db.internal/pier?sslmode=verify-full'

moves a SQLite store onto PostgreSQL (either side may be either). Stop
pier serve first: a source written during the copy is reported. A target
that holds anything is refused, and a copy that fails leaves the target
empty, to run again.

options:
`

// runMigrate implements `pier migrate`.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("migrate", strings.TrimSuffix(migrateUsage, "options:\n"), stdout, stderr)
	fs := c.fs
	from := fs.String("from", "", "the store to copy: a SQLite file or a postgres:// URL")
	to := fs.String("to", "", "the empty store to copy into: a postgres:// URL or a SQLite file")
	if code := c.parse(args); code >= 0 {
		return code
	}
	if *from == "" || *to == "" {
		return c.usageError("--from and --to are both required")
	}
	if len(c.args) > 0 {
		return c.usageError("unexpected argument %q", c.args[0])
	}
	src, err := storeopen.Open(ctx, *from, storeopen.Options{Existing: true})
	if err != nil {
		fmt.Fprintf(stderr, "pier migrate: --from: %v\n", err)
		return 1
	}
	defer src.Close()
	dst, err := storeopen.Open(ctx, *to, storeopen.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "pier migrate: --to: %v\n", err)
		return 1
	}
	defer dst.Close()
	counts, err := store.Copy(ctx, src, dst)
	if err != nil {
		fmt.Fprintf(stderr, "pier migrate: %s into %s: %v\n", store.Redact(*from), store.Redact(*to), err)
		return 1
	}
	fmt.Fprintf(stdout, "copied %s into %s; each table holds what was read:\n", store.Redact(*from), store.Redact(*to))
	for _, t := range store.Tables {
		fmt.Fprintf(stdout, "  %-20s %d\n", t, counts[t])
	}
	return 0
}
