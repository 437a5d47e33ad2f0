// Command berth-init is the container's pid 1 for `--init` (a reaping, signal-forwarding init,
// the docker-init/tini role) and the pod's infra process (the Kubernetes pause role). All of its
// work is done by the C constructor in init.c, which runs before the Go runtime starts and never
// returns to it, so that it costs a small static C process's memory inside every container.
//
//	berth-init [-g] [--] CMD [ARG...]   run CMD, forward signals, reap zombies, exit with CMD's status
//	berth-init [--pause]                wait for SIGTERM or SIGINT, reaping zombies, then exit 0
//
// Its tests are in cmd/berth-init/inittest: a test binary of this package would be taken over by
// the constructor.
package main

// #cgo CFLAGS: -O2 -Wall -Wextra
import "C"

import (
	"fmt"
	"os"
)

// main never runs: the constructor always leaves with _exit().
func main() {
	fmt.Fprintln(os.Stderr, "berth-init: the C constructor did not run; this binary is broken")
	os.Exit(1)
}
