package engine_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// volBinary is the berth CLI under test.
var volBinary string

// TestMain builds the berth CLI once (or takes BERTH_BINARY). It is the
// volume tests' own: when the package gets a shared TestMain, this file
// goes and volBinary is set there.
func TestMain(m *testing.M) { os.Exit(volTestMain(m)) }

func volTestMain(m *testing.M) int {
	if os.Getuid() != 0 {
		fmt.Println("skipping berth engine end-to-end tests: not root")
		return 0
	}
	volBinary = os.Getenv("BERTH_BINARY")
	if volBinary == "" {
		dir, err := os.MkdirTemp("", "berth-e2e-bin")
		if err != nil {
			fmt.Println(err)
			return 1
		}
		defer os.RemoveAll(dir)
		volBinary = filepath.Join(dir, "berth")
		if out, err := exec.Command("go", "build", "-o", volBinary, "github.com/berth-dev/berth/cmd/berth").CombinedOutput(); err != nil {
			fmt.Printf("build berth: %v\n%s", err, out)
			return 1
		}
	}
	return m.Run()
}
