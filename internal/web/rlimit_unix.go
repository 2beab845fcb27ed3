//go:build unix

package web

import "syscall"

// openFileLimit is the soft RLIMIT_NOFILE (unlimited: a huge number), or 0
// when it cannot be read.
func openFileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return rl.Cur
}
