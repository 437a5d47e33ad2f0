package engine

import (
	"context"
	"os"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// SystemInfo is what Docker's `info` shows of the engine and the host,
// with Docker's field names (the Docker API's GET /info shares it).
type SystemInfo struct {
	ID                string
	Containers        int
	ContainersRunning int
	ContainersPaused  int
	ContainersStopped int
	Images            int
	Driver            string
	DriverStatus      [][2]string
	LoggingDriver     string
	CgroupDriver      string
	CgroupVersion     string
	KernelVersion     string
	OperatingSystem   string
	OSVersion         string
	OSType            string
	Architecture      string
	NCPU              int
	MemTotal          int64
	DockerRootDir     string
	Name              string
	ServerVersion     string
	DefaultRuntime    string
	Runtimes          map[string]string // name -> path
	InitBinary        string
	SecurityOptions   []string
}

// Info gathers SystemInfo: counts from the records, the rest from the
// host (uname, /etc/os-release, /proc/meminfo) and the engine's options.
func (e *Engine) Info(version string) (SystemInfo, error) {
	in := SystemInfo{
		Driver: e.driver.Name, LoggingDriver: e.ctrOpts.LogDriver, CgroupDriver: "cgroupfs", CgroupVersion: "1",
		OSType: runtime.GOOS, NCPU: runtime.NumCPU(), MemTotal: int64(HostMemory()), DockerRootDir: e.root,
		ServerVersion: version, Runtimes: map[string]string{}, SecurityOptions: []string{"name=seccomp,profile=builtin"},
	}
	cs, err := e.ListContainers()
	if err != nil {
		return in, err
	}
	for _, c := range cs {
		in.Containers++
		switch {
		case c.State == StateRunning && c.Paused:
			in.ContainersPaused++
		case c.State == StateRunning:
			in.ContainersRunning++
		default:
			in.ContainersStopped++
		}
	}
	imgs, err := e.ListImages(nil)
	if err != nil {
		return in, err
	}
	in.Images = len(imgs)
	if e.ctrOpts.CgroupV2 != nil && *e.ctrOpts.CgroupV2 {
		in.CgroupVersion = "2"
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		in.KernelVersion, in.Architecture = unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:])
		in.Name = unix.ByteSliceToString(u.Nodename[:])
	}
	in.OperatingSystem, in.OSVersion = osRelease()
	if id, err := os.ReadFile("/etc/machine-id"); err == nil {
		in.ID = strings.TrimSpace(string(id))
	}
	if e.ctrOpts.Runtimes != nil {
		if path, name, err := e.ctrOpts.Runtimes(""); err == nil {
			in.DefaultRuntime, in.Runtimes[name] = name, path
		}
	}
	if p, err := e.initBinary(); err == nil {
		in.InitBinary = p
	}
	return in, nil
}

// osRelease is PRETTY_NAME and VERSION_ID of /etc/os-release.
func osRelease() (pretty, version string) {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux", ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, "=")
		v = strings.Trim(v, `"'`)
		switch k {
		case "PRETTY_NAME":
			pretty = v
		case "VERSION_ID":
			version = v
		}
	}
	return pretty, version
}

// DiskUsage is `system df`: images with the size they share with others
// and the containers using them, containers with their writable layers'
// size, volumes with their size and users.
type DiskUsage struct {
	LayersSize int64 // every layer once
	Images     []ImageUsage
	// BuildCache are the build's intermediate images (not in Images);
	// BuildCacheSize their layers that no image of Images has.
	BuildCache     []ImageUsage
	BuildCacheSize int64
	Containers     []ContainerUsage
	Volumes        []VolumeUsage
}

// ImageUsage is one image of DiskUsage.
type ImageUsage struct {
	Image
	Size, SharedSize int64
	Containers       int
}

// ContainerUsage is one container of DiskUsage.
type ContainerUsage struct {
	Container
	SizeRw int64
}

// VolumeUsage is one volume of DiskUsage.
type VolumeUsage struct {
	Volume
	Size  int64
	Links int
}

// DiskUsage measures what the root holds (sizes of container layers and
// volumes are walked: it costs what du would).
func (e *Engine) DiskUsage(ctx context.Context) (DiskUsage, error) {
	var du DiskUsage
	all, err := e.ListImages(nil)
	if err != nil {
		return du, err
	}
	imgs := e.HideIntermediate(all)
	shown := map[v1.Hash]bool{}
	for _, img := range imgs {
		shown[img.ID] = true
	}
	inImages := map[v1.Hash]bool{}
	for _, img := range imgs {
		for _, l := range img.Layers {
			inImages[l.DiffID] = true
		}
	}
	cacheLayers := map[v1.Hash]int64{}
	for _, img := range all {
		if shown[img.ID] {
			continue
		}
		du.BuildCache = append(du.BuildCache, ImageUsage{Image: img, Size: img.Size()})
		for _, l := range img.Layers {
			if !inImages[l.DiffID] {
				cacheLayers[l.DiffID] = l.Size
			}
		}
	}
	for _, n := range cacheLayers {
		du.BuildCacheSize += n
	}
	cs, err := e.ListContainers()
	if err != nil {
		return du, err
	}
	users := map[string]int{}
	for _, c := range cs {
		users[c.Image]++
		rw, _, _ := e.ContainerSize(c)
		du.Containers = append(du.Containers, ContainerUsage{Container: c, SizeRw: rw})
	}
	layerUsers := map[string]int{}
	layerSize := map[string]int64{}
	for _, img := range imgs {
		seen := map[string]bool{}
		for _, l := range img.Layers {
			k := l.DiffID.String()
			if !seen[k] {
				seen[k] = true
				layerUsers[k]++
				layerSize[k] = l.Size
			}
		}
	}
	for _, s := range layerSize {
		du.LayersSize += s
	}
	for _, img := range imgs {
		u := ImageUsage{Image: img, Size: img.Size(), Containers: users[img.ID.String()]}
		for _, l := range img.Layers {
			if layerUsers[l.DiffID.String()] > 1 {
				u.SharedSize += l.Size
			}
		}
		du.Images = append(du.Images, u)
	}
	vols, err := e.ListVolumes(VolumeFilter{})
	if err != nil {
		return du, err
	}
	links := map[string]int{}
	for _, c := range cs {
		for _, m := range c.Mounts {
			if m.Type == "volume" {
				links[m.Name]++
			}
		}
	}
	for _, v := range vols {
		du.Volumes = append(du.Volumes, VolumeUsage{Volume: v, Size: e.VolumeSize(v), Links: links[v.Name]})
	}
	return du, ctx.Err()
}
