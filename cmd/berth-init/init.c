// berth-init: the container's pid 1 for `--init` (the docker-init/tini role) and the pod's infra
// process (the Kubernetes pause role), in one small static binary.
//
// It runs from a constructor, before the Go runtime starts, and always leaves with _exit(): Go
// never initialises, so the process costs what a small static C program costs (a few private
// pages), not a Go process's ~1 MiB of runtime and heap. The text it touches is file-backed and
// shared by every berth-init on the host.
//
//   berth-init [-g] [--] CMD [ARG...]   run CMD as our child, forward signals, reap, exit with
//                                       CMD's status (128+N when a signal N killed it)
//   berth-init [--pause]                wait for SIGTERM or SIGINT (exit 0), reaping zombies
//
// Signals: every signal we may catch is blocked and taken synchronously with sigwaitinfo(), so
// there are no handlers and no races with the reaping loop. Blocking also matters for pid 1 of a
// pid namespace: the kernel drops a signal sent to it whose action is the default, unless the
// signal is blocked (then it stays pending for us). The faults we could raise ourselves (SIGSEGV,
// SIGBUS, ...) are left unblocked so that a bug kills us rather than hangs.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define VERSION "0.1.0"

// Usage errors exit with this status; 126 and 127 are the command's (as a shell and Docker
// report them), so a wrong flag is never mistaken for a missing command.
#define EXIT_USAGE 2

extern char **environ;

static void say(const char *msg) {
	// Unbuffered on purpose: no stdio buffers in an idle init, and nothing lost at _exit().
	// A failed write of a diagnostic has nowhere better to go.
	size_t n = strlen(msg);
	while (n > 0) {
		ssize_t w = write(2, msg, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		msg += w;
		n -= (size_t)w;
	}
}

// say_err prints strerror(err) starting in lower case, as Go's (and so Docker's) messages do.
static void say_err(int err) {
	char buf[128];
	const char *m = strerror(err);
	size_t n = strlen(m);
	if (n >= sizeof buf)
		n = sizeof buf - 1;
	memcpy(buf, m, n);
	buf[n] = '\0';
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	say(buf);
}

// warn prints "berth-init: a b c" (up to three parts and an optional strerror) on one line.
static void warn(const char *a, const char *b, const char *c, int err) {
	say("berth-init: ");
	say(a);
	if (b)
		say(b);
	if (c)
		say(c);
	if (err) {
		say(": ");
		say_err(err);
	}
	say("\n");
}

static void die(const char *what, int err) {
	warn(what, NULL, NULL, err);
	_exit(1);
}

// find_argv recovers argv from environ. musl calls constructors without arguments (glibc passes
// argc, argv, envp), but both start from the System V ABI's initial stack, where argc is followed
// by argv[0..argc-1], a NULL, then envp: so argv ends just below environ, and argc is the first
// word below it whose value equals the count of words between. No pointer is that small, so the
// first match is argc. This works without /proc, which a container need not have.
static char **find_argv(int *argc) {
	char **envp = environ;
	if (!envp || envp[-1] != NULL)
		die("cannot find the command line", 0);
	for (long n = 0;; n++) {
		char **slot = envp - 2 - n;
		if ((long)(intptr_t)*slot == n) {
			*argc = (int)n;
			return slot + 1;
		}
	}
}

// reap collects every zombie child. It returns 1 when `main_pid` was among them, with its wait
// status in *status; main_pid <= 0 means none is watched (pause mode).
static int reap(pid_t main_pid, int *status) {
	int found = 0;
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p == 0)
			return found; // children remain, none exited
		if (p < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				return found;
			die("waitpid", errno);
		}
		if (p == main_pid) {
			*status = st;
			found = 1;
		}
	}
}

// become_reaper: as pid 1 of a pid namespace, orphans come to us anyway; elsewhere (an init run
// by hand, a pause process sharing the host's pid namespace) we ask to be their reaper.
static void become_reaper(void) {
	if (getpid() == 1)
		return;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		warn("set child subreaper (orphans will not be reaped here)", NULL, NULL, errno);
}

