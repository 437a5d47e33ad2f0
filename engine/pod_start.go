package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Pod statuses, as Podman shows them.
const (
	PodCreated  = "Created"
	PodRunning  = "Running"
	PodDegraded = "Degraded" // some of its containers run
	PodPaused   = "Paused"
	PodExited   = "Exited" // all of them exited
	PodStopped  = "Stopped"
)

// PodStatus is the pod's status from its containers' (infra included).
func PodStatus(cs []Container) string {
	var created, running, paused, stopped int
	for _, c := range cs {
		switch {
		case c.State == StateRunning && c.Paused:
			paused++
		case c.State == StateRunning, c.State == StateRestarting:
			running++
		case c.State == StateStopped:
			stopped++
		default:
			created++
		}
	}
	n := len(cs)
	switch {
	case n == 0 || created == n:
		return PodCreated
	case running == n:
		return PodRunning
	case running > 0:
		return PodDegraded
	case paused == n:
		return PodPaused
	case stopped == n:
		return PodExited
	case paused > 0:
		return PodDegraded
	}
	return PodStopped
}

// StartPod starts the infra container, then every member that does not
// run, as Podman's pod start does. Each member's failure is reported.
func (e *Engine) StartPod(ctx context.Context, ref string) (Pod, error) {
	p, release, err := e.lockedPod(ref)
	if err != nil {
		return p, err
	}
	defer release()
	if p.Infra {
		if _, err := e.StartContainer(ctx, p.InfraID, StartOptions{}); err != nil {
			return p, fmt.Errorf("pod %s: start the infra container: %w", p.Name, err)
		}
	}
	members, err := e.PodContainers(p.ID)
	if err != nil {
		return p, err
	}
	var errs []error
	for i := len(members) - 1; i >= 0; i-- { // oldest first
		c := members[i]
		if c.PodInfra || c.State == StateRunning || c.State == StateRestarting {
			continue
		}
		if _, err := e.StartContainer(ctx, c.ID, StartOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("pod %s: start container %s: %w", p.Name, c.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return p, err
	}
	e.emitPod(&p, "start")
	return p, nil
}

// StopPod stops the members (at once, each as stop does with timeout),
// then the infra container.
func (e *Engine) StopPod(ctx context.Context, ref string, timeout *int) (Pod, error) {
	return e.podSignal(ctx, ref, "stop", func(c Container) error {
		_, err := e.StopContainer(ctx, c.ID, timeout)
		return err
	})
}

// KillPod sends sig (empty: SIGKILL) to every running container of the
// pod, members first.
func (e *Engine) KillPod(ctx context.Context, ref, sig string) (Pod, error) {
	return e.podSignal(ctx, ref, "kill", func(c Container) error {
		if c.State != StateRunning {
			return nil
		}
		_, err := e.KillContainer(ctx, c.ID, sig)
		return err
	})
}

// RestartPod stops the pod and starts it again.
func (e *Engine) RestartPod(ctx context.Context, ref string, timeout *int) (Pod, error) {
	if _, err := e.StopPod(ctx, ref, timeout); err != nil {
		return Pod{}, err
	}
	return e.StartPod(ctx, ref)
}

// podSignal runs fn on every member at once, then on the infra.
func (e *Engine) podSignal(ctx context.Context, ref, event string, fn func(Container) error) (Pod, error) {
	p, release, err := e.lockedPod(ref)
	if err != nil {
		return p, err
	}
	defer release()
	members, err := e.PodContainers(p.ID)
	if err != nil {
		return p, err
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	run := func(c Container) {
		if err := fn(c); err != nil && !errors.Is(err, ErrNoSuchContainer) {
			mu.Lock()
			errs = append(errs, fmt.Errorf("pod %s: container %s: %w", p.Name, c.Name, err))
			mu.Unlock()
		}
	}
	var infra *Container
	for i := range members {
		if members[i].PodInfra {
			infra = &members[i]
			continue
		}
		wg.Go(func() { run(members[i]) })
	}
	wg.Wait()
	if infra != nil && len(errs) == 0 {
		if event == "stop" {
			e.unsharedNetNS(infra.ID) // the members have exited
		}
		run(*infra)
	}
	if err := errors.Join(errs...); err != nil {
		return p, err
	}
	e.emitPod(&p, event)
	return p, nil
}
