package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

type mountLine struct {
	dev, root, point, superOpts string
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func readMountinfo() ([]mountLine, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []mountLine
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 {
			continue
		}
		out = append(out, mountLine{dev: f[2], root: unescape(f[3]), point: unescape(f[4]), superOpts: g[2]})
	}
	return out, nil
}

// checkNotMounted refuses to delete the snapshot dir dir while a mount in
// this mount namespace uses it: an overlay with its upper dir, or a bind
// of anything below it (found by device and path within the device, as a
// bind's mountinfo root names it).
func checkNotMounted(dir string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return nil // nothing there to protect
	}
	lines, err := readMountinfo()
	if err != nil {
		return nil
	}
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	// dir's path within its file system, from the mount it lives under.
	rel, best := "", -1
	for _, l := range lines {
		if strings.Contains(l.superOpts, "upperdir="+dir+"/") {
			return fmt.Errorf("%w: still mounted on %s", ErrInUse, l.point)
		}
		if l.dev == dev && (dir == l.point || strings.HasPrefix(dir, strings.TrimSuffix(l.point, "/")+"/")) && len(l.point) > best {
			best = len(l.point)
			rel = filepath.Join(l.root, strings.TrimPrefix(dir, l.point))
		}
	}
	if best < 0 {
		return nil
	}
	for _, l := range lines {
		if l.dev == dev && (l.root == rel || strings.HasPrefix(l.root, rel+"/")) {
			return fmt.Errorf("%w: still mounted on %s", ErrInUse, l.point)
		}
	}
	return nil
}
