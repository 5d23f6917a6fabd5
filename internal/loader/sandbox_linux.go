package loader

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// isolate puts a child in a process group of its own, so that a
// terminal's ^C reaches pier (which ends the load) rather than the
// child, and has the kernel kill it if pier dies.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// residentSize is the resident memory of process pid, from /proc.
func residentSize(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * int64(os.Getpagesize()), true
}
