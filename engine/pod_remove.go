package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// PodRemoveOptions are `pod rm`'s flags.
type PodRemoveOptions struct {
	// Force removes running containers too (killed, as rm -f does);
	// without it a running member makes the removal fail before anything
	// is removed. The infra container goes either way.
	Force bool
}

// RemovePod removes a pod: its containers, its infra container (and with
// it the shared namespaces and the pod's network attachment), its cgroup
// and its record, in that order, so that a removal cut short leaves a
// pod that rm removes again.
func (e *Engine) RemovePod(ctx context.Context, ref string, o PodRemoveOptions) (Pod, error) {
	p, release, err := e.lockedPod(ref)
	if err != nil {
		return p, err
	}
	defer release()
	members, err := e.PodContainers(p.ID)
	if err != nil {
		return p, err
	}
	if !o.Force {
		var running []string
		for _, c := range members {
			if !c.PodInfra && (c.State == StateRunning || c.State == StateRestarting) {
				running = append(running, c.Name)
			}
		}
		if len(running) > 0 {
			return p, fmt.Errorf("cannot remove pod %s: its containers %s are running: stop them or remove the pod with -f", p.Name, strings.Join(running, ", "))
		}
	}
	if err := e.removePodParts(ctx, p); err != nil {
		return p, err
	}
	e.emitPod(&p, "remove")
	return p, nil
}

// removePodParts removes what the pod has: members, then the infra, the
// cgroup and the record. The caller holds the pod's lock.
func (e *Engine) removePodParts(ctx context.Context, p Pod) error {
	members, err := e.PodContainers(p.ID)
	if err != nil {
		return err
	}
	var errs []error
	// The infra last: the members' namespaces are its.
	for i := len(members) - 1; i >= 0; i-- {
		c := members[i]
		if c.PodInfra && len(errs) == 0 {
			e.unsharedNetNS(c.ID)
		}
		if _, err := e.RemoveContainer(ctx, c.ID, RemoveOptions{Force: true, Volumes: true, podRemoval: true}); err != nil && !errors.Is(err, ErrNoSuchContainer) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove pod %s: %w", p.Name, errors.Join(errs...))
	}
	if err := destroyPodCgroup(&p); err != nil {
		return fmt.Errorf("remove pod %s: %w", p.Name, err)
	}
	if err := e.deletePod(p); err != nil {
		return fmt.Errorf("remove pod %s: %w", p.Name, err)
	}
	return nil
}

// PrunePods removes every pod none of whose containers runs (Podman's
// pod prune: stopped, exited and created pods), and returns their ids.
func (e *Engine) PrunePods(ctx context.Context) ([]string, error) {
	pods, err := e.ListPods()
	if err != nil {
		return nil, err
	}
	var gone []string
	var errs []error
	for _, p := range pods {
		cs, err := e.PodContainers(p.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st := PodStatus(cs); st == PodRunning || st == PodDegraded || st == PodPaused {
			continue
		}
		if _, err := e.RemovePod(ctx, p.ID, PodRemoveOptions{Force: true}); err != nil {
			errs = append(errs, err)
			continue
		}
		gone = append(gone, p.ID)
	}
	return gone, errors.Join(errs...)
}
