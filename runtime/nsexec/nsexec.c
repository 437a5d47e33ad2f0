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
// executes operations and reports the first failure back to the parent as text. The one thing it
// decides itself is what a container path means: only here, at the moment an op runs, is the
// answer true (see "Paths inside the container root" below).
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
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "ops.h"

// The new mount API and openat2, spelled out here so that glibc and musl builds agree (syscall
// numbers from 424 up are the same on every architecture).
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x04
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x40
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 1
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 1
#endif
#define BERTH_FSCONFIG_CMD_CREATE 6
#define BERTH_MOUNT_ATTR_RDONLY 0x1
#define BERTH_MOUNT_ATTR_NOSUID 0x2
#define BERTH_MOUNT_ATTR_NODEV 0x4
#define BERTH_MOUNT_ATTR_NOEXEC 0x8
#define BERTH_MOUNT_ATTR_IDMAP 0x100000
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#define BERTH_PROC_SUPER_MAGIC 0x9fa0

struct berth_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

#define MAX_ARGS 4096

static int root_fd = -1; // the container root (OP_ROOTFD)
static int proc_fd = -1; // a procfs the container cannot redirect (see open_proc)

// cloexec_from_procfs marks fds >= from close-on-exec by walking /proc/self/fd, as runc does. It
// is the fallback for close_range(2) when the container's seccomp profile, loaded earlier in the
// plan (with or without no_new_privs), does not list close_range: older Docker-style profiles deny
// it with EPERM or ENOSYS, but allow open, getdents and fcntl.
// Returns -1 (errno of the close_range failure kept) when /proc cannot be read or an fd cannot be
// marked, so that the caller fails rather than leak an fd into the container; 0 otherwise.
static int cloexec_from_procfs(unsigned int from) {
	int saved = errno;
	int pfd = proc_fd >= 0 ? openat(proc_fd, "self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
			       : open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = pfd < 0 ? NULL : fdopendir(pfd);
	if (!d) {
		if (pfd >= 0)
			close(pfd);
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

// ---- Paths inside the container root ----
//
// Destinations are never resolved by the Go side: a mount changes what a path means, so each op
// resolves its path when it runs, inside the root (root_fd, opened once after the rootfs is a
// mount point), with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS). Missing components are
// created one at a time relative to the fd of their parent, and the mount is made onto the fd,
// never onto a path the kernel would resolve again.

static int null_fd = -1;     // the container's /dev/null, checked to be 1:3 (masks)
static int premount_fd[64];  // detached id-mapped trees made by OP_PREMOUNT, fd + 1

enum { MK_NONE, MK_DIR, MK_FILE };

#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

static int openat2_(int dirfd, const char *path, uint64_t flags, uint64_t resolve) {
	struct open_how how;
	memset(&how, 0, sizeof(how));
	how.flags = flags | O_CLOEXEC;
	how.resolve = resolve;
	for (int i = 0; i < 64; i++) {
		int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		// EAGAIN: a rename raced with a ".." walk; simply try again.
		if (fd >= 0 || errno != EAGAIN)
			return fd;
	}
	return -1;
}

static int is_fs(int fd, long magic) {
	struct statfs sf;
	return fstatfs(fd, &sf) == 0 && (long)sf.f_type == magic;
}

static void need_root(void) {
	if (root_fd < 0) {
		errno = 0;
		bail("plan uses a path in the container root before the root is open");
	}
}

// A path split into components, without empty and "." ones (".." stays: openat2 resolves it
// inside the root).
struct comps {
	char buf[4096];
	char *c[1024];
	int n;
};

static void split(const char *path, struct comps *cs) {
	snprintf(cs->buf, sizeof(cs->buf), "%s", path);
	cs->n = 0;
	char *save = NULL;
	for (char *t = strtok_r(cs->buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (strcmp(t, ".") == 0)
			continue;
		if (cs->n == (int)(sizeof(cs->c) / sizeof(cs->c[0]))) {
			errno = ENAMETOOLONG;
			bail("path %s", path);
		}
		cs->c[cs->n++] = t;
	}
}

// join writes components [from, to) to out, "/"-separated; "." if there are none.
static void join(char *out, size_t len, struct comps *cs, int from, int to) {
	size_t off = 0;
	out[0] = 0;
	for (int i = from; i < to; i++) {
		int n = snprintf(out + off, len - off, "%s%s", off ? "/" : "", cs->c[i]);
		if (n < 0 || (size_t)n >= len - off) {
			errno = ENAMETOOLONG;
			bail("path too long");
		}
		off += (size_t)n;
	}
	if (off == 0)
		snprintf(out, len, ".");
}

static void resolve_fail(const char *what, const char *rel, int nosym) {
	int e = errno;
	errno = 0; // the text below says it better than strerror
	if (e == ELOOP)
		bail("%s /%s: %s", what, rel,
		     nosym ? "a symlink on the way, not allowed here"
			   : "leads through a procfs magic link or a symlink loop, refused");
	if (e == EXDEV)
		bail("%s /%s: leads out of the container root, refused", what, rel);
	errno = e;
	bail("%s /%s", what, rel);
}

// resolve returns an O_PATH fd of rel inside the root, creating what is missing (mk) as
// directories and, for MK_FILE, the last component as an empty file. nofollow: the last
// component must not be a symlink; nosym: no symlink anywhere on the way. A dangling symlink met
// while creating is followed inside the root, as runc does, by starting over at its target.
static int resolve(const char *rel, int mk, int nofollow, int nosym, const char *what) {
	need_root();
	char path[4096];
	if (snprintf(path, sizeof(path), "%s", *rel ? rel : ".") >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		bail("%s /%s", what, rel);
	}
	uint64_t res = IN_ROOT | (nosym ? RESOLVE_NO_SYMLINKS : 0);
	int links = 0;
	for (int round = 0; round < 1024; round++) {
		int fd = openat2_(root_fd, path, O_PATH | (nofollow ? O_NOFOLLOW : 0), res);
		if (fd >= 0) {
			struct stat st;
			if (nofollow && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
				errno = 0;
				bail("%s /%s: the rootfs has a symlink there, refused", what, rel);
			}
			return fd;
		}
		if (errno != ENOENT || mk == MK_NONE)
			resolve_fail(what, rel, nosym);
		static struct comps cs;
		split(path, &cs);
		// The longest prefix that exists; usually the parent.
		char pre[4096];
		int k = cs.n - 1, pfd = -1;
		for (; k >= 0; k--) {
			join(pre, sizeof(pre), &cs, 0, k);
			pfd = openat2_(root_fd, pre, O_PATH | O_DIRECTORY, res);
			if (pfd >= 0)
				break;
			if (errno != ENOENT)
				resolve_fail(what, rel, nosym);
		}
		if (pfd < 0)
			resolve_fail(what, rel, nosym);
		int again = 0;
		for (int i = k; i < cs.n && !again; i++) {
			const char *c = cs.c[i];
			int last = i == cs.n - 1, file = last && mk == MK_FILE;
			if (strcmp(c, "..") == 0) {
				// What is before it exists now: let openat2 walk the ".." inside the root.
				again = 1;
				break;
			}
			int r = file ? openat(pfd, c, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0644)
				     : mkdirat(pfd, c, 0755);
			if (r >= 0 && file)
				close(r);
			if (r < 0 && errno != EEXIST)
				bail("%s /%s: create %s", what, rel, c);
			if (r < 0) {
				struct stat st;
				if (fstatat(pfd, c, &st, AT_SYMLINK_NOFOLLOW) < 0)
					bail("%s /%s: stat %s", what, rel, c);
				if (S_ISLNK(st.st_mode)) {
					if (nofollow && last) {
						errno = 0;
						bail("%s /%s: the rootfs has a symlink there, refused", what, rel);
					}
					if (nosym || ++links > 40) {
						errno = ELOOP;
						resolve_fail(what, rel, nosym);
					}
					char target[4096], rest[4096], head[4096];
					ssize_t n = readlinkat(pfd, c, target, sizeof(target) - 1);
					if (n < 0)
						bail("%s /%s: read symlink %s", what, rel, c);
					target[n] = 0;
					join(head, sizeof(head), &cs, 0, i);
					join(rest, sizeof(rest), &cs, i + 1, cs.n);
					int w = target[0] == '/' ? snprintf(path, sizeof(path), "%s/%s", target + 1, rest)
								 : snprintf(path, sizeof(path), "%s/%s/%s", head, target, rest);
					if (w < 0 || w >= (int)sizeof(path)) {
						errno = ENAMETOOLONG;
						bail("%s /%s", what, rel);
					}
					again = 1;
					break;
				}
			}
			int nfd = openat(pfd, c, O_PATH | O_NOFOLLOW | O_CLOEXEC | (file ? 0 : O_DIRECTORY));
			if (nfd < 0)
				bail("%s /%s: open %s", what, rel, c);
			close(pfd);
			pfd = nfd;
		}
		if (!again)
			return pfd;
		close(pfd);
	}
	errno = ELOOP;
	resolve_fail(what, rel, nosym);
	return -1;
}

// resolve_parent resolves (creating) the directory of rel and returns it; *base is the last
// component, which the caller creates itself with an *at call.
static int resolve_parent(const char *rel, const char **base, const char *what) {
	static char dir[4096];
	snprintf(dir, sizeof(dir), "%s", rel);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		*base = rel + (slash - dir) + 1;
	} else {
		snprintf(dir, sizeof(dir), ".");
		*base = rel;
	}
	if (**base == 0 || strcmp(*base, "..") == 0 || strcmp(*base, ".") == 0) {
		errno = 0;
		bail("%s /%s: not a file name", what, rel);
	}
	return resolve(dir, MK_DIR, 0, 0, what);
}

static void setattr(int fd, unsigned int flags, uint64_t set, uint64_t clr, uint64_t prop, int userns,
		    const char *what, const char *name) {
	struct berth_mount_attr a = {set, clr, prop, (uint64_t)(userns < 0 ? 0 : userns)};
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | flags, &a, sizeof(a)) < 0)
		bail("%s %s: mount_setattr (set 0x%llx, clear 0x%llx, propagation 0x%llx%s)", what, name,
		     (unsigned long long)set, (unsigned long long)clr, (unsigned long long)prop,
		     flags & AT_RECURSIVE ? ", recursive" : "");
}

static int clone_tree(int fd, int recursive, const char *what, const char *name) {
	int t = (int)syscall(SYS_open_tree, fd, "",
			     OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0));
	if (t < 0)
		bail("%s %s: clone the mount", what, name);
	return t;
}

