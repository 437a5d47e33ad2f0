// berth-monitor: the per-container monitor (the conmon role).
//
// It runs from a constructor, before the Go runtime starts, and leaves with _exit(): Go never
// initialises, so an idle monitor costs what a small static C process costs (a few private pages
// of stack, data and buffers), and the text pages it touches are file-backed and shared by every
// monitor on the host. The Go side (package monitor) starts it with _BERTH_MONITOR set and its
// options on the command line (read from /proc/self/cmdline: musl passes constructors no argv).
//
// Life of a monitor: setsid + fork (detach from the engine), become a child subreaper, run the
// OCI runtime's `create` so that the container's init becomes our child once the runtime exits,
// report the result on the sync pipe (fd 3), then serve stdio, logs and the attach socket until
// the init exits; write the exit file first, drain the output, close everything, run the exit
// command and leave. Protocols and file formats are documented in monitor/doc.go.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define SYNC_FD 3
#define CMDLINE_MAX 65536
#define MAX_ARGS 128
#define MAX_CLIENTS 16
// Docker's log copier cuts lines at 16 KiB and marks the pieces partial; we do the same so a
// line without a newline cannot grow a record without bound.
#define LINE_MAX_BYTES 16384
#define FRAME_HDR 5
#define FRAME_MAX 32768
// What a slow attach client may fall behind before it is dropped: the monitor never blocks on a
// client, and never holds more than this per client.
#define CLIENT_OUT_MAX (256 * 1024)
#define CLIENT_IN_MAX (FRAME_HDR + FRAME_MAX)
#define STDIN_MAX FRAME_MAX
#define CREATE_TIMEOUT_MS (120 * 1000)
#define DRAIN_IDLE_MS 200
#define DRAIN_MAX_MS 5000

static struct {
	const char *runtime, *runtime_root, *runtime_log, *bundle, *id, *pid_file;
	const char *exit_file, *attach_socket, *console_socket;
	const char *log_driver, *log_path;
	long long log_max_size;
	int log_max_file;
	int terminal, stdin_open;
	const char *rt_args[MAX_ARGS];
	int n_rt_args;
	const char *exit_argv[MAX_ARGS + 1];
	int n_exit_argv;
} o;

// Health checks (health.h, included below serve's helpers): the hooks called before it.
static int health_flag(const char *flag, const char *v);
static void health_check_args(void);
static void health_reaped(pid_t pid, int ws);

// The container's resolver (dns.h, included below serve's helpers): the hooks called before it.
static int dns_flag(const char *flag, const char *v);
static void dns_reload(void);

static int synced; // the create result went out on the sync pipe: errors now go to stderr only

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...) {
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	int fd = synced ? 2 : SYNC_FD;
	// Best effort: if the engine is gone there is nobody to tell.
	ssize_t w = write(fd, buf, (size_t)n);
	(void)w;
}

// fail reports a fatal error and leaves. Before the sync message it is the engine's answer;
// after it there is no one waiting, so it goes to the monitor's stderr (a file the engine may give).
static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...) {
	char msg[900];
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (e)
		say("error %s: %s\n", msg, strerror(e));
	else
		say("error %s\n", msg);
	_exit(1);
}

static ssize_t write_all(int fd, const void *p, size_t n) {
	const char *c = p;
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, c + done, n - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)w;
	}
	return (ssize_t)done;
}

static void set_nonblock(int fd) {
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		fail("set O_NONBLOCK");
}

#ifndef SYS_close_range
#define SYS_close_range 436 // the same number on every architecture
#endif

// close_extra_fds closes every fd above the sync pipe: whatever the engine's process leaked
// to us would otherwise live as long as the container, and reach the runtime and the init.
static void close_extra_fds(void) {
	if (syscall(SYS_close_range, SYNC_FD + 1, ~0U, 0) == 0)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		fail("open /proc/self/fd");
	int self = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (fd > SYNC_FD && fd != self)
			close(fd);
	}
	closedir(d);
}

/* ---- options ---- */

static char cmdline[CMDLINE_MAX];

static long long parse_num(const char *flag, const char *v) {
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end || n < 0)
		fail("bad %s %s", flag, v);
	return n;
}

