// Package deploy holds wsmon's deployment files, not Go code: the
// container image (Dockerfile, built with the Makefile targets CI runs)
// and the systemd unit (wsmon.service). Its tests check them against the
// Makefile, .ci/run, the configuration's validation and docs/deployment.md,
// since neither Docker nor systemd can run where the tests do.
package deploy
