//go:build !unix

package web

// openFileLimit is unknown here: the default connection cap is used.
func openFileLimit() uint64 { return 0 }
