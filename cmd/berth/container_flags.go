package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/spec"
)

// createFlags are the flags run and create share, as Docker spells them.
type createFlags struct {
	detach, interactive, tty, rm, readOnly, privileged, init, sigProxy, noHealthcheck bool
	attach                                                                            []string
	name, workdir, user, entrypoint, hostname, domainname, stopSignal                 string
	env, envFile, groupAdd, volumes, mounts, volumesFrom, tmpfs                       []string
	capAdd, capDrop, devices, securityOpt, ulimits, sysctls, labels, annotations      []string
	logOpts, labelFiles                                                               []string
	shmSize, memory, memorySwap, memoryReservation, cpus, cpusetCpus, cpusetMems      string
	cpuShares, pidsLimit                                                              int64
	oomScoreAdj, stopTimeout                                                          int
	pid, ipc, uts, cgroupns, cgroupParent, logDriver, runtime, pull                   string
	platform, cidfile, pod                                                            string
	health                                                                            healthFlags
	restart                                                                           string
	// Networks (issue 12).
	networks, publish, expose, dns, dnsSearch, dnsOptions, addHosts, aliases []string
	ip, ip6, mac                                                             string
	publishAll                                                               bool
}

func (f *createFlags) register(fs *pflag.FlagSet, run bool) {
	if run {
		fs.BoolVarP(&f.detach, "detach", "d", false, "run the container in the background and print its ID")
		fs.BoolVar(&f.sigProxy, "sig-proxy", true, "proxy received signals to the container")
	}
	fs.StringSliceVarP(&f.attach, "attach", "a", nil, "attach to STDIN, STDOUT or STDERR")
	fs.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open even if not attached")
	fs.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fs.BoolVar(&f.rm, "rm", false, "automatically remove the container when it exits")
	fs.StringVar(&f.restart, "restart", engine.RestartNo, "restart policy to apply when a container exits (no, always, on-failure[:max-retries], unless-stopped)")
	fs.StringVar(&f.name, "name", "", "assign a name to the container")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set environment variables")
	fs.StringArrayVar(&f.envFile, "env-file", nil, "read in a file of environment variables")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fs.StringVarP(&f.user, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringArrayVar(&f.groupAdd, "group-add", nil, "add additional groups to join")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "overwrite the default ENTRYPOINT of the image")
	fs.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind mount a volume")
	fs.StringArrayVar(&f.mounts, "mount", nil, "attach a filesystem mount to the container")
	fs.StringArrayVar(&f.volumesFrom, "volumes-from", nil, "mount volumes from the specified container(s)")
	fs.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs directory")
	fs.BoolVar(&f.readOnly, "read-only", false, "mount the container's root filesystem as read only")
	fs.StringVar(&f.shmSize, "shm-size", "", "size of /dev/shm")
	fs.StringVarP(&f.memory, "memory", "m", "", "memory limit")
	fs.StringVar(&f.memorySwap, "memory-swap", "", "swap limit equal to memory plus swap: -1 to enable unlimited swap")
	fs.StringVar(&f.memoryReservation, "memory-reservation", "", "memory soft limit")
	fs.StringVar(&f.cpus, "cpus", "", "number of CPUs")
	fs.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.StringVar(&f.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "tune container pids limit (set -1 for unlimited)")
	fs.StringArrayVar(&f.capAdd, "cap-add", nil, "add Linux capabilities")
	fs.StringArrayVar(&f.capDrop, "cap-drop", nil, "drop Linux capabilities")
	fs.BoolVar(&f.privileged, "privileged", false, "give extended privileges to this container")
	fs.StringArrayVar(&f.devices, "device", nil, "add a host device to the container")
	fs.StringArrayVar(&f.securityOpt, "security-opt", nil, "security options")
	fs.StringArrayVar(&f.ulimits, "ulimit", nil, "ulimit options")
	fs.StringArrayVar(&f.sysctls, "sysctl", nil, "sysctl options")
	fs.IntVar(&f.oomScoreAdj, "oom-score-adj", 0, "tune host's OOM preferences (-1000 to 1000)")
	fs.StringVar(&f.pid, "pid", "", "PID namespace to use")
	fs.StringVar(&f.ipc, "ipc", "", "IPC mode to use")
	fs.StringVar(&f.uts, "uts", "", "UTS namespace to use")
	fs.StringVar(&f.cgroupns, "cgroupns", "", "cgroup namespace to use (host|private)")
	fs.StringVar(&f.cgroupParent, "cgroup-parent", "", "optional parent cgroup for the container")
	fs.StringVarP(&f.hostname, "hostname", "h", "", "container host name")
	fs.StringVar(&f.domainname, "domainname", "", "container NIS domain name")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "set meta data on a container")
	fs.StringArrayVar(&f.labelFiles, "label-file", nil, "read in a line delimited file of labels")
	fs.StringArrayVar(&f.annotations, "annotation", nil, "add an annotation to the container (passed through to the OCI runtime)")
	fs.BoolVar(&f.init, "init", false, "run an init inside the container that forwards signals and reaps processes")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "signal to stop the container")
	fs.IntVar(&f.stopTimeout, "stop-timeout", 0, "timeout (in seconds) to stop a container")
	fs.StringVar(&f.logDriver, "log-driver", "", "logging driver for the container (json-file, k8s-file, none)")
	fs.StringArrayVar(&f.logOpts, "log-opt", nil, "log driver options (max-size, max-file)")
	fs.StringArrayVar(&f.networks, "network", nil, "connect a container to a network (bridge, NAME, none, host, container:NAME)")
	fs.StringArrayVar(&f.networks, "net", nil, "connect a container to a network")
	fs.Lookup("net").Hidden = true
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a container's port(s) to the host")
	fs.BoolVarP(&f.publishAll, "publish-all", "P", false, "publish all exposed ports to random ports")
	fs.StringArrayVar(&f.expose, "expose", nil, "expose a port or a range of ports")
	fs.StringVar(&f.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	fs.StringVar(&f.ip6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	fs.StringVar(&f.mac, "mac-address", "", "container MAC address (e.g., 92:d0:c6:0a:29:33)")
	fs.StringArrayVar(&f.dns, "dns", nil, "set custom DNS servers")
	fs.StringArrayVar(&f.dnsSearch, "dns-search", nil, "set custom DNS search domains")
	fs.StringArrayVar(&f.dnsOptions, "dns-option", nil, "set DNS options")
	fs.StringArrayVar(&f.addHosts, "add-host", nil, "add a custom host-to-IP mapping (host:ip)")
	fs.StringArrayVar(&f.aliases, "network-alias", nil, "add network-scoped alias for the container")
	fs.StringVar(&f.runtime, "runtime", "", "runtime to use for this container")
	fs.StringVar(&f.pull, "pull", engine.PullMissing, `pull image before running ("always", "missing", "never")`)
	fs.StringVar(&f.platform, "platform", "", "set platform if server is multi-platform capable")
	fs.StringVar(&f.cidfile, "cidfile", "", "write the container ID to the file")
	fs.StringVar(&f.pod, "pod", "", "run container in an existing pod, or new:NAME to create one")
	fs.BoolVar(&f.noHealthcheck, "no-healthcheck", false, "disable any container-specified HEALTHCHECK")
	f.health.register(fs)
	// -h is --hostname, as in Docker: help is --help only.
	fs.BoolP("help", "", false, "help")
}

func keyValues(flag string, list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid %s %q: empty key", flag, kv)
		}
		m[k] = v
	}
	return m, nil
}

