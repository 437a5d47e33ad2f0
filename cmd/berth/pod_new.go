package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// newPodFor makes the pod of `run/create --pod new:NAME`, as Podman
// does: the container's network flags (--network, -p, --dns*,
// --add-host) become the pod's, which owns the network; it returns the
// pod's id ("" when no pod was made).
func newPodFor(cmd *cobra.Command, e *engine.Engine, o *engine.CreateOptions) (string, error) {
	name, ok := strings.CutPrefix(o.Pod, "new:")
	if !ok {
		return "", nil
	}
	po := engine.PodCreateOptions{Name: name, Network: o.Network}
	p, err := e.CreatePod(cmd.Context(), po)
	if err != nil {
		return "", err
	}
	keep := engine.NetworkRequest{Expose: o.Network.Expose}
	o.Network, o.Pod = keep, p.ID
	return p.ID, nil
}
