// Package engine is the Berth engine: it owns the engine root and the run
// root, the one metadata file, the locks and leases that let many berth
// processes (commands and a long-lived `berth serve`) share them, garbage
// collection and the reconciliation of what the run root says is running.
//
// The engine root (Options.Root, default /var/lib/berth) is persistent:
//
//	ROOT/meta.db             bbolt, the metadata (schema below)
//	ROOT/lock                held shared by every open engine for its life; taken
//	                         exclusive only to learn that a process is alone (then
//	                         it may clean tmp dirs), never waited for exclusively
//	ROOT/gc.lock             exclusive while GC marks and sweeps; shared for the
//	                         instant a lease grows (see lease.go)
//	ROOT/leases/             one file per live lease: content that in-progress
//	                         operations use but no record names yet
//	ROOT/image/              blobs, tmp, per-blob locks (package image/store)
//	ROOT/image/meta.db       the image metadata before the engine; migrated into
//	                         ROOT/meta.db and renamed meta.db.migrated
//	ROOT/snapshots/          unpacked layers (package snapshot)
//	ROOT/events.log          the event log, JSON lines in Docker's shape, and its
//	ROOT/events.log.1        one older generation: rotated at 1 MiB under an flock
//	                         of the live file (the writers' protocol: events.go)
//
// The run root (Options.RunRoot, default /run/berth, a tmpfs on real
// hosts) holds what does not outlive a boot:
//
//	RUNROOT/boot-id          the boot the run root was reconciled for
//	RUNROOT/containers/ID    "PID STARTTIME" of a container believed running
//
// meta.db holds one bucket per kind of record: meta (schema version, and
// the root's snapshot driver with how it was chosen: snapshots.go),
// images and names (image records and image references, package
// image/store), containers, volumes, networks, pods, execs and events.
// A file whose schema version is newer than this binary's is refused and
// left as it is.
//
// Every metadata transaction opens the file, runs and closes it again:
// bbolt locks its file (exclusive for writing, shared for reading) for as
// long as a process has it open, so no process keeps it, and the wait for
// another's transaction is bounded (Options.Timeout). A command writes
// once where it can: one Update, one commit.
package engine
