// The runtime's plan interpreter (runtime/nsexec/nsexec.c), compiled into the monitor: a health
// check runs the plan that the runtime prepared once (`berth-runtime exec --prepare`), the same
// identity, capabilities, seccomp filter and exec as the runtime's own exec, without starting
// the runtime for each check. nsexec.c's constructor is inert here: it acts only when
// _BERTH_NSEXEC is set, which nothing sets for the monitor.
// Built as the runtime builds it (runtime/nsexec/cgo.go's flags).
#pragma GCC diagnostic ignored "-Wformat-truncation"
#pragma GCC diagnostic ignored "-Wunused-result"
#include "../../runtime/nsexec/nsexec.c"

// berth_plan_run reads one framed plan from fd (at its current offset) and runs it; the plan
// ends in execve. A failure is printed on stderr (nobody reads a sync socket here) and ends the
// process with status 1.
void __attribute__((noreturn)) berth_plan_run(int fd) {
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		bail("set not dumpable");
	sync_fd = fd;
	uint32_t n;
	struct op *ops = read_plan(&n);
	close(fd);
	sync_fd = -1;
	run_plan(ops, n);
	errno = 0;
	bail("plan ended without exec");
}
