package main

import "github.com/spf13/cobra"

// newPodCmd is `berth pod` (issue 15), as Podman has it.
func newPodCmd(g *globals) *cobra.Command {
	pod := &cobra.Command{Use: "pod", Short: "Manage pods"}
	pod.AddCommand(newPodCreateCmd(g), newPodListCmd(g, "ls", "list", "ps"), newPodInspectCmd(g),
		newPodStartCmd(g), newPodStopCmd(g, "stop"), newPodStopCmd(g, "restart"), newPodKillCmd(g),
		newPodRmCmd(g), newPodPruneCmd(g))
	return pod
}
