package config

import (
	"strings"
	"testing"
)

// FuzzDecodeFile: no config file panics the decoder or the checks, and
// every error line names the file.
func FuzzDecodeFile(f *testing.F) {
	for _, seed := range []string{
		"",
		"[storage]\nroot = \"/x\"\nbogus = 1\n",
		"[runtime]\nruntimes = { runc = \"/usr/bin/runc\" }\n[runtime.runtimes]\ncrun = \"crun\"\n",
		"[registry.mirrors]\n\"docker.io\" = [\"m:5000\"]\n[log]\nmax_size = \"10m\"\n",
		"storage = { root = \"/a\", runroot = 5 }\n",
		"[log]\nmax_size = true\n",
		"[[storage]]\nroot = 1\n",
		"a.b.c.d = 1\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Default()
		err := c.decodeFile("berth.toml", data)
		if err == nil {
			err = c.validate()
		}
		if err == nil {
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "berth.toml") {
				t.Fatalf("error line %q does not name the file (whole error %q)", line, err)
			}
		}
	})
}
