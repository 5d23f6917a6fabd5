package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/pierhq/pier/internal/config"
	"github.com/pierhq/pier/internal/loader"
)

// evalCommand is the hidden command a loader's sandbox runs: pier
// itself, evaluating CUE for its parent on its standard input and
// output, where the parent can kill it for time or memory.
const evalCommand = "internal-evaluate"

// newLoader returns a command's loader: files within the size limits,
// CUE evaluated in child processes of this binary within the evaluation
// limits.
func newLoader(lim config.Limits) (*loader.Loader, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find pier's own binary, which evaluates CUE in child processes: %w", err)
	}
	return loader.NewWith(loader.Options{
		MaxFileSize:     int64(lim.MaxFileSize),
		MaxRevisionSize: int64(lim.MaxRevisionSize),
		Sandbox: &loader.Sandbox{
			Command: func() *exec.Cmd { return exec.Command(exe, evalCommand) },
			Timeout: lim.EvalTimeout,
			Memory:  int64(lim.EvalMemory),
		},
	})
}

// runEvaluate implements the hidden evaluation command.
func runEvaluate(stdout, stderr io.Writer) int {
	if err := loader.ServeEvaluations(os.Stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "pier %s: %v\n", evalCommand, err)
		return 1
	}
	return 0
}