static void parse_args(void) {
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open /proc/self/cmdline");
	size_t len = 0;
	for (;;) {
		if (len == sizeof cmdline - 1)
			fail("command line longer than %d bytes", CMDLINE_MAX - 1);
		ssize_t n = read(fd, cmdline + len, sizeof cmdline - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("read /proc/self/cmdline");
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	cmdline[len] = 0;
	const char *argv[2 * MAX_ARGS + 16];
	int argc = 0;
	for (size_t i = 0; i < len; i += strlen(cmdline + i) + 1) {
		if (argc == (int)(sizeof argv / sizeof argv[0]))
			fail("too many arguments");
		argv[argc++] = cmdline + i;
	}
	o.log_driver = "none";
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i];
		if (!strcmp(f, "--terminal")) {
			o.terminal = 1;
			continue;
		}
		if (!strcmp(f, "--stdin")) {
			o.stdin_open = 1;
			continue;
		}
		if (i + 1 >= argc)
			fail("flag %s needs a value", f);
		const char *v = argv[++i];
		if (health_flag(f, v) || dns_flag(f, v))
			continue;
		if (!strcmp(f, "--runtime"))
			o.runtime = v;
		else if (!strcmp(f, "--runtime-root"))
			o.runtime_root = v;
		else if (!strcmp(f, "--runtime-log"))
			o.runtime_log = v;
		else if (!strcmp(f, "--runtime-arg")) {
			if (o.n_rt_args == MAX_ARGS)
				fail("too many --runtime-arg");
			o.rt_args[o.n_rt_args++] = v;
		} else if (!strcmp(f, "--bundle"))
			o.bundle = v;
		else if (!strcmp(f, "--id"))
			o.id = v;
		else if (!strcmp(f, "--pid-file"))
			o.pid_file = v;
		else if (!strcmp(f, "--exit-file"))
			o.exit_file = v;
		else if (!strcmp(f, "--attach-socket"))
			o.attach_socket = v;
		else if (!strcmp(f, "--console-socket"))
			o.console_socket = v;
		else if (!strcmp(f, "--log-driver"))
			o.log_driver = v;
		else if (!strcmp(f, "--log-path"))
			o.log_path = v;
		else if (!strcmp(f, "--log-max-size"))
			o.log_max_size = parse_num(f, v);
		else if (!strcmp(f, "--log-max-file"))
			o.log_max_file = (int)parse_num(f, v);
		else if (!strcmp(f, "--exit-command-arg")) {
			if (o.n_exit_argv == MAX_ARGS)
				fail("too many --exit-command-arg");
			o.exit_argv[o.n_exit_argv++] = v;
		} else
			fail("unknown flag %s", f);
	}
	if (!o.runtime || !o.bundle || !o.id || !o.pid_file || !o.exit_file)
		fail("--runtime, --bundle, --id, --pid-file and --exit-file are required");
	if (o.terminal && !o.console_socket)
		fail("--terminal needs --console-socket");
	if (strcmp(o.log_driver, "none") && strcmp(o.log_driver, "json-file") && strcmp(o.log_driver, "k8s-file"))
		fail("unknown log driver %s", o.log_driver);
	if (strcmp(o.log_driver, "none") && !o.log_path)
		fail("log driver %s needs --log-path", o.log_driver);
	if (o.log_path && strlen(o.log_path) > PATH_MAX - 16)
		fail("log path too long");
	if (o.log_max_file < 1)
		o.log_max_file = 1;
	if (o.log_max_file > 1000)
		fail("--log-max-file above 1000");
	health_check_args();
}

/* ---- time ---- */

// rfc3339nano formats t as Go's time.RFC3339Nano in UTC (trailing zeros of the fraction trimmed),
// the form Docker's json-file and the CRI log format carry.
static void rfc3339nano(const struct timespec *t, char out[40]) {
	struct tm tm;
	time_t s = t->tv_sec;
	if (!gmtime_r(&s, &tm)) {
		strcpy(out, "1970-01-01T00:00:00Z");
		return;
	}
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	long ns = t->tv_nsec;
	if (ns > 0 && ns < 1000000000) {
		char frac[24];
		snprintf(frac, sizeof frac, ".%09ld", ns);
		int e = 9;
		while (frac[e] == '0')
			e--;
		frac[e + 1] = 0;
		memcpy(out + n, frac, (size_t)e + 2);
		n += (size_t)e + 1;
	}
	out[n] = 'Z';
	out[n + 1] = 0;
}

