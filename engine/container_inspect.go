package engine

import (
	"maps"
	"strings"
	"time"
)

// ContainerInspect is Docker's `container inspect` shape (the fields
// Berth knows), shared by the CLI and the Docker API.
type ContainerInspect struct {
	ID              string            `json:"Id"`
	Created         string            `json:"Created"`
	Path            string            `json:"Path"`
	Args            []string          `json:"Args"`
	State           ContainerState    `json:"State"`
	Image           string            `json:"Image"`
	ResolvConfPath  string            `json:"ResolvConfPath"`
	HostnamePath    string            `json:"HostnamePath"`
	HostsPath       string            `json:"HostsPath"`
	LogPath         string            `json:"LogPath"`
	Name            string            `json:"Name"`
	RestartCount    int               `json:"RestartCount"`
	Driver          string            `json:"Driver"`
	Platform        string            `json:"Platform"`
	MountLabel      string            `json:"MountLabel"`
	ProcessLabel    string            `json:"ProcessLabel"`
	AppArmorProfile string            `json:"AppArmorProfile"`
	ExecIDs         []string          `json:"ExecIDs"`
	HostConfig      HostConfig        `json:"HostConfig"`
	GraphDriver     GraphDriver       `json:"GraphDriver"`
	SizeRw          *int64            `json:"SizeRw,omitempty"`
	SizeRootFs      *int64            `json:"SizeRootFs,omitempty"`
	Mounts          []InspectMount    `json:"Mounts"`
	Config          ContainerConfig   `json:"Config"`
	NetworkSettings NetworkSettings   `json:"NetworkSettings"`
	Labels          map[string]string `json:"-"`
}

// InspectMount is one of inspect's Mounts.
type InspectMount struct {
	Type        string `json:"Type"`
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Driver      string `json:"Driver,omitempty"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"`
}

// ContainerState is inspect's State.
type ContainerState struct {
	Status     string  `json:"Status"`
	Running    bool    `json:"Running"`
	Paused     bool    `json:"Paused"`
	Restarting bool    `json:"Restarting"`
	OOMKilled  bool    `json:"OOMKilled"`
	Dead       bool    `json:"Dead"`
	Pid        int     `json:"Pid"`
	ExitCode   int     `json:"ExitCode"`
	Error      string  `json:"Error"`
	StartedAt  string  `json:"StartedAt"`
	FinishedAt string  `json:"FinishedAt"`
	Health     *Health `json:"Health,omitempty"`
}

// HostConfig is inspect's HostConfig, from the options the container was
// created with.
type HostConfig struct {
	Binds             []string          `json:"Binds"`
	LogConfig         LogConfigInspect  `json:"LogConfig"`
	NetworkMode       string            `json:"NetworkMode"`
	AutoRemove        bool              `json:"AutoRemove"`
	VolumesFrom       []string          `json:"VolumesFrom"`
	CapAdd            []string          `json:"CapAdd"`
	CapDrop           []string          `json:"CapDrop"`
	CgroupnsMode      string            `json:"CgroupnsMode"`
	GroupAdd          []string          `json:"GroupAdd"`
	IpcMode           string            `json:"IpcMode"`
	Cgroup            string            `json:"Cgroup"`
	OomScoreAdj       int               `json:"OomScoreAdj"`
	PidMode           string            `json:"PidMode"`
	Privileged        bool              `json:"Privileged"`
	ReadonlyRootfs    bool              `json:"ReadonlyRootfs"`
	SecurityOpt       []string          `json:"SecurityOpt"`
	Tmpfs             map[string]string `json:"Tmpfs,omitempty"`
	UTSMode           string            `json:"UTSMode"`
	ShmSize           int64             `json:"ShmSize"`
	Sysctls           map[string]string `json:"Sysctls,omitempty"`
	Runtime           string            `json:"Runtime"`
	Annotations       map[string]string `json:"Annotations,omitempty"`
	CPUShares         int64             `json:"CpuShares"`
	Memory            int64             `json:"Memory"`
	NanoCPUs          int64             `json:"NanoCpus"`
	CgroupParent      string            `json:"CgroupParent"`
	CpusetCpus        string            `json:"CpusetCpus"`
	CpusetMems        string            `json:"CpusetMems"`
	Devices           []DeviceMapping   `json:"Devices"`
	MemoryReservation int64             `json:"MemoryReservation"`
	MemorySwap        int64             `json:"MemorySwap"`
	PidsLimit         *int64            `json:"PidsLimit"`
	Ulimits           []UlimitInspect   `json:"Ulimits"`
	Init              *bool             `json:"Init"`
	RestartPolicy     RestartPolicy     `json:"RestartPolicy"`
}

// LogConfigInspect is HostConfig.LogConfig.
type LogConfigInspect struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// DeviceMapping is one HostConfig.Devices entry.
type DeviceMapping struct {
	PathOnHost        string `json:"PathOnHost"`
	PathInContainer   string `json:"PathInContainer"`
	CgroupPermissions string `json:"CgroupPermissions"`
}

// UlimitInspect is one HostConfig.Ulimits entry.
type UlimitInspect struct {
	Name string `json:"Name"`
	Hard int64  `json:"Hard"`
	Soft int64  `json:"Soft"`
}

