// Health checks, run by the monitor. Included by monitor.c (it uses monitor.c's statics: o,
// say, now, rfc3339nano, json_escape, write_all); the format of the state file and the rules
// are in monitor/doc.go.
//
// Each check is an exec session. Before the first one the monitor asks the runtime to prepare
// the exec once (`RUNTIME exec --prepare PLAN --process P ID`, berth-runtime only): the cgroups
// and namespaces to join and the plan the process then runs (identity, capabilities, seccomp,
// exec), all decided by the runtime as for its own exec. Each check is then a fork of the
// monitor, born in the container's pid namespace (the monitor is non-dumpable, and so is the
// fork), that joins the cgroups and the other namespaces and runs the runtime's plan with the
// runtime's own interpreter, compiled in (plan.c). No other process starts per check.
//
// A runtime that cannot prepare (runc, crun) gets `RUNTIME exec --detach --pid-file F --process
// P ID` for each check, as `berth exec -d` runs one: the runtime exits once the check has
// exec'd, and the check (its child) is reparented to us, the subreaper: we wait for it. The check is a session leader (the plan makes it one), so a timeout
// kills its whole process group.
#include <sched.h>
#include <sys/file.h>
#include <sys/timerfd.h>

void __attribute__((noreturn)) berth_plan_run(int fd); // plan.c

// Docker keeps at most 4096 bytes of a check's output.
#define HEALTH_OUT_MAX 4096
#define HEALTH_LOG_MAX 5

static struct {
	const char *process, *file, *events, *actor_file;
	long long interval, timeout, start_period, start_interval; // nanoseconds
	int retries;
	int on;
} ho;

struct hresult {
	struct timespec start, end;
	int code;
	size_t out_len;
	int truncated;
	char out[HEALTH_OUT_MAX];
};

static struct hresult hlog[HEALTH_LOG_MAX]; // oldest first
static int hlog_n;
static struct hresult hcur;
static int hstatus; // 0 starting, 1 healthy, 2 unhealthy
static const char *const hstatus_name[] = {"starting", "healthy", "unhealthy"};
static int hstreak;
static int htimer = -1, hpipe = -1;
static int hrunning, htimed_out, hrt_done, hrt_status, hcheck_done, hcheck_status;
static pid_t hrt_pid, hcheck_pid;
static struct timespec hstarted, hstarted_real; // when the container was created: monotonic, real
static char hpid_file[PATH_MAX];

// The prepared exec (see the top of this file): 0 not asked for yet, 1 being prepared, 2 ready,
// -1 unavailable (each check goes through the runtime).
static int hplan_state;
static pid_t hprep_pid;
static char hplan_file[PATH_MAX];
static off_t hplan_off;
static char hplan_hdr[8192];
#define HPLAN_MAX 16
static const char *hplan_cg[HPLAN_MAX], *hplan_ns[HPLAN_MAX];
static int hplan_nstype[HPLAN_MAX], hplan_ncg, hplan_nns;
// The container's pid namespace and ours: the monitor forks a check with the container's as
// its pid_for_children (setns to it, fork, setns back), so the check is born in the container's
// pid namespace and no intermediate process is needed.
static int hpidns_fd = -1, hownns_fd = -1;
// The container's namespaces, opened once when the plan is loaded (while the init is our
// unreaped child, so the /proc paths are its): a check never opens a /proc path of a pid that
// could have been recycled.
static int hns_fd[HPLAN_MAX];
// The container's cgroup.procs files, opened once too: a check writes "0" to each.
static int hcg_fd[HPLAN_MAX];
// The freezer's state (v1 freezer.state, v2 cgroup.events): a paused container gets no check,
// and the failure Docker reports for an exec into one, as the runtime's exec would refuse it.
static int hfreeze_fd = -1, hfreeze_v2;

static long long parse_ns(const char *flag, const char *v) { return parse_num(flag, v); }

