// nsexec: the part of berth-runtime that runs before the Go runtime starts.
//
// A Go process is multi-threaded from its first instruction, but setns(2) into a mount or user
// namespace and unshare(CLONE_NEWUSER) need a single-threaded caller. So the runtime re-executes
// its own binary with _BERTH_NSEXEC set; this constructor sees the variable, reads a prepared
// "plan" (a flat list of syscall operations built in Go, see plan.go) from the sync socket and
// interprets it, ending in execve of the container process. The Go runtime never starts in the
// child, which keeps container start-up close to that of a static C helper.
//
// Every policy decision (which mounts, which paths, which capabilities) is made in Go; this file
// only executes operations and reports the first failure back to the parent as text.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ops.h"

#define MAX_ARGS 4096

// cloexec_from_procfs marks fds >= from close-on-exec by walking /proc/self/fd, as runc does. It
// is the fallback for close_range(2) when the container's seccomp profile, loaded earlier in the
// plan (with or without no_new_privs), does not list close_range: older Docker-style profiles deny
// it with EPERM or ENOSYS, but allow open, getdents and fcntl.
// Returns -1 (errno of the close_range failure kept) when /proc cannot be read or an fd cannot be
// marked, so that the caller fails rather than leak an fd into the container; 0 otherwise.
static int cloexec_from_procfs(unsigned int from) {
	int saved = errno;
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		errno = saved;
		return -1;
	}
	int dfd = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end != '\0' || end == e->d_name || fd < (long)from || fd == dfd)
			continue;
		int fl = fcntl((int)fd, F_GETFD);
		if (fl < 0 && errno == EBADF)
			continue; // closed since the directory was read
		if (fl < 0 || (!(fl & FD_CLOEXEC) && fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC) < 0)) {
			closedir(d);
			errno = saved;
			return -1;
		}
	}
	closedir(d);
	return 0;
}

static int sync_fd = -1;
static int cur_op = -1;

