package overlay_test

import (
	"testing"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/snapshottest"
)

func TestSnapshotter(t *testing.T) { snapshottest.Run(t, snapshot.DriverOverlay) }