// health_flag takes the --health-* flags; it returns 0 for a flag that is not one.
static int health_flag(const char *f, const char *v) {
	if (strncmp(f, "--health-", 9))
		return 0;
	const char *n = f + 9;
	if (!strcmp(n, "process"))
		ho.process = v;
	else if (!strcmp(n, "file"))
		ho.file = v;
	else if (!strcmp(n, "events"))
		ho.events = v;
	else if (!strcmp(n, "actor-file"))
		ho.actor_file = v;
	else if (!strcmp(n, "interval"))
		ho.interval = parse_ns(f, v);
	else if (!strcmp(n, "timeout"))
		ho.timeout = parse_ns(f, v);
	else if (!strcmp(n, "start-period"))
		ho.start_period = parse_ns(f, v);
	else if (!strcmp(n, "start-interval"))
		ho.start_interval = parse_ns(f, v);
	else if (!strcmp(n, "retries"))
		ho.retries = (int)parse_num(f, v);
	else
		return 0;
	ho.on = 1;
	return 1;
}

static void health_check_args(void) {
	if (!ho.on)
		return;
	if (!ho.process || !ho.file || ho.interval <= 0 || ho.timeout <= 0 || ho.start_interval <= 0 || ho.retries <= 0)
		fail("health checks need --health-process, --health-file and positive timings");
	if (ho.events && !ho.actor_file)
		fail("--health-events needs --health-actor-file");
	if (snprintf(hpid_file, sizeof hpid_file, "%s.pid", ho.file) >= (int)sizeof hpid_file ||
	    snprintf(hplan_file, sizeof hplan_file, "%s.plan", ho.file) >= (int)sizeof hplan_file)
		fail("health file path too long");
}

static long long mono_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long hsince_start(void) {
	return mono_ns() - ((long long)hstarted.tv_sec * 1000000000LL + hstarted.tv_nsec);
}

// health_arm sets the timer to fire once, ns from now.
static void health_arm(long long ns) {
	if (ns < 1000)
		ns = 1000;
	struct itimerspec it = {.it_value = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL}};
	if (timerfd_settime(htimer, 0, &it, NULL) < 0)
		say("monitor: health timer: %s\n", strerror(errno));
}

// health_interval is Docker's wait before the next check: the start interval while the
// container is starting within its start period, the interval otherwise.
static long long health_interval(void) {
	if (hstatus == 0 && hsince_start() < ho.start_period)
		return ho.start_interval;
	return ho.interval;
}

// go_duration prints ns as Go's time.Duration String does, for Docker's timeout message.
static void go_duration(long long ns, char *out, size_t n) {
	if (ns < 1000) {
		snprintf(out, n, "%lldns", ns);
		return;
	}
	if (ns < 1000000000LL) {
		// µs or ms with the fraction Go prints (trailing zeros trimmed).
		long long unit = ns < 1000000 ? 1000 : 1000000;
		char frac[16] = "";
		long long f = ns % unit;
		if (f) {
			int digits = unit == 1000 ? 3 : 6;
			snprintf(frac, sizeof frac, ".%0*lld", digits, f);
			for (int e = (int)strlen(frac) - 1; e > 0 && frac[e] == '0'; e--)
				frac[e] = 0;
		}
		snprintf(out, n, "%lld%s%s", ns / unit, frac, unit == 1000 ? "µs" : "ms");
		return;
	}
	long long s = ns / 1000000000LL, f = ns % 1000000000LL;
	char frac[16] = "";
	if (f) {
		snprintf(frac, sizeof frac, ".%09lld", f);
		for (int e = 9; e > 0 && frac[e] == '0'; e--)
			frac[e] = 0;
	}
	size_t w = 0;
	if (s >= 3600)
		w += (size_t)snprintf(out + w, n - w, "%lldh", s / 3600);
	if (s >= 60)
		w += (size_t)snprintf(out + w, n - w, "%lldm", s / 60 % 60);
	snprintf(out + w, n - w, "%lld%ss", s % 60, frac);
}

static char hbuf[HEALTH_LOG_MAX * (HEALTH_OUT_MAX * 6 + 256) + 256];

