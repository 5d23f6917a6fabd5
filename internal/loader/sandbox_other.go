//go:build !linux

package loader

import "os/exec"

func isolate(*exec.Cmd) {}

// residentSize is not known here: only the time limit and the Go
// runtime's soft memory limit hold.
func residentSize(int) (int64, bool) { return 0, false }