static void now(struct timespec *t) {
	if (clock_gettime(CLOCK_REALTIME, t) < 0)
		t->tv_sec = 0, t->tv_nsec = 0;
}

/* ---- logs ---- */

static int log_fd = -1;
static long long log_size;
static int log_kind; // 0 none, 1 json-file, 2 k8s-file
static int log_broken; // a write failed (disk full?): stop logging rather than spin on errors

static int log_open(void) {
	log_fd = open(o.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (log_fd < 0)
		return -1;
	struct stat st;
	if (fstat(log_fd, &st) < 0)
		return -1;
	log_size = st.st_size;
	return 0;
}

// log_rotate shifts name.log.N-1 .. name.log to name.log.N .. name.log.1, as Docker's json-file
// does, so that a reader following name.log sees the path move to a new inode while its open fd
// keeps the old content. max-file 1 truncates in place instead.
static void log_rotate(void) {
	if (o.log_max_file <= 1) {
		if (ftruncate(log_fd, 0) < 0) {
			say("monitor: truncate log: %s\n", strerror(errno));
			log_broken = 1;
		}
		log_size = 0;
		return;
	}
	char from[PATH_MAX], to[PATH_MAX];
	for (int i = o.log_max_file - 1; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof from, "%s", o.log_path);
		else
			snprintf(from, sizeof from, "%s.%d", o.log_path, i - 1);
		snprintf(to, sizeof to, "%s.%d", o.log_path, i);
		if (rename(from, to) < 0 && errno != ENOENT)
			say("monitor: rotate %s: %s\n", from, strerror(errno));
	}
	close(log_fd);
	log_fd = -1;
	if (log_open() < 0) {
		// The container must go on, and the monitor with it (its exit status matters more
		// than its log): logging stops.
		say("monitor: reopen log %s: %s\n", o.log_path, strerror(errno));
		log_broken = 1;
	}
}

static char rec[LINE_MAX_BYTES * 6 + 256];

static size_t json_escape(char *dst, const char *s, size_t n) {
	static const char hex[] = "0123456789abcdef";
	size_t d = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': dst[d++] = '\\'; dst[d++] = '"'; break;
		case '\\': dst[d++] = '\\'; dst[d++] = '\\'; break;
		case '\n': dst[d++] = '\\'; dst[d++] = 'n'; break;
		case '\r': dst[d++] = '\\'; dst[d++] = 'r'; break;
		case '\t': dst[d++] = '\\'; dst[d++] = 't'; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				memcpy(dst + d, "\\u00", 4);
				dst[d + 4] = hex[c >> 4];
				dst[d + 5] = hex[c & 15];
				d += 6;
			} else
				dst[d++] = (char)c;
		}
	}
	return d;
}

static const char *stream_name[2] = {"stdout", "stderr"};

// log_record writes one record: a whole line (complete, its newline included in data) or a
// partial piece. n <= LINE_MAX_BYTES + 1.
static void log_record(int s, const char *data, size_t n, int complete) {
	if (!log_kind || log_broken)
		return;
	struct timespec t;
	char ts[40];
	now(&t);
	rfc3339nano(&t, ts);
	size_t r;
	if (log_kind == 1) {
		r = (size_t)snprintf(rec, sizeof rec, "{\"log\":\"");
		r += json_escape(rec + r, data, n);
		r += (size_t)snprintf(rec + r, sizeof rec - r, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream_name[s], ts);
	} else {
		if (complete)
			n--; // the CRI format ends every record with a newline of its own; F says it was there
		r = (size_t)snprintf(rec, sizeof rec, "%s %s %c ", ts, stream_name[s], complete ? 'F' : 'P');
		memcpy(rec + r, data, n);
		r += n;
		rec[r++] = '\n';
	}
	if (o.log_max_size > 0 && log_size > 0 && log_size + (long long)r > o.log_max_size)
		log_rotate();
	if (write_all(log_fd, rec, r) < 0) {
		say("monitor: write log: %s\n", strerror(errno));
		log_broken = 1;
		return;
	}
	log_size += (long long)r;
}

static struct {
	char buf[LINE_MAX_BYTES];
	size_t len;
} line[2];