// options turns the flags, image and command into the engine's create
// options; every parse error names its flag.
func (f *createFlags) options(cmd *cobra.Command, image string, args []string) (engine.CreateOptions, error) {
	fs := cmd.Flags()
	o := engine.CreateOptions{Name: f.name, Image: image, Pull: f.pull, Runtime: f.runtime, AutoRemove: f.rm,
		LogDriver: f.logDriver, VolumesFrom: f.volumesFrom, PullNotice: cmd.ErrOrStderr()}
	if f.platform != "" {
		p, err := engine.ParsePlatform(f.platform)
		if err != nil {
			return o, fmt.Errorf("invalid --platform %q: %w", f.platform, err)
		}
		o.Transfer.Platform = p
	}
	o.Transfer.Progress = cmd.ErrOrStderr()
	rp, err := engine.ParseRestartPolicy(f.restart)
	if err != nil {
		return o, err
	}
	if f.rm && !rp.IsNone() {
		return o, errors.New("conflicting options: --restart and --rm")
	}
	o.RestartPolicy = rp
	so := &o.Spec
	so.Cmd = args
	if fs.Changed("entrypoint") {
		so.EntrypointSet = true
		if f.entrypoint != "" {
			so.Entrypoint = []string{f.entrypoint}
		}
	}
	for _, name := range f.envFile {
		fh, err := os.Open(name)
		if err != nil {
			return o, fmt.Errorf("--env-file: %w", err)
		}
		env, err := spec.ParseEnvFile(name, fh, os.LookupEnv)
		fh.Close()
		if err != nil {
			return o, err
		}
		so.Env = append(so.Env, env...)
	}
	for _, e := range f.env {
		v, ok, err := spec.ResolveEnv(e, os.LookupEnv)
		if err != nil {
			return o, err
		}
		if ok {
			so.Env = append(so.Env, v)
		}
	}
	so.WorkingDir, so.User, so.GroupAdd = f.workdir, f.user, f.groupAdd
	if so.WorkingDir != "" && !strings.HasPrefix(so.WorkingDir, "/") {
		return o, fmt.Errorf("invalid -w %q: the working directory must be an absolute path", so.WorkingDir)
	}
	so.Tty, so.OpenStdin, so.Init = f.tty, f.interactive, f.init
	so.StopSignal, so.Hostname, so.Domainname = f.stopSignal, f.hostname, f.domainname
	if f.stopSignal != "" {
		if _, err := spec.ParseSignal(f.stopSignal); err != nil {
			return o, fmt.Errorf("invalid --stop-signal: %w", err)
		}
	}
	if fs.Changed("stop-timeout") {
		t := f.stopTimeout
		o.StopTimeout = &t
	}
	if so.Annotations, err = keyValues("--annotation", f.annotations); err != nil {
		return o, err
	}
	labels := append([]string{}, f.labels...)
	for _, name := range f.labelFiles {
		b, err := os.ReadFile(name)
		if err != nil {
			return o, fmt.Errorf("--label-file: %w", err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				labels = append(labels, l)
			}
		}
	}
	if o.Labels, err = keyValues("--label", labels); err != nil {
		return o, err
	}
	if o.LogOpts, err = keyValues("--log-opt", f.logOpts); err != nil {
		return o, err
	}
	so.ReadOnly = f.readOnly
	for _, t := range f.tmpfs {
		dst, opts, err := spec.ParseTmpfs(t)
		if err != nil {
			return o, err
		}
		if so.Tmpfs == nil {
			so.Tmpfs = map[string]string{}
		}
		so.Tmpfs[dst] = opts
	}
	for _, v := range f.volumes {
		m, err := spec.ParseVolume(v)
		if err != nil {
			return o, err
		}
		o.Binds = append(o.Binds, m)
	}
	for _, v := range f.mounts {
		m, err := spec.ParseMount(v)
		if err != nil {
			return o, err
		}
		so.Mounts = append(so.Mounts, m)
	}
	sizes := []struct {
		flag string
		v    string
		dst  *int64
	}{
		{"--shm-size", f.shmSize, &so.ShmSize},
		{"--memory", f.memory, &so.Memory},
		{"--memory-reservation", f.memoryReservation, &so.MemoryReservation},
	}
	for _, s := range sizes {
		if s.v == "" {
			continue
		}
		if *s.dst, err = spec.ParseMemory(s.flag, s.v); err != nil {
			return o, err
		}
	}
	if f.memorySwap != "" {
		if so.MemorySwap, err = spec.ParseMemorySwap(f.memorySwap); err != nil {
			return o, err
		}
	}
	if f.cpus != "" {
		if so.NanoCPUs, err = spec.ParseCPUs(f.cpus); err != nil {
			return o, err
		}
	}
	so.CPUShares, so.CpusetCpus, so.CpusetMems, so.PidsLimit = f.cpuShares, f.cpusetCpus, f.cpusetMems, f.pidsLimit
	for _, u := range f.ulimits {
		l, err := spec.ParseUlimit(u)
		if err != nil {
			return o, err
		}
		so.Ulimits = append(so.Ulimits, l)
	}
	if fs.Changed("oom-score-adj") {
		v := f.oomScoreAdj
		so.OOMScoreAdj = &v
	}
	so.CgroupParent = f.cgroupParent
	so.CapAdd, so.CapDrop, so.Privileged = f.capAdd, f.capDrop, f.privileged
	for _, d := range f.devices {
		dev, err := spec.ParseDevice(d)
		if err != nil {
			return o, err
		}
		so.Devices = append(so.Devices, dev)
	}
	for _, s := range f.securityOpt {
		if err := spec.ParseSecurityOpt(so, s); err != nil {
			return o, err
		}
	}
	for _, s := range f.sysctls {
		k, v, err := spec.ParseSysctl(s)
		if err != nil {
			return o, err
		}
		if so.Sysctls == nil {
			so.Sysctls = map[string]string{}
		}
		so.Sysctls[k] = v
	}
	if o.Healthcheck, err = f.health.config(f.noHealthcheck); err != nil {
		return o, err
	}
	o.Modes = engine.NamespaceModes{PID: f.pid, IPC: f.ipc, UTS: f.uts, Cgroup: f.cgroupns}
	o.Network = engine.NetworkRequest{Networks: f.networks, IP: f.ip, IP6: f.ip6, MAC: f.mac, Aliases: f.aliases,
		Publish: f.publish, PublishAll: f.publishAll, Expose: f.expose, DNS: f.dns, DNSSearch: f.dnsSearch,
		DNSOptions: f.dnsOptions, ExtraHosts: f.addHosts}
	o.Pod = f.pod
	// Which streams: -a as given; run in the foreground takes stdout and
	// stderr (and stdin with -i); create takes none unless -a.
	for _, a := range f.attach {
		switch strings.ToLower(a) {
		case "stdin":
			o.AttachStdin = true
		case "stdout":
			o.AttachStdout = true
		case "stderr":
			o.AttachStderr = true
		default:
			return o, fmt.Errorf("invalid --attach %q: want stdin, stdout or stderr", a)
		}
	}
	if f.detach && len(f.attach) > 0 {
		return o, errors.New("conflicting options: cannot specify both --attach and --detach")
	}
	if cmd.Name() == "run" && !f.detach && len(f.attach) == 0 {
		o.AttachStdout, o.AttachStderr = true, true
		o.AttachStdin = f.interactive
	}
	if o.AttachStdin {
		o.StdinOnce = true
	}
	return o, nil
}

// parseStopTimeout reads -t / --time as docker stop does.
func parseStopTimeout(cmd *cobra.Command, v int) *int {
	if !cmd.Flags().Changed("time") && !cmd.Flags().Changed("timeout") {
		return nil
	}
	return &v
}

var _ = strconv.Itoa
