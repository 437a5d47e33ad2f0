// Package spec turns an image config and a user's run options into an OCI runtime spec, the way
// Docker 28 does it, so that `berth run`/`create`, the Docker API and CRI share one translation.
//
// The input image config is go-containerregistry's v1.ConfigFile: it is what the image store and
// the pull path already parse (image/distribution, image/importer), and it carries Docker's own
// fields (Healthcheck, Shell, StopSignal) beside the OCI ones, so no conversion sits in between.
//
// The package only produces a spec: running it is the engine's job. It reads the container's
// rootfs (for /etc/passwd and /etc/group, never following a link out of it), host device nodes
// named by --device, and host /dev for --privileged; it writes nothing.
//
// The flag parsers (Parse*) live here too, so the CLI and the APIs turn strings into the same
// structured options.
package spec

import (
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// NSMode is how the container gets one namespace.
type NSMode int

const (
	// NSPrivate is a new namespace (the default).
	NSPrivate NSMode = iota
	// NSHost shares the host's namespace (no entry in the spec).
	NSHost
	// NSPath joins the namespace at Namespace.Path (the engine resolves container:ID to a path
	// such as /proc/PID/ns/pid).
	NSPath
)

// Namespace is the mode of one namespace flag (--pid, --ipc, --uts, --cgroupns, the network).
type Namespace struct {
	Mode NSMode
	Path string // with NSPath
	// Owned says an NSPath network namespace was made for this container (a bridge network's)
	// rather than joined from another container: Docker's default network sysctls apply only to
	// a namespace the container owns.
	Owned bool
}

// MountType is the kind of a resolved mount.
type MountType string

const (
	MountBind   MountType = "bind"
	MountTmpfs  MountType = "tmpfs"
	MountVolume MountType = "volume" // only in a parsed request; the engine resolves it to a bind
)

// Mount is one mount of the container, resolved: volumes are binds of host paths by now.
type Mount struct {
	Type        MountType
	Source      string // host path for binds and volumes (a name or "" for an unresolved volume)
	Destination string // absolute path in the container
	ReadOnly    bool
	// Propagation of a bind: private, rprivate (default), shared, rshared, slave, rslave.
	Propagation string
	// NonRecursive makes a bind a plain bind instead of Docker's default rbind.
	NonRecursive bool
	// TmpfsSize in bytes (0: the kernel's default), TmpfsMode (0: the kernel's 1777).
	TmpfsSize int64
	TmpfsMode uint32
	// Options are further mount options as given (tmpfs: exec, noexec, uid=, ...; -v: z, Z,
	// nocopy, which need the engine, are kept here for it and not passed to the mount).
	Options []string
	// NoCopy is volume-nocopy / nocopy: the engine must not fill a new volume from the image.
	NoCopy bool
}

// Device is one --device: a host device node made available at ContainerPath.
type Device struct {
	HostPath      string
	ContainerPath string
	Permissions   string // subset of "rwm"; Docker's default "rwm"
}

// Ulimit is one --ulimit (name as Docker spells it: nofile, nproc, core, ...).
type Ulimit struct {
	Name string
	Soft int64
	Hard int64
}

// Options are a container's settings that affect its spec. The zero value plus ContainerID and
// RootfsPath gives Docker's defaults for the image.
type Options struct {
	ContainerID string // full id; the default hostname is its first 12 characters
	RootfsPath  string // the container's root on the host: root.path, and where users are resolved

	// Process.
	Entrypoint    []string // with EntrypointSet: --entrypoint (empty: none)
	EntrypointSet bool
	Cmd           []string // the command after the image name; nil: the image's Cmd
	Env           []string // resolved K=V from -e and --env-file, in flag order
	WorkingDir    string   // -w; must be absolute
	User          string   // -u: name, uid, name:group, uid:gid
	GroupAdd      []string // --group-add names or ids
	Tty           bool     // -t
	OpenStdin     bool     // -i: no spec field; carried for the engine and the monitor
	Init          bool     // --init
	InitPath      string   // host path of the init binary; needed with Init
	StopSignal    string   // --stop-signal; empty: the image's StopSignal, else SIGTERM

	Hostname   string // --hostname; default: ContainerID[:12] (the host's with --network host)
	Domainname string

	// Annotations are --annotation's; labels stay out of the spec, as Docker keeps them.
	Annotations map[string]string

	// Filesystem.
	ReadOnly bool              // --read-only
	Tmpfs    map[string]string // --tmpfs dst -> options ("" for none), see ParseTmpfs
	ShmSize  int64             // --shm-size bytes; 0: 64 MiB
	// ShmPath is a host path bound at /dev/shm instead of a tmpfs: with --ipc container:ID the
	// engine gives that container's /dev/shm, as Docker binds it (--ipc host binds the host's).
	ShmPath string
	Mounts  []Mount // -v and --mount, resolved

	// Resources (Docker's units and semantics; see the fields' flags).
	Memory            int64  // --memory bytes; 0: unlimited
	MemorySwap        int64  // --memory-swap: memory+swap bytes; -1 unlimited; 0: twice Memory
	MemoryReservation int64  // --memory-reservation bytes
	NanoCPUs          int64  // --cpus in 1e-9 CPUs (ParseCPUs)
	CPUShares         int64  // --cpu-shares
	CpusetCpus        string // --cpuset-cpus
	CpusetMems        string // --cpuset-mems
	PidsLimit         int64  // --pids-limit; <= 0: unlimited
	Ulimits           []Ulimit
	DefaultUlimits    []Ulimit // the engine config's; Ulimits override them by name
	OOMScoreAdj       *int     // --oom-score-adj
	CgroupParent      string   // --cgroup-parent
	CgroupsPath       string   // overrides the path derived from CgroupParent
	NumCPU            int      // CPUs the host has, for --cpus checks; 0: runtime.NumCPU()

	// Security.
	CapAdd      []string
	CapDrop     []string
	Privileged  bool
	Devices     []Device
	SecurityOpt []string // --security-opt as given (see ParseSecurityOpt); file contents are read
	// SeccompProfile is the JSON of a profile given with seccomp=PATH (the CLI reads the file,
	// as Docker's does); set by ParseSecurityOpt.
	SeccompProfile []byte
	Sysctls        map[string]string

	// Namespaces.
	PID      Namespace
	IPC      Namespace
	UTS      Namespace
	Network  Namespace // NSPrivate is --network none: a netns with loopback only
	CgroupNS *Namespace
	// CgroupV2 says the host is on the unified hierarchy: there Docker gives a private cgroup
	// namespace by default, on v1 the host's.
	CgroupV2 bool
}

// Result is the spec and what else the engine needs from the translation.
type Result struct {
	Spec       *specs.Spec
	StopSignal syscall.Signal
	// Volumes are the image's VOLUME paths that no mount covers: the engine makes anonymous
	// volumes for them (Docker does).
	Volumes []string
}