// health_write records the status and the log with write-to-temporary + rename (no fsync: the
// run dir is a tmpfs and the state is only as good as the running container anyway).
static void health_write(void) {
	char tmp[PATH_MAX + 8], ts[40];
	size_t n = (size_t)snprintf(hbuf, sizeof hbuf, "{\"Status\":\"%s\",\"FailingStreak\":%d,\"Log\":[", hstatus_name[hstatus], hstreak);
	for (int i = 0; i < hlog_n; i++) {
		struct hresult *r = &hlog[i];
		rfc3339nano(&r->start, ts);
		n += (size_t)snprintf(hbuf + n, sizeof hbuf - n, "%s{\"Start\":\"%s\",", i ? "," : "", ts);
		rfc3339nano(&r->end, ts);
		n += (size_t)snprintf(hbuf + n, sizeof hbuf - n, "\"End\":\"%s\",\"ExitCode\":%d,\"Output\":\"", ts, r->code);
		n += json_escape(hbuf + n, r->out, r->out_len);
		n += (size_t)snprintf(hbuf + n, sizeof hbuf - n, "%s\"}", r->truncated ? "..." : "");
	}
	n += (size_t)snprintf(hbuf + n, sizeof hbuf - n, "]}\n");
	snprintf(tmp, sizeof tmp, "%s.tmp", ho.file);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, hbuf, n) < 0 || close(fd) < 0 || rename(tmp, ho.file) < 0)
		say("monitor: write health file %s: %s\n", ho.file, strerror(errno));
}

