package spec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// maxIDFile bounds what is read of the container's /etc/passwd or /etc/group: the rootfs is the
// image author's, and a huge file must not make the engine read without end.
const maxIDFile = 4 << 20

// ExecUser is a user resolved in the container's rootfs.
type ExecUser struct {
	UID, GID       uint32
	AdditionalGids []uint32
	Home           string
}

type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// readRootFile reads a file of the rootfs, resolving every path component inside it (an absolute
// or ../ symlink stays within root), as a regular file of at most maxIDFile bytes. A missing file
// is (nil, nil): images without /etc/passwd are common.
func readRootFile(root, name string) ([]byte, error) {
	h, err := securejoin.OpenInRoot(root, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			return nil, nil
		}
		return nil, fmt.Errorf("open %s in the container's rootfs: %w", name, err)
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return nil, fmt.Errorf("stat %s in the container's rootfs: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s in the container's rootfs is not a regular file", name)
	}
	f, err := securejoin.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open %s in the container's rootfs: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIDFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s in the container's rootfs: %w", name, err)
	}
	if len(data) > maxIDFile {
		return nil, fmt.Errorf("%s in the container's rootfs is larger than %d bytes", name, maxIDFile)
	}
	return data, nil
}

func parseID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > math.MaxInt32 {
		return 0, false
	}
	return uint32(n), true
}

// idFileRecords splits passwd/group data into the colon-separated fields of each record with at
// least minFields fields, skipping blank, comment and short lines as libc does.
func idFileRecords(data []byte, minFields int) [][]string {
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxIDFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Split(line, ":"); len(f) >= minFields {
			out = append(out, f)
		}
	}
	return out
}

// parsePasswd reads passwd lines, skipping malformed ones as libc does.
func parsePasswd(data []byte) []passwdEntry {
	var out []passwdEntry
	for _, f := range idFileRecords(data, 4) {
		uid, ok1 := parseID(f[2])
		gid, ok2 := parseID(f[3])
		if !ok1 || !ok2 {
			continue
		}
		e := passwdEntry{name: f[0], uid: uid, gid: gid}
		if len(f) > 5 {
			e.home = f[5]
		}
		out = append(out, e)
	}
	return out
}

func parseGroup(data []byte) []groupEntry {
	var out []groupEntry
	for _, f := range idFileRecords(data, 3) {
		gid, ok := parseID(f[2])
		if !ok {
			continue
		}
		e := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			e.members = strings.Split(f[3], ",")
		}
		out = append(out, e)
	}
	return out
}

// ResolveUser resolves -u (user, user:group, uid, uid:gid; "" is root) and --group-add in the
// rootfs as Docker does (moby/sys/user's rules): a name must exist, an id need not; the user's
// supplementary groups come from /etc/group only when no group is given; HOME is the passwd
// entry's, "/" for an id without one.
func ResolveUser(rootfs, userSpec string, groupAdd []string) (ExecUser, error) {
	var passwd []passwdEntry
	var groups []groupEntry
	var groupsRead bool
	loadGroups := func() error {
		if groupsRead {
			return nil
		}
		groupsRead = true
		data, err := readRootFile(rootfs, "/etc/group")
		if err != nil {
			return err
		}
		groups = parseGroup(data)
		return nil
	}
	data, err := readRootFile(rootfs, "/etc/passwd")
	if err != nil {
		return ExecUser{}, err
	}
	passwd = parsePasswd(data)

	userArg, groupArg, hasGroup := strings.Cut(userSpec, ":")
	if hasGroup && groupArg == "" {
		return ExecUser{}, fmt.Errorf("invalid --user %q: empty group", userSpec)
	}
	u := ExecUser{Home: "/"}
	var found *passwdEntry
	uid, numeric := parseID(userArg)
	if userArg == "" {
		uid, numeric = 0, true
	} else if !numeric {
		if _, err := strconv.ParseInt(userArg, 10, 64); err == nil {
			return ExecUser{}, fmt.Errorf("invalid --user %q: uids must be in the range 0-%d", userSpec, math.MaxInt32)
		}
	}
	for i := range passwd {
		p := &passwd[i]
		if (numeric && p.uid == uid) || (!numeric && p.name == userArg) {
			found = p
			break
		}
	}
	switch {
	case found != nil:
		u.UID, u.GID = found.uid, found.gid
		if found.home != "" {
			u.Home = found.home
		}
	case numeric:
		u.UID = uid
	default:
		return ExecUser{}, fmt.Errorf("--user %q: unable to find user %s: no matching entries in the image's /etc/passwd", userSpec, userArg)
	}

	if hasGroup {
		g, err := lookupGroup(groupArg, loadGroups, &groups)
		if err != nil {
			return ExecUser{}, fmt.Errorf("--user %q: %w", userSpec, err)
		}
		u.GID = g
	} else if found != nil {
		if err := loadGroups(); err != nil {
			return ExecUser{}, err
		}
		for _, g := range groups {
			for _, m := range g.members {
				if m == found.name {
					u.AdditionalGids = append(u.AdditionalGids, g.gid)
					break
				}
			}
		}
	}
	for _, ga := range groupAdd {
		g, err := lookupGroup(ga, loadGroups, &groups)
		if err != nil {
			return ExecUser{}, fmt.Errorf("--group-add %q: %w", ga, err)
		}
		u.AdditionalGids = append(u.AdditionalGids, g)
	}
	u.AdditionalGids = dedupe(u.AdditionalGids)
	return u, nil
}

func lookupGroup(arg string, load func() error, groups *[]groupEntry) (uint32, error) {
	if arg == "" {
		return 0, errors.New("empty group")
	}
	if err := load(); err != nil {
		return 0, err
	}
	gid, numeric := parseID(arg)
	if !numeric {
		if _, err := strconv.ParseInt(arg, 10, 64); err == nil {
			return 0, fmt.Errorf("gids must be in the range 0-%d", math.MaxInt32)
		}
	}
	for _, g := range *groups {
		if (numeric && g.gid == gid) || (!numeric && g.name == arg) {
			return g.gid, nil
		}
	}
	if numeric {
		return gid, nil
	}
	return 0, fmt.Errorf("unable to find group %s: no matching entries in the image's /etc/group", arg)
}

func dedupe(ids []uint32) []uint32 {
	if len(ids) == 0 {
		return nil
	}
	seen := map[uint32]bool{}
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