static void attach(int tree, int dfd, const char *what, const char *rel) {
	if (syscall(SYS_move_mount, tree, "", dfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		bail("%s: attach to /%s", what, rel);
}

// open_proc opens the procfs handle that writes into procfs go through: a fresh, detached
// procfs instance (no container mount can sit on it), or where that is refused the /proc of the
// runtime's mount namespace, checked to be procfs. Only fresh instances or /proc opened before
// any container mount are used, so a rootfs or volume can never stand in for it.
static void open_proc(void) {
	if (proc_fd >= 0)
		return;
	int fs = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
	if (fs >= 0) {
		if (syscall(SYS_fsconfig, fs, BERTH_FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
			proc_fd = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
					       BERTH_MOUNT_ATTR_NOSUID | BERTH_MOUNT_ATTR_NODEV | BERTH_MOUNT_ATTR_NOEXEC);
		close(fs);
	}
	if (proc_fd < 0)
		proc_fd = openat2_(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
	if (proc_fd < 0)
		bail("open procfs");
	if (!is_fs(proc_fd, BERTH_PROC_SUPER_MAGIC)) {
		errno = 0;
		bail("/proc is not a procfs");
	}
}

static void proc_write(const char *path, const char *data, size_t len) {
	open_proc();
	// No magic link, no mount crossing, nothing above the procfs root: the file written is the
	// one procfs itself has at that name ("self" is an ordinary symlink to our pid).
	int fd = openat2_(proc_fd, path, O_WRONLY, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
	if (fd < 0)
		bail("open /proc/%s", path);
	if (write(fd, data, len) != (ssize_t)len)
		bail("write /proc/%s", path);
	close(fd);
}

// make_userns returns an fd of a new user namespace with the given id maps, for id-mapped mounts:
// a child that waits in it while we write its maps.
static int make_userns(const char *uidmap, const char *gidmap) {
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		bail("pipe");
	open_proc();
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		bail("create a user namespace for an id-mapped mount");
	if (pid == 0) {
		char c;
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	char path[64];
	snprintf(path, sizeof(path), "%d/uid_map", pid);
	proc_write(path, uidmap, strlen(uidmap));
	snprintf(path, sizeof(path), "%d/gid_map", pid);
	proc_write(path, gidmap, strlen(gidmap));
	snprintf(path, sizeof(path), "%d/ns/user", pid);
	int ns = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		bail("open the id-mapping user namespace");
	close(p[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return ns;
}

static void do_premount(struct op *o) {
	uint64_t idx = U(o, 0), of = U(o, 2);
	const char *src = S(o, 1);
	if (idx >= sizeof(premount_fd) / sizeof(premount_fd[0])) {
		errno = 0;
		bail("too many id-mapped mounts");
	}
	int sfd = open(src, O_PATH | O_CLOEXEC);
	if (sfd < 0)
		bail("bind mount source %s", src);
	int tree = clone_tree(sfd, of & MNT_F_REC, "id-mapped mount of", src);
	close(sfd);
	int ns = make_userns(S(o, 3), S(o, 4));
	struct berth_mount_attr a = {BERTH_MOUNT_ATTR_IDMAP, 0, 0, (uint64_t)ns};
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (of & MNT_F_IDMAPREC ? AT_RECURSIVE : 0), &a, sizeof(a)) < 0)
		bail("id-map mount of %s%s", src,
		     errno == EINVAL ? " (its file system does not support id-mapped mounts)" : "");
	close(ns);
	premount_fd[idx] = tree + 1;
}

static void check_proc_dst(int dfd, const char *rel, uint64_t of) {
	if (of & (MNT_F_PROCOK | MNT_F_PROC))
		return;
	if (is_fs(dfd, BERTH_PROC_SUPER_MAGIC)) {
		errno = 0;
		bail("mount destination /%s is inside procfs: only proc itself and single-file binds over "
		     "/proc/{cpuinfo,meminfo,stat,uptime,loadavg,swaps,diskstats,slabinfo} may go there",
		     rel);
	}
}

static void do_mountat(struct op *o) {
	const char *src = S(o, 0), *rel = S(o, 1), *type = S(o, 2), *data = S(o, 4);
	unsigned long flags = (unsigned long)U(o, 3);
	uint64_t of = U(o, 5), aset = U(o, 6), aclr = U(o, 7), rset = U(o, 8), rclr = U(o, 9);
	int mk = of & MNT_F_DIR ? MK_DIR : of & MNT_F_FILE ? MK_FILE : MK_NONE;
	int nosym = (of & (MNT_F_PROC | MNT_F_PROCOK)) != 0;
	int tree = -1, dfd;
	if (of & MNT_F_BIND) {
		if (src[0] == '@') {
			uint64_t idx = strtoull(src + 1, NULL, 10);
			if (idx >= sizeof(premount_fd) / sizeof(premount_fd[0]) || premount_fd[idx] <= 0) {
				errno = 0;
				bail("mount on /%s: no prepared mount %s", rel, src);
			}
			tree = premount_fd[idx] - 1;
			premount_fd[idx] = 0;
		} else {
			// A host path the caller chose: resolved on the host, following symlinks, once.
			int sfd = open(src, O_PATH | O_CLOEXEC);
			if (sfd < 0)
				bail("bind mount source %s", src);
			tree = clone_tree(sfd, of & MNT_F_REC, "bind mount", src);
			close(sfd);
		}
		if (of & MNT_F_AUTO) {
			struct stat st;
			if (fstat(tree, &st) < 0)
				bail("stat bind mount source %s", src);
			mk = S_ISDIR(st.st_mode) ? MK_DIR : MK_FILE;
		}
		if (aset | aclr)
			setattr(tree, 0, aset, aclr, 0, -1, "bind mount", src);
		if (rset | rclr)
			setattr(tree, AT_RECURSIVE, rset, rclr, 0, -1, "bind mount", src);
	}
	dfd = resolve(rel, mk, (of & MNT_F_NOFOLLOW) != 0, nosym, "mount destination");
	check_proc_dst(dfd, rel, of);
	if (tree >= 0) {
		if (syscall(SYS_move_mount, tree, "", dfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			bail("bind mount %s to /%s", src, rel);
		close(dfd);
		dfd = tree; // from here on the mount itself
	} else {
		char target[32];
		snprintf(target, sizeof(target), "/proc/self/fd/%d", dfd);
		if (mount(*src ? src : NULL, target, *type ? type : NULL, flags, *data ? data : NULL) < 0)
			bail("mount %s to /%s (type %s, flags 0x%lx, data %s)", *src ? src : "none", rel,
			     *type ? type : "none", flags, data);
		if ((of & MNT_F_PROC) || rset || rclr || o->nargs > 10) {
			// The new mount sits on top of what dfd names: look the path up again.
			close(dfd);
			dfd = resolve(rel, MK_NONE, 0, nosym, "mount destination");
		}
		if ((of & MNT_F_PROC) && !is_fs(dfd, BERTH_PROC_SUPER_MAGIC)) {
			errno = 0;
			bail("mount proc to /%s: the result is not procfs", rel);
		}
		if (rset | rclr)
			setattr(dfd, AT_RECURSIVE, rset, rclr, 0, -1, "mount", rel);
	}
	for (uint32_t i = 10; i < o->nargs; i++) {
		uint64_t pf = U(o, i);
		setattr(dfd, pf & MS_REC ? AT_RECURSIVE : 0, 0, 0, pf & ~(uint64_t)MS_REC, -1, "propagation of", rel);
	}
	close(dfd);
}

// do_mask hides rel: a read-only empty tmpfs over a directory, the container's /dev/null over
// anything else, after checking that this /dev/null is the real 1:3 device (a rootfs whose
// /dev/null is a symlink to a host file would otherwise bind that file, CVE-2025-31133).
static void do_mask(const char *rel) {
	int fd = openat2_(root_fd, rel, O_PATH, IN_ROOT);
	if (fd < 0) {
		if (errno == ENOENT)
			return;
		resolve_fail("mask", rel, 0);
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		bail("stat masked path /%s", rel);
	int tree;
	if (S_ISDIR(st.st_mode)) {
		int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
		if (fs < 0 || syscall(SYS_fsconfig, fs, BERTH_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
			bail("mask /%s: create tmpfs", rel);
		tree = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, BERTH_MOUNT_ATTR_RDONLY);
		if (tree < 0)
			bail("mask /%s: mount tmpfs", rel);
		close(fs);
	} else {
		if (null_fd < 0) {
			null_fd = openat2_(root_fd, "dev/null", O_PATH | O_NOFOLLOW, IN_ROOT | RESOLVE_NO_SYMLINKS);
			struct stat ns;
			if (null_fd < 0 || fstat(null_fd, &ns) < 0 || !S_ISCHR(ns.st_mode) || ns.st_rdev != makedev(1, 3)) {
				errno = 0;
				bail("mask /%s: the container's /dev/null is not the 1:3 null device, refused", rel);
			}
		}
		tree = clone_tree(null_fd, 0, "mask", rel);
	}
	attach(tree, fd, "mask", rel);
	close(tree);
	close(fd);
}

// do_readonly makes rel and every mount below it read-only (masks included).
static void do_readonly(const char *rel, uint64_t extra) {
	int fd = openat2_(root_fd, rel, O_PATH, IN_ROOT);
	if (fd < 0) {
		if (errno == ENOENT)
			return;
		resolve_fail("read-only path", rel, 0);
	}
	int tree = clone_tree(fd, 1, "read-only path", rel);
	setattr(tree, AT_RECURSIVE, BERTH_MOUNT_ATTR_RDONLY | extra, 0, 0, -1, "read-only path", rel);
	attach(tree, fd, "read-only path", rel);
	close(tree);
	close(fd);
}

static void do_mknod(struct op *o) {
	const char *rel = S(o, 0), *base;
	mode_t mode = (mode_t)U(o, 1);
	dev_t dev = (dev_t)U(o, 2);
	int pfd = resolve_parent(rel, &base, "device");
	mode_t old = umask(0);
	int r = mknodat(pfd, base, mode, dev);
	umask(old);
	if (r < 0) {
		struct stat st;
		if (errno != EEXIST)
			bail("mknod /%s", rel);
		// Something is there already: leave it if it is this device, and never chown or chmod
		// it otherwise (it may be a symlink to anything).
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			bail("stat /%s", rel);
		if ((st.st_mode & S_IFMT) == (mode & S_IFMT) && (S_ISFIFO(mode) || st.st_rdev == dev)) {
			close(pfd);
			return;
		}
		errno = 0;
		bail("device /%s: the rootfs has %s there, refused", rel,
		     S_ISLNK(st.st_mode) ? "a symlink" : "another file");
	}
	if (fchownat(pfd, base, (uid_t)U(o, 3), (gid_t)U(o, 4), AT_SYMLINK_NOFOLLOW) < 0)
		bail("chown /%s", rel);
	close(pfd);
}

static void do_symlink(const char *target, const char *rel) {
	const char *base;
	int pfd = resolve_parent(rel, &base, "symlink");
	if (symlinkat(target, pfd, base) < 0 && errno != EEXIST)
		bail("symlink /%s -> %s", rel, target);
	close(pfd);
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

// do_console makes the container's pty. The multiplexer is opened inside the root and checked to
// be one, and the other end comes from TIOCGPTPEER rather than a /dev/pts path; with mnt it is
// bound over /dev/console, which the rootfs cannot redirect (a symlink there is refused).
static void do_console(int sock, int mnt, unsigned short rows, unsigned short cols) {
	int rfd = root_fd >= 0 ? root_fd : open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		bail("open /");
	int master = openat2_(rfd, "dev/ptmx", O_RDWR | O_NOCTTY, IN_ROOT);
	if (master < 0)
		bail("open /dev/ptmx");
	struct stat st;
	if (fstat(master, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(5, 2)) {
		errno = 0;
		bail("/dev/ptmx is not the pty multiplexer, refused");
	}
	if (rfd != root_fd)
		close(rfd);
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		bail("unlock pty");
	int ptn;
	if (ioctl(master, TIOCGPTN, &ptn) < 0)
		bail("get pty number");
	char name[64];
	snprintf(name, sizeof(name), "/dev/pts/%d", ptn);
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		bail("open %s", name);
	if (rows || cols) {
		struct winsize ws = {.ws_row = rows, .ws_col = cols};
		if (ioctl(master, TIOCSWINSZ, &ws) < 0)
			bail("set the console size");
	}
	if (mnt) {
		int dfd = resolve("dev/console", MK_FILE, 1, 0, "console");
		struct stat cs;
		if (fstat(dfd, &cs) < 0 || !(S_ISREG(cs.st_mode) || S_ISCHR(cs.st_mode)) || is_fs(dfd, BERTH_PROC_SUPER_MAGIC)) {
			errno = 0;
			bail("/dev/console in the rootfs is not a file or a device, refused");
		}
		int tree = clone_tree(slave, 0, "console", name);
		attach(tree, dfd, "bind the console", "dev/console");
		close(tree);
		close(dfd);
	}

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
		// Nothing of the runtime's reaches the hook (the sync socket, the exec FIFO, the
		// container's console): a hook that leaves a process behind would otherwise hold them,
		// and `start` waits for the FIFO's last holder to go.
		if (syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0 && cloexec_from_procfs(3) < 0)
			_exit(126);
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
		// A file (the console's mount point) is ours or refused: never a symlink followed.
		close(resolve(S(o, 0), U(o, 2) ? MK_FILE : MK_DIR, U(o, 2) != 0, 0, "create"));
		break;
	case OP_MKNOD:
		do_mknod(o);
		break;
	case OP_SYMLINK:
		do_symlink(S(o, 0), S(o, 1));
		break;
	case OP_ROOTFD:
		if (root_fd >= 0)
			close(root_fd);
		root_fd = openat2_(AT_FDCWD, S(o, 0), O_PATH | O_DIRECTORY, 0);
		if (root_fd < 0)
			bail("open rootfs %s", S(o, 0));
		break;
	case OP_MOUNTAT:
		do_mountat(o);
		break;
	case OP_PROCFD:
		open_proc();
		break;
	case OP_PROCWRITE:
		proc_write(S(o, 0), S(o, 1), o->args[1].len);
		break;
	case OP_PREMOUNT:
		do_premount(o);
		break;
	case OP_PIVOT: {
		const char *root = S(o, 0);
		int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		if (oldroot < 0)
			bail("open old root");
		if ((root_fd >= 0 ? fchdir(root_fd) : chdir(root)) < 0)
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
		do_console((int)U(o, 0), (int)U(o, 1), (unsigned short)U(o, 2), (unsigned short)U(o, 3));
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
		// Kept open: it is one of the runtime's fds, closed by the exec of the user process,
		// and `start` returns when its last holder is gone (the FIFO hangs up).
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
	case OP_MASK:
		need_root();
		do_mask(S(o, 0));
		break;
	case OP_READONLY:
		need_root();
		do_readonly(S(o, 0), U(o, 1));
		break;
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
