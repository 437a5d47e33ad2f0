// The container's DNS resolver (issue 12): the monitor answers its own container's queries on
// 127.0.0.11:53 inside the container's network namespace, from the records files of the user
// networks the container is on, and forwards the rest to the upstreams from the engine's
// namespace. Included by monitor.c (one translation unit); formats are in monitor/doc.go.
//
// Everything a query touches is read from the container, which may be hostile: every read of a
// packet is bounds-checked, and memory is fixed (a few static buffers, a small pending table,
// the records files as read).
#include <sched.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/random.h>

#define DNS_PORT 53
#define DNS_MAX_FILES 16
#define DNS_MAX_UPSTREAMS 4
#define DNS_FILE_MAX (1 << 20) // a records file larger than this is ignored: no network has that many
#define DNS_PENDING 64
#define DNS_FORWARD_MS 5000
#define DNS_TTL 600 // Docker's embedded resolver's
#define DNS_UDP_MAX 512

struct dns_file {
	const char *path; // the config's: the command line; a records file's: a line of the config's data
	int fd; // held open, so that the inode compared at each query cannot be reused by another file
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	char *data; // NUL-terminated contents; NULL: missing or unreadable
};

static struct {
	const char *config, *netns;
	int netns_fd, own_fd;
	int fd;           // UDP 127.0.0.11:53 in the container's namespace; -1 while on no user network
	int tcp_fd;       // TCP 127.0.0.11:53 there (a client retries a truncated answer over TCP)
	int up_fd[2];     // upstream sockets (IPv4, IPv6) in the monitor's own namespace
	struct dns_file conf;
	struct dns_file rec[DNS_MAX_FILES];
	int n_rec;
	struct sockaddr_storage up[DNS_MAX_UPSTREAMS];
	socklen_t up_len[DNS_MAX_UPSTREAMS];
	int n_up;
} dns = {.netns_fd = -1, .own_fd = -1, .fd = -1, .tcp_fd = -1, .up_fd = {-1, -1}};

static struct dns_pending {
	int used;
	uint16_t id, orig_id;
	int up; // index into dns.up
	struct sockaddr_in client;
	long long deadline; // mono ms
} pend[DNS_PENDING];
static int n_pend;

static unsigned char dns_buf[4096]; // one datagram in, or an upstream's reply
static unsigned char dns_out[DNS_UDP_MAX];

static int dns_flag(const char *f, const char *v) {
	if (!strcmp(f, "--dns-config"))
		dns.config = v;
	else if (!strcmp(f, "--dns-netns"))
		dns.netns = v;
	else
		return 0;
	return 1;
}

static long long dns_now_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

// dns_file_fresh re-reads f when the file at its path is another one than was read (a rename
// put a new one there) or changed; a missing file reads as empty. It returns 1 when it reloaded.
static int dns_file_fresh(struct dns_file *f) {
	struct stat st;
	if (stat(f->path, &st) < 0) {
		if (f->fd < 0 && !f->data)
			return 0;
		if (f->fd >= 0)
			close(f->fd);
		free(f->data);
		f->fd = -1, f->data = NULL, f->ino = 0;
		return 1;
	}
	if (f->fd >= 0 && st.st_dev == f->dev && st.st_ino == f->ino && st.st_size == f->size &&
	    st.st_mtim.tv_sec == f->mtime.tv_sec && st.st_mtim.tv_nsec == f->mtime.tv_nsec)
		return 0;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > DNS_FILE_MAX || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return 0; // keep what was read: an answer from the last good copy beats none
	}
	char *d = malloc((size_t)st.st_size + 1);
	if (!d) {
		close(fd);
		return 0;
	}
	size_t len = 0;
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, d + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	d[len] = 0;
	if (f->fd >= 0)
		close(f->fd);
	free(f->data);
	f->fd = fd, f->data = d;
	f->dev = st.st_dev, f->ino = st.st_ino, f->size = st.st_size, f->mtime = st.st_mtim;
	return 1;
}