// log_data splits output into lines, cutting at LINE_MAX_BYTES as Docker does.
static void log_data(int s, const char *p, size_t n) {
	if (!log_kind)
		return;
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) + 1 : n;
		size_t room = LINE_MAX_BYTES - line[s].len;
		if (take > room) {
			// No newline within the limit: emit what fills the buffer as a partial record.
			memcpy(line[s].buf + line[s].len, p, room);
			log_record(s, line[s].buf, LINE_MAX_BYTES, 0);
			line[s].len = 0;
			p += room, n -= room;
			continue;
		}
		memcpy(line[s].buf + line[s].len, p, take);
		line[s].len += take;
		p += take, n -= take;
		if (nl) {
			log_record(s, line[s].buf, line[s].len, 1);
			line[s].len = 0;
		}
	}
}

static void log_flush(void) {
	for (int s = 0; s < 2; s++)
		if (line[s].len) {
			log_record(s, line[s].buf, line[s].len, 0);
			line[s].len = 0;
		}
}

/* ---- attach clients ---- */

struct client {
	int fd;
	char *out; // pending frames (CLIENT_OUT_MAX)
	size_t out_len;
	char *in; // a partial frame from the client (CLIENT_IN_MAX)
	size_t in_len;
};
static struct client clients[MAX_CLIENTS];
static int attach_fd = -1;
static int out_fd[2] = {-1, -1}; // container stdout, stderr (or the pty master as stdout)
static int stdin_fd = -1;        // our end of the container's stdin (the pty master with a terminal)
static char stdin_buf[STDIN_MAX];
static size_t stdin_len;
static int stdin_close_pending;

static void client_drop(struct client *c) {
	if (c->fd < 0)
		return;
	close(c->fd);
	free(c->out);
	free(c->in);
	c->fd = -1;
	c->out = c->in = NULL;
	c->out_len = c->in_len = 0;
}

static void client_flush(struct client *c);

static void client_accept(void) {
	int fd = accept4(attach_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return; // the client went away before we accepted: nothing to do
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd >= 0)
			continue;
		c->out = malloc(CLIENT_OUT_MAX);
		c->in = malloc(CLIENT_IN_MAX);
		if (!c->out || !c->in) {
			free(c->out), free(c->in);
			c->out = c->in = NULL;
			break;
		}
		c->fd = fd;
		// The welcome frame tells the client that it gets all output from here on: a client
		// that starts the container only after it saw this misses nothing.
		memcpy(c->out, "a\0\0\0\0", FRAME_HDR);
		c->out_len = FRAME_HDR;
		client_flush(c);
		return;
	}
	close(fd); // full, or out of memory: refuse by hanging up
}

static void client_flush(struct client *c) {
	while (c->out_len > 0) {
		ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) {
			client_drop(c);
			return;
		}
		memmove(c->out, c->out + w, c->out_len - (size_t)w);
		c->out_len -= (size_t)w;
	}
}

static void client_frame(struct client *c, char type, const char *p, size_t n) {
	while (c->fd >= 0 && n > 0) {
		size_t chunk = n > FRAME_MAX ? FRAME_MAX : n;
		if (c->out_len + FRAME_HDR + chunk > CLIENT_OUT_MAX) {
			client_drop(c); // too slow: dropping it keeps the container's output flowing
			return;
		}
		char *h = c->out + c->out_len;
		h[0] = type;
		h[1] = (char)(chunk >> 24), h[2] = (char)(chunk >> 16), h[3] = (char)(chunk >> 8), h[4] = (char)chunk;
		memcpy(h + FRAME_HDR, p, chunk);
		c->out_len += FRAME_HDR + chunk;
		p += chunk, n -= chunk;
	}
	if (c->fd >= 0)
		client_flush(c);
}

static void broadcast(char type, const char *p, size_t n) {
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			client_frame(&clients[i], type, p, n);
}

static void stdin_close(void) {
	if (stdin_fd >= 0 && !o.terminal)
		close(stdin_fd);
	if (!o.terminal)
		stdin_fd = -1;
	stdin_close_pending = 0;
}

