// Package monitor is the engine's side of berth-monitor, the per-container monitor (the conmon
// role): Spawn starts one, Status and ReadExit tell what became of the container, ReadLogs reads
// (and follows) its logs, Attach connects a terminal or streams to it.
//
// # Why a C monitor
//
// A monitor runs for every container, so its idle memory is a product figure: it must be at most
// conmon's (0.47 MiB PSS here). A Go process cannot get there (0.93 MiB PSS idle), so
// cmd/berth-monitor does all of its work in a C constructor that runs before the Go runtime
// starts and ends with _exit(): Go never initialises. Its text pages are shared by all monitors.
//
// # Life of a monitor
//
// Spawn execs berth-monitor with _BERTH_MONITOR set, its options as flags and a sync pipe as
// fd 3. The monitor calls setsid and forks (the process Spawn started exits at once, so the
// monitor is detached from the caller and outlives it), becomes a child subreaper and runs
// `RUNTIME [--root R] [--log L --log-format json] create --bundle B --pid-file F
// [--console-socket S] ID`. The container's init is the runtime's child; when the runtime exits
// the init is reparented to the monitor, which can then wait for it. The monitor writes to the
// sync pipe, one line each:
//
//	monitor PID          the monitor's pid (always first)
//	pid PID              create succeeded: the container's init pid; the pipe is then closed
//	error MESSAGE        the monitor failed, or "error create-failed STATUS": the runtime did,
//	                     and its own message is the last error in its json log
//
// The engine then runs the runtime's `start` itself: start needs no monitor, and the engine
// already has the runtime interface to do it with the engine's own error handling.
//
// # Exit file
//
// When the init exits, before anything else (draining output, closing logs), the monitor writes
// the exit file with write-to-temporary and rename, so it is absent or whole:
//
//	{"exitCode":137,"signal":9,"time":"2026-12-02T18:23:06.57180848Z"}
//
// exitCode is 128+signal for an init killed by a signal, as Docker reports it. Then it drains
// the output (until EOF, at most 5 s), tells attached clients, closes the logs, unlinks the attach
// socket, starts the exit command (not waited for) and exits.
//
// If the monitor is killed (SIGKILL), nothing writes the exit file: the init is reparented to
// the next subreaper or pid 1, keeps running, and when it ends its status is lost. Status tells
// those cases apart from the pid and start time of the init and the monitor:
//
//	exit file present                      -> Exited, with its code and time
//	init alive (same pid and start time)   -> Running (MonitorAlive says whether anyone logs it)
//	init gone, no exit file, monitor alive -> Running: the monitor is writing the file now
//	init gone, no exit file, monitor dead  -> Unknown: the container exited, its code is lost
//
// # Logs
//
// json-file is Docker's format, one JSON object a line:
//
//	{"log":"hello\n","stream":"stdout","time":"2026-12-02T18:23:05.570444639Z"}
//
// k8s-file is the CRI format: "TIME STREAM TAG MESSAGE", where TAG is F for a full line (whose
// newline the record's own newline stands for) and P for a partial one. As Docker does, lines
// longer than 16 KiB are cut into partial records (log without its final "\n") and a stream
// that ends without a newline gives a partial record. With a max size the log rotates as
// Docker's json-file does: before a record that would take name.log past it, name.log.N-1 ..
// name.log move to name.log.N .. name.log.1 (at most max-file files in all); max-file 1
// truncates name.log instead.
//
// # Health checks
//
// With Options.Health the monitor runs the container's health check itself (no daemon, no
// systemd timer). Each check is an exec session of P, the container's process with the check's
// arguments (written by the engine at start), with exactly the isolation of an exec'd process.
// Before the first check the monitor asks the runtime to prepare that exec once: `RUNTIME exec
// --prepare STATE.plan --process P ID` writes the cgroups and namespaces to join and the plan
// (user, capabilities, seccomp filter, no_new_privs, exec) the runtime's own exec would run.
// Each check is then a fork of the monitor that makes itself non-dumpable, joins those cgroups
// and namespaces and forks the check into the pid namespace, where the check runs the plan with
// the runtime's interpreter (runtime/nsexec's C code, compiled into the monitor): no runtime
// process per check. A runtime that cannot prepare (runc, crun) runs each check: `RUNTIME
// [--root R] exec --detach --pid-file STATE.pid --process P ID`. Either way the process that
// forked the check exits once it has exec'd; the check is reparented to the monitor (the
// subreaper), which waits for it. Its stdout and stderr (a pipe; the first 4096 bytes are kept,
// "..." marks more) are the result's Output; the runtime's own error there, with code -1, when
// it could not run the check. At the timeout the check's process group is killed (the runtime
// puts a non-terminal process in a session of its own), with Output "Health check exceeded
// timeout (D)" and code -1.
//
// Docker's rules: the first check runs one interval after the start; the next one interval
// after a check ends (the start interval instead while the status is starting within the start
// period). Code 0 resets the failing streak and makes the container healthy; any other counts
// one failure, except while it is starting within the start period, and Retries in a row make
// it unhealthy. After each check the monitor writes the state file (write-to-temporary and
// rename), inspect's State.Health as Docker shows it, the last five results oldest first:
//
//	{"Status":"healthy","FailingStreak":0,"Log":[{"Start":"…","End":"…","ExitCode":0,"Output":"ok\n"}]}
//
// It writes it with Status "starting" and an empty Log at once. On each status change it
// appends a health_status event to the engine's event log (one write with O_APPEND), in the
// shape of the engine's Emit, with the Actor the engine gave:
//
//	{"Type":"container","Action":"health_status: healthy","Actor":{…},"scope":"local","time":…,"timeNano":…}
//
// Cost (bench/health.sh, 50 containers at a 1 s interval, this 2-core host, 2026-12): about
// 1.3 ms of CPU per check, 6.5% of one core in all, against 6.7 ms (33%) when each check
// started the runtime. Most of it is the check's own life: a bare fork and exec of busybox's
// `sh -c true` costs 0.7-0.8 ms here, the seccomp filter's load 0.26 ms, then cgroup v1
// migrations and setns; the monitor's own share (the fork, the state file) is 0.15-0.3 ms.
//
// A paused container (its freezer frozen) gets no check: each one it misses is a failure with
// Docker's message for an exec into a paused container, code -1.
//
// When the init exits, a running check is killed and the checks stop; the file stays, and the
// engine reads a container that is not running as unhealthy, as Docker does.
//
// # Name resolution
//
// With Options.DNSConfig and DNSNetNS the monitor is its container's DNS resolver (Docker's
// embedded DNS server, aardvark-dns's role): there is no resolver daemon per network or host.
// Before the runtime's create (so that the container cannot take the port first) it enters the
// container's network namespace (setns on DNSNetNS), makes a UDP socket and a TCP listener on
// 127.0.0.11:53 there (127/8 is local on the container's loopback), and returns to its own
// namespace, the engine's, where its upstream sockets are. It answers its own container only.
// The engine writes `nameserver 127.0.0.11` and `options ndots:0` in the resolv.conf of a
// container on a user network; on the default network only, the monitor opens no listener.
//
// DNSConfig, written by the engine with write-to-temporary and rename, one setting a line:
//
//	upstream 192.0.2.53          where unknown names go (ADDR or ADDR:PORT, [V6]:PORT)
//	records /ROOT/networks/dns/ID  one per user network the container is on
//
// A records file is the names on one network, replaced whole by a rename under the network's
// lock on every attach, detach, connect and disconnect (package network, SetDNSRecords):
//
//	10.89.0.2 web www 3f2a9c1d0b7e #OWNER   (an address, its names, the owning container)
//
// At each query the monitor stats the config and each records file and re-reads one whose
// inode, size or modification time changed; it keeps the file it read open, so its inode cannot
// be reused by a later file. A rename never shows a half-written file, and a file being
// replaced is answered from its old copy, so a container joining or leaving never makes another
// one's lookup fail (a test does 10,000 lookups while 20 containers join and leave). After a
// connect to the first user network or a disconnect from the last one, the engine sends the
// monitor SIGHUP, and it opens or closes the listener.
//
// Answers: A and AAAA of a known name (any case, trailing dot or not; TTL 600), NOERROR with no
// answer for a known name without an address of that family; PTR of in-addr.arpa and ip6.arpa
// names of known addresses (the first name of the line: the container's). Anything else goes to
// one upstream (round robin) with a fresh random id; a table of 64 pending queries maps the
// reply back (its source must be that upstream), with the client's id restored, and forgets a
// query after 5 s. No upstream: SERVFAIL. Over TCP, up to 4 connections at once, one query at a
// time each, forwarded over a TCP connection of its own. Every packet is parsed with bounds
// checks (the container may be hostile): a response or a datagram shorter than a header is
// dropped, a malformed question is answered FORMERR, another opcode NOTIMP. Memory is fixed: a
// 4 KiB datagram buffer, a 512-byte answer buffer, the table, the records files as read, and an
// answer buffer per TCP connection while it lasts; a monitor that has answered costs about
// 16 KiB more private memory than one without a network (measured: Pss 401 against 353 KiB;
// 389 KiB on the default network, where it has its config but no listener).
//
// When the monitor dies (killed), its sockets close with it: that container's lookups fail at
// once (connection refused: nothing listens on 127.0.0.11:53 any more), as its logs and attach
// stop, until the container is restarted; its name stays on its networks while it runs. Every
// other container is unaffected, each having its own resolver. The next engine command reaps a dead container's network and
// its names leave the records files.
//
// # Attach protocol
//
// The attach socket is a unix stream socket (mode 0600) in the container's run dir. Both ways
// carry frames: one type byte, a 4-byte big-endian length (at most 32 KiB), the payload.
//
//	client -> monitor:  'i' data for the container's stdin (dropped if it has none)
//	                    'c' close the container's stdin (once the queued input is written)
//	                    'r' window size, 4 bytes: rows, cols (uint16 big-endian); terminal only
//	monitor -> client:  'a' welcome, empty, first: the client gets all output from here on
//	                    'o' stdout (with a terminal: everything), 'e' stderr
//	                    'x' the container exited: the exit file's JSON; the monitor then hangs up
//
// A client gets the output written after it connected (the log has what came before). The
// monitor never blocks on a client: one that falls 256 KiB behind is disconnected. Input is
// taken from a client only while the container's stdin has room, so a container that does not
// read its stdin slows the client, not the monitor. At most 16 clients at once. Detach keys are
// the client's business: Attach stops forwarding and hangs up; the container notices nothing.
package monitor