static void dns_file_drop(struct dns_file *f) {
	if (f->fd >= 0)
		close(f->fd);
	free(f->data);
	f->fd = -1, f->data = NULL, f->ino = 0;
}

static int dns_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len) {
	char host[64];
	int port = DNS_PORT;
	const char *h = s, *colon = NULL;
	size_t hl;
	if (*s == '[') {
		const char *e = strchr(s, ']');
		if (!e)
			return -1;
		h = s + 1, hl = (size_t)(e - h);
		if (e[1] == ':')
			colon = e + 1;
		else if (e[1])
			return -1;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; // a bare IPv6 address
		hl = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (hl == 0 || hl >= sizeof host)
		return -1;
	memcpy(host, h, hl);
	host[hl] = 0;
	if (colon) {
		char *end;
		long p = strtol(colon + 1, &end, 10);
		if (*end || p < 1 || p > 65535)
			return -1;
		port = (int)p;
	}
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET, a4->sin_port = htons((uint16_t)port);
		*len = sizeof *a4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6, a6->sin6_port = htons((uint16_t)port);
		*len = sizeof *a6;
		return 0;
	}
	return -1;
}

static void dns_bind(void);

// dns_load_config reads the config when it changed: "upstream ADDR[:PORT]" and "records PATH"
// lines. Then the listener follows: bound while there is a records file, closed otherwise.
static void dns_load_config(void) {
	if (!dns.config)
		return;
	if (dns_file_fresh(&dns.conf)) {
		for (int i = 0; i < dns.n_rec; i++)
			dns_file_drop(&dns.rec[i]);
		dns.n_rec = dns.n_up = 0;
		char *save = NULL;
		for (char *l = dns.conf.data ? strtok_r(dns.conf.data, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
			if (!strncmp(l, "upstream ", 9) && dns.n_up < DNS_MAX_UPSTREAMS) {
				if (dns_parse_addr(l + 9, &dns.up[dns.n_up], &dns.up_len[dns.n_up]) == 0)
					dns.n_up++;
			} else if (!strncmp(l, "records ", 8) && dns.n_rec < DNS_MAX_FILES && l[8]) {
				// The path stays in the config's data, which lives until the next reload drops
				// these first.
				struct dns_file *f = &dns.rec[dns.n_rec++];
				*f = (struct dns_file){.path = l + 8, .fd = -1};
			}
		}
	}
	dns_bind();
}

// dns_bind opens the listener in the container's namespace (setns there and back: the socket
// stays in the namespace it was made in) or closes it when the container is on no user network.
static void dns_tcp_close_all(void);

static void dns_bind(void) {
	if (dns.n_rec == 0) {
		if (dns.fd >= 0)
			close(dns.fd);
		if (dns.tcp_fd >= 0)
			close(dns.tcp_fd);
		dns.fd = dns.tcp_fd = -1;
		dns_tcp_close_all();
		return;
	}
	if (dns.fd >= 0 || dns.netns_fd < 0)
		return;
	if (setns(dns.netns_fd, CLONE_NEWNET) < 0) {
		say("monitor: dns: enter the container's network namespace: %s\n", strerror(errno));
		return;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(DNS_PORT)};
	sa.sin_addr.s_addr = htonl(0x7f00000b); // 127.0.0.11
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		say("monitor: dns: bind 127.0.0.11:53: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	int tfd = fd < 0 ? -1 : socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (tfd >= 0 && (setsockopt(tfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	                 bind(tfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(tfd, 8) < 0)) {
		say("monitor: dns: listen on 127.0.0.11:53/tcp: %s\n", strerror(errno));
		close(tfd);
		tfd = -1; // UDP alone still answers nearly everything
	}
	if (setns(dns.own_fd, CLONE_NEWNET) < 0)
		fail("dns: return to the monitor's network namespace");
	dns.fd = fd, dns.tcp_fd = tfd;
}

// dns_setup runs before the runtime's create, so the container cannot take the port first.
static void dns_setup(void) {
	if (!dns.config)
		return;
	if (dns.netns) {
		dns.own_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		dns.netns_fd = open(dns.netns, O_RDONLY | O_CLOEXEC);
		if (dns.own_fd < 0 || dns.netns_fd < 0)
			fail("dns: open network namespaces");
	}
	dns.conf.fd = -1;
	dns.conf.path = dns.config;
	dns.up_fd[0] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	dns.up_fd[1] = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); // -1 without IPv6: fine
	if (dns.up_fd[0] < 0)
		fail("dns: upstream socket");
	dns_load_config();
}