// client_frames handles the complete frames in c->in; it stops at stdin input while stdin_buf
// is still full so that a container that does not read its stdin applies back-pressure to the
// client instead of to the monitor.
static void client_frames(struct client *c) {
	size_t off = 0;
	while (c->in_len - off >= FRAME_HDR) {
		unsigned char *h = (unsigned char *)c->in + off;
		uint32_t n = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
		if (n > FRAME_MAX) {
			client_drop(c);
			return;
		}
		if (c->in_len - off < FRAME_HDR + n)
			break;
		const char *p = (const char *)h + FRAME_HDR;
		if (h[0] == 'i') {
			if (stdin_fd < 0 || stdin_close_pending)
				; // stdin is closed or was not asked for: input is dropped, as docker attach does
			else if (stdin_len + n > sizeof stdin_buf)
				break;
			else {
				memcpy(stdin_buf + stdin_len, p, n);
				stdin_len += n;
			}
		} else if (h[0] == 'c') {
			if (stdin_len)
				stdin_close_pending = 1;
			else
				stdin_close();
		} else if (h[0] == 'r' && n == 4 && o.terminal && stdin_fd >= 0) {
			struct winsize ws = {.ws_row = (unsigned short)((unsigned char)p[0] << 8 | (unsigned char)p[1]),
			                     .ws_col = (unsigned short)((unsigned char)p[2] << 8 | (unsigned char)p[3])};
			if (ioctl(stdin_fd, TIOCSWINSZ, &ws) < 0)
				say("monitor: resize: %s\n", strerror(errno));
		}
		off += FRAME_HDR + n;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

static void client_read(struct client *c) {
	ssize_t n = read(c->fd, c->in + c->in_len, CLIENT_IN_MAX - c->in_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		client_drop(c);
		return;
	}
	c->in_len += (size_t)n;
	client_frames(c);
}

static void stdin_write(void) {
	ssize_t w = write(stdin_fd, stdin_buf, stdin_len);
	if (w < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (w < 0) {
		// The container closed its stdin (EPIPE) or the pty is gone: what is queued is lost.
		stdin_len = 0;
		stdin_close();
	} else {
		memmove(stdin_buf, stdin_buf + w, stdin_len - (size_t)w);
		stdin_len -= (size_t)w;
		if (!stdin_len && stdin_close_pending)
			stdin_close();
	}
	// Room again (or stdin gone, and held input is dropped): frames held back in clients can go on.
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0 && clients[i].in_len)
			client_frames(&clients[i]);
}

/* ---- output ---- */

static char iobuf[FRAME_MAX];

// output_read moves one read of stream s to the log and the attach clients. It returns 0 at
// EOF (or EIO: a pty whose slave side is closed everywhere), 1 otherwise.
static int output_read(int s) {
	ssize_t n = read(out_fd[s], iobuf, sizeof iobuf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	log_data(s, iobuf, (size_t)n);
	broadcast(s ? 'e' : 'o', iobuf, (size_t)n);
	return 1;
}

static void output_close(int s) {
	if (out_fd[s] < 0)
		return;
	if (o.terminal && out_fd[s] == stdin_fd)
		stdin_fd = -1;
	close(out_fd[s]);
	out_fd[s] = -1;
	// A stream that ended mid-line is flushed as a partial record, as Docker does at EOF.
	if (line[s].len) {
		log_record(s, line[s].buf, line[s].len, 0);
		line[s].len = 0;
	}
}

/* ---- the runtime ---- */

// run_runtime forks and execs the OCI runtime with the runtime's global flags, then args
// (NULL-terminated). stdio are the fds the container (or `start`) inherits.
static pid_t run_runtime(const char *const *args, int in, int out, int err) {
	const char *argv[MAX_ARGS + 32];
	int n = 0;
	argv[n++] = o.runtime;
	if (o.runtime_root)
		argv[n++] = "--root", argv[n++] = o.runtime_root;
	if (o.runtime_log)
		argv[n++] = "--log", argv[n++] = o.runtime_log, argv[n++] = "--log-format", argv[n++] = "json";
	for (int i = 0; i < o.n_rt_args; i++)
		argv[n++] = o.rt_args[i];
	for (int i = 0; args[i] && n < (int)(sizeof argv / sizeof argv[0]) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		fail("fork the runtime");
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(126);
		execv(o.runtime, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static int console_listen(void) {
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(o.console_socket) >= sizeof sa.sun_path)
		fail("console socket path too long");
	strcpy(sa.sun_path, o.console_socket);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		fail("console socket");
	unlink(o.console_socket);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1) < 0)
		fail("listen on %s", o.console_socket);
	return fd;
}

// console_receive takes the pty master the runtime sends as SCM_RIGHTS on a connection.
static int console_receive(int conn) {
	char name[4096];
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = name, .iov_len = sizeof name};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	ssize_t n = recvmsg(conn, &m, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -2 : -1;
	int master = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int fds[4];
		memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)(nfd > 4 ? 4 : nfd));
		for (int i = 0; i < nfd && i < 4; i++) {
			if (master < 0)
				master = fds[i];
			else
				close(fds[i]); // one master is the protocol; extra fds must not leak
		}
	}
	return master;
}