// exec_child runs in the forked child: own process group when asked (and the terminal's
// foreground, so that ^C and job control reach it), the signal mask we started with, then CMD.
static void exec_child(char **cmd, int pgroup, const sigset_t *orig) {
	if (pgroup) {
		if (setpgid(0, 0) < 0)
			die("setpgid", errno);
		// SIGTTOU is still blocked here, so a background caller may take the foreground. No
		// terminal on stdin (ENOTTY, or ENXIO/EPERM without a session terminal) is normal.
		if (tcsetpgrp(0, getpid()) < 0 && errno != ENOTTY && errno != ENXIO && errno != EPERM &&
		    errno != EBADF)
			die("tcsetpgrp", errno);
	}
	if (sigprocmask(SIG_SETMASK, orig, NULL) < 0)
		die("restore signal mask", errno);
	execvp(cmd[0], cmd);
	// The wording follows what Docker and runc print for these cases; 127 and 126 are the
	// shell's (and Docker's) statuses for "not found" and "found but cannot be executed".
	int err = errno;
	if (err == ENOENT || err == ENOTDIR) {
		if (strchr(cmd[0], '/')) {
			say("berth-init: exec: \"");
			say(cmd[0]);
			say("\": stat ");
			say(cmd[0]);
			say(": ");
			say_err(err);
			say("\n");
		} else {
			warn("exec: \"", cmd[0], "\": executable file not found in $PATH", 0);
		}
		_exit(127);
	}
	warn("exec: \"", cmd[0], "\"", err);
	_exit(126);
}

static int exit_code(int status) {
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1; // waitpid without WUNTRACED reports only the two above
}

static void run_init(char **cmd, int pgroup, const sigset_t *set, const sigset_t *orig) {
	become_reaper();
	pid_t child = fork();
	if (child < 0)
		die("fork", errno);
	if (child == 0)
		exec_child(cmd, pgroup, orig);
	// Set the group from both sides so that a signal forwarded before the child ran setpgid
	// finds the group. EACCES: the child has exec'd (and did it itself); ESRCH: already gone.
	if (pgroup && setpgid(child, child) < 0 && errno != EACCES && errno != ESRCH)
		die("setpgid", errno);

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(set, &si);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			die("sigwaitinfo", errno);
		}
		if (sig == SIGCHLD) {
			int status;
			if (reap(child, &status)) {
				// Collect the zombies already there; live descendants are not waited for (as
				// pid 1, the kernel kills them when we exit).
				reap(0, &status);
				_exit(exit_code(status));
			}
			continue;
		}
		// ESRCH: the child (or its whole group) is gone and its SIGCHLD is on the way.
		if (kill(pgroup ? -child : child, sig) < 0 && errno != ESRCH)
			warn("forward signal ", strsignal(sig), NULL, errno);
	}
}

static void run_pause(const sigset_t *set) {
	become_reaper();
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(set, &si);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			die("sigwaitinfo", errno);
		}
		if (sig == SIGTERM || sig == SIGINT)
			_exit(0);
		if (sig == SIGCHLD) {
			int unused;
			reap(0, &unused);
		}
		// Anything else is taken and ignored, as pause does.
	}
}

static void usage(void) {
	say("usage: berth-init [-g] [--] COMMAND [ARG...]   run COMMAND as a reaping, signal-forwarding init\n"
	    "       berth-init [--pause]                  wait for SIGTERM/SIGINT, reaping zombies\n"
	    "  -g, --process-group   forward signals to the command's process group\n");
}

__attribute__((constructor)) static void berth_init(void) {
	int argc;
	char **argv = find_argv(&argc);

	int pgroup = 0, pause = 0, i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			if (i == argc) {
				say("berth-init: no command after --\n");
				usage();
				_exit(EXIT_USAGE);
			}
			break;
		} else if (strcmp(a, "-g") == 0 || strcmp(a, "--process-group") == 0) {
			pgroup = 1;
		} else if (strcmp(a, "--pause") == 0) {
			pause = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage();
			_exit(0);
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
			say("berth-init version " VERSION "\n");
			_exit(0);
		} else {
			warn("unknown option ", a, NULL, 0);
			usage();
			_exit(EXIT_USAGE);
		}
	}
	char **cmd = argv + i;
	if (pause && *cmd) {
		say("berth-init: --pause takes no command\n");
		_exit(EXIT_USAGE);
	}

	// Every signal we may wait for; the faults stay deliverable (see the top of the file).
	// sigfillset leaves out the C library's own internal signals.
	sigset_t set, orig;
	if (sigfillset(&set) < 0)
		die("sigfillset", errno);
	static const int faults[] = {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS};
	for (size_t k = 0; k < sizeof faults / sizeof faults[0]; k++)
		if (sigdelset(&set, faults[k]) < 0)
			die("sigdelset", errno);
	if (sigprocmask(SIG_SETMASK, &set, &orig) < 0)
		die("block signals", errno);

	if (*cmd)
		run_init(cmd, pgroup, &set, &orig);
	run_pause(&set);
}