/* ---- records ---- */

// dns_name_eq compares a records-file name (n bytes) with the query's (lowercase, no dot).
static int dns_name_eq(const char *a, size_t n, const char *q) {
	size_t i = 0;
	for (; i < n && q[i]; i++) {
		char c = a[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != q[i])
			return 0;
	}
	return i == n && !q[i];
}

// dns_each walks the records lines "ADDR NAME... #OWNER"; fn gets the address and the line's names
// (up to the end of line) and returns nonzero to stop.
typedef int (*dns_line_fn)(const char *addr, const char *names, size_t names_len, void *arg);

static void dns_each(dns_line_fn fn, void *arg) {
	for (int i = 0; i < dns.n_rec; i++) {
		dns_file_fresh(&dns.rec[i]);
		const char *p = dns.rec[i].data;
		while (p && *p) {
			const char *eol = strchr(p, '\n');
			size_t full = eol ? (size_t)(eol - p) : strlen(p);
			const char *hash = memchr(p, '#', full); // the owner's key follows: not a name
			size_t len = hash ? (size_t)(hash - p) : full;
			const char *sp = memchr(p, ' ', len);
			char addr[64];
			if (sp && (size_t)(sp - p) < sizeof addr && p[0] != '#') {
				memcpy(addr, p, (size_t)(sp - p));
				addr[sp - p] = 0;
				if (fn(addr, sp + 1, len - (size_t)(sp - p) - 1, arg))
					return;
			}
			p = eol ? eol + 1 : p + full;
		}
	}
}

struct dns_fwd {
	const char *name;
	int qtype, found, n;
	unsigned char addrs[8][16];
};

static int dns_match_name(const char *addr, const char *names, size_t len, void *arg) {
	struct dns_fwd *w = arg;
	size_t i = 0;
	while (i < len) {
		while (i < len && names[i] == ' ')
			i++;
		size_t s = i;
		while (i < len && names[i] != ' ')
			i++;
		if (i > s && dns_name_eq(names + s, i - s, w->name)) {
			w->found = 1;
			unsigned char a[16];
			int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;
			if (inet_pton(fam, addr, a) == 1 && w->n < 8 && ((fam == AF_INET && w->qtype == 1) || (fam == AF_INET6 && w->qtype == 28)))
				memcpy(w->addrs[w->n++], a, 16);
			break;
		}
	}
	return 0;
}

struct dns_rev {
	int fam;
	unsigned char a[16];
	char name[256];
};

static int dns_match_addr(const char *addr, const char *names, size_t len, void *arg) {
	struct dns_rev *w = arg;
	unsigned char a[16];
	if (inet_pton(w->fam, addr, a) != 1 || memcmp(a, w->a, w->fam == AF_INET ? 4 : 16))
		return 0;
	size_t i = 0;
	while (i < len && names[i] == ' ')
		i++;
	size_t s = i;
	while (i < len && names[i] != ' ')
		i++;
	if (i == s || i - s >= sizeof w->name)
		return 0;
	memcpy(w->name, names + s, i - s);
	w->name[i - s] = 0;
	return 1; // the first name of the line: the container's own
}

