// Command berth-monitor is the per-container monitor (the conmon role). All of its work is done
// by the C constructor in monitor.c, which runs before the Go runtime starts and never returns
// to it, so that an idle monitor costs a small C process's memory; the engine starts it through
// package monitor. main runs only when the binary is started by hand.
package main

// #cgo CFLAGS: -O2 -Wall -Wextra -Wno-unused-parameter
import "C"

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "berth-monitor: the berth engine starts this (package monitor); it is not run by hand")
	os.Exit(2)
}
