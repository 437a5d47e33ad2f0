package engine

// Updates is how many metadata write transactions e has run.
func Updates(e *Engine) int64 { return e.meta.updates.Load() }