// dns_reverse turns NAME.in-addr.arpa / NAME.ip6.arpa into an address; 0 if it is not one.
static int dns_reverse(const char *q, struct dns_rev *w) {
	size_t n = strlen(q);
	memset(w, 0, sizeof *w);
	if (n > 13 && !strcmp(q + n - 13, ".in-addr.arpa")) {
		unsigned v[4];
		int k = 0;
		const char *p = q;
		while (p < q + n - 13) {
			if (k == 4 || *p < '0' || *p > '9')
				return 0;
			unsigned x = 0;
			int digits = 0;
			while (*p >= '0' && *p <= '9' && digits < 4)
				x = x * 10 + (unsigned)(*p++ - '0'), digits++;
			if (x > 255 || (*p != '.'))
				return 0;
			v[k++] = x;
			p++;
		}
		if (k != 4)
			return 0;
		w->fam = AF_INET;
		for (int i = 0; i < 4; i++)
			w->a[i] = (unsigned char)v[3 - i];
		return 1;
	}
	if (n == 72 && !strcmp(q + 63, ".ip6.arpa")) {
		for (int i = 0; i < 32; i++) {
			char c = q[i * 2];
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
			if (d < 0 || q[i * 2 + 1] != '.')
				return 0;
			int nib = 31 - i; // the first label is the last nibble
			w->a[nib / 2] |= (unsigned char)(nib % 2 ? d : d << 4);
		}
		w->fam = AF_INET6;
		return 1;
	}
	return 0;
}

/* ---- packets ---- */

static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)(v >> 8), p[1] = (unsigned char)v; }

// dns_question parses the one question at buf+12: its name (lowercase, dots, no trailing dot)
// into name, its type and class. It returns the offset after the question, or -1 if malformed.
static int dns_question(const unsigned char *buf, size_t n, char name[256], int *qtype, int *qclass) {
	size_t off = 12, out = 0;
	for (;;) {
		if (off >= n)
			return -1;
		unsigned l = buf[off++];
		if (l == 0)
			break;
		if (l > 63 || off + l > n || out + l + 1 > 254)
			return -1; // a compression pointer (0xC0) in a question is refused too
		if (out)
			name[out++] = '.';
		for (unsigned i = 0; i < l; i++) {
			unsigned char c = buf[off + i];
			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
			if (c == 0 || c == '.')
				return -1; // not a name a records file can hold
			name[out++] = (char)c;
		}
		off += l;
	}
	name[out] = 0;
	if (off + 4 > n)
		return -1;
	*qtype = get16(buf + off);
	*qclass = get16(buf + off + 2);
	return (int)off + 4;
}

// The TCP connection whose query is being answered; NULL: the answer is a UDP datagram.
struct dns_tcp;
static struct dns_tcp *dns_cur_tcp;
static void dns_tcp_reply(struct dns_tcp *t, const unsigned char *p, size_t n);

static void dns_reply(const struct sockaddr_in *to, const unsigned char *p, size_t n) {
	if (dns_cur_tcp) {
		dns_tcp_reply(dns_cur_tcp, p, n);
		return;
	}
	sendto(dns.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)to, sizeof *to);
}

// dns_header_only answers with the query's header, no sections, and rcode.
static void dns_header_only(const struct sockaddr_in *to, const unsigned char *q, int rcode) {
	unsigned char h[12] = {0};
	memcpy(h, q, 2);
	h[2] = (unsigned char)(0x80 | (q[2] & 0x79)); // QR, opcode and RD kept
	h[3] = (unsigned char)(0x80 | rcode);
	dns_reply(to, h, sizeof h);
}

