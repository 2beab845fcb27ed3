//go:build race

package app_test

// raceEnabled: the race detector multiplies memory and time, so memory
// measurements skip under it (make test runs them without -race too).
const raceEnabled = true