static int sigfd = -1;

static int read_pid_file(void) {
	char buf[32];
	int fd = open(o.pid_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open pid file %s", o.pid_file);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		fail("read pid file %s", o.pid_file);
	buf[n] = 0;
	errno = 0;
	char *end;
	long pid = strtol(buf, &end, 10);
	if (pid <= 0 || pid > INT_MAX || (*end && *end != '\n'))
		fail("bad pid file %s", o.pid_file);
	return (int)pid;
}

// create runs `runtime create` and waits for it, taking the pty master on the way when the
// container has a terminal. It returns the runtime's exit status.
static int create(int in, int out, int err) {
	int lfd = -1, conn = -1, master = -1;
	if (o.terminal)
		lfd = console_listen();
	const char *args[] = {"create", "--bundle", o.bundle, "--pid-file", o.pid_file,
	                      o.terminal ? "--console-socket" : o.id, o.terminal ? o.console_socket : NULL, o.id, NULL};
	if (!o.terminal)
		args[6] = NULL;
	pid_t rt = run_runtime(args, in, out, err);
	int status = -1;
	struct timespec start, t;
	now(&start);
	while (status < 0) {
		struct pollfd p[3] = {{sigfd, POLLIN, 0}, {lfd, POLLIN, 0}, {conn, POLLIN, 0}};
		now(&t);
		long elapsed = (t.tv_sec - start.tv_sec) * 1000 + (t.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed > CREATE_TIMEOUT_MS) {
			kill(rt, SIGKILL);
			errno = 0;
			fail("runtime create did not finish in %d s", CREATE_TIMEOUT_MS / 1000);
		}
		if (poll(p, 3, 1000) < 0 && errno != EINTR)
			fail("poll");
		if (p[1].revents & POLLIN && conn < 0)
			conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (p[2].revents & (POLLIN | POLLHUP)) {
			int m = console_receive(conn);
			if (m >= 0 && master < 0)
				master = m;
			else if (m >= 0)
				close(m);
			if (m != -2) {
				close(conn);
				conn = -1;
			}
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof si) < 0 && errno != EAGAIN && errno != EINTR)
				fail("read signalfd");
			int ws;
			pid_t w;
			while ((w = waitpid(-1, &ws, WNOHANG)) > 0)
				if (w == rt)
					status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
		}
	}
	if (conn >= 0) {
		// The runtime may have sent the master just before exiting.
		int m = console_receive(conn);
		if (m >= 0 && master < 0)
			master = m;
		else if (m >= 0)
			close(m);
		close(conn);
	}
	if (lfd >= 0) {
		close(lfd);
		unlink(o.console_socket);
	}
	if (o.terminal && status == 0) {
		if (master < 0) {
			errno = 0;
			fail("the runtime sent no pty master");
		}
		out_fd[0] = master;
		stdin_fd = master;
	} else if (master >= 0)
		close(master);
	return status;
}

/* ---- exit ---- */

static int init_pid;
static int exit_code = -1, exit_signal;
static struct timespec exit_time;

// write_exit_file records the status with write-to-temporary + rename, so that a reader sees no
// file or a whole one, never a torn one.
static void write_exit_file(void) {
	char ts[40], tmp[PATH_MAX], buf[160];
	rfc3339nano(&exit_time, ts);
	int n = snprintf(buf, sizeof buf, "{\"exitCode\":%d,\"signal\":%d,\"time\":\"%s\"}\n", exit_code, exit_signal, ts);
	if (snprintf(tmp, sizeof tmp, "%s.tmp", o.exit_file) >= (int)sizeof tmp) {
		say("monitor: exit file path too long\n");
		return;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, buf, (size_t)n) < 0 || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, o.exit_file) < 0)
		say("monitor: write exit file %s: %s\n", o.exit_file, strerror(errno));
}