// dns_answer builds a reply: header, the question as received, and count answers (each adds
// rdlen bytes from rdata[i], or the name in ptr as PTR data).
static void dns_answer(const struct sockaddr_in *to, const unsigned char *q, size_t qend, int qtype,
                       unsigned char (*rdata)[16], int count, int rdlen, const char *ptr) {
	if (qend > sizeof dns_out)
		return;
	memcpy(dns_out, q, qend);
	dns_out[2] = (unsigned char)(0x84 | (q[2] & 0x79)); // QR, AA, opcode, RD
	dns_out[3] = 0x80;                                  // RA, NOERROR
	put16(dns_out + 4, 1);
	put16(dns_out + 6, 0), put16(dns_out + 8, 0), put16(dns_out + 10, 0);
	size_t off = qend;
	int an = 0;
	for (int i = 0; i < count; i++) {
		size_t need = 12 + (ptr ? strlen(ptr) + 2 : (size_t)rdlen);
		if (off + need > sizeof dns_out) {
			dns_out[2] |= 0x02; // TC: the rest did not fit
			break;
		}
		unsigned char *a = dns_out + off;
		put16(a, 0xc00c), put16(a + 2, (unsigned)qtype), put16(a + 4, 1);
		a[6] = 0, a[7] = 0, put16(a + 8, DNS_TTL);
		if (ptr) {
			size_t d = 12, start = 0, len = strlen(ptr);
			while (start < len) {
				const char *dot = memchr(ptr + start, '.', len - start);
				size_t l = dot ? (size_t)(dot - ptr) - start : len - start;
				if (l == 0 || l > 63)
					return;
				a[d++] = (unsigned char)l;
				memcpy(a + d, ptr + start, l);
				d += l, start += l + 1;
			}
			a[d++] = 0;
			put16(a + 10, (unsigned)(d - 12));
			off += d;
		} else {
			put16(a + 10, (unsigned)rdlen);
			memcpy(a + 12, rdata[i], (size_t)rdlen);
			off += 12 + (size_t)rdlen;
		}
		an++;
	}
	put16(dns_out + 6, (unsigned)an);
	dns_reply(to, dns_out, off);
}

static void dns_pending_expire(long long now) {
	for (int i = 0; i < DNS_PENDING; i++)
		if (pend[i].used && pend[i].deadline <= now)
			pend[i].used = 0, n_pend--;
}

static void dns_forward(const struct sockaddr_in *from, unsigned char *q, size_t n) {
	if (dns.n_up == 0) {
		dns_header_only(from, q, 2); // SERVFAIL
		return;
	}
	long long now = dns_now_ms();
	dns_pending_expire(now);
	int slot = -1;
	for (int i = 0; i < DNS_PENDING && slot < 0; i++)
		if (!pend[i].used)
			slot = i;
	if (slot < 0) {
		// Full: the oldest query gives way (its client retries).
		slot = 0;
		for (int i = 1; i < DNS_PENDING; i++)
			if (pend[i].deadline < pend[slot].deadline)
				slot = i;
		n_pend--;
	}
	uint16_t id;
	static uint16_t fallback;
	for (;;) {
		if (getrandom(&id, sizeof id, GRND_NONBLOCK) != sizeof id)
			id = (uint16_t)(now * 40503 + ++fallback); // no entropy yet: distinct at least
		int taken = 0;
		for (int i = 0; i < DNS_PENDING; i++)
			taken |= pend[i].used && pend[i].id == id;
		if (!taken)
			break;
	}
	// Round robin over the upstreams, so one that is down costs a client a retry, not every query.
	static int next_up;
	int up = next_up++ % dns.n_up;
	struct dns_pending *p = &pend[slot];
	*p = (struct dns_pending){.used = 1, .id = id, .orig_id = get16(q), .up = up, .client = *from,
	                          .deadline = now + DNS_FORWARD_MS};
	n_pend++;
	put16(q, id);
	int fd = dns.up_fd[dns.up[up].ss_family == AF_INET6];
	if (fd < 0 || sendto(fd, q, n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&dns.up[up], dns.up_len[up]) < 0) {
		p->used = 0, n_pend--;
		put16(q, p->orig_id);
		dns_header_only(from, q, 2);
	}
}

static int dns_handle(const struct sockaddr_in *from, unsigned char *q, size_t n);