// Messages to the parent: 1 tag byte, 4-byte little-endian length, payload.
static int send_msg(char tag, const void *buf, uint32_t len) {
	char hdr[5];
	hdr[0] = tag;
	memcpy(hdr + 1, &len, 4);
	struct iovec iov[2] = {{hdr, 5}, {(void *)buf, len}};
	struct msghdr m = {0};
	m.msg_iov = iov;
	m.msg_iovlen = len ? 2 : 1;
	for (;;) {
		if (sendmsg(sync_fd, &m, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static void __attribute__((noreturn, format(printf, 1, 2))) bail(const char *fmt, ...) {
	int saved = errno;
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (saved && (size_t)n < sizeof(buf) - 2)
		n += snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(saved));
	// After `create` has returned nobody reads the sync socket: the container's stderr is
	// then the only place left to say what went wrong.
	if (sync_fd < 0 || send_msg('E', buf, (uint32_t)n) < 0)
		fprintf(stderr, "berth-runtime: %s\n", buf);
	_exit(1);
}

static char wait_ack(void) {
	char c;
	for (;;) {
		ssize_t n = read(sync_fd, &c, 1);
		if (n == 1)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		// The parent went away: nothing left to do for us.
		_exit(1);
	}
	if (c != 'A')
		_exit(1);
	return c;
}

static int read_full(int fd, void *buf, size_t len) {
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct arg {
	const char *p;
	uint32_t len;
};

struct op {
	uint32_t code;
	uint32_t nargs;
	struct arg *args;
};

static const char *S(struct op *o, uint32_t i) {
	if (i >= o->nargs)
		bail("op %u: missing argument %u", o->code, i);
	return o->args[i].p;
}

static uint64_t U(struct op *o, uint32_t i) {
	uint64_t v;
	if (i >= o->nargs || o->args[i].len != 8)
		bail("op %u: argument %u is not an integer", o->code, i);
	memcpy(&v, o->args[i].p, 8);
	return v;
}

// read_plan reads one plan segment: u32 length, then the encoded ops. Strings in the buffer
// are NUL-terminated by the encoder, so arguments can be used in place.
static struct op *read_plan(uint32_t *count) {
	uint32_t len;
	if (read_full(sync_fd, &len, 4) < 0)
		_exit(1);
	char *buf = malloc(len ? len : 1);
	if (!buf)
		bail("allocate plan");
	if (read_full(sync_fd, buf, len) < 0)
		_exit(1);
	uint32_t cap = 64, n = 0;
	struct op *ops = malloc(sizeof(*ops) * cap);
	size_t off = 0;
	while (off < len) {
		if (len - off < 8)
			bail("truncated plan");
		if (n == cap) {
			cap *= 2;
			ops = realloc(ops, sizeof(*ops) * cap);
			if (!ops)
				bail("allocate plan");
		}
		struct op *o = &ops[n++];
		memcpy(&o->code, buf + off, 4);
		memcpy(&o->nargs, buf + off + 4, 4);
		off += 8;
		if (o->nargs > MAX_ARGS)
			bail("plan op with %u arguments", o->nargs);
		o->args = calloc(o->nargs + 1, sizeof(struct arg));
		for (uint32_t i = 0; i < o->nargs; i++) {
			uint32_t alen;
			if (len - off < 4)
				bail("truncated plan");
			memcpy(&alen, buf + off, 4);
			off += 4;
			if (len - off < (size_t)alen + 1)
				bail("truncated plan");
			o->args[i].p = buf + off;
			o->args[i].len = alen;
			off += alen + 1; // skip the NUL terminator
		}
	}
	*count = n;
	return ops;
}

static void mkdir_all(const char *path, mode_t mode) {
	char tmp[4096];
	size_t len = strlen(path);
	if (len >= sizeof(tmp))
		bail("mkdir %s: path too long", path);
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			bail("mkdir %s", tmp);
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		bail("mkdir %s", tmp);
}

// mount_target makes sure dst exists with the kind of the bind source (file or directory).
static void mount_target(const char *dst, int is_file) {
	struct stat st;
	if (lstat(dst, &st) == 0)
		return;
	if (!is_file) {
		mkdir_all(dst, 0755);
		return;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", dst);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		mkdir_all(dir, 0755);
	}
	int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		bail("create mount point %s", dst);
	close(fd);
}

static void do_console(int sock) {
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		bail("open /dev/ptmx");
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		bail("unlock pty");
	int ptn;
	if (ioctl(master, TIOCGPTN, &ptn) < 0)
		bail("get pty number");
	char name[64];
	snprintf(name, sizeof(name), "/dev/pts/%d", ptn);
	int slave = open(name, O_RDWR | O_NOCTTY);
	if (slave < 0)
		bail("open %s", name);

	// Send the master to whoever listens on --console-socket, as runc does: the fd in
	// SCM_RIGHTS and the pty name as the payload.
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = {name, strlen(name)};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cbuf;
	m.msg_controllen = sizeof(cbuf);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	if (sendmsg(sock, &m, MSG_NOSIGNAL) < 0)
		bail("send pty master to console socket");
	close(master);
	close(sock);

	if (setsid() < 0 && errno != EPERM)
		bail("setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		bail("set controlling terminal");
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			bail("dup2 pty");
	if (slave > 2)
		close(slave);
}

static void do_caps(struct op *o) {
	uint64_t bounding = U(o, 0), eff = U(o, 1), perm = U(o, 2), inh = U(o, 3), amb = U(o, 4);
	uint64_t last = U(o, 5);
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	// setuid to a non-root user (with keepcaps) leaves the permitted set but clears the
	// effective one, and dropping from the bounding set needs CAP_SETPCAP effective: make
	// the kept permitted set effective first.
	if (syscall(SYS_capget, &hdr, data) < 0)
		bail("capget");
	data[0].effective = data[0].permitted;
	data[1].effective = data[1].permitted;
	if (syscall(SYS_capset, &hdr, data) < 0)
		bail("raise permitted capabilities to effective");
	for (uint64_t c = 0; c <= last; c++) {
		if (bounding & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			bail("drop capability %llu from the bounding set", (unsigned long long)c);
	}
	data[0].effective = (uint32_t)eff;
	data[1].effective = (uint32_t)(eff >> 32);
	data[0].permitted = (uint32_t)perm;
	data[1].permitted = (uint32_t)(perm >> 32);
	data[0].inheritable = (uint32_t)inh;
	data[1].inheritable = (uint32_t)(inh >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		bail("capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		bail("clear ambient capabilities");
	for (uint64_t c = 0; c <= last; c++) {
		if (!(amb & (1ULL << c)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			bail("raise ambient capability %llu", (unsigned long long)c);
	}
}

static void run_plan(struct op *ops, uint32_t n);

// do_keyring gives the process a session keyring of the container's own, as runc does unless
// --no-new-keyring: otherwise every container shares the caller's session keyring and its keys.
// The new keyring is made searchable by its user (runc's permission change), so that
// request_key and friends work inside. A kernel without keyrings (ENOSYS) is not an error.
static void do_keyring(struct op *o) {
	const char *name = S(o, 0);
	long id = syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name);
	if (id < 0) {
		if (errno == ENOSYS)
			return;
		bail("join session keyring %s", name);
	}
	// KEYCTL_DESCRIBE gives "type;uid;gid;perm;description" with perm in hex.
	char desc[512];
	long n = syscall(SYS_keyctl, 6 /* KEYCTL_DESCRIBE */, id, desc, sizeof(desc) - 1);
	if (n < 0)
		bail("describe session keyring %s", name);
	desc[n < (long)sizeof(desc) ? n : (long)sizeof(desc) - 1] = 0;
	const char *p = desc;
	for (int i = 0; i < 3 && p; i++) {
		p = strchr(p, ';');
		if (p)
			p++;
	}
	if (!p) {
		errno = 0;
		bail("session keyring %s: unexpected description %s", name, desc);
	}
	unsigned long perm = strtoul(p, NULL, 16);
	if (syscall(SYS_keyctl, 5 /* KEYCTL_SETPERM */, id, perm | 0x080000 /* KEY_USR_SEARCH */) < 0)
		bail("set session keyring %s permissions", name);
}

static char resolved[4096];

// go_strerror is strerror(e) with a lower-case first letter, which is how Go (and so runc) spells
// errno texts. Docker and Podman map a start error to exit status 127 or 126 by looking for
// "no such file or directory" and "permission denied" in its text, case-sensitively (Docker).
static const char *go_strerror(int e) {
	static char buf[128];
	snprintf(buf, sizeof(buf), "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

// do_lookup resolves a command name in the container's PATH before the container waits for
// `start`, so that a missing binary is reported by create, as runc does.
static void do_lookup(struct op *o) {
	const char *name = S(o, 0), *pathenv = S(o, 1);
	struct stat st;
	if (strchr(name, '/')) {
		if (stat(name, &st) < 0) {
			// runc's shape: exec: "/x": stat /x: no such file or directory
			int e = errno;
			errno = 0;
			bail("exec: \"%s\": stat %s: %s", name, name, go_strerror(e));
		}
		// As runc (Go's exec.LookPath): a directory or a file with no x bit fails create,
		// so that clients report 126 rather than a container that exits 1.
		if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111)) {
			errno = 0;
			bail("exec: \"%s\": %s", name, go_strerror(EACCES));
		}
		snprintf(resolved, sizeof(resolved), "%s", name);
		return;
	}
	const char *p = pathenv;
	for (;;) {
		const char *end = strchr(p, ':');
		size_t dl = end ? (size_t)(end - p) : strlen(p);
		char buf[4096];
		if (dl == 0)
			snprintf(buf, sizeof(buf), "./%s", name);
		else
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)dl, p, name);
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
			snprintf(resolved, sizeof(resolved), "%s", buf);
			return;
		}
		if (!end)
			break;
		p = end + 1;
	}
	errno = 0;
	bail("exec: \"%s\": executable file not found in $PATH", name);
}

static void do_exec(struct op *o) {
	// args: path (absolute, a bare name, or empty for the OP_LOOKUP result), argc, argv..., env...
	const char *path = S(o, 0);
	if (*path == 0)
		path = resolved;
	uint64_t argc = U(o, 1);
	if (argc + 2 > o->nargs)
		bail("bad exec op");
	char **argv = calloc(argc + 1, sizeof(char *));
	for (uint64_t i = 0; i < argc; i++)
		argv[i] = (char *)S(o, 2 + i);
	uint32_t nenv = o->nargs - 2 - argc;
	char **envp = calloc(nenv + 1, sizeof(char *));
	for (uint32_t i = 0; i < nenv; i++)
		envp[i] = (char *)S(o, 2 + argc + i);
	if (strchr(path, '/')) {
		execve(path, argv, envp);
		int e = errno;
		errno = 0;
		bail("exec %s: %s", path, go_strerror(e));
	}
	// A bare name: search the container's PATH, as the OCI spec asks (like execvp but
	// with the container's environment, not ours).
	const char *pathenv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (uint32_t i = 0; i < nenv; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			pathenv = envp[i] + 5;
	char buf[4096];
	int eacces = 0;
	const char *p = pathenv;
	while (*p || p == pathenv) {
		const char *end = strchr(p, ':');
		size_t dl = end ? (size_t)(end - p) : strlen(p);
		if (dl == 0)
			snprintf(buf, sizeof(buf), "%s", path);
		else
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)dl, p, path);
		execve(buf, argv, envp);
		if (errno == EACCES)
			eacces = 1;
		if (!end)
			break;
		p = end + 1;
	}
	errno = 0;
	if (eacces)
		bail("exec %s: %s", path, go_strerror(EACCES));
	bail("exec: \"%s\": executable file not found in $PATH", path);
}

static void do_hook(struct op *o) {
	// args: timeout seconds, state json, path, argc, argv..., env...
	uint64_t timeout = U(o, 0);
	const char *state = S(o, 1);
	const char *path = S(o, 2);
	uint64_t argc = U(o, 3);
	if (argc + 4 > o->nargs)
		bail("bad hook op");
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		bail("hook pipe");
	pid_t pid = fork();
	if (pid < 0)
		bail("fork hook");
	if (pid == 0) {
		char **argv = calloc(argc + 1, sizeof(char *));
		for (uint64_t i = 0; i < argc; i++)
			argv[i] = (char *)S(o, 4 + i);
		uint32_t nenv = o->nargs - 4 - argc;
		char **envp = calloc(nenv + 1, sizeof(char *));
		for (uint32_t i = 0; i < nenv; i++)
			envp[i] = (char *)S(o, 4 + argc + i);
		dup2(p[0], 0);
		// Its own process group, so that a timeout kills whatever the hook started too.
		setpgid(0, 0);
		execve(path, argv, envp);
		_exit(127);
	}
	close(p[0]);
	// A hook that exits without reading its stdin makes our write raise SIGPIPE, which
	// would kill the container process: block it for the write, then drop it if raised.
	sigset_t pipeset, oldset;
	sigemptyset(&pipeset);
	sigaddset(&pipeset, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipeset, &oldset);
	size_t left = strlen(state);
	const char *s = state;
	while (left > 0) {
		ssize_t w = write(p[1], s, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; // the hook need not read its stdin
		s += w;
		left -= (size_t)w;
	}
	close(p[1]);
	struct timespec zero = {0, 0};
	while (sigtimedwait(&pipeset, NULL, &zero) == SIGPIPE)
		;
	sigprocmask(SIG_SETMASK, &oldset, NULL);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, timeout ? WNOHANG : 0);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			bail("wait for hook %s", path);
		clock_gettime(CLOCK_MONOTONIC, &now);
		// Compare in nanoseconds: whole seconds alone fire up to a second early.
		int64_t elapsed = (int64_t)(now.tv_sec - start.tv_sec) * 1000000000 + (now.tv_nsec - start.tv_nsec);
		if (timeout && elapsed >= (int64_t)timeout * 1000000000) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			errno = 0;
			bail("hook %s timed out after %llus", path, (unsigned long long)timeout);
		}
		struct timespec d = {0, 2000000};
		nanosleep(&d, NULL);
	}
	errno = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		bail("hook %s exited with status %d", path, WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		bail("hook %s killed by signal %d", path, WTERMSIG(status));
}

static void run_op(struct op *o) {
	switch (o->code) {
	case OP_SETNS: {
		int fd = open(S(o, 0), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			bail("open namespace %s", S(o, 0));
		if (setns(fd, (int)U(o, 1)) < 0)
			bail("join namespace %s", S(o, 0));
		close(fd);
		break;
	}
	case OP_UNSHARE:
		if (unshare((int)U(o, 0)) < 0)
			bail("unshare namespaces 0x%llx", (unsigned long long)U(o, 0));
		break;
	case OP_SYNC: {
		char tag = S(o, 0)[0];
		send_msg(tag, NULL, 0);
		wait_ack();
		break;
	}
	case OP_FORK: {
		// CLONE_PARENT makes the container process a child of the runtime itself, so that
		// `run` can wait for it and this intermediate process simply exits.
		pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
		if (pid < 0)
			bail("clone container process");
		if (pid > 0) {
			uint32_t p32 = (uint32_t)pid;
			send_msg('P', &p32, 4);
			_exit(0);
		}
		// The parent acknowledges after it has put us in our cgroups.
		wait_ack();
		break;
	}
	case OP_READPLAN: {
		uint32_t n;
		struct op *more = read_plan(&n);
		run_plan(more, n);
		break;
	}
	case OP_MOUNT: {
		const char *src = S(o, 0), *dst = S(o, 1), *type = S(o, 2), *data = S(o, 4);
		unsigned long flags = (unsigned long)U(o, 3);
		if (*src == 0)
			src = NULL;
		if (*type == 0)
			type = NULL;
		if (*data == 0)
			data = NULL;
		if (mount(src, dst, type, flags, data) < 0)
			bail("mount %s to %s (type %s, flags 0x%lx, data %s)", src ? src : "none", dst,
			     type ? type : "none", flags, data ? data : "");
		break;
	}
	case OP_MOUNTPOINT:
		mount_target(S(o, 0), (int)U(o, 1));
		break;
	case OP_MKDIR:
		mkdir_all(S(o, 0), (mode_t)U(o, 1));
		break;
	case OP_MKNOD: {
		const char *p = S(o, 0);
		if (mknod(p, (mode_t)U(o, 1), (dev_t)U(o, 2)) < 0) {
			if (errno != EEXIST)
				bail("mknod %s", p);
		}
		if (chown(p, (uid_t)U(o, 3), (gid_t)U(o, 4)) < 0)
			bail("chown %s", p);
		if (chmod(p, (mode_t)U(o, 1) & 07777) < 0)
			bail("chmod %s", p);
		break;
	}
	case OP_SYMLINK:
		if (symlink(S(o, 0), S(o, 1)) < 0 && errno != EEXIST)
			bail("symlink %s -> %s", S(o, 1), S(o, 0));
		break;
	case OP_PIVOT: {
		const char *root = S(o, 0);
		int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		if (oldroot < 0)
			bail("open old root");
		if (chdir(root) < 0)
			bail("chdir %s", root);
		// pivot_root(".", ".") stacks the old root on top of the new one; unmounting it
		// afterwards avoids needing a directory for the old root inside the container.
		if (syscall(SYS_pivot_root, ".", ".") < 0)
			bail("pivot_root %s", root);
		if (fchdir(oldroot) < 0)
			bail("fchdir old root");
		if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
			bail("make old root slave");
		if (umount2(".", MNT_DETACH) < 0)
			bail("unmount old root");
		close(oldroot);
		if (chdir("/") < 0)
			bail("chdir /");
		break;
	}
	case OP_CHROOT: {
		const char *root = S(o, 0);
		if (chdir(root) < 0)
			bail("chdir %s", root);
		// A second argument 0: no mount namespace of our own, so the rootfs mount stays where
		// it is (moving it to / would cover the caller's root).
		if ((o->nargs < 2 || U(o, 1)) && mount(root, "/", NULL, MS_MOVE, NULL) < 0)
			bail("move %s to /", root);
		if (chroot(".") < 0)
			bail("chroot %s", root);
		if (chdir("/") < 0)
			bail("chdir /");
		break;
	}
	case OP_CHDIR: {
		if (chdir(S(o, 0)) < 0)
			bail("chdir to cwd %s", S(o, 0));
		// The cwd must lie inside the container's root: a path through a descriptor open on a
		// host directory (/proc/self/fd/N) would leave the process outside it, where ".." leads
		// to the host's root (CVE-2024-21626). The kernel's getcwd then starts with
		// "(unreachable)" instead of "/".
		char cwd[4096];
		long n = syscall(SYS_getcwd, cwd, sizeof cwd);
		if (n < 0 && errno != ENAMETOOLONG)
			bail("getcwd after chdir to %s", S(o, 0));
		if (n >= 0 && cwd[0] != '/') {
			errno = 0;
			bail("current working directory %s is outside of the container's root: possible container breakout", S(o, 0));
		}
		break;
	}
	case OP_HOSTNAME:
		if (sethostname(S(o, 0), o->args[0].len) < 0)
			bail("sethostname %s", S(o, 0));
		break;
	case OP_DOMAINNAME:
		if (setdomainname(S(o, 0), o->args[0].len) < 0)
			bail("setdomainname %s", S(o, 0));
		break;
	case OP_WRITEFILE: {
		const char *p = S(o, 0);
		int fd = open(p, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			bail("open %s", p);
		if (write(fd, S(o, 1), o->args[1].len) != (ssize_t)o->args[1].len)
			bail("write %s", p);
		close(fd);
		break;
	}
	case OP_RLIMIT: {
		struct rlimit rl = {(rlim_t)U(o, 1), (rlim_t)U(o, 2)};
		// EPERM: above the current hard limit (or fs.nr_open) without CAP_SYS_RESOURCE.
		if (setrlimit((int)U(o, 0), &rl) < 0)
			bail("setrlimit %s (soft %llu, hard %llu%s)", S(o, 3), (unsigned long long)rl.rlim_cur,
			     (unsigned long long)rl.rlim_max,
			     errno == EPERM ? "; raising the hard limit needs CAP_SYS_RESOURCE" : "");
		break;
	}
	case OP_PRCTL:
		if (prctl((int)U(o, 0), U(o, 1), U(o, 2), 0, 0) < 0)
			bail("prctl %s", S(o, 3));
		break;
	case OP_SETGROUPS: {
		gid_t g[MAX_ARGS];
		for (uint32_t i = 0; i < o->nargs; i++)
			g[i] = (gid_t)U(o, i);
		if (setgroups(o->nargs, g) < 0)
			bail("setgroups");
		break;
	}
	case OP_SETID: {
		uid_t uid = (uid_t)U(o, 0);
		gid_t gid = (gid_t)U(o, 1);
		if (setresgid(gid, gid, gid) < 0)
			bail("setgid %u", gid);
		if (setresuid(uid, uid, uid) < 0)
			bail("setuid %u", uid);
		break;
	}
	case OP_CAPS:
		do_caps(o);
		break;
	case OP_UMASK:
		umask((mode_t)U(o, 0));
		break;
	case OP_PERSONALITY:
		if (personality((unsigned long)U(o, 0)) < 0)
			bail("personality 0x%llx", (unsigned long long)U(o, 0));
		break;
	case OP_CONSOLE:
		do_console((int)U(o, 0));
		break;
	case OP_SETSID:
		if (setsid() < 0 && errno != EPERM)
			bail("setsid");
		break;
	case OP_WAITSTART: {
		// The exec FIFO is open for reading and writing in this process, so the read blocks
		// until `start` writes its byte.
		int fd = (int)U(o, 0);
		char c;
		ssize_t r;
		do
			r = read(fd, &c, 1);
		while (r < 0 && errno == EINTR);
		if (r != 1)
			bail("wait for start");
		close(fd);
		break;
	}
	case OP_SECCOMP: {
		struct sock_fprog prog;
		prog.len = (unsigned short)(o->args[1].len / sizeof(struct sock_filter));
		prog.filter = (struct sock_filter *)S(o, 1);
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned int)U(o, 0), &prog) < 0) {
			if (errno == ENOSYS || errno == EINVAL) {
				if (U(o, 0) == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0)
					break;
			}
			bail("load seccomp filter");
		}
		break;
	}
	case OP_CLOSEFD:
		close((int)U(o, 0));
		break;
	case OP_CLOEXEC_FROM: {
		// Mark every fd from N up close-on-exec: only the ones the plan keeps reach the container.
		unsigned int from = (unsigned int)U(o, 0);
		if (syscall(SYS_close_range, from, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0 &&
		    cloexec_from_procfs(from) < 0)
			bail("close_range");
		break;
	}
	case OP_MASK: {
		const char *p = S(o, 0);
		struct stat st;
		if (stat(p, &st) < 0) {
			if (errno == ENOENT)
				break;
			bail("stat masked path %s", p);
		}
		if (S_ISDIR(st.st_mode)) {
			if (mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL) < 0)
				bail("mask %s", p);
		} else if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0) {
			bail("mask %s", p);
		}
		break;
	}
	case OP_READONLY: {
		const char *p = S(o, 0);
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				break;
			bail("bind %s read-only", p);
		}
		if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | (unsigned long)U(o, 1), NULL) < 0)
			bail("remount %s read-only", p);
		break;
	}
	case OP_HOOK:
		do_hook(o);
		break;
	case OP_IOPRIO:
		if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (int)U(o, 0)) < 0)
			bail("ioprio_set");
		break;
	case OP_SCHED: {
		// struct sched_attr as the kernel defines it (size 56 with util clamps).
		struct {
			uint32_t size, policy;
			uint64_t flags;
			int32_t nice;
			uint32_t priority;
			uint64_t runtime, deadline, period;
			uint32_t util_min, util_max;
		} attr;
		memset(&attr, 0, sizeof(attr));
		attr.size = sizeof(attr);
		attr.policy = (uint32_t)U(o, 0);
		attr.flags = U(o, 1);
		attr.nice = (int32_t)U(o, 2);
		attr.priority = (uint32_t)U(o, 3);
		attr.runtime = U(o, 4);
		attr.deadline = U(o, 5);
		attr.period = U(o, 6);
		if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
			bail("sched_setattr");
		break;
	}
	case OP_READY:
		send_msg('R', NULL, 0);
		break;
	case OP_LOOKUP:
		do_lookup(o);
		break;
	case OP_KEYRING:
		do_keyring(o);
		break;
	case OP_EXEC:
		do_exec(o);
		break;
	default:
		errno = 0;
		bail("unknown plan operation %u", o->code);
	}
}

static void run_plan(struct op *ops, uint32_t n) {
	for (uint32_t i = 0; i < n; i++) {
		cur_op = (int)i;
		errno = 0;
		run_op(&ops[i]);
	}
}

__attribute__((constructor)) static void berth_nsexec(void) {
	const char *fdstr = getenv("_BERTH_NSEXEC");
	if (!fdstr)
		return;
	sync_fd = atoi(fdstr);
	if (sync_fd <= 2) {
		fprintf(stderr, "berth-runtime init: bad _BERTH_NSEXEC\n");
		_exit(1);
	}
	// Nothing in a container may read our memory or our binary through /proc/PID/exe
	// (CVE-2019-5736): we are not dumpable from here to execve.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		bail("set not dumpable");
	unsetenv("_BERTH_NSEXEC");
	uint32_t n;
	struct op *ops = read_plan(&n);
	run_plan(ops, n);
	// A plan always ends in exec; reaching here is a bug in the plan builder.
	errno = 0;
	bail("plan ended without exec");
}