// health_event appends a health_status event in the shape of the engine's Emit, by the event
// log's writer protocol (engine/events.go): O_APPEND, a shared flock, the path checked to still
// name the file locked (else a rotation came between: again), one write. Rotating is left to
// the engine's next writer.
static void health_event(void) {
	if (!ho.events)
		return;
	struct timespec t;
	now(&t);
	static char actor[32768], line[sizeof actor + 256];
	int afd = open(ho.actor_file, O_RDONLY | O_CLOEXEC);
	ssize_t an = afd >= 0 ? read(afd, actor, sizeof actor - 1) : -1;
	if (afd >= 0)
		close(afd);
	if (an <= 0 || actor[0] != '{') {
		say("monitor: health event actor %s unreadable\n", ho.actor_file);
		return;
	}
	actor[an] = 0;
	int n = snprintf(line, sizeof line,
	                 "{\"Type\":\"container\",\"Action\":\"health_status: %s\",\"Actor\":%s,\"scope\":\"local\",\"time\":%lld,\"timeNano\":%lld}\n",
	                 hstatus_name[hstatus], actor, (long long)t.tv_sec, (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
	if (n < 0 || n >= (int)sizeof line) {
		say("monitor: health event too long\n");
		return;
	}
	for (int try = 0; try < 3; try++) {
		int fd = open(ho.events, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			break;
		int r;
		while ((r = flock(fd, LOCK_SH)) < 0 && errno == EINTR)
			;
		struct stat a, b;
		if (r < 0 || fstat(fd, &a) < 0) {
			close(fd);
			break;
		}
		if (stat(ho.events, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
			close(fd); // rotated away meanwhile
			continue;
		}
		ssize_t w = write(fd, line, (size_t)n);
		close(fd); // drops the lock
		if (w == n)
			return;
		break;
	}
	say("monitor: write event to %s: %s\n", ho.events, strerror(errno));
}

static void health_out_read(void) {
	char buf[4096];
	for (;;) {
		ssize_t n = read(hpipe, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(hpipe);
			hpipe = -1;
			return;
		}
		size_t room = HEALTH_OUT_MAX - hcur.out_len, take = (size_t)n < room ? (size_t)n : room;
		memcpy(hcur.out + hcur.out_len, buf, take);
		hcur.out_len += take;
		if (take < (size_t)n)
			hcur.truncated = 1;
	}
}

static int read_check_pid(void) {
	char buf[32];
	int fd = open(hpid_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	long pid = strtol(buf, NULL, 10);
	return pid > 0 && pid <= INT_MAX ? (int)pid : 0;
}

static void health_set_output(const char *msg) {
	size_t l = strlen(msg);
	if (l > HEALTH_OUT_MAX)
		l = HEALTH_OUT_MAX;
	memcpy(hcur.out, msg, l);
	hcur.out_len = l;
	hcur.truncated = 0;
}

// health_result applies Docker's rules to the finished check: a pass resets the streak and
// makes the container healthy; a failure counts (unless the container is still starting within
// its start period) and makes it unhealthy at `retries` in a row.
static void health_result(void) {
	now(&hcur.end);
	int old = hstatus;
	if (hcur.code == 0) {
		hstreak = 0;
		hstatus = 1;
	} else {
		long long since = ((long long)hcur.start.tv_sec - hstarted_real.tv_sec) * 1000000000LL + (hcur.start.tv_nsec - hstarted_real.tv_nsec);
		if (!(hstatus == 0 && since < ho.start_period)) {
			hstreak++;
			if (hstreak >= ho.retries)
				hstatus = 2;
		}
	}
	if (hlog_n == HEALTH_LOG_MAX) {
		memmove(&hlog[0], &hlog[1], sizeof hlog[0] * (HEALTH_LOG_MAX - 1));
		hlog_n--;
	}
	hlog[hlog_n++] = hcur;
	health_write();
	if (hstatus != old)
		health_event();
}

// health_finish ends the check once its processes are reaped.
static void health_finish(void) {
	if (!hrunning || !hrt_done || (hrt_status == 0 && hcheck_pid > 0 && !hcheck_done))
		return;
	if (hpipe >= 0) {
		// What the check wrote before it exited; a process it left behind holding the pipe
		// is not waited for.
		health_out_read();
		if (hpipe >= 0) {
			close(hpipe);
			hpipe = -1;
		}
	}
	if (htimed_out) {
		char d[32], msg[96];
		go_duration(ho.timeout, d, sizeof d);
		snprintf(msg, sizeof msg, "Health check exceeded timeout (%s)", d);
		health_set_output(msg);
		hcur.code = -1;
	} else if (hrt_status != 0 || hcheck_pid <= 0) {
		// The runtime could not run the check: its message (on the captured stderr) is the
		// output, and Docker's code for a check that did not run.
		while (hcur.out_len && (hcur.out[hcur.out_len - 1] == '\n' || hcur.out[hcur.out_len - 1] == ' '))
			hcur.out_len--;
		hcur.code = -1;
	} else
		hcur.code = hcheck_status;
	hrunning = 0;
	unlink(hpid_file);
	health_result();
	health_arm(health_interval());
}

static void health_runtime_argv(const char **argv, const char *a, const char *b, const char *c);
static void __attribute__((noreturn)) health_join(void);
static int health_paused(void);

static void health_begin(void) {
	if (exit_code >= 0 || htimer < 0)
		return; // the container has exited: no more checks
	memset(&hcur, 0, sizeof hcur);
	now(&hcur.start);
	unlink(hpid_file);
	hrunning = 1;
	htimed_out = hrt_done = hcheck_done = 0;
	hcheck_pid = 0;
	if (hplan_state == 2 && health_paused()) {
		char msg[160];
		snprintf(msg, sizeof msg, "Container %s is paused, unpause the container before exec", o.id);
		health_set_output(msg);
		hrt_done = 1, hrt_status = 1;
		health_finish();
		return;
	}
	int p[2];
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || pipe2(p, O_CLOEXEC) < 0) {
		health_set_output(strerror(errno));
		if (null >= 0)
			close(null);
		hrt_done = 1, hrt_status = 1;
		health_finish();
		return;
	}
	const char *argv[MAX_ARGS + 16];
	health_runtime_argv(argv, "--detach", "--pid-file", hpid_file);
	int direct = hplan_state == 2;
	if (direct && hpidns_fd >= 0 && setns(hpidns_fd, CLONE_NEWPID) < 0) {
		health_set_output("join the container's pid namespace failed");
		close(p[0]), close(p[1]), close(null);
		hrt_done = 1, hrt_status = 1;
		health_finish();
		return;
	}
	pid_t pid = fork();
	if (pid != 0 && direct && hpidns_fd >= 0 && setns(hownns_fd, CLONE_NEWPID) < 0) {
		// Our next forks would land in the container's pid namespace: no more direct checks.
		say("monitor: back to our pid namespace: %s\n", strerror(errno));
		hplan_state = -1;
	}
	if (pid == 0 && direct) {
		if (dup2(null, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(126);
		health_join();
	}
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(null, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(126);
		execv(o.runtime, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	close(null);
	hpipe = p[0];
	set_nonblock(hpipe);
	if (pid < 0) {
		health_set_output("fork the runtime failed");
		hrt_done = 1, hrt_status = 1;
		health_finish();
		return;
	}
	hrt_pid = pid;
	if (direct) {
		// The check itself: nothing in between to wait for.
		hrt_pid = -1;
		hrt_done = 1, hrt_status = 0;
		hcheck_pid = pid;
	}
	health_arm(ho.timeout);
}

// health_runtime_argv is RUNTIME [--root R] [runtime args] exec a b c --process P ID.
static void health_runtime_argv(const char **argv, const char *a, const char *b, const char *c) {
	int n = 0;
	argv[n++] = o.runtime;
	if (o.runtime_root)
		argv[n++] = "--root", argv[n++] = o.runtime_root;
	for (int i = 0; i < o.n_rt_args; i++)
		argv[n++] = o.rt_args[i];
	// No --log: the runtime's errors come on stderr, which is the check's output.
	argv[n++] = "exec", argv[n++] = a, argv[n++] = b;
	if (c)
		argv[n++] = c;
	argv[n++] = "--process", argv[n++] = ho.process, argv[n++] = o.id;
	argv[n] = NULL;
}

static void __attribute__((noreturn)) join_fail(const char *what, const char *arg) {
	dprintf(2, "berth-monitor: health check: %s %s: %s\n", what, arg, strerror(errno));
	_exit(1);
}

// health_join is the check, in a fork of the monitor born in the container's pid namespace, with
// the check's stdio as 0-2: it joins the container's cgroups and other namespaces as the
// prepared exec says and runs the plan. Non-dumpable (the monitor is, so from birth): nothing
// in the container may reach our memory, fds or binary.
static void __attribute__((noreturn)) health_join(void) {
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		join_fail("set", "not dumpable");
	// Everything on the host side is opened before the first namespace is joined.
	int pf = open(hplan_file, O_RDONLY | O_CLOEXEC);
	if (pf < 0 || lseek(pf, hplan_off, SEEK_SET) != hplan_off)
		join_fail("open", hplan_file);
	for (int i = 0; i < hplan_ncg; i++)
		if (write(hcg_fd[i], "0", 1) != 1)
			join_fail("join cgroup", hplan_cg[i]);
	for (int i = 0; i < hplan_nns; i++) {
		// The pid namespace is ours from birth (a setns to it would only apply to children).
		if (hplan_nstype[i] != CLONE_NEWPID && setns(hns_fd[i], hplan_nstype[i]) < 0)
			join_fail("join namespace", hplan_ns[i]);
	}
	// Only stdio and the plan go on; the plan marks the rest close-on-exec anyway.
	if (dup2(pf, 3) < 0)
		_exit(1);
	if (syscall(SYS_close_range, 4, ~0U, 0) < 0)
		for (int fd = 4; fd < 1024; fd++)
			close(fd);
	berth_plan_run(3);
}

static void health_pidns_close(void) {
	for (int i = 0; i < HPLAN_MAX; i++) {
		if (hns_fd[i] > 0)
			close(hns_fd[i]);
		if (hcg_fd[i] > 0)
			close(hcg_fd[i]);
		hns_fd[i] = hcg_fd[i] = 0;
	}
	if (hownns_fd >= 0)
		close(hownns_fd);
	if (hfreeze_fd >= 0)
		close(hfreeze_fd);
	hpidns_fd = hownns_fd = hfreeze_fd = -1;
}

static void health_freezer_open(void) {
	char path[PATH_MAX + 32];
	for (int i = 0; i < hplan_ncg && hfreeze_fd < 0; i++) {
		const char *slash = strrchr(hplan_cg[i], '/');
		if (!slash)
			continue;
		int dl = (int)(slash - hplan_cg[i]);
		snprintf(path, sizeof path, "%.*s/freezer.state", dl, hplan_cg[i]);
		if ((hfreeze_fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			hfreeze_v2 = 0;
			break;
		}
		if (hplan_ncg == 1) {
			snprintf(path, sizeof path, "%.*s/cgroup.events", dl, hplan_cg[i]);
			if ((hfreeze_fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0)
				hfreeze_v2 = 1;
		}
	}
}

// health_paused says whether the container's cgroup is frozen (or being frozen).
static int health_paused(void) {
	if (hfreeze_fd < 0)
		return 0;
	char buf[512];
	ssize_t n = pread(hfreeze_fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	if (hfreeze_v2)
		return strstr(buf, "frozen 1") != NULL;
	return !strncmp(buf, "FROZEN", 6) || !strncmp(buf, "FREEZING", 8);
}

// health_pidns_open opens the container's cgroup.procs files and namespaces, and our pid
// namespace.
static int health_pidns_open(void) {
	health_pidns_close();
	if (exit_code >= 0)
		return -1; // the init is gone: its pid may name another process now
	for (int i = 0; i < hplan_ncg; i++) {
		if ((hcg_fd[i] = open(hplan_cg[i], O_WRONLY | O_CLOEXEC)) < 0) {
			hcg_fd[i] = 0;
			health_pidns_close();
			return -1;
		}
	}
	for (int i = 0; i < hplan_nns; i++) {
		if ((hns_fd[i] = open(hplan_ns[i], O_RDONLY | O_CLOEXEC)) < 0) {
			hns_fd[i] = 0;
			health_pidns_close();
			return -1;
		}
		if (hplan_nstype[i] == CLONE_NEWPID && hpidns_fd < 0) {
			hpidns_fd = hns_fd[i];
			if ((hownns_fd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC)) < 0) {
				health_pidns_close();
				return -1;
			}
		}
	}
	health_freezer_open();
	return 0;
}

// health_plan_load reads the prepared exec (the format is in cmd/berth-runtime/exec_prepare.go).
static int health_plan_load(void) {
	int fd = open(hplan_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, hplan_hdr, sizeof hplan_hdr - 1);
	struct stat st;
	int ok = n > 0 && fstat(fd, &st) == 0;
	close(fd);
	if (!ok)
		return -1;
	hplan_hdr[n] = 0;
	char *line = hplan_hdr, *nl;
	hplan_ncg = hplan_nns = 0;
	int first = 1;
	while ((nl = strchr(line, '\n'))) {
		*nl = 0;
		if (first) {
			if (strcmp(line, "berth-exec-plan 1"))
				return -1;
			first = 0;
		} else if (!strncmp(line, "cgroup ", 7) && hplan_ncg < HPLAN_MAX)
			hplan_cg[hplan_ncg++] = line + 7;
		else if (!strncmp(line, "ns ", 3) && hplan_nns < HPLAN_MAX) {
			char *end;
			long t = strtol(line + 3, &end, 10);
			if (*end != ' ' || t <= 0)
				return -1;
			hplan_nstype[hplan_nns] = (int)t;
			hplan_ns[hplan_nns++] = end + 1;
		} else if (!strncmp(line, "plan ", 5)) {
			char *end;
			long long len = strtoll(line + 5, &end, 10);
			hplan_off = (off_t)(nl + 1 - hplan_hdr);
			if (*end || len <= 0 || (long long)st.st_size != (long long)hplan_off + len)
				return -1;
			return health_pidns_open();
		} else
			return -1;
		line = nl + 1;
	}
	return -1;
}

// health_prepare asks the runtime for the prepared exec; its diagnostics go to our stderr.
static void health_prepare(void) {
	const char *argv[MAX_ARGS + 16];
	health_runtime_argv(argv, "--prepare", hplan_file, NULL);
	unlink(hplan_file);
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		int null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
			_exit(126);
		execv(o.runtime, (char *const *)argv);
		_exit(127);
	}
	if (pid < 0) {
		hplan_state = -1;
		health_begin();
		return;
	}
	hprep_pid = pid;
	hplan_state = 1;
	health_arm(10 * 1000000000LL);
}

// health_kill ends a running check: its process group (the check and what it started), and the
// runtime if it is still setting the check up.
static void health_kill(void) {
	if (!hrunning)
		return;
	if (hcheck_pid <= 0)
		hcheck_pid = read_check_pid();
	if (hcheck_pid > 0 && !hcheck_done) {
		kill(-hcheck_pid, SIGKILL);
		kill(hcheck_pid, SIGKILL);
	}
	if (!hrt_done)
		kill(hrt_pid, SIGKILL);
}

static void health_timer(void) {
	uint64_t ticks;
	if (read(htimer, &ticks, sizeof ticks) < 0)
		return;
	if (hplan_state == 1) {
		// The runtime did not prepare in time: the checks go through its exec instead.
		kill(hprep_pid, SIGKILL);
		hplan_state = -1;
		health_begin();
		return;
	}
	if (!hrunning) {
		if (hplan_state == 0)
			health_prepare();
		else
			health_begin();
		return;
	}
	if (!htimed_out) {
		htimed_out = 1;
		health_kill();
	}
	// Look again in a second in case the killed processes have not all been reaped by then
	// (they will be; this only keeps the timer meaningful).
	health_arm(1000000000LL);
}

// health_reaped is told of every child the monitor reaps.
static void health_reaped(pid_t pid, int ws) {
	int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (hplan_state == 1 && pid == hprep_pid) {
		hplan_state = code == 0 && health_plan_load() == 0 ? 2 : -1;
		if (hplan_state < 0)
			say("monitor: the runtime prepared no exec for the health checks (status %d): each check runs the runtime's exec\n", code);
		if (htimer >= 0)
			health_begin();
		return;
	}
	if (!hrunning)
		return;
	if (pid == hrt_pid) {
		hrt_done = 1;
		hrt_status = code;
		if (hcheck_pid <= 0)
			hcheck_pid = read_check_pid();
	} else {
		// The check becomes our child only when the runtime exits, after it wrote the pid
		// file; it may be reaped before the runtime in the same round.
		if (hcheck_pid <= 0)
			hcheck_pid = read_check_pid();
		if (pid != hcheck_pid)
			return;
		hcheck_done = 1;
		hcheck_status = code;
	}
	if (htimed_out && hcheck_pid > 0 && !hcheck_done) {
		kill(-hcheck_pid, SIGKILL);
		kill(hcheck_pid, SIGKILL);
	}
	health_finish();
}

// health_start begins the checks once the container is created (again after a restart); the first runs one interval
// later, as in Docker. The state file says "starting" at once.
static void health_start(void) {
	if (!ho.on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &hstarted);
	now(&hstarted_real);
	// Callable again for a new run of the container (after health_stop): starting again, the
	// streak reset, the results kept (as Docker does), the exec prepared anew (a new init).
	hstatus = 0;
	hstreak = 0;
	hplan_state = 0;
	// Non-dumpable, so that a check is from its birth in the container's pid namespace.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		say("monitor: set not dumpable: %s\n", strerror(errno));
		hplan_state = -1;
	}
	htimer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (htimer < 0) {
		say("monitor: health timer: %s\n", strerror(errno));
		return;
	}
	health_write();
	health_arm(health_interval());
}

// health_stop ends the checks when the container's init has exited.
static void health_stop(void) {
	if (htimer < 0)
		return;
	health_kill();
	close(htimer);
	htimer = -1;
	if (hpipe >= 0) {
		close(hpipe);
		hpipe = -1;
	}
	hrunning = 0;
	unlink(hpid_file);
	if (hplan_state == 1)
		kill(hprep_pid, SIGKILL);
	unlink(hplan_file);
	health_pidns_close();
}

// health_poll adds the health fds to a poll set (2 entries) and health_events serves them.
static void health_poll(struct pollfd *p) {
	p[0] = (struct pollfd){htimer, POLLIN, 0};
	p[1] = (struct pollfd){hpipe, POLLIN, 0};
}

static void health_events(const struct pollfd *p) {
	if (p[1].fd >= 0 && p[1].fd == hpipe && p[1].revents & (POLLIN | POLLHUP | POLLERR))
		health_out_read();
	if (p[0].fd >= 0 && p[0].fd == htimer && p[0].revents & POLLIN)
		health_timer();
}
