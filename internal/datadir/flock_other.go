//go:build !unix

package datadir

import "os"

// tryLock does not lock on this platform: only unix systems are supported
// for running a monitor; the lock file still records the holder.
func tryLock(f *os.File) error { return nil }

func unlock(f *os.File) error { return nil }
