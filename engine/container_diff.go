package engine

import (
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/spec"
	"github.com/berth-dev/berth/snapshot/archive"
)

// Change kinds as `docker diff` prints them.
const (
	ChangeModify = "C"
	ChangeAdd    = "A"
	ChangeDelete = "D"
)

// ContainerChange is one line of `berth diff`.
type ContainerChange struct {
	Kind string // ChangeModify, ChangeAdd or ChangeDelete
	Path string // absolute, in the container
}

// ContainerChanges lists what the container changed in its root against
// its image, read from its snapshot's diff and described as Docker does
// (its overlay2 driver): a path the image has is changed (C), unless it
// is a directory whose mode and time are as in the image, which is left
// out; a path it has not is added (A); a whiteout is deleted (D), and so
// is an opaque directory that hides one the image has. The directory of
// an added or deleted path is changed too, listed once. Order: a
// directory before what is in it, names sorted.
func (e *Engine) ContainerChanges(ref string) ([]ContainerChange, error) {
	c, err := e.LookupContainer(ref)
	if err != nil {
		return nil, err
	}
	snaps, err := e.Snapshots()
	if err != nil {
		return nil, err
	}
	cs, err := snaps.Changes(c.Snapshot)
	if err != nil {
		return nil, err
	}
	defer cs.Done()
	var out []ContainerChange
	changedDirs := map[string]bool{}
	own := e.netMountTargets(&c)
	for _, ch := range cs.Changes {
		p := "/" + ch.Path
		if ch.Kind == archive.ChangeAdd && own[p] {
			// The mount point of a generated /etc file, which Docker's
			// init layer hides from diff.
			continue
		}
		var st unix.Stat_t
		isDir := false
		if ch.Kind == archive.ChangeAdd && unix.Lstat(filepath.Join(cs.Root, ch.Path), &st) == nil {
			isDir = st.Mode&unix.S_IFMT == unix.S_IFDIR
		}
		kind := ChangeDelete
		if ch.Kind == archive.ChangeAdd {
			lower, found := inLowers(cs.Lowers, ch.Path)
			switch {
			case found && ch.Opaque:
				kind = ChangeDelete
			case found && isDir && lower.Mode&unix.S_IFMT == unix.S_IFDIR &&
				lower.Mode == st.Mode && lower.Size == st.Size && lower.Mtim.Sec == st.Mtim.Sec &&
				(lower.Mtim.Nsec == st.Mtim.Nsec || lower.Mtim.Nsec == 0 || st.Mtim.Nsec == 0):
				continue // the directory is as in the image
			case found:
				kind = ChangeModify
			default:
				kind = ChangeAdd
			}
		}
		if isDir {
			changedDirs[p] = true
		}
		if kind != ChangeModify {
			if parent := path.Dir(p); parent != "/" && !changedDirs[parent] {
				out = append(out, ContainerChange{Kind: ChangeModify, Path: parent})
				changedDirs[parent] = true
			}
		}
		out = append(out, ContainerChange{Kind: kind, Path: p})
	}
	return dropOwnParent(out, own), nil
}

// netMountTargets are the /etc files the engine binds into c (hosts,
// resolv.conf, hostname): the runtime makes their mount points in the
// container's layer when the image has none.
func (e *Engine) netMountTargets(c *Container) map[string]bool {
	own := map[string]bool{}
	if c.Net == nil {
		return own
	}
	for _, m := range c.Options.Mounts {
		if m.Type == spec.MountBind && filepath.Dir(m.Source) == e.bundleDir(c.Net.owner(c.ID)) && strings.HasPrefix(m.Destination, "/etc/") {
			own[m.Destination] = true
		}
	}
	return own
}

// dropOwnParent leaves out "C /etc" when nothing but those mount points
// changed in it (making them is what touched it).
func dropOwnParent(out []ContainerChange, own map[string]bool) []ContainerChange {
	if len(own) == 0 {
		return out
	}
	for _, ch := range out {
		if strings.HasPrefix(ch.Path, "/etc/") {
			return out
		}
	}
	return slices.DeleteFunc(out, func(ch ContainerChange) bool { return ch.Kind == ChangeModify && ch.Path == "/etc" })
}

// inLowers finds rel in the topmost layer that has it (a whiteout there
// means the image has it not).
func inLowers(lowers []string, rel string) (unix.Stat_t, bool) {
	for _, l := range lowers {
		var st unix.Stat_t
		if unix.Lstat(filepath.Join(l, rel), &st) != nil {
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			return st, false
		}
		return st, true
	}
	return unix.Stat_t{}, false
}