static void reap(void) {
	struct signalfd_siginfo si;
	int hup = 0;
	while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
		hup |= si.ssi_signo == SIGHUP;
	if (hup)
		dns_reload(); // the engine rewrote the DNS config (connect, disconnect)
	int ws;
	pid_t w;
	// As a subreaper we also inherit the container's orphans when it has no pid namespace of its
	// own, and exec sessions' processes: all are reaped, only the init's status counts.
	while ((w = waitpid(-1, &ws, WNOHANG)) > 0) {
		health_reaped(w, ws);
		if (w != init_pid || exit_code >= 0)
			continue;
		now(&exit_time);
		if (WIFEXITED(ws))
			exit_code = WEXITSTATUS(ws);
		else {
			exit_signal = WTERMSIG(ws);
			exit_code = 128 + exit_signal;
		}
		write_exit_file();
	}
}

static long ms_since(const struct timespec *a) {
	struct timespec t;
	now(&t);
	return (t.tv_sec - a->tv_sec) * 1000 + (t.tv_nsec - a->tv_nsec) / 1000000;
}

#include "health.h"
#include "dns.h"

static void dns_reload(void) { dns_load_config(); }

static void serve(void) {
	struct timespec exited_at = {0};
	for (;;) {
		struct pollfd p[5 + MAX_CLIENTS + 2 + DNS_POLL_SLOTS];
		p[0] = (struct pollfd){sigfd, POLLIN, 0};
		p[1] = (struct pollfd){out_fd[0], POLLIN, 0};
		p[2] = (struct pollfd){out_fd[1], POLLIN, 0};
		p[3] = (struct pollfd){exit_code < 0 ? attach_fd : -1, POLLIN, 0};
		p[4] = (struct pollfd){stdin_len ? stdin_fd : -1, POLLOUT, 0};
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &clients[i];
			short ev = 0;
			if (c->fd >= 0 && c->in_len < CLIENT_IN_MAX)
				ev |= POLLIN;
			if (c->fd >= 0 && c->out_len)
				ev |= POLLOUT;
			p[5 + i] = (struct pollfd){ev ? c->fd : -1, ev, 0};
		}
		health_poll(&p[5 + MAX_CLIENTS]);
		dns_poll(&p[5 + MAX_CLIENTS + 2], exit_code < 0);
		int timeout = dns_busy() ? 1000 : -1; // forwarded queries and connections expire
		if (exit_code >= 0) {
			// The init is gone: drain what its processes wrote, but do not wait forever for a
			// pipe that an escaped process still holds open.
			if ((out_fd[0] < 0 && out_fd[1] < 0) || ms_since(&exited_at) > DRAIN_MAX_MS)
				return;
			timeout = DRAIN_IDLE_MS;
		}
		int n = poll(p, 5 + MAX_CLIENTS + 2 + DNS_POLL_SLOTS, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("poll");
		if (n == 0 && exit_code >= 0)
			return; // nothing more came within the idle time
		if (p[0].revents & POLLIN) {
			reap();
			if (exit_code >= 0 && exited_at.tv_sec == 0) {
				now(&exited_at);
				health_stop();
			}
		}
		health_events(&p[5 + MAX_CLIENTS]);
		dns_events(&p[5 + MAX_CLIENTS + 2]);
		for (int s = 0; s < 2; s++)
			if (p[1 + s].revents & (POLLIN | POLLHUP | POLLERR))
				if (!output_read(s))
					output_close(s);
		if (p[3].revents & POLLIN)
			client_accept();
		if (p[4].revents & (POLLOUT | POLLERR | POLLHUP))
			stdin_write();
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &clients[i];
			if (c->fd < 0 || p[5 + i].fd != c->fd)
				continue;
			if (p[5 + i].revents & POLLOUT)
				client_flush(c);
			if (c->fd >= 0 && p[5 + i].revents & (POLLIN | POLLHUP | POLLERR))
				client_read(c);
		}
	}
}

