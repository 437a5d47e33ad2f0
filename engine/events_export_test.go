package engine

// SetEventsMax sets e's event log rotation size.
func SetEventsMax(e *Engine, n int64) { e.eventsMax = n }
