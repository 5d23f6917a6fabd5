package main

import (
	"context"
	"fmt"
	"io"
)

func runDiff(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pier diff: not yet wired")
	return 2
}
