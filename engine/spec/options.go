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
	Mode NSMode `json:",omitzero"`
	Path string `json:",omitzero"` // with NSPath
	// Owned says an NSPath network namespace was made for this container (a bridge network's)
	// rather than joined from another container: Docker's default network sysctls apply only to
	// a namespace the container owns.
	Owned bool `json:",omitzero"`
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
	Type        MountType `json:",omitzero"`
	Source      string    `json:",omitzero"` // host path for binds and volumes (a name or "" for an unresolved volume)
	Destination string    `json:",omitzero"` // absolute path in the container
	ReadOnly    bool      `json:",omitzero"`
	// Propagation of a bind: private, rprivate (default), shared, rshared, slave, rslave.
	Propagation string `json:",omitzero"`
	// NonRecursive makes a bind a plain bind instead of Docker's default rbind.
	NonRecursive bool `json:",omitzero"`
	// TmpfsSize in bytes (0: the kernel's default), TmpfsMode (0: the kernel's 1777).
	TmpfsSize int64  `json:",omitzero"`
	TmpfsMode uint32 `json:",omitzero"`
	// Options are further mount options as given (tmpfs: exec, noexec, uid=, ...; -v: z, Z,
	// nocopy, which need the engine, are kept here for it and not passed to the mount).
	Options []string `json:",omitzero"`
	// NoCopy is volume-nocopy / nocopy: the engine must not fill a new volume from the image.
	NoCopy bool `json:",omitzero"`
}

// Device is one --device: a host device node made available at ContainerPath.
type Device struct {
	HostPath      string `json:",omitzero"`
	ContainerPath string `json:",omitzero"`
	Permissions   string `json:",omitzero"` // subset of "rwm"; Docker's default "rwm"
}

// Ulimit is one --ulimit (name as Docker spells it: nofile, nproc, core, ...).
type Ulimit struct {
	Name string `json:",omitzero"`
	Soft int64  `json:",omitzero"`
	Hard int64  `json:",omitzero"`
}

// Options are a container's settings that affect its spec. The zero value plus ContainerID and
// RootfsPath gives Docker's defaults for the image.
type Options struct {
	ContainerID string `json:",omitzero"` // full id; the default hostname is its first 12 characters
	RootfsPath  string `json:",omitzero"` // the container's root on the host: root.path, and where users are resolved

	// Process.
	Entrypoint    []string `json:",omitzero"` // with EntrypointSet: --entrypoint (empty: none)
	EntrypointSet bool     `json:",omitzero"`
	Cmd           []string `json:",omitzero"` // the command after the image name; nil: the image's Cmd
	Env           []string `json:",omitzero"` // resolved K=V from -e and --env-file, in flag order
	WorkingDir    string   `json:",omitzero"` // -w; must be absolute
	User          string   `json:",omitzero"` // -u: name, uid, name:group, uid:gid
	GroupAdd      []string `json:",omitzero"` // --group-add names or ids
	Tty           bool     `json:",omitzero"` // -t
	OpenStdin     bool     `json:",omitzero"` // -i: no spec field; carried for the engine and the monitor
	Init          bool     `json:",omitzero"` // --init
	InitPath      string   `json:",omitzero"` // host path of the init binary; needed with Init
	StopSignal    string   `json:",omitzero"` // --stop-signal; empty: the image's StopSignal, else SIGTERM

	Hostname   string `json:",omitzero"` // --hostname; default: ContainerID[:12] (the host's with --network host)
	Domainname string `json:",omitzero"`

	// Annotations are --annotation's; labels stay out of the spec, as Docker keeps them.
	Annotations map[string]string `json:",omitzero"`

	// Filesystem.
	ReadOnly bool              `json:",omitzero"` // --read-only
	Tmpfs    map[string]string `json:",omitzero"` // --tmpfs dst -> options ("" for none), see ParseTmpfs
	ShmSize  int64             `json:",omitzero"` // --shm-size bytes; 0: 64 MiB
	// ShmPath is a host path bound at /dev/shm instead of a tmpfs: with --ipc container:ID the
	// engine gives that container's /dev/shm, as Docker binds it (--ipc host binds the host's).
	ShmPath string  `json:",omitzero"`
	Mounts  []Mount `json:",omitzero"` // -v and --mount, resolved

	// Resources (Docker's units and semantics; see the fields' flags).
	Memory            int64    `json:",omitzero"` // --memory bytes; 0: unlimited
	MemorySwap        int64    `json:",omitzero"` // --memory-swap: memory+swap bytes; -1 unlimited; 0: twice Memory
	MemoryReservation int64    `json:",omitzero"` // --memory-reservation bytes
	NanoCPUs          int64    `json:",omitzero"` // --cpus in 1e-9 CPUs (ParseCPUs)
	CPUShares         int64    `json:",omitzero"` // --cpu-shares
	CpusetCpus        string   `json:",omitzero"` // --cpuset-cpus
	CpusetMems        string   `json:",omitzero"` // --cpuset-mems
	PidsLimit         int64    `json:",omitzero"` // --pids-limit; <= 0: unlimited
	Ulimits           []Ulimit `json:",omitzero"`
	DefaultUlimits    []Ulimit `json:",omitzero"` // the engine config's; Ulimits override them by name
	OOMScoreAdj       *int     `json:",omitzero"` // --oom-score-adj
	CgroupParent      string   `json:",omitzero"` // --cgroup-parent
	CgroupsPath       string   `json:",omitzero"` // overrides the path derived from CgroupParent
	NumCPU            int      `json:",omitzero"` // CPUs the host has, for --cpus checks; 0: runtime.NumCPU()

	// Security.
	CapAdd      []string `json:",omitzero"`
	CapDrop     []string `json:",omitzero"`
	Privileged  bool     `json:",omitzero"`
	Devices     []Device `json:",omitzero"`
	SecurityOpt []string `json:",omitzero"` // --security-opt as given (see ParseSecurityOpt); file contents are read
	// SeccompProfile is the JSON of a profile given with seccomp=PATH (the CLI reads the file,
	// as Docker's does); set by ParseSecurityOpt.
	SeccompProfile []byte            `json:",omitzero"`
	Sysctls        map[string]string `json:",omitzero"`

	// Namespaces.
	PID      Namespace  `json:",omitzero"`
	IPC      Namespace  `json:",omitzero"`
	UTS      Namespace  `json:",omitzero"`
	Network  Namespace  `json:",omitzero"` // NSPrivate is --network none: a netns with loopback only
	CgroupNS *Namespace `json:",omitzero"`
	// CgroupV2 says the host is on the unified hierarchy: there Docker gives a private cgroup
	// namespace by default, on v1 the host's.
	CgroupV2 bool `json:",omitzero"`
}

// Result is the spec and what else the engine needs from the translation.
type Result struct {
	Spec       *specs.Spec
	StopSignal syscall.Signal
	// Volumes are the image's VOLUME paths that no mount covers: the engine makes anonymous
	// volumes for them (Docker does).
	Volumes []string
}
