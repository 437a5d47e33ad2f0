// Package container is the OCI runtime library behind berth-runtime: create, start, state,
// kill and delete of containers described by an OCI bundle.
package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// MaxConfigSize is the largest config.json the runtime reads. Real configs are a few KiB; the
// bound keeps a huge or endless file (a symlink to /dev/zero) from exhausting memory.
const MaxConfigSize = 16 << 20

// loadSpec reads and checks bundle/config.json and returns it with the bytes of its JSON value
// (kept as they are in the state). Errors name the file and what is wrong.
func loadSpec(bundle string) (*specs.Spec, []byte, error) {
	path := filepath.Join(bundle, "config.json")
	// O_NONBLOCK: a FIFO put there must not hang the open.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s not found: is %s an OCI bundle?", path, bundle)
		}
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("read %s: not a regular file (%s)", path, st.Mode().Type())
	}
	if st.Size() > MaxConfigSize {
		return nil, nil, fmt.Errorf("read %s: %d bytes is larger than the %d MiB a config may have", path, st.Size(), MaxConfigSize>>20)
	}
	spec, raw, err := decodeSpecFrom(f)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if err := validate(spec, bundle); err != nil {
		return nil, nil, fmt.Errorf("invalid %s: %w", path, err)
	}
	return spec, raw, nil
}

var errConfigTooLarge = fmt.Errorf("larger than the %d MiB a config may have", MaxConfigSize>>20)

// decodeSpecFrom decodes the first JSON value of r, reading at most MaxConfigSize bytes (the
// file may grow after a stat), and returns the bytes of that value: trailing data after it is
// ignored, as encoding/json's Decoder does. The common shape takes the decoder without
// reflection (specfast.go); anything else goes through encoding/json.
func decodeSpecFrom(r io.Reader) (*specs.Spec, []byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxConfigSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > MaxConfigSize {
		return nil, nil, errConfigTooLarge
	}
	if spec, end, ok := fastDecodeSpec(data); ok {
		return spec, data[:end], nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var ls linuxSpec
	if err := dec.Decode(&ls); err != nil {
		return nil, nil, err
	}
	return ls.spec(), data[:dec.InputOffset()], nil
}

// ParseSpec decodes and validates a config.json; name is used in errors.
func ParseSpec(name string, data []byte, bundle string) (*specs.Spec, error) {
	spec, err := decodeSpec(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	if err := validate(spec, bundle); err != nil {
		return nil, fmt.Errorf("invalid %s: %w", name, err)
	}
	return spec, nil
}

// linuxSpec is specs.Spec without the sections of other platforms (windows,
// solaris, vm, zos, freebsd), which this runtime ignores. Decoding into it
// instead of specs.Spec saves ~0.3 ms per process: the first decode of a type
// makes encoding/json build coders for every type reachable from it.
type linuxSpec struct {
	Version     string            `json:"ociVersion"`
	Process     *specs.Process    `json:"process,omitempty"`
	Root        *specs.Root       `json:"root,omitempty"`
	Hostname    string            `json:"hostname,omitempty"`
	Domainname  string            `json:"domainname,omitempty"`
	Mounts      []specs.Mount     `json:"mounts,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Linux       *specs.Linux      `json:"linux,omitempty"`
}

// decodeSpec decodes the first JSON value of data as a config.
func decodeSpec(data []byte) (*specs.Spec, error) {
	if spec, _, ok := fastDecodeSpec(data); ok {
		return spec, nil
	}
	var ls linuxSpec
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&ls); err != nil {
		return nil, err
	}
	return ls.spec(), nil
}

func (ls *linuxSpec) spec() *specs.Spec {
	return &specs.Spec{
		Version: ls.Version, Process: ls.Process, Root: ls.Root, Hostname: ls.Hostname,
		Domainname: ls.Domainname, Mounts: ls.Mounts, Hooks: ls.Hooks, Annotations: ls.Annotations,
		Linux: ls.Linux,
	}
}

func validate(spec *specs.Spec, bundle string) error {
	if spec.Root == nil || spec.Root.Path == "" {
		return errors.New("root.path is required")
	}
	if spec.Process == nil {
		return errors.New("process is required")
	}
	if len(spec.Process.Args) == 0 {
		return errors.New("process.args must not be empty")
	}
	if spec.Process.Cwd != "" && !filepath.IsAbs(spec.Process.Cwd) {
		return fmt.Errorf("process.cwd %q is not an absolute path", spec.Process.Cwd)
	}
	if err := checkUser(spec.Process.User, "process.user"); err != nil {
		return err
	}
	if spec.Linux == nil {
		return errors.New("linux section is required")
	}
	if err := checkResources(spec.Linux.Resources); err != nil {
		return err
	}
	root := spec.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(bundle, root)
	}
	st, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("root.path %s: %w", root, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("root.path %s is not a directory", root)
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range spec.Linux.Namespaces {
		if _, ok := nsFlags[ns.Type]; !ok {
			return fmt.Errorf("unknown namespace type %q", ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("namespace %q listed twice", ns.Type)
		}
		seen[ns.Type] = true
	}
	for _, m := range spec.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("mount destination %q is not an absolute path", m.Destination)
		}
	}
	if (len(spec.Linux.UIDMappings) > 0 || len(spec.Linux.GIDMappings) > 0) && !seen[specs.UserNamespace] {
		return errors.New("uid/gid mappings need a user namespace")
	}
	if spec.Hostname != "" && !seen[specs.UTSNamespace] {
		return errors.New("hostname needs a new uts namespace")
	}
	for key := range spec.Linux.Sysctl {
		if err := checkSysctl(key, seen); err != nil {
			return err
		}
	}
	return nil
}

// ipcSysctls are the sysctls an ipc namespace owns (besides fs.mqueue.*).
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// checkSysctl accepts, as runc does, only sysctls of a namespace the container has: any other
// would be written to the host's kernel.
func checkSysctl(key string, ns map[specs.LinuxNamespaceType]bool) error {
	switch {
	case ipcSysctls[key] || strings.HasPrefix(key, "fs.mqueue."):
		if !ns[specs.IPCNamespace] {
			return fmt.Errorf("sysctl %q needs a new ipc namespace", key)
		}
	case strings.HasPrefix(key, "net."):
		if !ns[specs.NetworkNamespace] {
			return fmt.Errorf("sysctl %q needs a new network namespace", key)
		}
	case key == "kernel.domainname" && ns[specs.UTSNamespace]:
	case key == "kernel.hostname" && ns[specs.UTSNamespace]:
		return fmt.Errorf("sysctl %q is not allowed: set hostname in the config instead", key)
	default:
		return fmt.Errorf("sysctl %q is not in a separate kernel namespace", key)
	}
	return nil
}

// validID reports whether id matches ^[A-Za-z0-9_+\-.]+$ (runc's rule). A loop rather than a
// regexp: regexp and the Unicode tables it links cost ~200 KB of binary that every start maps.
func validID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return id != ""
}

// CheckID rejects container IDs that could escape the state root or confuse tools.
func CheckID(id string) error {
	if id == "" {
		return errors.New("container id must not be empty")
	}
	if id == "." || id == ".." || !validID(id) || len(id) > 1024 {
		return fmt.Errorf("invalid container id %q: use letters, digits, '_', '+', '-' and '.'", id)
	}
	return nil
}