// GraphDriver is inspect's GraphDriver.
type GraphDriver struct {
	Data map[string]string `json:"Data"`
	Name string            `json:"Name"`
}

// dockerTime prints a time as Docker's inspect does (zero included).
func dockerTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// InspectContainer describes a container as Docker's inspect does; with
// size, SizeRw and SizeRootFs too.
func (e *Engine) InspectContainer(ref string, size bool) (ContainerInspect, error) {
	c, err := e.LookupContainer(ref)
	if err != nil {
		return ContainerInspect{}, err
	}
	return e.inspect(c, size), nil
}

func (e *Engine) inspect(c Container, size bool) ContainerInspect {
	o := c.Options
	j := ContainerInspect{
		ID: c.ID, Created: dockerTime(c.Created), Path: c.Path, Args: c.Args,
		State: ContainerState{
			Status: c.Status(), Running: c.State == StateRunning || c.State == StateRestarting,
			Restarting: c.State == StateRestarting, Paused: c.Paused, OOMKilled: c.OOMKilled, Pid: c.PID,
			ExitCode: c.ExitCode, Error: c.Error, StartedAt: dockerTime(c.Started), FinishedAt: dockerTime(c.Finished),
		},
		Image: c.Image, LogPath: c.Log.Path, Name: "/" + c.Name, RestartCount: c.RestartCount,
		Driver: e.driver.Name, Platform: "linux", ExecIDs: nil, Mounts: []InspectMount{}, Config: c.Config,
		GraphDriver:     GraphDriver{Name: e.driver.Name, Data: map[string]string{"MergedDir": e.rootfsDir(c.ID)}},
		NetworkSettings: e.inspectNetwork(c),
	}
	if c.Net != nil {
		j.HostsPath, j.ResolvConfPath, j.HostnamePath = e.netFile(c.Net.owner(c.ID), "hosts"),
			e.netFile(c.Net.owner(c.ID), "resolv.conf"), e.netFile(c.Net.owner(c.ID), "hostname")
	}
	if j.Args == nil {
		j.Args = []string{}
	}
	j.State.Health = e.ContainerHealth(&c)
	for _, m := range c.Mounts {
		j.Mounts = append(j.Mounts, InspectMount{m.Type, m.Name, m.Source, m.Destination, m.Driver, m.Mode, m.RW, m.Propagation})
	}
	h := &j.HostConfig
	h.LogConfig = LogConfigInspect{Type: c.Log.Driver, Config: map[string]string{}}
	maps.Copy(h.LogConfig.Config, c.Log.Opts)
	mode := func(m, def string) string {
		if m == "" {
			return def
		}
		return m
	}
	h.NetworkMode = mode(c.Modes.Network, "none")
	h.PidMode, h.IpcMode, h.UTSMode = c.Modes.PID, mode(c.Modes.IPC, "private"), c.Modes.UTS
	h.CgroupnsMode = mode(c.Modes.Cgroup, map[bool]string{true: "private", false: "host"}[o.CgroupV2])
	h.RestartPolicy = c.RestartPolicy
	if h.RestartPolicy.Name == "" {
		h.RestartPolicy.Name = "no"
	}
	h.AutoRemove, h.CapAdd, h.CapDrop, h.GroupAdd = c.AutoRemove, o.CapAdd, o.CapDrop, o.GroupAdd
	if o.OOMScoreAdj != nil {
		h.OomScoreAdj = *o.OOMScoreAdj
	}
	h.Privileged, h.ReadonlyRootfs, h.SecurityOpt, h.Tmpfs = o.Privileged, o.ReadOnly, o.SecurityOpt, o.Tmpfs
	h.ShmSize = o.ShmSize
	if h.ShmSize == 0 {
		h.ShmSize = 64 << 20
	}
	h.Sysctls, h.Runtime, h.Annotations = o.Sysctls, c.Runtime, o.Annotations
	h.CPUShares, h.Memory, h.NanoCPUs, h.CgroupParent = o.CPUShares, o.Memory, o.NanoCPUs, o.CgroupParent
	h.CpusetCpus, h.CpusetMems, h.MemoryReservation, h.MemorySwap = o.CpusetCpus, o.CpusetMems, o.MemoryReservation, o.MemorySwap
	if o.PidsLimit != 0 {
		v := o.PidsLimit
		h.PidsLimit = &v
	}
	for _, d := range o.Devices {
		h.Devices = append(h.Devices, DeviceMapping{d.HostPath, d.ContainerPath, d.Permissions})
	}
	for _, u := range o.Ulimits {
		h.Ulimits = append(h.Ulimits, UlimitInspect{u.Name, u.Hard, u.Soft})
	}
	if o.Init {
		t := true
		h.Init = &t
	}
	for _, m := range c.Mounts {
		src := m.Source
		if m.Type == "volume" {
			src = m.Name
			if m.Anonymous {
				continue
			}
		}
		b := src + ":" + m.Destination
		if !m.RW {
			b += ":ro"
		}
		h.Binds = append(h.Binds, b)
	}
	if size {
		if rw, root, err := e.ContainerSize(c); err == nil {
			j.SizeRw, j.SizeRootFs = &rw, &root
		}
	}
	if strings.HasPrefix(c.Modes.Network, "container:") {
		j.HostConfig.NetworkMode = c.Modes.Network
	}
	return j
}
