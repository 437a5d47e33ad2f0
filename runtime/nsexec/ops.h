// Operation codes of a plan. Keep in sync with plan.go (the Go side encodes, nsexec.c runs).
#ifndef BERTH_OPS_H
#define BERTH_OPS_H
enum {
	OP_SETNS = 1,       // path, nstype
	OP_UNSHARE = 2,     // flags
	OP_SYNC = 3,        // tag: send tag to the parent, wait for its ack
	OP_FORK = 4,        // clone(CLONE_PARENT); report pid, wait for ack
	OP_READPLAN = 5,    // read and run another plan segment from the sync socket
	OP_MOUNT = 6,       // src, dst, fstype, flags, data (host paths, or "/" after pivot_root)
	OP_MOUNTPOINT = 7,  // path, isfile (a host path)
	OP_MKDIR = 8,       // rel, mode, isfile
	OP_MKNOD = 9,       // rel, mode, dev, uid, gid
	OP_SYMLINK = 10,    // target, rel
	OP_PIVOT = 11,      // rootfs
	OP_CHROOT = 12,     // rootfs
	OP_CHDIR = 13,      // path
	OP_HOSTNAME = 14,   // name
	OP_DOMAINNAME = 15, // name
	OP_WRITEFILE = 16,  // path, data
	OP_RLIMIT = 17,     // resource, soft, hard, name
	OP_PRCTL = 18,      // option, arg2, arg3, name
	OP_SETGROUPS = 19,  // gid...
	OP_SETID = 20,      // uid, gid
	OP_CAPS = 21,       // bounding, effective, permitted, inheritable, ambient, lastcap
	OP_UMASK = 22,      // mask
	OP_PERSONALITY = 23,// persona
	OP_CONSOLE = 24,    // console socket fd, bind over /dev/console
	OP_SETSID = 25,
	OP_WAITSTART = 26,  // exec fifo fd
	OP_SECCOMP = 27,    // flags, program bytes
	OP_CLOSEFD = 28,    // fd
	OP_CLOEXEC_FROM = 29, // first fd
	OP_MASK = 30,       // rel
	OP_READONLY = 31,   // rel, extra MOUNT_ATTR_* bits
	OP_HOOK = 32,       // timeout, state, path, argc, argv..., env...
	OP_IOPRIO = 33,     // ioprio value
	OP_SCHED = 34,      // policy, flags, nice, priority, runtime, deadline, period
	OP_READY = 35,      // tell the parent the container waits for start
	OP_EXEC = 36,       // path, argc, argv..., env...
	OP_LOOKUP = 37,     // name, PATH: resolve the executable now; exec with an empty path uses it
	OP_KEYRING = 38,    // name: join (or create) a session keyring of that name
	// Paths inside the container root: every "rel" below is relative to the root opened by
	// OP_ROOTFD and resolved when the op runs (openat2 RESOLVE_IN_ROOT), never by the Go side.
	OP_ROOTFD = 39,     // rootfs (host path, already a mount point): open it as the root
	OP_MOUNTAT = 40,    // src, rel, fstype, flags, data, opflags, attr_set, attr_clr, rattr_set, rattr_clr, prop...
	OP_PROCFD = 41,     // open a procfs handle no container mount can redirect
	OP_PROCWRITE = 42,  // path relative to procfs, data
	OP_PREMOUNT = 43,   // index, src, opflags, uidmap, gidmap: a detached id-mapped bind tree
};

// opflags of OP_MOUNTAT and OP_PREMOUNT.
enum {
	MNT_F_BIND = 1,       // src is a host path (or "@N", a premount) whose tree is cloned
	MNT_F_REC = 2,        // clone the whole tree (rbind)
	MNT_F_DIR = 4,        // create a missing destination as a directory
	MNT_F_FILE = 8,       // ... as a file
	MNT_F_AUTO = 16,      // ... as the kind of the bind source
	MNT_F_PROCOK = 32,    // the destination may be a procfs file (the lxcfs-style allowlist)
	MNT_F_NOFOLLOW = 64,  // the last component must not be a symlink (devices, the console)
	MNT_F_PROC = 128,     // a procfs mount: no symlink on the way, and the result must be procfs
	MNT_F_IDMAPREC = 256, // OP_PREMOUNT: id-map the whole tree (ridmap)
};
#endif
