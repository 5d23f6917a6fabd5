package main

import (
	"context"
	"flag"
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
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, schemaUsage) }
	if err := parseFlags(fs, args); err != nil {
		return 2
	}
	if fs.NArg() < 1 || fs.Arg(0) != "vendor" || fs.NArg() > 2 {
		fs.Usage()
		return 2
	}
	dir := "."
	if fs.NArg() == 2 {
		dir = fs.Arg(1)
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
