// Package inittest tests the berth-init binary by running it on the host (as root, real kernel):
// exit statuses, signal forwarding, reaping as a subreaper and as pid 1 of a pid namespace, and
// the pause mode. The tests live here rather than in cmd/berth-init because a test binary of that
// package would link the C constructor, which takes over every process it starts in.
package inittest
