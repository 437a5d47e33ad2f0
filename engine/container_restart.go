package engine

import "context"

// RestartContainer is docker restart: stop (signal, timeout as
// StopContainerWith) then start; a container that is not running is just
// started. The start is the user's: the restart policy begins anew.
func (e *Engine) RestartContainer(ctx context.Context, ref, signal string, timeout *int) (Container, error) {
	c, err := e.StopContainerWith(ctx, ref, signal, timeout)
	if err != nil {
		return c, err
	}
	if c, err = e.StartContainer(ctx, c.ID, StartOptions{}); err != nil {
		return c, err
	}
	e.emitContainer(&c, "restart", nil)
	return c, nil
}