// finish tells attached clients the exit status, gives them a bounded time to take what is
// queued, and hangs up.
static void finish_clients(void) {
	char buf[160], ts[40];
	rfc3339nano(&exit_time, ts);
	int n = snprintf(buf, sizeof buf, "{\"exitCode\":%d,\"signal\":%d,\"time\":\"%s\"}", exit_code, exit_signal, ts);
	broadcast('x', buf, (size_t)n);
	struct timespec start;
	now(&start);
	for (;;) {
		struct pollfd p[MAX_CLIENTS];
		int any = 0;
		for (int i = 0; i < MAX_CLIENTS; i++) {
			p[i] = (struct pollfd){clients[i].out_len ? clients[i].fd : -1, POLLOUT, 0};
			any |= p[i].fd >= 0;
		}
		if (!any || ms_since(&start) > 1000)
			break;
		if (poll(p, MAX_CLIENTS, 100) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (p[i].revents)
				client_flush(&clients[i]);
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		client_drop(&clients[i]);
}

static void run_exit_command(void) {
	if (!o.n_exit_argv)
		return;
	o.exit_argv[o.n_exit_argv] = NULL;
	pid_t pid = fork();
	if (pid < 0) {
		say("monitor: fork the exit command: %s\n", strerror(errno));
		return;
	}
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		execv(o.exit_argv[0], (char *const *)o.exit_argv);
		_exit(127);
	}
	// Not waited for: the hook (the engine's clean-up) may take its time; when we exit it is
	// reparented to init, which reaps it.
}

static int attach_listen(void) {
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(o.attach_socket) >= sizeof sa.sun_path)
		fail("attach socket path too long (%zu bytes, at most %zu)", strlen(o.attach_socket), sizeof sa.sun_path - 1);
	strcpy(sa.sun_path, o.attach_socket);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		fail("attach socket");
	unlink(o.attach_socket);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(o.attach_socket, 0600) < 0 || listen(fd, 8) < 0)
		fail("listen on %s", o.attach_socket);
	return fd;
}

__attribute__((constructor)) static void berth_monitor(void) {
	if (!getenv("_BERTH_MONITOR"))
		return;
	unsetenv("_BERTH_MONITOR");
	if (fcntl(SYNC_FD, F_SETFD, FD_CLOEXEC) < 0) {
		// No sync pipe: nobody to report to.
		_exit(2);
	}
	close_extra_fds();
	parse_args();
	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;

	// Detach: a session of our own, so that the CLI's terminal and its job-control signals never
	// reach us; then fork, so that the engine's wait returns at once and we, no longer a session
	// leader, can never acquire a controlling terminal (the pty master we will hold must not).
	if (setsid() < 0)
		fail("setsid");
	pid_t pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid > 0)
		_exit(0);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		fail("become a subreaper");
	if (chdir("/") < 0)
		fail("chdir /");
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fail("ignore SIGPIPE");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		fail("block SIGCHLD");
	sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		fail("signalfd");
	say("monitor %d\n", (int)getpid());

	if (!strcmp(o.log_driver, "json-file"))
		log_kind = 1;
	else if (!strcmp(o.log_driver, "k8s-file"))
		log_kind = 2;
	if (log_kind && log_open() < 0)
		fail("open log %s", o.log_path);
	if (o.attach_socket)
		attach_fd = attach_listen();

	// The container's stdio. Our ends are close-on-exec so that neither the runtime nor the
	// container holds them (a container holding its own stdout's read end would never see EOF).
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		fail("open /dev/null");
	int in = null, out = null, err = null;
	int pin[2] = {-1, -1}, pout[2], perr[2];
	if (!o.terminal) {
		if (pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0)
			fail("pipe");
		if (o.stdin_open) {
			if (pipe2(pin, O_CLOEXEC) < 0)
				fail("pipe");
			in = pin[0];
			stdin_fd = pin[1];
			set_nonblock(stdin_fd);
		}
		out = pout[1], err = perr[1];
		out_fd[0] = pout[0], out_fd[1] = perr[0];
	}
	dns_setup(); // before the create: the container cannot take 127.0.0.11:53 first
	int status = create(in, out, err);
	if (!o.terminal) {
		close(pout[1]), close(perr[1]);
		if (pin[0] >= 0)
			close(pin[0]);
	}
	close(null);
	if (status != 0) {
		errno = 0;
		fail("create-failed %d", status);
	}
	init_pid = read_pid_file();
	for (int s = 0; s < 2; s++)
		if (out_fd[s] >= 0)
			set_nonblock(out_fd[s]);
	say("pid %d\n", init_pid);
	close(SYNC_FD);
	synced = 1;
	health_start();

	serve();
	log_flush();
	finish_clients();
	if (log_fd >= 0)
		close(log_fd);
	if (attach_fd >= 0) {
		close(attach_fd);
		unlink(o.attach_socket);
	}
	if (exit_code < 0)
		say("monitor: gave up waiting for the init\n");
	run_exit_command();
	_exit(0);
}