// dns_query handles one datagram from the container; -1: none was waiting.
static int dns_query(void) {
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	ssize_t r = recvfrom(dns.fd, dns_buf, sizeof dns_buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
	if (r < 0)
		return -1;
	if (r < 12 || fl != sizeof from || from.sin_family != AF_INET)
		return 0; // shorter than a header: nothing to answer to
	if (dns_handle(&from, dns_buf, (size_t)r))
		dns_forward(&from, dns_buf, (size_t)r);
	return 0;
}

// dns_handle answers a query from the records (or with an error); 1: it is for the upstreams;
// 0: answered or dropped.
static int dns_handle(const struct sockaddr_in *from, unsigned char *q, size_t n) {
	if (q[2] & 0x80)
		return 0; // a response: never answer one (no loops)
	int opcode = (q[2] >> 3) & 15;
	if (opcode != 0) {
		dns_header_only(from, q, 4); // NOTIMP
		return 0;
	}
	char name[256];
	int qtype, qclass;
	int qend = get16(q + 4) == 1 ? dns_question(q, n, name, &qtype, &qclass) : -1;
	if (qend < 0) {
		dns_header_only(from, q, 1); // FORMERR
		return 0;
	}
	dns_load_config();
	if (dns.fd < 0)
		return 0; // off every user network now
	if (qclass == 1 || qclass == 255) {
		struct dns_rev rev;
		if (qtype == 12 && dns_reverse(name, &rev)) {
			dns_each(dns_match_addr, &rev);
			if (rev.name[0]) {
				dns_answer(from, q, (size_t)qend, 12, NULL, 1, 0, rev.name);
				return 0;
			}
		} else {
			struct dns_fwd w = {.name = name, .qtype = qtype};
			dns_each(dns_match_name, &w);
			if (w.found) {
				// A known name without an address of that family: no answer, no error.
				dns_answer(from, q, (size_t)qend, qtype, w.addrs, w.n, qtype == 1 ? 4 : 16, NULL);
				return 0;
			}
		}
	}
	return 1;
}

// dns_upstream_reply relays one upstream reply to the client whose query it answers.
static int dns_upstream_reply(int fd) {
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	ssize_t r = recvfrom(fd, dns_buf, sizeof dns_buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
	if (r < 0)
		return -1;
	if (r < 12 || !(dns_buf[2] & 0x80))
		return 0;
	uint16_t id = get16(dns_buf);
	for (int i = 0; i < DNS_PENDING; i++) {
		struct dns_pending *p = &pend[i];
		if (!p->used || p->id != id)
			continue;
		// Only the upstream it went to may answer it.
		if (fl != dns.up_len[p->up] || memcmp(&from, &dns.up[p->up], fl))
			return 0;
		put16(dns_buf, p->orig_id);
		p->used = 0, n_pend--;
		if (dns.fd >= 0)
			dns_reply(&p->client, dns_buf, (size_t)r);
		return 0;
	}
	return 0;
}

/* ---- TCP ---- */

// One query at a time per connection: read it (2-byte length, then the message), answer it from
// the records or pass it to an upstream over a TCP connection of its own, write the answer, and
// wait for the next query. Every connection has a deadline; a few at most are served at once.
#define DNS_TCP_MAX 4
#define DNS_TCP_QMAX 1024

enum { TCP_FREE, TCP_QUERY, TCP_UP_WRITE, TCP_UP_READ, TCP_ANSWER };

struct dns_tcp {
	int state, fd, up;
	unsigned char q[2 + DNS_TCP_QMAX];
	size_t qlen, up_off;
	unsigned char hdr[2];
	size_t hdr_len;
	unsigned char *out; // the answer, with its length (malloc'd: an upstream's may be 64 KiB)
	size_t out_len, out_off;
	long long deadline;
} tcps[DNS_TCP_MAX];

static void dns_tcp_close(struct dns_tcp *t) {
	if (t->state == TCP_FREE)
		return;
	close(t->fd);
	if (t->up >= 0)
		close(t->up);
	free(t->out);
	memset(t, 0, sizeof *t);
	t->fd = t->up = -1;
}

static void dns_tcp_close_all(void) {
	for (int i = 0; i < DNS_TCP_MAX; i++)
		dns_tcp_close(&tcps[i]);
}

static void dns_tcp_reply(struct dns_tcp *t, const unsigned char *p, size_t n) {
	free(t->out);
	t->out = malloc(n + 2);
	if (!t->out) {
		t->out_len = 0;
		return;
	}
	put16(t->out, (unsigned)n);
	memcpy(t->out + 2, p, n);
	t->out_len = n + 2, t->out_off = 0;
	t->state = TCP_ANSWER;
}

static void dns_tcp_accept(void) {
	int fd = accept4(dns.tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (int i = 0; i < DNS_TCP_MAX; i++)
		if (tcps[i].state == TCP_FREE) {
			tcps[i] = (struct dns_tcp){.state = TCP_QUERY, .fd = fd, .up = -1, .deadline = dns_now_ms() + DNS_FORWARD_MS};
			return;
		}
	close(fd); // busy: the client falls back on its next server or retries
}

static void dns_tcp_servfail(struct dns_tcp *t) {
	static const struct sockaddr_in none;
	dns_cur_tcp = t;
	dns_header_only(&none, t->q + 2, 2);
	dns_cur_tcp = NULL;
	if (t->up >= 0)
		close(t->up);
	t->up = -1;
}

// dns_tcp_query handles a whole query read on t.
static void dns_tcp_query(struct dns_tcp *t) {
	static const struct sockaddr_in none;
	size_t n = t->qlen - 2;
	dns_cur_tcp = t;
	int fwd = dns_handle(&none, t->q + 2, n);
	dns_cur_tcp = NULL;
	if (!fwd) {
		if (t->state != TCP_ANSWER)
			dns_tcp_close(t); // dropped: nothing will come
		return;
	}
	if (dns.n_up == 0) {
		dns_tcp_servfail(t);
		return;
	}
	static int next;
	int up = next++ % dns.n_up;
	t->up = socket(dns.up[up].ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (t->up < 0 || (connect(t->up, (struct sockaddr *)&dns.up[up], dns.up_len[up]) < 0 && errno != EINPROGRESS)) {
		dns_tcp_servfail(t);
		return;
	}
	t->state = TCP_UP_WRITE, t->up_off = 0, t->hdr_len = 0;
}

static void dns_tcp_event(struct dns_tcp *t, short cev, short uev) {
	if (t->state == TCP_QUERY && cev) {
		size_t need = t->qlen < 2 ? 2 : 2 + (size_t)get16(t->q);
		ssize_t r = read(t->fd, t->q + t->qlen, need - t->qlen);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			dns_tcp_close(t);
			return;
		}
		t->qlen += (size_t)r;
		if (t->qlen == 2 && (get16(t->q) < 12 || get16(t->q) > DNS_TCP_QMAX)) {
			dns_tcp_close(t); // not a query this resolver takes
			return;
		}
		if (t->qlen > 2 && t->qlen == 2 + (size_t)get16(t->q))
			dns_tcp_query(t);
		return;
	}
	if (t->state == TCP_UP_WRITE && uev) {
		int err = 0;
		socklen_t el = sizeof err;
		if (getsockopt(t->up, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			dns_tcp_servfail(t);
			return;
		}
		ssize_t w = send(t->up, t->q + t->up_off, t->qlen - t->up_off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w <= 0) {
			dns_tcp_servfail(t);
			return;
		}
		t->up_off += (size_t)w;
		if (t->up_off == t->qlen)
			t->state = TCP_UP_READ;
		return;
	}
	if (t->state == TCP_UP_READ && uev) {
		ssize_t r;
		if (t->hdr_len < 2) {
			r = read(t->up, t->hdr + t->hdr_len, 2 - t->hdr_len);
			if (r > 0 && (t->hdr_len += (size_t)r) == 2) {
				size_t len = get16(t->hdr);
				free(t->out);
				t->out = len >= 12 ? malloc(len + 2) : NULL;
				if (!t->out) {
					dns_tcp_servfail(t);
					return;
				}
				memcpy(t->out, t->hdr, 2);
				t->out_len = 2, t->out_off = 0;
			}
		} else {
			size_t want = 2 + (size_t)get16(t->hdr) - t->out_len;
			r = read(t->up, t->out + t->out_len, want);
			if (r > 0 && (t->out_len += (size_t)r) == 2 + (size_t)get16(t->hdr)) {
				close(t->up);
				t->up = -1;
				t->state = TCP_ANSWER;
			}
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0)
			dns_tcp_servfail(t);
		return;
	}
	if (t->state == TCP_ANSWER && cev) {
		ssize_t w = send(t->fd, t->out + t->out_off, t->out_len - t->out_off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w <= 0) {
			dns_tcp_close(t);
			return;
		}
		t->out_off += (size_t)w;
		if (t->out_off == t->out_len) {
			free(t->out);
			t->out = NULL;
			t->out_len = t->out_off = t->qlen = 0;
			t->state = TCP_QUERY;
			t->deadline = dns_now_ms() + DNS_FORWARD_MS;
		}
	}
}

#define DNS_POLL_SLOTS (4 + 2 * DNS_TCP_MAX)

// dns_busy says whether a forwarded query or a connection waits on a deadline.
static int dns_busy(void) {
	for (int i = 0; i < DNS_TCP_MAX; i++)
		if (tcps[i].state != TCP_FREE)
			return 1;
	return n_pend > 0;
}

// dns_poll fills DNS_POLL_SLOTS slots: the listeners, the upstream sockets, the connections.
static void dns_poll(struct pollfd *p, int running) {
	p[0] = (struct pollfd){running ? dns.fd : -1, POLLIN, 0};
	p[1] = (struct pollfd){running && n_pend ? dns.up_fd[0] : -1, POLLIN, 0};
	p[2] = (struct pollfd){running && n_pend ? dns.up_fd[1] : -1, POLLIN, 0};
	p[3] = (struct pollfd){running ? dns.tcp_fd : -1, POLLIN, 0};
	for (int i = 0; i < DNS_TCP_MAX; i++) {
		struct dns_tcp *t = &tcps[i];
		int st = running ? t->state : TCP_FREE;
		p[4 + 2 * i] = (struct pollfd){st == TCP_QUERY || st == TCP_ANSWER ? t->fd : -1, st == TCP_QUERY ? POLLIN : POLLOUT, 0};
		p[5 + 2 * i] = (struct pollfd){st == TCP_UP_WRITE || st == TCP_UP_READ ? t->up : -1, st == TCP_UP_WRITE ? POLLOUT : POLLIN, 0};
	}
}

static void dns_events(const struct pollfd *p) {
	// At most 64 datagrams a turn, so a container flooding its resolver cannot starve the rest.
	if (p[0].fd >= 0 && p[0].revents & POLLIN)
		for (int k = 0; k < 64 && dns.fd >= 0 && dns_query() == 0; k++)
			;
	for (int s = 0; s < 2; s++)
		if (p[1 + s].fd >= 0 && p[1 + s].revents & POLLIN)
			for (int k = 0; k < 64 && dns_upstream_reply(dns.up_fd[s]) == 0; k++)
				;
	for (int i = 0; i < DNS_TCP_MAX; i++) {
		struct dns_tcp *t = &tcps[i];
		// Only the fds polled this turn: a slot may have been freed and reused since.
		short cev = p[4 + 2 * i].fd >= 0 && p[4 + 2 * i].fd == t->fd ? p[4 + 2 * i].revents : 0;
		short uev = p[5 + 2 * i].fd >= 0 && p[5 + 2 * i].fd == t->up ? p[5 + 2 * i].revents : 0;
		if (t->state != TCP_FREE && (cev || uev))
			dns_tcp_event(t, cev, uev);
	}
	if (p[3].fd >= 0 && p[3].revents & POLLIN && dns.tcp_fd >= 0)
		dns_tcp_accept();
	long long now = dns_now_ms();
	if (n_pend)
		dns_pending_expire(now);
	for (int i = 0; i < DNS_TCP_MAX; i++)
		if (tcps[i].state != TCP_FREE && tcps[i].deadline <= now)
			dns_tcp_close(&tcps[i]);
}
