package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pierhq/pier/schema"
)

const schemaUsage = `usage: pier schema vendor [DIR]

Writes pier's CUE schema package into DIR/cue.mod/pkg/github.com/pierhq/pier/schema
(DIR defaults to the current directory), so that catalog files may
import "github.com/pierhq/pier/schema" and the plain cue tool and editors
see the same shapes pier enforces. pier itself always uses its embedded
copy.
`

// runSchema implements `pier schema vendor`.
func runSchema(_ context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("schema", schemaUsage, stdout, stderr)
	if code := c.parse(args); code >= 0 {
		return code
	}
	if len(c.args) < 1 || c.args[0] != "vendor" || len(c.args) > 2 {
		return c.usageError("want schema vendor [DIR], got %s", quoteArgs(c.args))
	}
	dir := "."
	if len(c.args) == 2 {
		dir = c.args[1]
	}
	files, err := schema.Files()
	if err != nil {
		fmt.Fprintf(stderr, "pier schema: %v\n", err)
		return 2
	}
	target := filepath.Join(dir, filepath.FromSlash(schema.VendorDir))
	if err := os.MkdirAll(target, 0o755); err != nil {
		fmt.Fprintf(stderr, "pier schema: %v\n", err)
		return 2
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(target, name), data, 0o644); err != nil {
			fmt.Fprintf(stderr, "pier schema: %v\n", err)
			return 2
		}
	}
	fmt.Fprintf(stdout, "wrote %d files to %s\n", len(files), target)
	return 0
}
