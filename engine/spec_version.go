package engine

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// legacySpecVersion is what runtimes that take only 1.0.x get.
const legacySpecVersion = "1.0.2-dev"

var specVersions sync.Map // runtime path → declared version override ("" for none)

// specVersionFor is the ociVersion to declare for the runtime at path,
// or "" to keep the spec's own. crun before 1.14.3 refuses any ociVersion
// but 1.0.x ("unknown version specified"), as Debian 12's 1.8.1 does; the
// spec the engine writes uses nothing from later versions that such a
// crun would know, so it declares 1.0.2 to it, as Podman's specs do.
func specVersionFor(path string) string {
	if filepath.Base(path) != "crun" {
		return ""
	}
	if v, ok := specVersions.Load(path); ok {
		return v.(string)
	}
	v := ""
	out, err := exec.Command(path, "--version").Output()
	if err == nil && crunBefore(string(out), 1, 14, 3) {
		v = legacySpecVersion
	}
	specVersions.Store(path, v)
	return v
}

// crunBefore says whether crun's --version output names a version below
// major.minor.patch; output it cannot read counts as old.
func crunBefore(out string, major, minor, patch int) bool {
	line, _, _ := strings.Cut(out, "\n")
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "crun" || f[1] != "version" {
		return true
	}
	parts := strings.SplitN(f[2], ".", 3)
	want := []int{major, minor, patch}
	for i := range want {
		n := 0 // crun 1.15 and later print two parts: the patch is 0
		if i < len(parts) {
			var err error
			if n, err = strconv.Atoi(strings.TrimRightFunc(parts[i], func(r rune) bool { return r < '0' || r > '9' })); err != nil {
				return true
			}
		}
		if n != want[i] {
			return n < want[i]
		}
	}
	return false
}
