package build

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// PlatformBackend is a Backend that can resolve FROM's image for a
// platform other than the host's (FROM --platform, build --platform);
// a backend without it only builds for the host.
type PlatformBackend interface {
	BaseFor(ctx context.Context, ref, pull string, p v1.Platform) (Image, error)
}

// HostPlatform is BUILDPLATFORM: the only one whose RUN steps can run
// here, since there is no emulation.
func HostPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
	}
	return p
}

// ParsePlatform reads os/arch[/variant] as --platform takes it; one
// word is an OS (with the host's architecture) or an architecture (of
// linux), as containerd's platform parser reads it. The images built
// here are Linux images.
func ParsePlatform(s string) (v1.Platform, error) {
	w := strings.ToLower(strings.TrimSpace(s))
	bad := fmt.Errorf("invalid platform %q: want os/arch[/variant], e.g. linux/amd64", s)
	var p v1.Platform
	switch parts := strings.Split(w, "/"); len(parts) {
	case 1:
		switch parts[0] {
		case "linux", "windows", "darwin", "freebsd":
			p = v1.Platform{OS: parts[0], Architecture: runtime.GOARCH}
		default:
			p = v1.Platform{OS: "linux", Architecture: parts[0]}
		}
	case 2:
		p = v1.Platform{OS: parts[0], Architecture: parts[1]}
	case 3:
		p = v1.Platform{OS: parts[0], Architecture: parts[1], Variant: parts[2]}
	default:
		return v1.Platform{}, bad
	}
	if p.OS == "" || p.Architecture == "" || (strings.Count(w, "/") == 2 && p.Variant == "") {
		return v1.Platform{}, bad
	}
	if p.OS != "linux" {
		return v1.Platform{}, fmt.Errorf("platform %q: only linux images can be built", s)
	}
	// BuildKit's normal form: arm64 has no variant, amd64's v1 is none.
	if (p.Architecture == "arm64" && p.Variant == "v8") || (p.Architecture == "amd64" && p.Variant == "v1") {
		p.Variant = ""
	}
	if p.Architecture == "arm" && p.Variant == "" {
		p.Variant = "v7"
	}
	return p, nil
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

func samePlatform(a, b v1.Platform) bool {
	return a.OS == b.OS && a.Architecture == b.Architecture && a.Variant == b.Variant
}

// platformArgs are BuildKit's automatic platform ARGs, in the global
// scope (FROM can use them; a stage sees them after a bare ARG).
func platformArgs(build, target v1.Platform) map[string]string {
	return map[string]string{
		"BUILDPLATFORM": platformString(build), "BUILDOS": build.OS,
		"BUILDARCH": build.Architecture, "BUILDVARIANT": build.Variant,
		"TARGETPLATFORM": platformString(target), "TARGETOS": target.OS,
		"TARGETARCH": target.Architecture, "TARGETVARIANT": target.Variant,
	}
}

func isPlatformArg(k string) bool {
	switch k {
	case "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
		"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT":
		return true
	}
	return false
}

// targetPlatform is --platform, or the host's.
func (bd *builder) targetPlatform() (v1.Platform, error) {
	if bd.o.Platform == "" {
		return HostPlatform(), nil
	}
	return ParsePlatform(bd.o.Platform)
}

// noEmulation refuses a RUN in a stage for another platform: its
// binaries cannot run on this machine. loc is the RUN's line.
func noEmulation(p v1.Platform, cmds []instructions.Command) (loc []parser.Range, err error) {
	if samePlatform(p, HostPlatform()) {
		return nil, nil
	}
	for _, c := range cmds {
		if r, ok := c.(*instructions.RunCommand); ok {
			return r.Location(), fmt.Errorf("RUN in a stage for %s: only %s can run here (no emulation)",
				platformString(p), platformString(HostPlatform()))
		}
	}
	return nil, nil
}

// scratchKey keeps the cache keys of host builds as they were.
func scratchKey(p v1.Platform) string {
	if samePlatform(p, HostPlatform()) {
		return p.Architecture
	}
	return platformString(p)
}

// base resolves FROM's image for the stage's platform.
func (bd *builder) base(ctx context.Context, ref, pull string, p v1.Platform) (Image, error) {
	if bd.o.Platform == "" && samePlatform(p, HostPlatform()) {
		return bd.b.Base(ctx, ref, pull)
	}
	pb, ok := bd.b.(PlatformBackend)
	if !ok {
		if samePlatform(p, HostPlatform()) {
			return bd.b.Base(ctx, ref, pull)
		}
		return Image{}, fmt.Errorf("%s: this builder only builds for %s", platformString(p), platformString(HostPlatform()))
	}
	return pb.BaseFor(ctx, ref, pull, p)
}
